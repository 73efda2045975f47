#version 450
#extension GL_GOOGLE_include_directive : require
// pool.comp: 2-D max and average pooling over NCHW planes, forward and
// backward, chosen by the MODE specialization constant. The backward modes are
// gathers: each invocation owns one input-gradient element and sums over the
// windows that contain it, so no atomics are needed and results are
// deterministic.
//
//   MODE 0 max forward:  out = y,  a = x         (one invocation per y element)
//   MODE 1 avg forward:  out = y,  a = x
//   MODE 2 max backward: out = dx, a = dy, b = x (one invocation per dx element)
//   MODE 3 avg backward: out = dx, a = dy
//
// Max pooling treats padding as −∞ (padded positions never win), lets the
// first NaN beat every number, and breaks ties by the first maximum in
// row-major window order. Average pooling divides by
// KH·KW, or by the count of input positions in the window when excludePad is set.
layout(local_size_x = 256) in;

layout(constant_id = 0) const uint MODE = 0;

#include "buf.glsl"

BUFFER(0, writeonly, float, o)
BUFFER(1, readonly, float, a)
BUFFER(2, readonly, float, b)

layout(push_constant) uniform Params {
    int planes;      // N·C
    int H, W, OH, OW;
    int KH, KW;      // window
    int sh, sw;      // stride
    int ph, pw;      // padding
    int excludePad;  // average pooling divides by the in-bounds count
    ADDRESSES(3)
} p;

// greater reports whether v beats the running maximum best: it is larger, or
// it is the first NaN (NaN propagates, as in PyTorch and the CPU backend).
bool greater(float v, float best) {
    return v > best || (isnan(v) && !isnan(best));
}

// firstMax returns the in-plane index (h·W + w) of the first maximum of window
// (oh, ow) of the plane of x that starts at base.
int firstMax(int base, int oh, int ow) {
    int h0 = oh * p.sh - p.ph;
    int w0 = ow * p.sw - p.pw;
    int best = -1;
    float bv = 0.0;
    for (int kh = 0; kh < p.KH; kh++) {
        int h = h0 + kh;
        if (h < 0 || h >= p.H) {
            continue;
        }
        for (int kw = 0; kw < p.KW; kw++) {
            int w = w0 + kw;
            if (w < 0 || w >= p.W) {
                continue;
            }
            float v = AT(b, base + h * p.W + w);
            if (best < 0 || greater(v, bv)) {
                best = h * p.W + w;
                bv = v;
            }
        }
    }
    return best;
}

// divisor returns what average pooling divides window (oh, ow) by.
float divisor(int oh, int ow) {
    if (p.excludePad == 0) {
        return float(p.KH * p.KW);
    }
    int h0 = oh * p.sh - p.ph;
    int w0 = ow * p.sw - p.pw;
    int hn = min(h0 + p.KH, p.H) - max(h0, 0);
    int wn = min(w0 + p.KW, p.W) - max(w0, 0);
    return float(hn * wn);
}

void main() {
    int idx = int(gl_GlobalInvocationID.x +
        gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * 256u) +
        gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * 256u * gl_NumWorkGroups.y));
    if (MODE <= 1) {
        int ohw = p.OH * p.OW;
        if (idx >= p.planes * ohw) {
            return;
        }
        int plane = idx / ohw;
        int pos = idx - plane * ohw;
        int oh = pos / p.OW;
        int ow = pos - oh * p.OW;
        int base = plane * p.H * p.W;
        int h0 = oh * p.sh - p.ph;
        int w0 = ow * p.sw - p.pw;
        bool found = false;
        float acc = 0.0;
        for (int kh = 0; kh < p.KH; kh++) {
            int h = h0 + kh;
            if (h < 0 || h >= p.H) {
                continue;
            }
            for (int kw = 0; kw < p.KW; kw++) {
                int w = w0 + kw;
                if (w < 0 || w >= p.W) {
                    continue;
                }
                float v = AT(a, base + h * p.W + w);
                if (MODE == 0) {
                    if (!found || greater(v, acc)) {
                        acc = v;
                    }
                    found = true;
                } else {
                    acc += v;
                }
            }
        }
        AT(o, idx) = MODE == 0 ? acc : acc / divisor(oh, ow);
        return;
    }

    int hw = p.H * p.W;
    if (idx >= p.planes * hw) {
        return;
    }
    int plane = idx / hw;
    int pos = idx - plane * hw;
    int h = pos / p.W;
    int w = pos - h * p.W;
    // Windows oh with oh·sh − ph ≤ h < oh·sh − ph + KH, likewise for ow.
    int ohLo = max(0, (h + p.ph - p.KH + p.sh) / p.sh);
    int ohHi = min(p.OH - 1, (h + p.ph) / p.sh);
    int owLo = max(0, (w + p.pw - p.KW + p.sw) / p.sw);
    int owHi = min(p.OW - 1, (w + p.pw) / p.sw);
    int ybase = plane * p.OH * p.OW;
    float acc = 0.0;
    for (int oh = ohLo; oh <= ohHi; oh++) {
        for (int ow = owLo; ow <= owHi; ow++) {
            float g = AT(a, ybase + oh * p.OW + ow);
            if (MODE == 2) {
                if (firstMax(plane * hw, oh, ow) == pos) {
                    acc += g;
                }
            } else {
                acc += g / divisor(oh, ow);
            }
        }
    }
    AT(o, idx) = acc;
}
