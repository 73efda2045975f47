#version 450
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

layout(std430, set = 0, binding = 0) writeonly buffer Term { float term[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Grad { float grad[]; };
layout(std430, set = 0, binding = 2) readonly buffer Pred { float pred[]; };
layout(std430, set = 0, binding = 3) readonly buffer Target { float target[]; };

layout(push_constant) uniform Params {
    uint n;
    float nf;   // n as a float: the mean's divisor
    float eps;  // BCE clamp
} p;

void main() {
    uint i = gl_GlobalInvocationID.x +
        gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * 256u) +
        gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * 256u * gl_NumWorkGroups.y);
    if (i >= p.n) {
        return;
    }
    float x = pred[i];
    float t = target[i];
    if (MODE == 0) {
        float d = x - t;
        term[i] = d * d;
        if (HAS_GRAD != 0) {
            grad[i] = 2.0 * d / p.nf;
        }
    } else {
        float q = max(x, p.eps);
        float r = max(1.0 - x, p.eps);
        term[i] = -(t * log(q) + (1.0 - t) * log(r));
        if (HAS_GRAD != 0) {
            grad[i] = (-t / q + (1.0 - t) / r) / p.nf;
        }
    }
}
