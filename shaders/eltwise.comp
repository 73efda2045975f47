#version 450
#extension GL_GOOGLE_include_directive : require
// eltwise.comp: every elementwise op, chosen by the OP specialization
// constant; invocation i computes dst[i] from a[i] and b[i] (or a broadcast
// element). dst may alias a or b: each invocation reads its inputs before it
// writes its own element.
//
//   OP 0 add:          dst = a + b
//   OP 1 mul:          dst = a·b
//   OP 2 scale:        dst = alpha·a
//   OP 3 relu:         dst = max(a, 0)
//   OP 4 relu bwd:     dst = a where b > 0, else 0      (a = dy, b = x)
//   OP 5 sigmoid:      dst = 1/(1 + e^−a), without overflow
//   OP 6 sigmoid bwd:  dst = a·b·(1 − b)                (a = dy, b = y)
//   OP 7 tanh:         dst = tanh(a), accurate near 0 and finite everywhere
//   OP 8 tanh bwd:     dst = a·(1 − b²)                 (a = dy, b = y)
//   OP 9 add bias:     dst = a + b[(i / inner) % channels]
//   OP 10 spread:      dst = a[i / inner] / alpha       (global average pool backward)
//   OP 11 dropout:     dst = 0 with probability rate, else keep (see below)
//   OP 12 leaky relu:  dst = a where a > 0, else alpha·a
//   OP 13 leaky bwd:   dst = a where b > 0, else alpha·a (a = dy, b = x)
//   OP 14 silu:        dst = a·sigmoid(a)
//   OP 15 silu bwd:    dst = a·s·(1 + b·(1 − s)), s = sigmoid(b) (a = dy, b = x)
layout(local_size_x = 256) in;

layout(constant_id = 0) const uint OP = 0;

#include "buf.glsl"

BUFFER(0, writeonly, float, dst)
BUFFER(1, readonly, float, a)
BUFFER(2, readonly, float, b)

layout(push_constant) uniform Params {
    uint n;          // element count of dst
    float alpha;     // scale factor (OP 2), divisor (OP 10), slope (OP 12, 13)
    uint inner;      // elements per channel (OP 9) or per broadcast value (OP 10)
    uint channels;   // bias length (OP 9)
    uint seedLo;     // dropout seed, low and high 32 bits (OP 11)
    uint seedHi;
    uint threshold;  // dropout: drop where the 24-bit draw is below this
    float keep;      // dropout: value of kept elements, 1/(1 − rate)
    ADDRESSES(3)
} p;

// hash32 is the "lowbias32" integer hash, as tensor.DropoutUniform uses it.
uint hash32(uint x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

// tanhSafe is tanh without the cancellation of (e^2x − 1)/(e^2x + 1) near 0
// and without overflow for large |x|.
float tanhSafe(float x) {
    float ax = abs(x);
    if (ax < 0.25) {
        float x2 = x * x;
        // Taylor series to x^11; the next term is below 3e-10 here.
        return x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0 +
            x2 * (62.0 / 2835.0 + x2 * (-1382.0 / 155925.0))))));
    }
    float t = exp(-2.0 * ax);
    return sign(x) * (1.0 - t) / (1.0 + t);
}

// sigmoid is 1/(1 + e^−x), evaluated on the side where e^−|x| cannot
// overflow.
float sigmoid(float x) {
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    float e = exp(x);
    return e / (1.0 + e);
}

void main() {
    uint i = gl_GlobalInvocationID.x +
        gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * 256u) +
        gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * 256u * gl_NumWorkGroups.y);
    if (i >= p.n) {
        return;
    }
    float r;
    if (OP == 0) {
        r = AT(a, i) + AT(b, i);
    } else if (OP == 1) {
        r = AT(a, i) * AT(b, i);
    } else if (OP == 2) {
        r = p.alpha * AT(a, i);
    } else if (OP == 3) {
        float x = AT(a, i);
        r = x > 0.0 ? x : 0.0;
    } else if (OP == 4) {
        r = AT(b, i) > 0.0 ? AT(a, i) : 0.0;
    } else if (OP == 5) {
        r = sigmoid(AT(a, i));
    } else if (OP == 6) {
        float y = AT(b, i);
        r = AT(a, i) * y * (1.0 - y);
    } else if (OP == 7) {
        r = tanhSafe(AT(a, i));
    } else if (OP == 8) {
        float y = AT(b, i);
        r = AT(a, i) * (1.0 - y * y);
    } else if (OP == 9) {
        r = AT(a, i) + AT(b, (i / p.inner) % p.channels);
    } else if (OP == 10) {
        r = AT(a, i / p.inner) / p.alpha;
    } else if (OP == 12) {
        float x = AT(a, i);
        r = x > 0.0 ? x : p.alpha * x;
    } else if (OP == 13) {
        float g = AT(a, i);
        r = AT(b, i) > 0.0 ? g : p.alpha * g;
    } else if (OP == 14) {
        float x = AT(a, i);
        r = x * sigmoid(x);
    } else if (OP == 15) {
        float x = AT(b, i);
        float s = sigmoid(x);
        r = AT(a, i) * s * (1.0 + x * (1.0 - s));
    } else {
        // tensor.DropoutUniform(seed, i) is (h >> 8)·2^−24 with
        // h = hash32((lo ^ hash32(hi ^ 0x9e3779b9)) ^ hash32(i)); the element
        // is dropped when that draw is below rate, that is when h >> 8 is
        // below threshold = ⌈rate·2^24⌉, an exact integer comparison.
        uint h = p.seedLo ^ hash32(p.seedHi ^ 0x9e3779b9u);
        h = hash32(h ^ hash32(i));
        r = (h >> 8) < p.threshold ? 0.0 : p.keep;
    }
    AT(dst, i) = r;
}
