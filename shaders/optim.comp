#version 450
#extension GL_GOOGLE_include_directive : require
// optim.comp: the optimizer update of one parameter in place, one invocation
// per element, with PyTorch's semantics; the modes and formulas are in
// optim.glsl. optim_batch.comp updates many parameters in one dispatch.
layout(local_size_x = 256) in;

layout(constant_id = 0) const uint MODE = 0;
layout(constant_id = 1) const uint MOMENTUM = 0;
layout(constant_id = 2) const uint NESTEROV = 0;

#include "buf.glsl"

BUFFER(0, , float, param)
BUFFER(1, readonly, float, grad)
BUFFER(2, , float, m)  // SGD: the velocity
BUFFER(3, , float, v)

layout(push_constant) uniform Params {
    uint n;
    float lr, momentum, wd;
    float beta1, beta2, eps;
    float bc1, bc2;
    float omb1, omb2;
    float decay;
    ADDRESSES(4)
} p;

#include "optim.glsl"

void main() {
    uint i = gl_GlobalInvocationID.x +
        gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * 256u) +
        gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * 256u * gl_NumWorkGroups.y);
    if (i >= p.n) {
        return;
    }
    float w = AT(param, i);
    float mi = usesM ? AT(m, i) : 0.0;
    float vi = usesV ? AT(v, i) : 0.0;
    optimStep(w, AT(grad, i), mi, vi);
    if (usesM) {
        AT(m, i) = mi;
    }
    if (usesV) {
        AT(v, i) = vi;
    }
    AT(param, i) = w;
}
