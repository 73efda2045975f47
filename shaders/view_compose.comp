#version 450
// view_compose: draws one element of the live training view (package viewer)
// into an image of packed 8-bit pixels: pix[y*width + x] holds alpha 255 and
// the colour in the byte order of the window's swapchain. Every op writes only
// inside its clip rectangle and the image, and bounds-checks every read and
// write against the buffers' lengths, so any push values are memory-safe.
//
// Bindings: 0 = pix (uint[], the image), 1 = src (float[], the data the op
// reads: images, loss values or the font).
//
// Push constants (v[i], 4-byte words):
//   0 op: 0 rect, 1 grid, 2 curve, 3 text
//   1 width, 2 height: the image size in pixels
//   3 flags: bit 0 set = BGRA byte order (pixel = A<<24|R<<16|G<<8|B), else RGBA
//   4 x0, 5 y0, 6 x1, 7 y1: the clip rectangle [x0, x1) × [y0, y1)
// rect  (groups1D(ceil(rw/32)·rh)): 8 colour 0xRRGGBB; fills the clip
//       rectangle, each invocation a run of up to 32 pixels of a row.
// grid  (one workgroup per cell): 8 offset, 9 stride, 10 count, 11 h, 12 w,
//       13 cols, 14 scale, 15 gap, 16 mode (0 grey min–max, 1 diverging
//       around 0), 17 gx, 18 gy. Cell i shows the h×w plane src[offset +
//       i·stride ...] magnified scale times at (gx + (i%cols)·(w·scale+gap),
//       gy + (i/cols)·(h·scale+gap)), normalized over its own values.
// curve (groups1D(rw)): 8 offset, 9 n, 10 lo, 11 hi (float bits), 12 colour;
//       plots src[offset ... offset+n) as a line over the clip rectangle,
//       value lo at the bottom row and hi at the top row, each invocation
//       one column.
// text  (groups1D(rw·rh)): 8 offset (the font), 9 scale, 10 colour, 11 nchars,
//       12... the characters, 4 per word, first in the low byte; draws 5×7
//       glyphs on a 6×8 cell grid magnified scale times from (x0, y0). Glyph
//       of character c (32..127) row r is src[offset + (c-32)·7 + r], a value
//       0..31 whose bit 4 is the leftmost column.

layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) buffer Pix { uint pix[]; };
layout(std430, set = 0, binding = 1) readonly buffer Src { float src[]; };

layout(push_constant) uniform Push { uint v[32]; } pc;

shared float smin[256];
shared float smax[256];

uint pack(uvec3 c) {
    if ((pc.v[3] & 1u) != 0u) {
        return 0xff000000u | (c.r << 16) | (c.g << 8) | c.b;
    }
    return 0xff000000u | (c.b << 16) | (c.g << 8) | c.r;
}

uvec3 unpackRGB(uint rgb) { return uvec3((rgb >> 16) & 255u, (rgb >> 8) & 255u, rgb & 255u); }

// put writes colour c at (x, y) when it is inside the clip rectangle and the image.
void put(uint x, uint y, uvec3 c) {
    if (x < pc.v[4] || x >= pc.v[6] || y < pc.v[5] || y >= pc.v[7] || x >= pc.v[1] || y >= pc.v[2]) {
        return;
    }
    uint i = y * pc.v[1] + x;
    if (i < uint(pix.length())) {
        pix[i] = pack(c);
    }
}

float at(uint i) { return i < uint(src.length()) ? src[i] : 0.0; }

uint flatIndex() {
    return gl_GlobalInvocationID.x
         + gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * gl_WorkGroupSize.x)
         + gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * gl_WorkGroupSize.x * gl_NumWorkGroups.y);
}

// level maps t in [0, 1] to 0..255, rounding.
uint level(float t) { return uint(clamp(t, 0.0, 1.0) * 255.0 + 0.5); }

// scaled returns colour rgb dimmed to level l of 255, rounding.
uvec3 scaled(uvec3 rgb, uint l) { return (rgb * l + 127u) / 255u; }

void grid() {
    uint cell = gl_WorkGroupID.x;
    uint lid = gl_LocalInvocationID.x;
    uint h = pc.v[11], w = pc.v[12], cols = max(pc.v[13], 1u), s = max(pc.v[14], 1u);
    uint base = pc.v[8] + cell * pc.v[9];
    uint n = h * w;
    float lo = 3.0e38, hi = -3.0e38;
    for (uint j = lid; j < n; j += 256u) {
        float x = at(base + j);
        if (!isnan(x) && !isinf(x)) {
            lo = min(lo, x);
            hi = max(hi, x);
        }
    }
    smin[lid] = lo;
    smax[lid] = hi;
    barrier();
    for (uint k = 128u; k > 0u; k >>= 1) {
        if (lid < k) {
            smin[lid] = min(smin[lid], smin[lid + k]);
            smax[lid] = max(smax[lid], smax[lid + k]);
        }
        barrier();
    }
    lo = smin[0];
    hi = smax[0];
    if (cell >= pc.v[10]) {
        return;
    }
    uint cx = pc.v[17] + (cell % cols) * (w * s + pc.v[15]);
    uint cy = pc.v[18] + (cell / cols) * (h * s + pc.v[15]);
    float m = max(abs(lo), abs(hi));
    uint total = n * s * s;
    for (uint p = lid; p < total; p += 256u) {
        uint py = p / (w * s), px = p % (w * s);
        float x = at(base + (py / s) * w + px / s);
        uvec3 c = uvec3(0u);
        if (!isnan(x)) {
            if (pc.v[16] == 0u) {
                uint l = hi > lo ? level((x - lo) / (hi - lo)) : 128u;
                c = uvec3(l);
            } else if (m > 0.0) {
                float t = clamp(x / m, -1.0, 1.0);
                c = t >= 0.0 ? scaled(uvec3(255u, 176u, 64u), level(t)) : scaled(uvec3(64u, 160u, 255u), level(-t));
            }
        }
        put(cx + px, cy + py, c);
    }
}

float curveAt(uint i) { return at(pc.v[8] + i); }

// curveValue returns the series linearly interpolated at index k + num/den.
float curveValue(uint k, uint num, uint den, uint n) {
    float a = curveAt(k);
    if (num == 0u || k + 1u >= n) {
        return a;
    }
    return mix(a, curveAt(k + 1u), float(num) / float(den));
}

void curve(uint px) {
    uint rw = pc.v[6] - pc.v[4], rh = pc.v[7] - pc.v[5];
    uint n = pc.v[9];
    if (n == 0u || px >= rw) {
        return;
    }
    float lo = uintBitsToFloat(pc.v[10]), hi = uintBitsToFloat(pc.v[11]);
    if (!(hi > lo)) {
        hi = lo + 1.0;
    }
    // The column covers the series from index a = px·(n−1)/rw to
    // b = (px+1)·(n−1)/rw; it spans the values the line takes in between.
    uint an = px * (n - 1u), bn = (px + 1u) * (n - 1u);
    uint ak = an / rw, bk = bn / rw;
    float va = curveValue(ak, an % rw, rw, n), vb = curveValue(bk, bn % rw, rw, n);
    float vmin = min(va, vb), vmax = max(va, vb);
    bool gap = isnan(va) || isnan(vb);
    for (uint k = ak + 1u; k <= bk && k < n; k++) {
        float x = curveAt(k);
        gap = gap || isnan(x);
        vmin = min(vmin, x);
        vmax = max(vmax, x);
    }
    if (gap) {
        return; // a NaN loss leaves the column empty
    }
    float scale = float(rh - 1u) / (hi - lo);
    float top = floor(float(rh - 1u) - (vmax - lo) * scale);
    float bottom = ceil(float(rh - 1u) - (vmin - lo) * scale);
    uvec3 c = unpackRGB(pc.v[12]);
    for (uint py = uint(max(top, 0.0)); py < rh && float(py) <= bottom; py++) {
        put(pc.v[4] + px, pc.v[5] + py, c);
    }
}

void text(uint i) {
    uint rw = pc.v[6] - pc.v[4];
    uint px = i % rw, py = i / rw;
    uint s = max(pc.v[9], 1u);
    uint ch = px / (6u * s), col = (px % (6u * s)) / s, row = py / s;
    if (ch >= pc.v[11] || col >= 5u || row >= 7u || 12u + ch / 4u >= 32u) {
        return;
    }
    uint c = (pc.v[12u + ch / 4u] >> (8u * (ch % 4u))) & 255u;
    if (c < 32u || c > 127u) {
        return;
    }
    uint bits = uint(at(pc.v[8] + (c - 32u) * 7u + row));
    if ((bits & (16u >> col)) != 0u) {
        put(pc.v[4] + px, pc.v[5] + py, unpackRGB(pc.v[10]));
    }
}

void main() {
    uint op = pc.v[0];
    if (op == 1u) {
        grid();
        return;
    }
    if (pc.v[6] <= pc.v[4] || pc.v[7] <= pc.v[5]) {
        return;
    }
    uint i = flatIndex();
    uint rw = pc.v[6] - pc.v[4], rh = pc.v[7] - pc.v[5];
    if (op == 0u) {
        uint runs = (rw + 31u) / 32u;
        if (i < runs * rh) {
            uint x0 = pc.v[4] + (i % runs) * 32u, y = pc.v[5] + i / runs;
            uvec3 c = unpackRGB(pc.v[8]);
            for (uint x = x0; x < min(x0 + 32u, pc.v[6]); x++) {
                put(x, y, c);
            }
        }
    } else if (op == 2u) {
        curve(i);
    } else if (op == 3u && i < rw * rh) {
        text(i);
    }
}
