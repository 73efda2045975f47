#version 450
#extension GL_GOOGLE_include_directive : require
// rows.comp: row-wise ops over the last axis, one invocation per row, chosen
// by the MODE specialization constant. Every mode reads a row's inputs before
// writing its outputs element by element, so out may alias an input.
//
//   MODE 0 softmax:          out = softmax(a), max-subtracted
//   MODE 1 softmax backward: out = b ⊙ (a − Σ(a ⊙ b))     (a = dy, b = y)
//   MODE 2 argmax:           out[row] = index of the first maximum of a's row
//   MODE 3 softmax cross-entropy with logits a and target probabilities b:
//          out[row] = Σ_c b·(lse − a) with lse = max + log Σ e^(a − max) over
//          the classes whose target is not 0 (so −∞ logits are safe there), and,
//          when HAS_GRAD, grad = (softmax(a) − b)/div.
layout(local_size_x = 256) in;

layout(constant_id = 0) const uint MODE = 0;
layout(constant_id = 1) const uint HAS_GRAD = 0;

#include "buf.glsl"

BUFFER(0, writeonly, float, o)
BUFFER(1, writeonly, float, grad)
BUFFER(2, readonly, float, a)
BUFFER(3, readonly, float, b)

layout(push_constant) uniform Params {
    uint rows, cols;
    float div;  // the gradient's divisor (MODE 3): the batch size
    ADDRESSES(4)
} p;

void main() {
    uint row = gl_GlobalInvocationID.x +
        gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * 256u) +
        gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * 256u * gl_NumWorkGroups.y);
    if (row >= p.rows) {
        return;
    }
    uint base = row * p.cols;
    if (MODE == 1) {
        float dot = 0.0;
        for (uint j = 0; j < p.cols; j++) {
            dot += AT(a, base + j) * AT(b, base + j);
        }
        for (uint j = 0; j < p.cols; j++) {
            float y = AT(b, base + j);
            AT(o, base + j) = y * (AT(a, base + j) - dot);
        }
        return;
    }

    // The row maximum, and (argmax) where it first occurs; the first NaN beats
    // every number, as on the CPU backend.
    float mx = AT(a, base);
    uint at = 0;
    for (uint j = 1; j < p.cols; j++) {
        float v = AT(a, base + j);
        if (v > mx || (isnan(v) && !isnan(mx))) {
            mx = v;
            at = j;
        }
    }
    if (MODE == 2) {
        AT(o, row) = float(at);
        return;
    }
    float sum = 0.0;
    for (uint j = 0; j < p.cols; j++) {
        sum += exp(AT(a, base + j) - mx);
    }
    if (MODE == 0) {
        for (uint j = 0; j < p.cols; j++) {
            AT(o, base + j) = exp(AT(a, base + j) - mx) / sum;
        }
        return;
    }
    float lse = mx + log(sum);
    float loss = 0.0;
    for (uint j = 0; j < p.cols; j++) {
        float l = AT(a, base + j);
        float t = AT(b, base + j);
        if (t != 0.0) {
            loss += t * (lse - l);
        }
        if (HAS_GRAD != 0) {
            AT(grad, base + j) = (exp(l - mx) / sum - t) / p.div;
        }
    }
    AT(o, row) = loss;
}
