#version 450
#extension GL_EXT_control_flow_attributes : enable
// gemm.comp: one shared-memory tiled matrix product C[m, n] = Σ_k A(m, k)·B(k, n)
// behind four ops, chosen by the MODE specialization constant. Each workgroup
// computes a 64×64 tile of C, staging BK = 16 reduction indices of A and B at
// a time in shared memory; each of its 64 invocations owns 8×8 outputs (rows
// ty + 8i, columns tx + 8j) held in registers and accumulates them over the
// reduction in a fixed order, so results are deterministic. Out-of-range rows,
// columns and reduction indices load 0 and are never stored.
//
//   MODE 0 matmul:       A = op(a) [M, K], B = op(b) [K, N], C = c [M, N].
//   MODE 1 conv forward: per group g, A = w [Kg, R], B = im2col(x) [R, N·OH·OW],
//                        C = y (plus bias when HAS_BIAS), R = Cg·KH·KW.
//   MODE 2 conv dx:      per group, A = wᵀ [Cg, Kg·KH·KW], B = the dy element whose
//                        window puts tap (kh, kw) on each input position (0 where
//                        none does) [Kg·KH·KW, N·H·W], C = dx: the full
//                        convolution with the flipped kernel, as a gather.
//   MODE 3 conv dw:      per group, A = dy [Kg, N·OH·OW], B = im2col(x)ᵀ
//                        [N·OH·OW, R], C = dw [Kg, R]; the reduction over the batch
//                        may be split into chunks (split-K), each chunk writing its
//                        own slice of C for a later deterministic sum.
//
// Bindings: 0 = C, 1 = a (matmul a, conv w, or dy for MODE 3), 2 = b (matmul b,
// x, or dy for MODE 2), 3 = bias. Workgroup (x, y, z) plus the bases in the
// push constants gives (column tile, row tile, z) with z = group + groups·split.
//
// The convolution loads need the decomposition of flat indices into
// (channel, tap) or (image, row, column). Integer division is slow on GPUs
// (and scalar on CPU emulations), so none happens per loaded element: the
// column part of each invocation's loads is fixed across the reduction and is
// decomposed once, and the reduction part is decomposed once per tile of BK
// indices by BK invocations into a shared table.
layout(local_size_x = 64) in;

layout(constant_id = 0) const uint MODE = 0;
layout(constant_id = 1) const uint TRANS_A = 0;  // matmul: a is [K, M]
layout(constant_id = 2) const uint TRANS_B = 0;  // matmul: b is [N, K]
layout(constant_id = 3) const uint HAS_BIAS = 0; // conv forward: add bias[k]

layout(std430, set = 0, binding = 0) writeonly buffer OutC { float c[]; };
layout(std430, set = 0, binding = 1) readonly buffer InA { float a[]; };
layout(std430, set = 0, binding = 2) readonly buffer InB { float b[]; };
layout(std430, set = 0, binding = 3) readonly buffer InBias { float bias[]; };

layout(push_constant) uniform Params {
    int M, N, K;        // the product's rows, columns and reduction length
    int kchunk;         // reduction indices per split (K when not split)
    int tileX, tileY;   // first column tile and row tile of this dispatch
    int zBase;          // first z (group + groups·split) of this dispatch
    int groups;         // convolution groups (1 for matmul)
    int batch, C, H, W; // conv input [batch, C, H, W]
    int Kout, KH, KW;   // conv kernel [Kout, Cg, KH, KW]
    int OH, OW;         // conv output spatial size
    int Cg, Kg;         // channels per group: input, output
    int sh, sw, ph, pw, dh, dw; // stride, padding, dilation (height, width)
} p;

const int BM = 64;      // tile rows
const int BN = 64;      // tile columns
const int BK = 16;      // reduction indices per shared-memory stage
const int TS = 8;       // invocations per tile side
const int RT = 8;       // outputs per invocation per side (TS·RT = BM = BN)
const int NT = TS * TS; // invocations per workgroup

shared float As[BK][BM + 1];
shared float Bs[BK][BN + 1];

// The reduction-index table of the current tile, entry kk for k = k0 + kk:
//   MODE 1: T0 = x offset of tap (c, kh, kw), T1 = kh·dh, T2 = kw·dw.
//   MODE 2: T0 = w offset of (kk', ·, kh, kw) within the group, T1 = dy offset
//           of channel kk', (T2, T3) = kh·dh divided by and modulo sh,
//           (T4, T5) = kw·dw divided by and modulo sw.
//   MODE 3: T0 = dy offset of (img, ·, oh, ow), T1 = x offset of the window's
//           corner (img, ·, ih0, iw0), T2 = ih0, T3 = iw0.
shared int T0[BK], T1[BK], T2[BK], T3[BK], T4[BK], T5[BK];

// fillTable sets table entry kk for reduction index k.
void fillTable(int kk, int k) {
    int khw = p.KH * p.KW;
    if (MODE == 1) {
        int ci = k / khw;
        int rem = k - ci * khw;
        int kh = rem / p.KW;
        int kw = rem - kh * p.KW;
        T0[kk] = (ci * p.H + kh * p.dh) * p.W + kw * p.dw;
        T1[kk] = kh * p.dh;
        T2[kk] = kw * p.dw;
    } else if (MODE == 2) {
        int ko = k / khw;
        int rem = k - ko * khw;
        int kh = rem / p.KW;
        int kw = rem - kh * p.KW;
        T0[kk] = ko * p.Cg * khw + rem;
        T1[kk] = ko * p.OH * p.OW;
        int th = kh * p.dh;
        int tw = kw * p.dw;
        T2[kk] = th / p.sh;
        T3[kk] = th - T2[kk] * p.sh;
        T4[kk] = tw / p.sw;
        T5[kk] = tw - T4[kk] * p.sw;
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
    int tid = int(gl_LocalInvocationIndex);
    int tx = tid % TS;
    int ty = tid / TS;
    int n0 = (int(gl_WorkGroupID.x) + p.tileX) * BN;
    int m0 = (int(gl_WorkGroupID.y) + p.tileY) * BM;
    int z = int(gl_WorkGroupID.z) + p.zBase;
    int g = z % p.groups;
    int s = z / p.groups;
    int kBegin = s * p.kchunk;
    int kEnd = min(p.K, kBegin + p.kchunk);

    // Load mapping: invocation tid loads elements e = tid + NT·i of each
    // BM×BK tile of A and BK×BN tile of B. A tiles walk k fastest (k = e % BK,
    // m = e / BK) unless a is stored transposed; B tiles walk n fastest, so
    // that the invocation keeps one column n = n0 + tid and k = i, unless b is
    // stored transposed.
    bool aAlongK = !(MODE == 0 && TRANS_A != 0);
    bool bAlongN = !(MODE == 0 && TRANS_B != 0);

    // The column part of the B loads, fixed for the whole reduction.
    int colBase = 0; // MODE 1: x offset of (img, g·Cg, ih0, iw0); MODE 2: dy offset of (img, g·Kg, 0, 0);
                     // MODE 3: x offset of tap (g·Cg + ci, kh·dh, kw·dw)
    int colH = 0;    // MODE 1: ih0; MODE 2: (ih + ph) / sh; MODE 3: kh·dh
    int colW = 0;    // MODE 1: iw0; MODE 2: (iw + pw) / sw; MODE 3: kw·dw
    int colHr = 0;   // MODE 2: (ih + ph) % sh
    int colWr = 0;   // MODE 2: (iw + pw) % sw
    if (MODE != 0) {
        int n = n0 + tid;
        if (MODE == 3) {
            int khw = p.KH * p.KW;
            int ci = n / khw;
            int rem = n - ci * khw;
            int kh = rem / p.KW;
            int kw = rem - kh * p.KW;
            colH = kh * p.dh;
            colW = kw * p.dw;
            colBase = ((g * p.Cg + ci) * p.H + colH) * p.W + colW;
        } else {
            int hw = MODE == 1 ? p.OH * p.OW : p.H * p.W;
            int wd = MODE == 1 ? p.OW : p.W;
            int img = n / hw;
            int pos = n - img * hw;
            int r = pos / wd;
            int q = pos - r * wd;
            if (MODE == 1) {
                colH = r * p.sh - p.ph;
                colW = q * p.sw - p.pw;
                colBase = ((img * p.C + g * p.Cg) * p.H + colH) * p.W + colW;
            } else {
                int th = r + p.ph;
                int tw = q + p.pw;
                colH = th / p.sh;
                colHr = th - colH * p.sh;
                colW = tw / p.sw;
                colWr = tw - colW * p.sw;
                colBase = (img * p.Kout + g * p.Kg) * p.OH * p.OW;
            }
        }
    }

    float acc[RT][RT];
    [[unroll]] for (int i = 0; i < RT; i++) {
        [[unroll]] for (int j = 0; j < RT; j++) {
            acc[i][j] = 0.0;
        }
    }

    if (MODE != 0 && tid < BK) {
        fillTable(tid, kBegin + tid);
    }
    barrier();

    for (int k0 = kBegin; k0 < kEnd; k0 += BK) {
        [[unroll]] for (int i = 0; i < BM * BK / NT; i++) {
            int e = tid + NT * i;
            int kk = aAlongK ? e % BK : e / BM;
            int mm = aAlongK ? e / BK : e % BM;
            int m = m0 + mm;
            int k = k0 + kk;
            float v = 0.0;
            if (m < p.M && k < kEnd) {
                if (MODE == 0) {
                    v = TRANS_A != 0 ? a[k * p.M + m] : a[m * p.K + k];
                } else if (MODE == 1) {
                    v = a[(g * p.Kg + m) * p.K + k];
                } else if (MODE == 2) {
                    v = a[(g * p.Kg * p.Cg + m) * p.KH * p.KW + T0[kk]];
                } else {
                    v = a[T0[kk] + (g * p.Kg + m) * p.OH * p.OW];
                }
            }
            As[kk][mm] = v;
        }
        [[unroll]] for (int i = 0; i < BN * BK / NT; i++) {
            int e = tid + NT * i;
            int kk = bAlongN ? e / BN : e % BK;
            int nn = bAlongN ? e % BN : e / BK;
            int n = n0 + nn;
            int k = k0 + kk;
            float v = 0.0;
            if (n < p.N && k < kEnd) {
                if (MODE == 0) {
                    v = TRANS_B != 0 ? b[n * p.K + k] : b[k * p.N + n];
                } else if (MODE == 1) {
                    int ih = colH + T1[kk];
                    int iw = colW + T2[kk];
                    if (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) {
                        v = b[colBase + T0[kk]];
                    }
                } else if (MODE == 2) {
                    // ih + ph − kh·dh = (colH − T2)·sh + (colHr − T3): a
                    // window lands here when the remainders agree.
                    int oh = colH - T2[kk];
                    int ow = colW - T4[kk];
                    if (colHr == T3[kk] && colWr == T5[kk] && oh >= 0 && oh < p.OH && ow >= 0 && ow < p.OW) {
                        v = b[colBase + T1[kk] + oh * p.OW + ow];
                    }
                } else {
                    int ih = T2[kk] + colH;
                    int iw = T3[kk] + colW;
                    if (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) {
                        v = b[T1[kk] + colBase];
                    }
                }
            }
            Bs[kk][nn] = v;
        }
        barrier();
        // The loads above are done with the table: refill it for the next
        // tile while the products run.
        if (MODE != 0 && tid < BK) {
            fillTable(tid, k0 + BK + tid);
        }
        [[unroll]] for (int kk = 0; kk < BK; kk++) {
            float av[RT];
            float bv[RT];
            [[unroll]] for (int i = 0; i < RT; i++) {
                av[i] = As[kk][ty + TS * i];
                bv[i] = Bs[kk][tx + TS * i];
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
        int n = n0 + tx + TS * j;
        if (n >= p.N) {
            continue;
        }
        // Where column n goes: MODE 1 (img, pos) of y, MODE 2 (img, pos) of dx.
        int hw = MODE == 1 ? p.OH * p.OW : p.H * p.W;
        int img = MODE == 1 || MODE == 2 ? n / hw : 0;
        int pos = n - img * hw;
        [[unroll]] for (int i = 0; i < RT; i++) {
            int m = m0 + ty + TS * i;
            if (m >= p.M) {
                continue;
            }
            float v = acc[i][j];
            if (MODE == 0) {
                c[m * p.N + n] = v;
            } else if (MODE == 1) {
                int k = g * p.Kg + m;
                if (HAS_BIAS != 0) {
                    v += bias[k];
                }
                c[(img * p.Kout + k) * hw + pos] = v;
            } else if (MODE == 2) {
                c[(img * p.C + g * p.Cg + m) * hw + pos] = v;
            } else {
                // dw[g·Kg + m, n] in slice s of the split-K partial sums.
                c[(s * p.Kout + g * p.Kg + m) * p.N + n] = v;
            }
        }
    }
}
