#version 450
#extension GL_GOOGLE_include_directive : require
// norm.comp: batch normalization over the channels (axis 1) of x, whose
// channel c holds n = outer·inner elements: element k < n of channel c is
// x[((k / inner)·C + c)·inner + k % inner]. The MODE specialization constant
// picks one pass; gpu/norm.go records them in order, with a barrier between
// passes, and owns the scratch buffers part (per-chunk results) and tab (a
// per-channel table).
//
// Training (BatchNormTrain):
//   MODE 0 stats:      workgroup (s, c) reduces chunk s of channel c (its
//                      count elements) to its mean and its sum of squared
//                      deviations from that mean (two passes over the chunk,
//                      tree sums in shared memory): part[(c·S + s)·2 + 0, 1].
//   MODE 1 merge:      one invocation per channel merges its S chunks with
//                      Chan's formula (no E[x²] − E[x]² cancellation) into
//                      μ and the biased σ², writes tab[3c] = μ and
//                      tab[3c+1] = 1/√(σ² + eps), and with RUNNING updates
//                      runningMean and runningVar.
//   MODE 2 train tab:  tab[3c+2] = β (0 without); mean[c] = μ, invStd[c].
// Evaluation (BatchNormEval):
//   MODE 3 eval tab:   tab[3c] = runningMean, tab[3c+1] =
//                      1/√(runningVar + eps), tab[3c+2] = β (0 without).
// Both:
//   MODE 4 normalize:  y = (x − tab[3c])·(γ·tab[3c+1]) + tab[3c+2] (γ = 1
//                      without); y may alias x.
// Backward (BatchNormBackward):
//   MODE 5 bwd sums:   workgroup (s, c) sums dy and dy·(x − mean) over chunk
//                      s of channel c: part[(c·S + s)·2 + 0, 1].
//   MODE 6 bwd merge:  one invocation per channel adds its S chunks:
//                      tab[5c..5c+3] = mean, invStd, Σdy, Σdy·x̂ (x̂ =
//                      (x − mean)·invStd).
//   MODE 7 bwd tab:    tab[5c+4] = γ (1 without); dgamma[c] = Σdy·x̂ and
//                      dbeta[c] = Σdy when wanted.
//   MODE 8 bwd dx:     dx = γ·invStd·(dy − Σdy/n − x̂·Σdy·x̂/n); dx may
//                      alias dy.
//
// Flags (push constant): 1 γ given, 2 β given, 4 running statistics given,
// 8 dgamma wanted, 16 dbeta wanted.
layout(local_size_x = 256) in;

layout(constant_id = 0) const uint MODE = 0;

#include "buf.glsl"

BUFFER(0, , float, b0)
BUFFER(1, , float, b1)
BUFFER(2, , float, b2)
BUFFER(3, , float, b3)

layout(push_constant) uniform Params {
    uint C;         // channels
    uint inner;     // elements per channel and batch item (H·W; 1 for [N C])
    uint n;         // elements per channel, outer·inner
    uint total;     // elements of x, outer·C·inner
    uint S;         // chunks per channel
    uint chunk;     // elements per chunk, 256·(elements per invocation)
    uint flags;
    float eps;
    float momentum;
    float varScale;  // momentum·n/(n − 1): the unbiased variance's weight
    float invN;      // 1/n
    ADDRESSES(4)
} p;

const uint HAS_GAMMA = 1u, HAS_BETA = 2u, RUNNING = 4u, WANT_DGAMMA = 8u, WANT_DBETA = 16u;

shared float sa[256];
shared float sb[256];

// flatIndex is the invocation's index in a 1-D dispatch folded over y and z.
uint flatIndex() {
    return gl_GlobalInvocationID.x +
        gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * 256u) +
        gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * 256u * gl_NumWorkGroups.y);
}

// at returns the flat index of element k of channel c.
uint at(uint c, uint k) {
    return ((k / p.inner) * p.C + c) * p.inner + k % p.inner;
}

// reduce2 sums sa and sb over the workgroup into sa[0] and sb[0], a fixed
// tree, so that the result does not depend on scheduling.
void reduce2() {
    barrier();
    for (uint w = 128u; w > 0u; w >>= 1) {
        uint t = gl_LocalInvocationID.x;
        if (t < w) {
            sa[t] += sa[t + w];
            sb[t] += sb[t + w];
        }
        barrier();
    }
}

void main() {
    if (MODE == 0u || MODE == 5u) {
        // Chunk reductions: b0 = x (MODE 0) or dy (MODE 5), b1 = x (MODE 5),
        // b2 = mean (MODE 5), part = b1 (MODE 0) or b3 (MODE 5).
        uint s = gl_WorkGroupID.x, c = gl_WorkGroupID.y, t = gl_LocalInvocationID.x;
        uint lo = s * p.chunk;
        uint hi = min(lo + p.chunk, p.n);
        if (MODE == 0u) {
            float acc = 0.0;
            for (uint k = lo + t; k < hi; k += 256u) {
                acc += AT(b0, at(c, k));
            }
            sa[t] = acc;
            sb[t] = 0.0;
            reduce2();
            float m = sa[0] / float(hi - lo);
            barrier();
            float q = 0.0;
            for (uint k = lo + t; k < hi; k += 256u) {
                float d = AT(b0, at(c, k)) - m;
                q += d * d;
            }
            sa[t] = q;
            reduce2();
            if (t == 0u) {
                AT(b1, (c * p.S + s) * 2u) = m;
                AT(b1, (c * p.S + s) * 2u + 1u) = sa[0];
            }
        } else {
            float mu = AT(b2, c);
            float g = 0.0, gx = 0.0;
            for (uint k = lo + t; k < hi; k += 256u) {
                uint i = at(c, k);
                float dy = AT(b0, i);
                g += dy;
                gx += dy * (AT(b1, i) - mu);
            }
            sa[t] = g;
            sb[t] = gx;
            reduce2();
            if (t == 0u) {
                AT(b3, (c * p.S + s) * 2u) = sa[0];
                AT(b3, (c * p.S + s) * 2u + 1u) = sb[0];
            }
        }
        return;
    }

    uint i = flatIndex();
    if (MODE == 4u || MODE == 8u) {
        if (i >= p.total) {
            return;
        }
        uint c = (i / p.inner) % p.C;
        if (MODE == 4u) {
            // b0 = y, b1 = x, b2 = tab, b3 = γ.
            float g = (p.flags & HAS_GAMMA) != 0u ? AT(b3, c) : 1.0;
            float x = AT(b1, i);
            AT(b0, i) = (x - AT(b2, 3u * c)) * (g * AT(b2, 3u * c + 1u)) + AT(b2, 3u * c + 2u);
        } else {
            // b0 = dx, b1 = dy, b2 = x, b3 = tab.
            float mu = AT(b3, 5u * c), is = AT(b3, 5u * c + 1u);
            float xh = (AT(b2, i) - mu) * is;
            float dy = AT(b1, i);
            AT(b0, i) = AT(b3, 5u * c + 4u) * is * (dy - AT(b3, 5u * c + 2u) * p.invN - xh * (AT(b3, 5u * c + 3u) * p.invN));
        }
        return;
    }

    uint c = i;
    if (c >= p.C) {
        return;
    }
    if (MODE == 1u) {
        // b0 = part, b1 = tab, b2 = runningMean, b3 = runningVar.
        float na = 0.0, ma = 0.0, qa = 0.0;
        for (uint s = 0u; s < p.S; s++) {
            float nb = float(min(p.chunk, p.n - s * p.chunk));
            float mb = AT(b0, (c * p.S + s) * 2u), qb = AT(b0, (c * p.S + s) * 2u + 1u);
            float nab = na + nb;
            float d = mb - ma;
            float fb = nb / nab;
            ma += d * fb;
            qa += qb + d * d * na * fb;
            na = nab;
        }
        float v = qa * p.invN;
        AT(b1, 3u * c) = ma;
        AT(b1, 3u * c + 1u) = 1.0 / sqrt(v + p.eps);
        if ((p.flags & RUNNING) != 0u) {
            AT(b2, c) = (1.0 - p.momentum) * AT(b2, c) + p.momentum * ma;
            AT(b3, c) = (1.0 - p.momentum) * AT(b3, c) + p.varScale * v;
        }
    } else if (MODE == 2u) {
        // b0 = tab, b1 = β, b2 = mean, b3 = invStd.
        AT(b0, 3u * c + 2u) = (p.flags & HAS_BETA) != 0u ? AT(b1, c) : 0.0;
        AT(b2, c) = AT(b0, 3u * c);
        AT(b3, c) = AT(b0, 3u * c + 1u);
    } else if (MODE == 3u) {
        // b0 = tab, b1 = runningMean, b2 = runningVar, b3 = β.
        AT(b0, 3u * c) = AT(b1, c);
        AT(b0, 3u * c + 1u) = 1.0 / sqrt(AT(b2, c) + p.eps);
        AT(b0, 3u * c + 2u) = (p.flags & HAS_BETA) != 0u ? AT(b3, c) : 0.0;
    } else if (MODE == 6u) {
        // b0 = part, b1 = tab, b2 = mean, b3 = invStd.
        float g = 0.0, gx = 0.0;
        for (uint s = 0u; s < p.S; s++) {
            g += AT(b0, (c * p.S + s) * 2u);
            gx += AT(b0, (c * p.S + s) * 2u + 1u);
        }
        float is = AT(b3, c);
        AT(b1, 5u * c) = AT(b2, c);
        AT(b1, 5u * c + 1u) = is;
        AT(b1, 5u * c + 2u) = g;
        AT(b1, 5u * c + 3u) = gx * is;
    } else if (MODE == 7u) {
        // b0 = tab, b1 = γ, b2 = dgamma, b3 = dbeta.
        AT(b0, 5u * c + 4u) = (p.flags & HAS_GAMMA) != 0u ? AT(b1, c) : 1.0;
        if ((p.flags & WANT_DGAMMA) != 0u) {
            AT(b2, c) = AT(b0, 5u * c + 3u);
        }
        if ((p.flags & WANT_DBETA) != 0u) {
            AT(b3, c) = AT(b0, 5u * c + 2u);
        }
    }
}
