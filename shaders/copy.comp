#version 450
// copy: dst[i] = src[i] for i < n, bit for bit (the words are moved as uints).
// dst may alias src: each invocation reads and writes only element i.
// Push constants: n (elements).
// Dispatch: groups1D(n, 256); binding 0 = dst, binding 1 = src.

layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) writeonly buffer Dst { uint dst[]; };
layout(std430, set = 0, binding = 1) readonly buffer Src { uint src[]; };

layout(push_constant) uniform Push {
    uint n;
} pc;

void main() {
    uint i = gl_GlobalInvocationID.x
           + gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * gl_WorkGroupSize.x)
           + gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * gl_WorkGroupSize.x * gl_NumWorkGroups.y);
    if (i < pc.n) {
        dst[i] = src[i];
    }
}
