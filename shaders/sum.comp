#version 450
#extension GL_GOOGLE_include_directive : require
// sum.comp: the generic strided reduction. The source is viewed as
// [outer, R, inner]; the reduced axis R is cut into S chunks of `chunk`
// indices, and invocation (o, s, i) writes
//     dst[(o·S + s)·inner + i] = (Σ_{r in chunk s} src[(o·R + r)·inner + i]) / div
// summing in increasing r, so results are deterministic. S = 1 gives a plain
// reduction; S > 1 gives partial sums that a further pass reduces (a tree),
// which keeps long sums accurate and parallel. div is 1 for sums and the
// element count for means.
layout(local_size_x = 256) in;

#include "buf.glsl"

BUFFER(0, writeonly, float, dst)
BUFFER(1, readonly, float, src)

layout(push_constant) uniform Params {
    uint outer, R, inner, S, chunk;
    float div;
    ADDRESSES(2)
} p;

void main() {
    uint idx = gl_GlobalInvocationID.x +
        gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * 256u) +
        gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * 256u * gl_NumWorkGroups.y);
    if (idx >= p.outer * p.S * p.inner) {
        return;
    }
    uint i = idx % p.inner;
    uint t = idx / p.inner;
    uint s = t % p.S;
    uint o = t / p.S;
    uint r0 = s * p.chunk;
    uint r1 = min(p.R, r0 + p.chunk);
    uint at = (o * p.R + r0) * p.inner + i;
    float acc = 0.0;
    for (uint r = r0; r < r1; r++) {
        acc += AT(src, at);
        at += p.inner;
    }
    AT(dst, idx) = acc / p.div;
}
