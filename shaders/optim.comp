#version 450
#extension GL_GOOGLE_include_directive : require
// optim.comp: the optimizer update of one parameter in place, one invocation
// per element, with PyTorch's semantics; the modes and formulas are in
// optim.glsl. optim_batch.comp updates many parameters in one dispatch.
layout(local_size_x = 256) in;

layout(constant_id = 0) const uint MODE = 0;
layout(constant_id = 1) const uint MOMENTUM = 0;
layout(constant_id = 2) const uint NESTEROV = 0;

layout(std430, set = 0, binding = 0) buffer Param { float param[]; };
layout(std430, set = 0, binding = 1) readonly buffer Grad { float grad[]; };
layout(std430, set = 0, binding = 2) buffer M { float m[]; };  // SGD: the velocity
layout(std430, set = 0, binding = 3) buffer V { float v[]; };

layout(push_constant) uniform Params {
    uint n;
    float lr, momentum, wd;
    float beta1, beta2, eps;
    float bc1, bc2;
    float omb1, omb2;
    float decay;
} p;

#include "optim.glsl"

void main() {
    uint i = gl_GlobalInvocationID.x +
        gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * 256u) +
        gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * 256u * gl_NumWorkGroups.y);
    if (i >= p.n) {
        return;
    }
    float w = param[i];
    float mi = usesM ? m[i] : 0.0;
    float vi = usesV ? v[i] : 0.0;
    optimStep(w, grad[i], mi, vi);
    if (usesM) {
        m[i] = mi;
    }
    if (usesV) {
        v[i] = vi;
    }
    param[i] = w;
}
