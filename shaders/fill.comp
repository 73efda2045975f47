#version 450
// fill: dst[i] = value for i < n. The value travels as its bit pattern and is
// stored as such, so every float32 (NaN payloads included) is written exactly.
// Push constants: n (elements), value (float32 bits).
// Dispatch: groups1D(n, 256); binding 0 = dst.

layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) writeonly buffer Dst { uint dst[]; };

layout(push_constant) uniform Push {
    uint n;
    uint value;
} pc;

void main() {
    uint i = gl_GlobalInvocationID.x
           + gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * gl_WorkGroupSize.x)
           + gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * gl_WorkGroupSize.x * gl_NumWorkGroups.y);
    if (i < pc.n) {
        dst[i] = pc.value;
    }
}
