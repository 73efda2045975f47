#version 450
#extension GL_GOOGLE_include_directive : require
// optim_batch.comp: the optimizer update of up to NP parameters in one
// dispatch (optim.glsl has the modes and formulas). Parameter j has n[j]
// elements and gets ⌈n[j]/256⌉ consecutive workgroups, in order; a workgroup
// finds its parameter by walking the counts, so the index j is uniform over
// the workgroup (dynamically uniform indexing of the buffer arrays, which
// needs shaderStorageBufferArrayDynamicIndexing). Unused slots have n[j] = 0.
// Every parameter's state must be distinct from the others' buffers.
layout(local_size_x = 256) in;

layout(constant_id = 0) const uint MODE = 0;
layout(constant_id = 1) const uint MOMENTUM = 0;
layout(constant_id = 2) const uint NESTEROV = 0;
layout(constant_id = 3) const int NP = 8; // parameters per dispatch, ≤ 16

layout(std430, set = 0, binding = 0) buffer Param { float d[]; } param[NP];
layout(std430, set = 0, binding = 1) readonly buffer Grad { float d[]; } grad[NP];
layout(std430, set = 0, binding = 2) buffer M { float d[]; } m[NP]; // SGD: the velocity
layout(std430, set = 0, binding = 3) buffer V { float d[]; } v[NP];

layout(push_constant) uniform Params {
    float lr, momentum, wd;
    float beta1, beta2, eps;
    float bc1, bc2;
    float omb1, omb2;
    float decay;
    uint n[16];
} p;

#include "optim.glsl"

void main() {
    uint wg = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x +
        gl_WorkGroupID.z * gl_NumWorkGroups.x * gl_NumWorkGroups.y;
    int j = 0;
    uint first = 0; // the first workgroup of parameter j
    for (; j < NP; j++) {
        uint groups = (p.n[j] + 255u) / 256u;
        if (wg < first + groups) {
            break;
        }
        first += groups;
    }
    if (j >= NP) {
        return;
    }
    uint i = (wg - first) * 256u + gl_LocalInvocationID.x;
    if (i >= p.n[j]) {
        return;
    }
    float w = param[j].d[i];
    float mi = usesM ? m[j].d[i] : 0.0;
    float vi = usesV ? v[j].d[i] : 0.0;
    optimStep(w, grad[j].d[i], mi, vi);
    if (usesM) {
        m[j].d[i] = mi;
    }
    if (usesV) {
        v[j].d[i] = vi;
    }
    param[j].d[i] = w;
}
