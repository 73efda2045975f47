#version 450
#extension GL_GOOGLE_include_directive : require
// loss.comp: the per-element terms of the elementwise losses, chosen by the
// MODE specialization constant: term[i] for a later deterministic sum (the
// loss is that sum divided by n) and, when HAS_GRAD, grad[i].
//
//   MODE 0 MSE: term = (p − t)², grad = 2(p − t)/n
//   MODE 1 BCE: term = −(t·log max(p, eps) + (1 − t)·log max(1 − p, eps)),
//               grad = (−t/max(p, eps) + (1 − t)/max(1 − p, eps))/n
layout(local_size_x = 256) in;

layout(constant_id = 0) const uint MODE = 0;
layout(constant_id = 1) const uint HAS_GRAD = 0;

#include "buf.glsl"

BUFFER(0, writeonly, float, term)
BUFFER(1, writeonly, float, grad)
BUFFER(2, readonly, float, pred)
BUFFER(3, readonly, float, target)

layout(push_constant) uniform Params {
    uint n;
    float nf;   // n as a float: the mean's divisor
    float eps;  // BCE clamp
    ADDRESSES(4)
} p;

void main() {
    uint i = gl_GlobalInvocationID.x +
        gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * 256u) +
        gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * 256u * gl_NumWorkGroups.y);
    if (i >= p.n) {
        return;
    }
    float x = AT(pred, i);
    float t = AT(target, i);
    if (MODE == 0) {
        float d = x - t;
        AT(term, i) = d * d;
        if (HAS_GRAD != 0) {
            AT(grad, i) = 2.0 * d / p.nf;
        }
    } else {
        float q = max(x, p.eps);
        float r = max(1.0 - x, p.eps);
        AT(term, i) = -(t * log(q) + (1.0 - t) * log(r));
        if (HAS_GRAD != 0) {
            AT(grad, i) = (-t / q + (1.0 - t) / r) / p.nf;
        }
    }
}
