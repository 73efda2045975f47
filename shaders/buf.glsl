// buf.glsl: how a shader declares and reads its tensors, so that gen.sh can
// compile it two ways (see embed.go).
//
//   BUFFER(i, qualifier, T, name)  declares tensor slot i, an array of T.
//   AT(name, index)                 is element index of it (an lvalue).
//   ADDRESSES(n)                    goes last in the push_constant block p,
//                                   for a shader of n slots.
//
// Plain compile (<name>.spv): slot i is the storage buffer at set 0, binding
// i, and ADDRESSES adds nothing. With -DADDRESSED (<name>_addr.spv) no buffer
// is bound: slot i is reached through its 64-bit device address
// (GL_EXT_buffer_reference), words 2i and 2i+1 (low, high) of addr, which
// sits at the end of the 128-byte push-constant range. The backend runs the
// addressed variant only for dispatches that touch a tensor larger than one
// binding's range (maxStorageBufferRange); pointers have no such limit.
#ifdef ADDRESSED
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_buffer_reference_uvec2 : require
#define BUFFER(i, qual, T, name) \
    layout(buffer_reference, std430, buffer_reference_align = 4) qual buffer name##_Ref { T d[]; }; \
    const int name##_slot = i;
#define AT(name, idx) name##_Ref(uvec2(p.addr[2 * name##_slot], p.addr[2 * name##_slot + 1])).d[idx]
#define ADDRESSES(n) layout(offset = 128 - 8 * (n)) uint addr[2 * (n)];
#else
#define BUFFER(i, qual, T, name) layout(std430, set = 0, binding = i) qual buffer name##_Block { T name##_d[]; };
#define AT(name, idx) name##_d[idx]
#define ADDRESSES(n)
#endif
