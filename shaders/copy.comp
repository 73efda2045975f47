#version 450
#extension GL_GOOGLE_include_directive : require
// copy: dst[i] = src[i] for i < n, bit for bit (the words are moved as uints).
// dst may alias src: each invocation reads and writes only element i.
// Push constants: n (elements).
// Dispatch: groups1D(n, 256); binding 0 = dst, binding 1 = src.

layout(local_size_x = 256) in;

#include "buf.glsl"

BUFFER(0, writeonly, uint, dst)
BUFFER(1, readonly, uint, src)

layout(push_constant) uniform Push {
    uint n;
    ADDRESSES(2)
} p;

void main() {
    uint i = gl_GlobalInvocationID.x
           + gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * gl_WorkGroupSize.x)
           + gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * gl_WorkGroupSize.x * gl_NumWorkGroups.y);
    if (i < p.n) {
        AT(dst, i) = AT(src, i);
    }
}
