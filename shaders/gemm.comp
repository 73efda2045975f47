#version 450
#extension GL_EXT_control_flow_attributes : enable
#extension GL_GOOGLE_include_directive : require
// gemm.comp: one shared-memory tiled matrix product C[m, n] = Σ_k A(m, k)·B(k, n)
// behind four ops, chosen by the MODE specialization constant. Each workgroup
// of 64 invocations computes a BM×BN tile of C, staging BK reduction indices of
// A and B at a time in shared memory; invocation (tx, ty) of the TN×TM grid of
// invocations owns the 8×8 outputs at rows ty + TM·i and columns tx + TN·j,
// held in registers and accumulated over the reduction in a fixed order, so
// results are deterministic. The TM specialization constant shapes the tile
// (BM = 8·TM, BN = 8·(64/TM): 16×256 to 256×16), so that products with few rows
// or columns waste little; every shape stays under 16 KiB of shared memory.
// Out-of-range rows, columns and reduction indices load 0 and are never
// stored.
//
//   MODE 0 matmul:       A = op(a) [M, K], B = op(b) [K, N], C = c [M, N]
//                        (plus bias[n] when HAS_BIAS: a dense layer).
//   MODE 1 conv forward: per group g, A = w [Kg, R], B = im2col(x) [R, N·OH·OW],
//                        C = y (plus bias when HAS_BIAS), R = Cg·KH·KW.
//   With ACT = 1, MODES 0 and 1 store max(v, 0) (0 for NaN, as the ReLU op).
//   MODE 2 conv dx:      the full convolution with the flipped kernel, as a
//                        gather, split by stride phase: the input positions
//                        (ih, iw) with (ih + ph) mod sh = rh and (iw + pw) mod
//                        sw = rw receive gradient only through the kernel taps
//                        with kh·dh ≡ rh and kw·dw ≡ rw, so per group and phase
//                        A = wᵀ [Cg, Kg·taps], B = dy at the one output position
//                        each tap puts on each input position (0 outside dy)
//                        [Kg·taps, N·positions], C = dx at those positions. No
//                        product is spent on taps that stride skips.
//   MODE 3 conv dw:      per group, A = dy [Kg, N·OH·OW], B = im2col(x)ᵀ
//                        [N·OH·OW, R], C = dw [Kg, R]; the reduction over the batch
//                        may be split into chunks (split-K), each chunk writing its
//                        own slice of C for a later deterministic sum.
//
// Bindings: 0 = C, 1 = a (matmul a, conv w, or dy for MODE 3), 2 = b (matmul b,
// x, or dy for MODE 2), 3 = bias. Workgroup (x, y, z) plus the bases in the
// push constants gives (column tile, row tile, z) with z = group + groups·s,
// where s is the split (MODE 3) or the stride phase rh·sw + rw (MODE 2).
//
// The convolution loads need the decomposition of flat indices into
// (channel, tap) or (image, row, column). Integer division is slow on GPUs
// (and scalar on CPU emulations), so none happens per loaded element: the
// column part of each invocation's loads is fixed across the reduction and is
// decomposed once, and the reduction part is decomposed once per stage of BK
// indices by BK invocations into a shared table.
layout(local_size_x = 64) in;

layout(constant_id = 0) const uint MODE = 0;
layout(constant_id = 1) const uint TRANS_A = 0;  // matmul: a is [K, M]
layout(constant_id = 2) const uint TRANS_B = 0;  // matmul: b is [N, K]
layout(constant_id = 3) const uint HAS_BIAS = 0; // conv forward: add bias[k]; matmul: add bias[n]
layout(constant_id = 4) const int TM = 8;        // invocations along M: 2, 4, 8, 16 or 32
layout(constant_id = 5) const uint ACT = 0;      // matmul, conv forward: 1 applies ReLU after the bias

#include "buf.glsl"

BUFFER(0, writeonly, float, c)
BUFFER(1, readonly, float, a)
BUFFER(2, readonly, float, b)
BUFFER(3, readonly, float, bias)

layout(push_constant) uniform Params {
    int M, N, K;        // the product's rows, columns and reduction length
                        // (MODE 2: columns and reduction of the largest phase)
    int kchunk;         // reduction indices per split (K when not split)
    int tileX, tileY;   // first column tile and row tile of this dispatch
    int zBase;          // first z of this dispatch
    int groups;         // convolution groups (1 for matmul)
    int batch, C, H, W; // conv input [batch, C, H, W]
    int Kout, KH, KW;   // conv kernel [Kout, Cg, KH, KW]
    int OH, OW;         // conv output spatial size
    int sh, sw, ph, pw, dh, dw; // stride, padding, dilation (height, width)
    ADDRESSES(4)
} p;

const int NT = 64;       // invocations per workgroup
const int RT = 8;        // outputs per invocation along each side
const int TN = NT / TM;  // invocations along N
const int BM = RT * TM;  // tile rows
const int BN = RT * TN;  // tile columns
const int BK = (TM == 2 || TM == 32) ? 8 : 16; // reduction indices per stage
const int CPT = BN >= NT ? BN / NT : 1;        // B columns each invocation loads
const int MAXBK = 16;
const int MAXCPT = 4;

shared float As[BK][BM + 1];
shared float Bs[BK][BN + 1];

// The reduction-index table of the current stage, entry kk for k = k0 + kk:
//   MODE 1: T0 = x offset of tap (c, kh, kw), T1 = kh·dh, T2 = kw·dw.
//   MODE 2: T0 = w offset of (ko, ·, kh, kw) within the group, T1 = dy offset
//           of channel ko, T2 and T3 = how far the tap moves the output row
//           and column back (jh·Dh, jw·Dw, see the phase below).
//   MODE 3: T0 = dy offset of (img, ·, oh, ow), T1 = x offset of the window's
//           corner (img, ·, ih0, iw0), T2 = ih0, T3 = iw0.
shared int T0[MAXBK], T1[MAXBK], T2[MAXBK], T3[MAXBK];

// The channels per group, input and output: C/groups and Kout/groups, set
// first thing in main.
int Cg, Kg;

// The stride phase of a MODE 2 workgroup (uniform over it). Its input rows
// are ih = ihStart + sh·t for t < phRows, and its kernel rows kh = kh0 + stepH·j
// for j < tapsH; tap j moves the output row back by j·Dh = j·stepH·dh/sh.
// Likewise for the columns.
int ihStart, phRows, kh0, stepH, tapsH, Dh;
int iwStart, phCols, kw0, stepW, tapsW, Dw;

// phaseAxis returns, for phase r of an axis with stride st, padding pd,
// dilation dl, kernel size kn and input size n: the first input index of the
// phase, the count of its input indices, the first kernel index of the phase,
// the step between its kernel indices, their count and the output shift per
// step. Strides are small, so the loops are short.
void phaseAxis(int r, int st, int pd, int dl, int kn, int n,
               out int start, out int count, out int k0, out int step, out int taps, out int shift) {
    start = (r - pd % st + st) % st;
    count = start < n ? (n - 1 - start) / st + 1 : 0;
    step = 1;
    while ((step * dl) % st != 0) {
        step++;
    }
    k0 = 0;
    while (k0 < step && (k0 * dl) % st != r) {
        k0++;
    }
    taps = k0 < step && k0 < kn ? (kn - 1 - k0) / step + 1 : 0;
    shift = step * dl / st;
}

// fillTable sets table entry kk for reduction index k.
void fillTable(int kk, int k) {
    if (MODE == 1) {
        int khw = p.KH * p.KW;
        int ci = k / khw;
        int rem = k - ci * khw;
        int kh = rem / p.KW;
        int kw = rem - kh * p.KW;
        T0[kk] = (ci * p.H + kh * p.dh) * p.W + kw * p.dw;
        T1[kk] = kh * p.dh;
        T2[kk] = kw * p.dw;
    } else if (MODE == 2) {
        int taps = tapsH * tapsW;
        int ko = k / taps;
        int rem = k - ko * taps;
        int jh = rem / tapsW;
        int jw = rem - jh * tapsW;
        int kh = kh0 + jh * stepH;
        int kw = kw0 + jw * stepW;
        T0[kk] = (ko * Cg * p.KH + kh) * p.KW + kw;
        T1[kk] = ko * p.OH * p.OW;
        T2[kk] = jh * Dh;
        T3[kk] = jw * Dw;
    } else if (MODE == 3) {
        int ohw = p.OH * p.OW;
        int img = k / ohw;
        int pos = k - img * ohw;
        int oh = pos / p.OW;
        int ow = pos - oh * p.OW;
        int ih0 = oh * p.sh - p.ph;
        int iw0 = ow * p.sw - p.pw;
        T0[kk] = img * p.Kout * ohw + pos;
        T1[kk] = (img * p.C * p.H + ih0) * p.W + iw0;
        T2[kk] = ih0;
        T3[kk] = iw0;
    }
}

void main() {
    Cg = p.C / p.groups;
    Kg = p.Kout / p.groups;
    int tid = int(gl_LocalInvocationIndex);
    int tx = tid % TN;
    int ty = tid / TN;
    int n0 = (int(gl_WorkGroupID.x) + p.tileX) * BN;
    int m0 = (int(gl_WorkGroupID.y) + p.tileY) * BM;
    int z = int(gl_WorkGroupID.z) + p.zBase;
    int g = z % p.groups;
    int s = z / p.groups;
    int kBegin = s * p.kchunk;
    int kEnd = min(p.K, kBegin + p.kchunk);
    int N = p.N;
    if (MODE == 2) {
        phaseAxis(s / p.sw, p.sh, p.ph, p.dh, p.KH, p.H, ihStart, phRows, kh0, stepH, tapsH, Dh);
        phaseAxis(s % p.sw, p.sw, p.pw, p.dw, p.KW, p.W, iwStart, phCols, kw0, stepW, tapsW, Dw);
        N = p.batch * phRows * phCols;
        kBegin = 0;
        kEnd = Kg * tapsH * tapsW; // 0 when stride skips every tap: dx is 0 there
        if (n0 >= N) {
            return; // the whole workgroup: this phase has fewer positions
        }
    }

    // Load mapping: invocation tid loads elements e = tid + NT·i of each
    // BM×BK tile of A and BK×BN tile of B. A tiles walk k fastest (k = e % BK,
    // m = e / BK) unless a is stored transposed. B tiles walk n fastest
    // (n = e % BN, k = e / BN), unless b is stored transposed, so that an
    // invocation loads the same CPT columns, slot i % CPT, at every stage.
    bool aAlongK = !(MODE == 0 && TRANS_A != 0);
    bool bAlongN = !(MODE == 0 && TRANS_B != 0);

    // The column part of the B loads, fixed for the whole reduction.
    int colBase[MAXCPT]; // MODE 1: x offset of (img, g·Cg, ih0, iw0); MODE 2: dy offset of
                         // (img, g·Kg, 0, 0); MODE 3: x offset of tap (g·Cg + ci, kh·dh, kw·dw)
    int colH[MAXCPT];    // MODE 1: ih0; MODE 2: the output row of the phase's first tap; MODE 3: kh·dh
    int colW[MAXCPT];    // likewise for the columns
    for (int sl = 0; sl < CPT; sl++) {
        int n = n0 + tid % BN + NT * sl;
        if (MODE == 1) {
            int ohw = p.OH * p.OW;
            int img = n / ohw;
            int pos = n - img * ohw;
            int oh = pos / p.OW;
            int ow = pos - oh * p.OW;
            colH[sl] = oh * p.sh - p.ph;
            colW[sl] = ow * p.sw - p.pw;
            colBase[sl] = ((img * p.C + g * Cg) * p.H + colH[sl]) * p.W + colW[sl];
        } else if (MODE == 2) {
            // n = (img, t, u): input row ihStart + sh·t, column iwStart + sw·u;
            // the phase's first tap (kh0, kw0) puts it under output
            // ((ih + ph − kh0·dh)/sh, (iw + pw − kw0·dw)/sw), exact divisions.
            int pr = max(phRows * phCols, 1);
            int img = n / pr;
            int pos = n - img * pr;
            int t = pos / max(phCols, 1);
            int u = pos - t * phCols;
            colH[sl] = (ihStart + p.sh * t + p.ph - kh0 * p.dh) / p.sh;
            colW[sl] = (iwStart + p.sw * u + p.pw - kw0 * p.dw) / p.sw;
            colBase[sl] = (img * p.Kout + g * Kg) * p.OH * p.OW;
        } else if (MODE == 3) {
            int khw = p.KH * p.KW;
            int ci = n / khw;
            int rem = n - ci * khw;
            int kh = rem / p.KW;
            int kw = rem - kh * p.KW;
            colH[sl] = kh * p.dh;
            colW[sl] = kw * p.dw;
            colBase[sl] = ((g * Cg + ci) * p.H + colH[sl]) * p.W + colW[sl];
        } else {
            colH[sl] = 0;
            colW[sl] = 0;
            colBase[sl] = 0;
        }
    }

    float acc[RT][RT];
    [[unroll]] for (int i = 0; i < RT; i++) {
        [[unroll]] for (int j = 0; j < RT; j++) {
            acc[i][j] = 0.0;
        }
    }

    if (MODE != 0 && tid < BK && kBegin + tid < kEnd) {
        fillTable(tid, kBegin + tid);
    }
    barrier();

    for (int k0 = kBegin; k0 < kEnd; k0 += BK) {
        for (int i = 0; i < BM * BK / NT; i++) {
            int e = tid + NT * i;
            int kk = aAlongK ? e % BK : e / BM;
            int mm = aAlongK ? e / BK : e % BM;
            int m = m0 + mm;
            int k = k0 + kk;
            float v = 0.0;
            if (m < p.M && k < kEnd) {
                if (MODE == 0) {
                    v = TRANS_A != 0 ? AT(a, k * p.M + m) : AT(a, m * p.K + k);
                } else if (MODE == 1) {
                    v = AT(a, (g * Kg + m) * p.K + k);
                } else if (MODE == 2) {
                    v = AT(a, (g * Kg * Cg + m) * p.KH * p.KW + T0[kk]);
                } else {
                    v = AT(a, T0[kk] + (g * Kg + m) * p.OH * p.OW);
                }
            }
            As[kk][mm] = v;
        }
        for (int i = 0; i < BN * BK / NT; i++) {
            int e = tid + NT * i;
            int kk = bAlongN ? e / BN : e % BK;
            int nn = bAlongN ? e % BN : e / BK;
            int sl = i % CPT;
            int n = n0 + nn;
            int k = k0 + kk;
            float v = 0.0;
            if (n < N && k < kEnd) {
                if (MODE == 0) {
                    v = TRANS_B != 0 ? AT(b, n * p.K + k) : AT(b, k * p.N + n);
                } else if (MODE == 1) {
                    int ih = colH[sl] + T1[kk];
                    int iw = colW[sl] + T2[kk];
                    if (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) {
                        v = AT(b, colBase[sl] + T0[kk]);
                    }
                } else if (MODE == 2) {
                    int oh = colH[sl] - T2[kk];
                    int ow = colW[sl] - T3[kk];
                    if (oh >= 0 && oh < p.OH && ow >= 0 && ow < p.OW) {
                        v = AT(b, colBase[sl] + T1[kk] + oh * p.OW + ow);
                    }
                } else {
                    int ih = T2[kk] + colH[sl];
                    int iw = T3[kk] + colW[sl];
                    if (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) {
                        v = AT(b, T1[kk] + colBase[sl]);
                    }
                }
            }
            Bs[kk][nn] = v;
        }
        barrier();
        // The loads above are done with the table: refill it for the next
        // stage while the products run.
        if (MODE != 0 && tid < BK && k0 + BK + tid < kEnd) {
            fillTable(tid, k0 + BK + tid);
        }
        for (int kk = 0; kk < BK; kk++) {
            float av[RT];
            float bv[RT];
            [[unroll]] for (int i = 0; i < RT; i++) {
                av[i] = As[kk][ty + TM * i];
                bv[i] = Bs[kk][tx + TN * i];
            }
            [[unroll]] for (int i = 0; i < RT; i++) {
                [[unroll]] for (int j = 0; j < RT; j++) {
                    acc[i][j] = fma(av[i], bv[j], acc[i][j]);
                }
            }
        }
        barrier();
    }

    [[unroll]] for (int j = 0; j < RT; j++) {
        int n = n0 + tx + TN * j;
        if (n >= N) {
            continue;
        }
        // Where column n goes: its image and position in the output plane.
        int img = 0;
        int pos = n;
        if (MODE == 1) {
            img = n / (p.OH * p.OW);
            pos = n - img * p.OH * p.OW;
        } else if (MODE == 2) {
            int pr = phRows * phCols;
            img = n / pr;
            int t = (n - img * pr) / phCols;
            int u = n - img * pr - t * phCols;
            pos = (ihStart + p.sh * t) * p.W + iwStart + p.sw * u;
        }
        [[unroll]] for (int i = 0; i < RT; i++) {
            int m = m0 + ty + TM * i;
            if (m >= p.M) {
                continue;
            }
            float v = acc[i][j];
            if (MODE == 0) {
                if (HAS_BIAS != 0) {
                    v += AT(bias, n);
                }
                if (ACT == 1) {
                    v = v > 0.0 ? v : 0.0;
                }
                AT(c, m * p.N + n) = v;
            } else if (MODE == 1) {
                int k = g * Kg + m;
                if (HAS_BIAS != 0) {
                    v += AT(bias, k);
                }
                if (ACT == 1) {
                    v = v > 0.0 ? v : 0.0;
                }
                AT(c, (img * p.Kout + k) * p.OH * p.OW + pos) = v;
            } else if (MODE == 2) {
                AT(c, (img * p.C + g * Cg + m) * p.H * p.W + pos) = v;
            } else {
                // dw[g·Kg + m, n] in slice s of the split-K partial sums.
                AT(c, (s * p.Kout + g * Kg + m) * p.N + n) = v;
            }
        }
    }
}
