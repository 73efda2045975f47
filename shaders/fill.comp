#version 450
#extension GL_GOOGLE_include_directive : require
// fill: dst[i] = value for i < n. The value travels as its bit pattern and is
// stored as such, so every float32 (NaN payloads included) is written exactly.
// Push constants: n (elements), value (float32 bits).
// Dispatch: groups1D(n, 256); binding 0 = dst.

layout(local_size_x = 256) in;

#include "buf.glsl"

BUFFER(0, writeonly, uint, dst)

layout(push_constant) uniform Push {
    uint n;
    uint value;
    ADDRESSES(1)
} p;

void main() {
    uint i = gl_GlobalInvocationID.x
           + gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * gl_WorkGroupSize.x)
           + gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * gl_WorkGroupSize.x * gl_NumWorkGroups.y);
    if (i < p.n) {
        AT(dst, i) = p.value;
    }
}
