// bowcnn's native kernels (convolutions, products, pooling, bias + ReLU): an optional Node addon
// (node-gyp, built at install for the machine's own instruction set), used by the wasm backend when it
// loads (src/backend/native.ts).
//
// Why: WebAssembly SIMD has 128-bit lanes and no fused multiply-add. On the 2-core machine this
// project is measured on, a register-only wasm loop peaks at 15-18 GFLOP/s a core, while the same loop
// in AVX-512 FMA reaches 156 (`npm run bench -- peak`, README "Native kernels"). A LeNet-5 training
// step is 290 MFLOP; at wasm's peak on 2 cores (31.7) it would take 9.1 ms of the 11.2 ms that
// PyTorch's 11,400 img/s allow, before pooling, ReLU, loss and Adam: parity cannot be reached from wasm.
//
// Tensors stay where they are: every function takes the wasm backend's heap (an ArrayBuffer or
// SharedArrayBuffer) and byte offsets into it, reads the inputs there and writes the (already allocated)
// output there. Layout NHWC, float32; convolutions at stride 1, dilation 1, any zero padding.
//
// One direct convolution serves all three passes. Per image, the input is copied channel-first onto
// its zero-padded grid, xp[ci][r*Wp + c] (Hp x Wp = (OH+KH-1) x (OW+KW-1)), and the output is computed
// on the same flattened grid: o[co][p], p = y*Wp + x, as
//     o[co][p] = sum over taps t = (ci,kh,kw) of w[t][co] * xp[ci][p + kh*Wp + kw]
// so that one vector of consecutive p reads consecutive memory for every tap. Columns x >= OW of that
// grid are computed and dropped (the price of unit-stride vectors: (KW-1)/Wp of the work).
//   forward          y  = conv(x, w)
//   input gradient   dx = conv(dy, w') with w'[kh,kw,co,ci] = w[KH-1-kh, KW-1-kw, ci, co],
//                        pads KH-1-pt, KW-1-pl (the "full" convolution)
//   filter gradient  dw[t][co] = sum_n sum_p xp_n[ci][p + kh*Wp + kw] * dyp_n[co][p]
//                        (dyp: dy on the same grid, zero at x >= OW)
// Images are split between threads (OpenMP). Every output value is computed by one thread in a fixed
// order, and the filter gradient sums fixed chunks of images in chunk order, so results are the same
// from run to run and for any thread count.
//
// The passes read their input through a Source (a dense NHWC tensor, or the gradient coming back through
// a fused ReLU + 2x2 max pool, unpooled onto the grid as it is read) and write through a Sink (NHWC with
// bias and ReLU, or pooled in registers): that is how convolution + bias + ReLU + max pool runs as one
// forward call that writes only the pooled output and each window's position code, and one backward call
// (convReluPool / convReluPoolGrad; its gradient can also be taken from the nonzeros, poolGradSparse).
#include <node.h>
#include <omp.h>
#include <unistd.h>
#include <immintrin.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

using namespace v8;

// everything here has internal linkage (members too: no calls through the PLT)
namespace {

#if defined(__AVX512F__)
constexpr int VW = 16;
constexpr int NACC = 24;  // accumulators kept in registers (32 zmm)
#elif defined(__AVX__)
constexpr int VW = 8;
constexpr int NACC = 12;  // 16 ymm
#else
constexpr int VW = 4;
constexpr int NACC = 12;  // 16 xmm
#endif
typedef float V __attribute__((vector_size(VW * 4)));
typedef int VI __attribute__((vector_size(VW * 4)));

static inline V load(const float* p) { V v; std::memcpy(&v, p, sizeof v); return v; }
static inline void store(float* p, V v) { std::memcpy(p, &v, sizeof v); }
// the first m lanes of v to p (all for m >= VW, none for m <= 0)
static inline void storeFirst(float* p, V v, int m) {
  if (m >= VW) return store(p, v);
  if (m <= 0) return;
#if defined(__AVX512F__)
  _mm512_mask_storeu_ps(p, (__mmask16)((1u << m) - 1), (__m512)v);
#else
  std::memcpy(p, &v, sizeof(float) * m);
#endif
}
static inline float hsum(V v) { float s = 0; for (int i = 0; i < VW; i++) s += v[i]; return s; }

struct Geom {
  int N, H, W, Ci, KH, KW, Co, OH, OW, pt, pl;
  // the padded grid and its flattened extent
  int Wp() const { return OW + KW - 1; }
  int Hp() const { return OH + KH - 1; }
  // floats of the input, the filter, the output and the 2x2-pooled output
  double inCount() const { return (double)N * H * W * Ci; }
  double filterCount() const { return (double)KH * KW * Ci * Co; }
  double outCount() const { return (double)N * OH * OW * Co; }
  double pooledCount() const { return (double)N * (OH / 2) * (OW / 2) * Co; }
};

static inline int roundUp(int a, int b) { return (a + b - 1) / b * b; }

// x (one image, NHWC [H,W,C]) onto its channel-first grid, already zeroed: xp[c*S + (r+pt)*Wp + col+pl]
static void packChannelFirst(const float* x, int H, int W, int C, int pt, int pl, int Hp, int Wp, int S, float* xp) {
  for (int r = 0; r < H; r++) {
    int rr = r + pt;
    if (rr < 0 || rr >= Hp) continue;
    for (int col = 0; col < W; col++) {
      int cc = col + pl;
      if (cc < 0 || cc >= Wp) continue;
      const float* src = x + ((size_t)r * W + col) * C;
      float* dst = xp + (size_t)rr * Wp + cc;
      for (int c = 0; c < C; c++) dst[(size_t)c * S] = src[c];
    }
  }
}

// The gradient of a fused ReLU + 2x2/stride-2 max pool (see scatterPool), one image, onto the same kind
// of grid (already zeroed): dp[r,c,ch] ([PH,PW,C]) goes to the window position code[r,c,ch] = dh*2 + dw
// of the input's row 2r+dh, column 2c+dw; nowhere for -1 (the window's ReLU outputs were all 0).
// Vectors of VW windows: each writes its two rows' 2*VW values (zeros but where the gradient goes;
// a row's last windows only their own columns). Every window lies inside the grid: the filter
// gradient's grid has room for all of dz, and the input gradient's too while each pad is at most the
// kernel's size less 1 (convReluPoolGrad checks all four).
static void unpoolChannelFirst(const float* dp, const int* code, int PH, int PW, int C, int pt, int pl, int Wp, int S, float* xp) {
  VI lo, hi;  // interleaving (e0 o0 e1 o1 ...): the first and the second half
  for (int i = 0; i < VW / 2; i++) { lo[2 * i] = i; lo[2 * i + 1] = VW + i; hi[2 * i] = VW / 2 + i; hi[2 * i + 1] = VW + VW / 2 + i; }
  for (int ch = 0; ch < C; ch++)
    for (int r = 0; r < PH; r++) {
      float* row0 = xp + (size_t)ch * S + (size_t)(2 * r + pt) * Wp + pl;
      for (int c = 0; c < PW; c += VW) {
        const int n = std::min(VW, PW - c);
        VI k = VI{} - 1;  // lanes past the row's windows: no gradient
        V g = V{};
        for (int i = 0; i < n; i++) {  // (lane inserts stay in registers: faster than a scratch array)
          const size_t o = ((size_t)r * PW + c + i) * C + ch;
          k[i] = code[o]; g[i] = dp[o];
        }
        for (int dh = 0; dh < 2; dh++) {
          const V e = k == 2 * dh ? g : V{}, od = k == 2 * dh + 1 ? g : V{};
          const V a = __builtin_shuffle(e, od, lo), b = __builtin_shuffle(e, od, hi);
          float* d = row0 + (size_t)dh * Wp + 2 * c;
          storeFirst(d, a, 2 * n);  // a row's last windows: their columns only
          storeFirst(d + VW, b, 2 * n - VW);
        }
      }
    }
}

// The input of a convolution pass, [N,H,W,C] as the pass sees it: a dense NHWC tensor x, or (code set)
// the gradient flowing back through a fused ReLU + 2x2 max pool, dp [N,H/2,W/2,C] and its window codes,
// which is zero but at one position of a window at most.
struct Source {
  const float* x;
  const int* code;
  int H, W, C;
  // image n onto its grid (zeroed here)
  void pack(int n, int pt, int pl, int Hp, int Wp, int S, float* grid) const {
    std::memset(grid, 0, sizeof(float) * (size_t)S * C);
    if (!code) return packChannelFirst(x + (size_t)n * H * W * C, H, W, C, pt, pl, Hp, Wp, S, grid);
    const size_t o = (size_t)n * (H / 2) * (W / 2) * C;
    unpoolChannelFirst(x + o, code + o, H / 2, W / 2, C, pt, pl, Wp, S, grid);
  }
};

// One block of B vectors of p by COB output channels, over all T taps.
// xp: the image's padded grid; toff[t]: tap offsets; wk[t*COB + j]: weights; o: rows of stride P.
template <int B, int COB>
static void fwdBlock(const float* xp, const int* toff, const float* wk, int T, float* o, size_t P, int p0) {
  V acc[B][COB];
  for (int b = 0; b < B; b++) for (int j = 0; j < COB; j++) acc[b][j] = V{};
  for (int t = 0; t < T; t++) {
    const float* s = xp + toff[t] + p0;
    V xv[B];
    for (int b = 0; b < B; b++) xv[b] = load(s + b * VW);
    const float* wt = wk + (size_t)t * COB;
    for (int j = 0; j < COB; j++) {
      const float wj = wt[j];  // a scalar operand: broadcast once
      for (int b = 0; b < B; b++) acc[b][j] += xv[b] * wj;
    }
  }
  for (int j = 0; j < COB; j++) for (int b = 0; b < B; b++) store(o + j * P + p0 + b * VW, acc[b][j]);
}

// vectors of p per block for COB channels: at most as many as the accumulators allow, at most 4
static constexpr int blockVectors(int cob) { return NACC / cob < 1 ? 1 : NACC / cob > 4 ? 4 : NACC / cob; }

// The block for a grid of P0 positions: a block of B vectors reuses each weight B times, but the grid is
// computed in whole blocks, so on small maps (7x7: 63 positions of a 9-wide padded grid) a large block
// computes mostly padding. Cost: the vectors computed, each with its share of the weight broadcasts.
static int bestBlock(int P0, int cob) {
  int best = 1;
  double bestCost = 1e300;
  for (int b = 1; b <= blockVectors(cob); b++) {
    const double cost = (double)roundUp(P0, b * VW) / VW * (1.0 + 1.0 / b);
    if (cost < bestCost - 1e-9) { best = b; bestCost = cost; }
  }
  return best;
}

template <int B, int COB>
static void fwdImage(const float* xp, const int* toff, const float* wk, int T, float* o, size_t P) {
  for (size_t p0 = 0; p0 < P; p0 += B * VW) fwdBlock<B, COB>(xp, toff, wk, T, o, P, (int)p0);
}

typedef void (*FwdFn)(const float*, const int*, const float*, int, float*, size_t);
template <int COB>
static FwdFn fwdForB(int b) {
  constexpr int M = blockVectors(COB);
  switch (std::min(b, M)) {
    case 1: return fwdImage<1, COB>;
    case 2: return fwdImage<(M < 2 ? M : 2), COB>;
    case 3: return fwdImage<(M < 3 ? M : 3), COB>;
    default: return fwdImage<M, COB>;
  }
}
static FwdFn fwdFor(int cob, int b) {
  switch (cob) {
    case 1: return fwdForB<1>(b); case 2: return fwdForB<2>(b); case 3: return fwdForB<3>(b); case 4: return fwdForB<4>(b);
    case 5: return fwdForB<5>(b); case 6: return fwdForB<6>(b); case 7: return fwdForB<7>(b); default: return fwdForB<8>(b);
  }
}

static int coBlock(int Co) { return Co <= 8 ? Co : (Co % 8 == 0 ? 8 : (Co % 6 == 0 ? 6 : 8)); }

// o[j][r*Wp + c] (channels c0 .. c0+cnt-1 on the padded grid) -> y[r, c, c0 + j] of one image (NHWC),
// plus bias, then ReLU (max with 0) or nothing (max with -inf)
template <int CNT>
static void scatterN(const float* o, size_t P, int Wp, int OH, int OW, float* y, int Co, int c0, const float* bb, float lo) {
  for (int r = 0; r < OH; r++)
    for (int c = 0; c < OW; c++) {
      const float* s = o + (size_t)r * Wp + c;
      float* d = y + ((size_t)r * OW + c) * Co + c0;
      for (int j = 0; j < CNT; j++) d[j] = std::max(s[(size_t)j * P] + bb[j], lo);
    }
}

// o[j][(2r+dh)*Wp + 2c+dw] (channels c0 .. c0+cnt-1 on the padded grid; read up to 2*VW floats past
// the last row), plus bias, then ReLU, then the
// max over each 2x2 window -> y[r, c, c0 + j] of one image ([PH,PW,Co]), and the window position of that
// max (dh*2 + dw, the first in row-major order, as MaxPoolGrad takes it) in code[r, c, c0 + j], or -1 when
// the max is not > 0 (all four ReLU outputs are 0 and so is every gradient through the window). The
// values and the positions are those of bias + ReLU, then MaxPool, computed one after the other.
static void scatterPool(const float* o, size_t P, int Wp, int PH, int PW, float* y, int* code, int Co, int c0, int cnt, const float* bb) {
  VI ev, od;
  for (int i = 0; i < VW; i++) { ev[i] = 2 * i; od[i] = 2 * i + 1; }
  for (int j = 0; j < cnt; j++) {
    const V b = V{} + bb[j];
    for (int r = 0; r < PH; r++) {
      const float* s0 = o + (size_t)j * P + (size_t)(2 * r) * Wp;
      const float* s1 = s0 + Wp;
      // VW windows at a time: the even and odd columns of the window's two rows, as vectors
      for (int c = 0; c < PW; c += VW) {
        const V a0 = load(s0 + 2 * c), a1 = load(s0 + 2 * c + VW), b0 = load(s1 + 2 * c), b1 = load(s1 + 2 * c + VW);
        const V v1 = __builtin_shuffle(a0, a1, od) + b, v2 = __builtin_shuffle(b0, b1, ev) + b, v3 = __builtin_shuffle(b0, b1, od) + b;
        V m = __builtin_shuffle(a0, a1, ev) + b;
        VI k = VI{}, gt;
        gt = v1 > m; k = gt ? VI{} + 1 : k; m = gt ? v1 : m;
        gt = v2 > m; k = gt ? VI{} + 2 : k; m = gt ? v2 : m;
        gt = v3 > m; k = gt ? VI{} + 3 : k; m = gt ? v3 : m;
        const VI on = m > V{};
        const V out = on ? m : V{};
        const VI kk = on ? k : VI{} - 1;
        float* yd = y + ((size_t)r * PW + c) * Co + c0 + j;
        int* cd = code + ((size_t)r * PW + c) * Co + c0 + j;
        for (int i = 0, n = std::min(VW, PW - c); i < n; i++) { yd[(size_t)i * Co] = out[i]; cd[(size_t)i * Co] = kk[i]; }
      }
    }
  }
}

// Where a convolution pass writes: y (NHWC) with bias and ReLU or neither, or (code set) the fused
// ReLU + 2x2 max pool: y [N,OH/2,OW/2,Co] and code, same shape.
struct Sink {
  float* y;
  int* code;
  const float* bias;
  bool relu;
  // channels c0 .. c0+cnt-1 of image n, computed on the grid o (rows of P per channel)
  void emit(int n, const float* o, size_t P, int Wp, const Geom& g, int c0, int cnt) const {
    float bb[8];
    for (int j = 0; j < cnt; j++) bb[j] = bias ? bias[c0 + j] : 0.f;
    if (!code) {
      const float lo = relu ? 0.f : -std::numeric_limits<float>::infinity();
      float* yn = y + (size_t)n * g.OH * g.OW * g.Co;
      switch (cnt) {
        case 1: return scatterN<1>(o, P, Wp, g.OH, g.OW, yn, g.Co, c0, bb, lo);
        case 2: return scatterN<2>(o, P, Wp, g.OH, g.OW, yn, g.Co, c0, bb, lo);
        case 3: return scatterN<3>(o, P, Wp, g.OH, g.OW, yn, g.Co, c0, bb, lo);
        case 4: return scatterN<4>(o, P, Wp, g.OH, g.OW, yn, g.Co, c0, bb, lo);
        case 5: return scatterN<5>(o, P, Wp, g.OH, g.OW, yn, g.Co, c0, bb, lo);
        case 6: return scatterN<6>(o, P, Wp, g.OH, g.OW, yn, g.Co, c0, bb, lo);
        case 7: return scatterN<7>(o, P, Wp, g.OH, g.OW, yn, g.Co, c0, bb, lo);
        default: return scatterN<8>(o, P, Wp, g.OH, g.OW, yn, g.Co, c0, bb, lo);
      }
    }
    const int PH = g.OH / 2, PW = g.OW / 2;
    const size_t off = (size_t)n * PH * PW * g.Co;
    scatterPool(o, P, Wp, PH, PW, y + off, code + off, g.Co, c0, cnt, bb);
  }
};

// out = conv(src, w) (+ bias, ReLU, pool as the sink says); wmode 0: w is [KH,KW,Ci,Co];
// wmode 1: w is a forward filter [KH,KW,Co,Ci] used for the input gradient (flipped, in/out swapped).
static void convForward(const Source& src, const float* w, const Sink& out, const Geom& g, int wmode) {
  const int Wp = g.Wp(), Hp = g.Hp(), T = g.KH * g.KW * g.Ci;
  const int COB = coBlock(g.Co), nb = (g.Co + COB - 1) / COB;
  const int B = bestBlock(g.OH * Wp, COB);
  const size_t P = roundUp(g.OH * Wp, B * VW);
  const int S = (int)P + (g.KH - 1) * Wp + g.KW - 1 + VW;
  // taps in (ci, kh, kw) order; weights packed per block of COB channels (zero past Co)
  std::vector<int> toff(T);
  std::vector<float> wk((size_t)nb * T * COB, 0.f);
  for (int ci = 0, t = 0; ci < g.Ci; ci++)
    for (int kh = 0; kh < g.KH; kh++)
      for (int kw = 0; kw < g.KW; kw++, t++) {
        toff[t] = ci * S + kh * Wp + kw;
        for (int co = 0; co < g.Co; co++) {
          float v = wmode == 0 ? w[(((size_t)kh * g.KW + kw) * g.Ci + ci) * g.Co + co]
                               : w[(((size_t)(g.KH - 1 - kh) * g.KW + (g.KW - 1 - kw)) * g.Co + co) * g.Ci + ci];
          wk[((size_t)(co / COB) * T + t) * COB + co % COB] = v;
        }
      }
  FwdFn fn = fwdFor(COB, B);
#pragma omp parallel
  {
    std::vector<float> xp((size_t)S * g.Ci), o((size_t)COB * P + 2 * VW);  // (the pooled sink reads past the end)
#pragma omp for schedule(static)
    for (int n = 0; n < g.N; n++) {
      src.pack(n, g.pt, g.pl, Hp, Wp, S, xp.data());
      for (int b = 0; b < nb; b++) {
        fn(xp.data(), toff.data(), wk.data() + (size_t)b * T * COB, T, o.data(), P);
        out.emit(n, o.data(), P, Wp, g, b * COB, std::min(COB, g.Co - b * COB));
      }
    }
  }
}

// dw[t][co] partial sums over a chunk of G images: TT taps by COB channels per tile, vectors over p.
// xp: G grids of XS floats; dyp: G grids of DS floats (rows of P per channel).
template <int TT, int COB>
static void filterTile(const float* xp, size_t XS, const int* toff, const float* dyp, size_t DS, size_t P, int G,
                       float* acc, int Co, int t0, int c0) {
  V a[TT][COB];
  for (int i = 0; i < TT; i++) for (int j = 0; j < COB; j++) a[i][j] = V{};
  for (int gi = 0; gi < G; gi++) {
    const float* x = xp + gi * XS;
    const float* d = dyp + gi * DS + (size_t)c0 * P;
    for (size_t p = 0; p < P; p += VW) {
      V dv[COB];
      for (int j = 0; j < COB; j++) dv[j] = load(d + (size_t)j * P + p);
      for (int i = 0; i < TT; i++) {
        V xv = load(x + toff[t0 + i] + p);
        for (int j = 0; j < COB; j++) a[i][j] += xv * dv[j];
      }
    }
  }
  for (int i = 0; i < TT; i++) for (int j = 0; j < COB; j++) acc[(size_t)(t0 + i) * Co + c0 + j] += hsum(a[i][j]);
}

// bytes of a core's L2 cache (glibc reads it from cpuid); 1 MB where the system does not say
static size_t l2Bytes() {
  static const size_t bytes = [] {
    const long b = sysconf(_SC_LEVEL2_CACHE_SIZE);
    return b > 0 ? (size_t)b : (size_t)1 << 20;
  }();
  return bytes;
}

// dw (and, when db is given, the bias gradient db[co] = sum of dy: one more tap, over a channel of ones)
static void convFilterGrad(const Source& x, const Source& dy, float* dw, float* db, const Geom& g) {
  const int Wp = g.Wp(), Hp = g.Hp(), T = g.KH * g.KW * g.Ci, ones = db ? 1 : 0;
  // TT taps by COB channels: TT*COB accumulators, COB gradient vectors and one input vector in registers
  // (5 x 5 + 5 + 1 of AVX-512's 32; 4 x 3 + 3 + 1 of AVX2's 16)
  constexpr int TT = VW == 16 ? 5 : 4;
  constexpr int COB = VW == 16 ? 5 : 3;
  const int Tp = roundUp(T + ones, TT), Cop = roundUp(g.Co, COB);
  const size_t P = roundUp(g.OH * Wp, VW);
  const int S = (int)P + (g.KH - 1) * Wp + g.KW - 1 + VW;
  const size_t XS = (size_t)S * (g.Ci + ones), DS = (size_t)Cop * P;
  // images per chunk: their grids fill a core's L2 cache, so that each tile's pass over them is cheap and one
  // horizontal sum per tile serves the whole chunk (on small maps, 7x7 or 14x14, those sums cost as much as
  // the products when a chunk holds a few images); at most a quarter of the batch, so that a batch still
  // makes chunks for a few threads
  const int Gmax = std::max(1, std::min({32, (g.N + 3) / 4, (int)(l2Bytes() / (4 * (XS + DS)))}));
  const int chunks = (g.N + Gmax - 1) / Gmax, G = (g.N + chunks - 1) / chunks;
  std::vector<int> toff(Tp, 0);  // taps past T read tap 0 and are dropped
  for (int ci = 0, t = 0; ci < g.Ci; ci++)
    for (int kh = 0; kh < g.KH; kh++)
      for (int kw = 0; kw < g.KW; kw++, t++) toff[t] = ci * S + kh * Wp + kw;
  if (db) toff[T] = g.Ci * S;
  // one partial sum per chunk of images, added in chunk order: the result does not depend on the
  // thread count (chunks depend on the geometry and the L2 size only)
  std::vector<float> part((size_t)chunks * Tp * Cop, 0.f);
#pragma omp parallel
  {
    std::vector<float> xp(XS * G), dyp(DS * G);
    if (db)  // the channel of ones after each image's Ci channels (packing leaves it alone)
      for (int gi = 0; gi < G; gi++) std::fill(xp.data() + gi * XS + (size_t)g.Ci * S, xp.data() + (gi + 1) * XS, 1.f);
#pragma omp for schedule(static)
    for (int ch = 0; ch < chunks; ch++) {
      const int nc = ch * G, cnt = std::min(G, g.N - nc);
      float* acc = part.data() + (size_t)ch * Tp * Cop;
      for (int gi = 0; gi < cnt; gi++) {
        const int n = nc + gi;
        x.pack(n, g.pt, g.pl, Hp, Wp, S, xp.data() + gi * XS);
        float* d = dyp.data() + gi * DS;
        std::fill(d + (size_t)g.Co * P, d + DS, 0.f);  // channels past Co (the tiles' padding)
        dy.pack(n, 0, 0, (int)(P / Wp), Wp, (int)P, d);
      }
      for (int t0 = 0; t0 < Tp; t0 += TT)
        for (int c0 = 0; c0 < Cop; c0 += COB) {
          filterTile<TT, COB>(xp.data(), XS, toff.data(), dyp.data(), DS, P, cnt, acc, Cop, t0, c0);
        }
    }
  }
  for (int t = 0; t < T + ones; t++)
    for (int co = 0; co < g.Co; co++) {
      float s = 0;
      for (int ch = 0; ch < chunks; ch++) s += part[((size_t)ch * Tp + t) * Cop + co];
      if (t == T) { db[co] = s; continue; }
      // taps in (ci,kh,kw) order -> dw [KH,KW,Ci,Co]
      int ci = t / (g.KH * g.KW), kh = (t / g.KW) % g.KH, kw = t % g.KW;
      dw[(((size_t)kh * g.KW + kw) * g.Ci + ci) * g.Co + co] = s;
    }
}

// ---- matrix products -------------------------------------------------------------------------------
// c[b] = act(op(a[b]) op(b[b]) + bias), op = transpose or not; a and b broadcast when their batch is 1.
// Both operands are packed first (a: MR-row panels, rows of K; b: K rows of Np = N rounded up to a
// vector, zeros past N), so that the tile below reads consecutive memory whatever the transposes.
constexpr int MR = VW == 16 ? 6 : 4;

template <int NR>
static void gemmTile(const float* ap, const float* bp, int K, int Np, float* ct, int j0) {
  V acc[MR][NR];
  for (int i = 0; i < MR; i++) for (int j = 0; j < NR; j++) acc[i][j] = V{};
  for (int k = 0; k < K; k++) {
    V bv[NR];
    for (int j = 0; j < NR; j++) bv[j] = load(bp + (size_t)k * Np + j0 + j * VW);
    for (int i = 0; i < MR; i++) {
      const float ai = ap[(size_t)i * K + k];
      for (int j = 0; j < NR; j++) acc[i][j] += bv[j] * ai;
    }
  }
  for (int i = 0; i < MR; i++) for (int j = 0; j < NR; j++) store(ct + (size_t)i * Np + j0 + j * VW, acc[i][j]);
}

static void matmul(const float* A, const float* Bm, const float* bias, bool relu, float* C, int batch, int M, int K, int N,
                   bool ta, bool tb, bool aAll, bool bAll) {
  const int Np = roundUp(N, VW), Mp = roundUp(M, MR), tiles = Mp / MR;
  const float lo = relu ? 0.f : -std::numeric_limits<float>::infinity();
  const double work = (double)batch * M * N * K;
  std::vector<float> ap((size_t)(aAll ? batch : 1) * Mp * K), bp((size_t)(bAll ? batch : 1) * K * Np);
  // pack: ap[b][i][k] = op(a)[i][k] (zero rows past M); bp[b][k][j] = op(b)[k][j] (zero past N)
  for (int b = 0; b < (aAll ? batch : 1); b++) {
    const float* a = A + (size_t)b * M * K;
    float* d = ap.data() + (size_t)b * Mp * K;
    std::fill(d + (size_t)M * K, d + (size_t)Mp * K, 0.f);
    if (!ta) std::memcpy(d, a, sizeof(float) * (size_t)M * K);
    else for (int k = 0; k < K; k++) for (int i = 0; i < M; i++) d[(size_t)i * K + k] = a[(size_t)k * M + i];
  }
  for (int b = 0; b < (bAll ? batch : 1); b++) {
    const float* bm = Bm + (size_t)b * K * N;
    float* d = bp.data() + (size_t)b * K * Np;
    for (int k = 0; k < K; k++) {
      float* row = d + (size_t)k * Np;
      if (!tb) std::memcpy(row, bm + (size_t)k * N, sizeof(float) * N);
      else for (int j = 0; j < N; j++) row[j] = bm[(size_t)j * K + k];
      std::fill(row + N, row + Np, 0.f);
    }
  }
#pragma omp parallel if (work > 2e5)
  {
    std::vector<float> ct((size_t)MR * Np);
#pragma omp for schedule(static)
    for (int bt = 0; bt < batch * tiles; bt++) {
      const int b = bt / tiles, i0 = (bt % tiles) * MR;
      const float* a = ap.data() + (aAll ? (size_t)b * Mp * K : 0) + (size_t)i0 * K;
      const float* bb = bp.data() + (bAll ? (size_t)b * K * Np : 0);
      int j0 = 0;
      for (; j0 + 4 * VW <= Np; j0 += 4 * VW) gemmTile<4>(a, bb, K, Np, ct.data(), j0);
      switch ((Np - j0) / VW) {
        case 3: gemmTile<3>(a, bb, K, Np, ct.data(), j0); break;
        case 2: gemmTile<2>(a, bb, K, Np, ct.data(), j0); break;
        case 1: gemmTile<1>(a, bb, K, Np, ct.data(), j0); break;
        default: break;
      }
      float* c = C + ((size_t)b * M + i0) * N;
      for (int i = 0; i < MR && i0 + i < M; i++)
        for (int j = 0; j < N; j++) c[(size_t)i * N + j] = std::max(ct[(size_t)i * Np + j] + (bias ? bias[j] : 0.f), lo);
    }
  }
}


// ---- pooling and the bias + ReLU passes ---------------------------------------------------------------
// 2x2 max pooling at stride 2 without padding (NHWC): y[n,i,j,c] = max of x[n, 2i+a, 2j+b, c].
static void maxPool2x2(const float* x, float* y, int N, int H, int W, int C, int OH, int OW) {
#pragma omp parallel for schedule(static) if ((long)N * OH * OW * C > 100000)
  for (int r = 0; r < N * OH; r++) {
    const int n = r / OH, i = r % OH;
    const float* a = x + (((size_t)n * H + 2 * i) * W) * C;
    const float* b = a + (size_t)W * C;
    float* o = y + (size_t)r * OW * C;
    for (int j = 0; j < OW; j++)
      for (int c = 0; c < C; c++) {
        const size_t p = (size_t)2 * j * C + c;
        o[(size_t)j * C + c] = std::max(std::max(a[p], a[p + C]), std::max(b[p], b[p + C]));
      }
  }
}

// its gradient: each window's dy goes to the window's first maximum in row-major order (TensorFlow's
// rule), every other input gets 0; rows and columns no window covers get 0. Vectors along the channels,
// so for C a multiple of VW only (fewer channels: the wasm SIMD kernel, which lines channels up with its
// 4 lanes, was faster than scalar code here, whose unpredictable comparisons cost more than the work).
static void maxPoolGrad2x2(const float* x, const float* dy, float* dx, int N, int H, int W, int C, int OH, int OW) {
#pragma omp parallel for schedule(static) if ((long)N * H * W * C > 100000)
  for (int n = 0; n < N; n++) {
    float* dn = dx + (size_t)n * H * W * C;
    if (2 * OH < H || 2 * OW < W) std::fill(dn, dn + (size_t)H * W * C, 0.f);
    for (int i = 0; i < OH; i++) {
      const size_t r0 = ((size_t)n * H + 2 * i) * W * C, r1 = r0 + (size_t)W * C;
      const float* g = dy + (((size_t)n * OH + i) * OW) * C;
      for (int j = 0; j < OW; j++) {
        const size_t p = (size_t)2 * j * C;
        const float *a0 = x + r0 + p, *a1 = a0 + C, *b0 = x + r1 + p, *b1 = b0 + C, *gj = g + (size_t)j * C;
        float *d0 = dx + r0 + p, *d1 = d0 + C, *e0 = dx + r1 + p, *e1 = e0 + C;
        for (int c = 0; c < C; c += VW) {   // C is a multiple of VW (the caller checks)
          const V v0 = load(a0 + c), v1 = load(a1 + c), v2 = load(b0 + c), v3 = load(b1 + c), gv = load(gj + c);
          const auto s1 = v1 > v0, s3 = v3 > v2;            // ties keep the first
          const V m01 = s1 ? v1 : v0, m23 = s3 ? v3 : v2;
          const auto lower = m23 > m01;
          store(d0 + c, lower ? V{} : (s1 ? V{} : gv));
          store(d1 + c, lower ? V{} : (s1 ? gv : V{}));
          store(e0 + c, lower ? (s3 ? V{} : gv) : V{});
          store(e1 + c, lower ? (s3 ? gv : V{}) : V{});
        }
      }
    }
  }
}

// A [rows, C] tensor read as flat vectors: L = lcm(C, VW) values hold whole rows and whole vectors, so the
// channel of each lane is fixed (C = 6, VW = 16: L = 48, the bias tiled 8 times). Rows are taken in chunks
// of CH (a multiple of L / C for any C); a tail shorter than L runs as plain loops.
static int gcd(int a, int b) { return b ? gcd(b, a % b) : a; }
constexpr long CH = 1024;

// y = max(x + bias, 0)
static void biasRelu(const float* x, const float* b, float* y, long rows, int C) {
  const int L = C / gcd(C, VW) * VW;
  std::vector<float> bt(L);
  for (int k = 0; k < L; k++) bt[k] = b[k % C];
  const long n = rows * C, full = n / L * L;
#pragma omp parallel for schedule(static) if (n > 100000)
  for (long i0 = 0; i0 < full; i0 += (long)L * 64) {
    const long i1 = std::min(full, i0 + (long)L * 64);
    for (long i = i0; i < i1; i += L)
      for (int k = 0; k < L; k += VW) {
        V v = load(x + i + k) + load(bt.data() + k);
        store(y + i + k, v > 0 ? v : V{});
      }
  }
  for (long i = full; i < n; i++) y[i] = std::max(x[i] + b[i % C], 0.f);
}

// dx = y > 0 ? dy : 0 and db[c] = sum over rows of dx: float lanes within a chunk of CH rows, the chunks'
// sums in float64 and added in chunk order (the same for any thread count)
static void biasReluGrad(const float* dy, const float* y, float* dx, float* db, long rows, int C) {
  const int L = C / gcd(C, VW) * VW;
  const long chunks = (rows + CH - 1) / CH;
  std::vector<double> part((size_t)chunks * C, 0.0);
#pragma omp parallel for schedule(static) if (rows * C > 100000)
  for (long ch = 0; ch < chunks; ch++) {
    const long i0 = ch * CH * C, i1 = std::min(rows, (ch + 1) * CH) * C, full = i0 + (i1 - i0) / L * L;
    std::vector<V> acc(L / VW, V{});
    for (long i = i0; i < full; i += L)
      for (int k = 0; k < L; k += VW) {
        const V yv = load(y + i + k), g = load(dy + i + k);
        const V v = yv > 0 ? g : V{};
        store(dx + i + k, v);
        acc[k / VW] += v;
      }
    double* s = part.data() + ch * C;
    for (int k = 0; k < L; k++) s[k % C] += acc[k / VW][k % VW];
    for (long i = full; i < i1; i++) {
      const float v = y[i] > 0.f ? dy[i] : 0.f;
      dx[i] = v;
      s[(i - i0) % C] += v;
    }
  }
  for (int c = 0; c < C; c++) {
    double t = 0;
    for (long ch = 0; ch < chunks; ch++) t += part[ch * C + c];
    db[c] = (float)t;
  }
}

// ---- the gradient of convolution + bias + ReLU + 2x2 max pool, from its nonzeros ----------------------
// After the pool, at most one position of each 2x2 window has a gradient (and none where ReLU was off):
// dz has a quarter or fewer nonzeros. Instead of dense passes over dz's grid, each nonzero v at output
// (oy, ox, co) adds
//   to the filter gradient  dw[kh][kw][ci][co] += v * x[oy+kh-pt][ox+kw-pl][ci]   (all kh, kw, ci)
//   to the input gradient   dx[oy+kh-pt][ox+kw-pl][ci] += v * w[kh][kw][ci][co]
//   to the bias gradient    db[co] += v
// For one kh, (kw, ci) is a run of KW*Ci consecutive floats of the zero-padded image (NHWC, Hq x Wq),
// so each nonzero costs KH runs of vector multiply-adds (the filter gradient accumulated as
// acc[co][kh][kw*Ci + ci], the weights read as wt[co][kh][kw*Ci + ci]); runs are rounded up to whole
// vectors (the weights' extra lanes are 0, the accumulators' extra lanes are dropped). Images are summed
// in fixed chunks, added in chunk order: the same result for any thread count.
static void poolGradSparse(const float* x, const float* w, const float* dp, const int* code, float* dw, float* db, float* dx, const Geom& g) {
  const int KH = g.KH, KW = g.KW, Ci = g.Ci, Co = g.Co, PH = g.OH / 2, PW = g.OW / 2;
  const int Hq = g.OH + KH - 1, Wq = g.OW + KW - 1, L = KW * Ci, Lp = roundUp(L, VW);
  const size_t XQ = (size_t)Hq * Wq * Ci + Lp;  // (vectors read and write up to Lp past a run)
  const size_t A = (size_t)Co * KH * Lp;        // one chunk's accumulators, then Co bias sums
  std::vector<float> wt(dx ? A : 0, 0.f);
  if (dx)
    for (int co = 0; co < Co; co++)
      for (int kh = 0; kh < KH; kh++)
        for (int j = 0; j < L; j++) wt[((size_t)co * KH + kh) * Lp + j] = w[((size_t)kh * L + j) * Co + co];
  const int G = 8, chunks = (g.N + G - 1) / G;
  std::vector<float> part((size_t)chunks * (A + Co), 0.f);
  // rows and columns of the image inside the padded one (pads past the kernel's reach cut the image)
  const int r0 = std::max(0, -g.pt), r1 = std::min(g.H, Hq - g.pt), c0 = std::max(0, -g.pl), c1 = std::min(g.W, Wq - g.pl);
  // row r's columns c0 .. c1-1: where they start in the padded image and in the image, and their bytes
  auto padded = [&](int r) { return ((size_t)(r + g.pt) * Wq + c0 + g.pl) * Ci; };
  auto plain = [&](int r) { return ((size_t)r * g.W + c0) * Ci; };
  const size_t run = sizeof(float) * std::max(0, c1 - c0) * Ci;
#pragma omp parallel
  {
    std::vector<float> xq(XQ, 0.f), dq(dx ? XQ : 0);
#pragma omp for schedule(static)
    for (int ch = 0; ch < chunks; ch++) {
      float* acc = part.data() + (size_t)ch * (A + Co);
      float* bacc = acc + A;
      for (int n = ch * G; n < std::min(g.N, (ch + 1) * G); n++) {
        const float* xn = x + (size_t)n * g.H * g.W * Ci;
        std::fill(xq.begin(), xq.end(), 0.f);
        for (int r = r0; r < r1; r++) std::memcpy(xq.data() + padded(r), xn + plain(r), run);
        if (dx) std::fill(dq.begin(), dq.end(), 0.f);
        const size_t pn = (size_t)n * PH * PW * Co;
        for (int r = 0; r < PH; r++)
          for (int c = 0; c < PW; c++)
            for (int co = 0; co < Co; co++) {
              const size_t o = pn + ((size_t)r * PW + c) * Co + co;
              const int k = code[o];
              const float v = dp[o];
              if (k < 0 || v == 0.f) continue;
              bacc[co] += v;
              const V vv = V{} + v;
              const size_t at = ((size_t)(2 * r + (k >> 1)) * Wq + 2 * c + (k & 1)) * Ci;
              for (int kh = 0; kh < KH; kh++) {
                const float* xs = xq.data() + at + (size_t)kh * Wq * Ci;
                float* ak = acc + ((size_t)co * KH + kh) * Lp;
                for (int j = 0; j < Lp; j += VW) store(ak + j, load(ak + j) + load(xs + j) * vv);
                if (!dx) continue;
                float* ds = dq.data() + at + (size_t)kh * Wq * Ci;
                const float* wr = wt.data() + ((size_t)co * KH + kh) * Lp;
                for (int j = 0; j < Lp; j += VW) store(ds + j, load(ds + j) + load(wr + j) * vv);
              }
            }
        if (dx) {
          float* dn = dx + (size_t)n * g.H * g.W * Ci;
          std::fill(dn, dn + (size_t)g.H * g.W * Ci, 0.f);
          for (int r = r0; r < r1; r++) std::memcpy(dn + plain(r), dq.data() + padded(r), run);
        }
      }
    }
  }
  for (int co = 0; co < Co; co++) {
    float b = 0;
    for (int ch = 0; ch < chunks; ch++) b += part[(size_t)ch * (A + Co) + A + co];
    db[co] = b;
    for (int kh = 0; kh < KH; kh++)
      for (int j = 0; j < L; j++) {
        float s = 0;
        for (int ch = 0; ch < chunks; ch++) s += part[(size_t)ch * (A + Co) + ((size_t)co * KH + kh) * Lp + j];
        dw[((size_t)kh * L + j) * Co + co] = s;
      }
  }
}

// Whether poolGradSparse should do it: vector operations per image, sparse (every window with a
// gradient, KH runs of Lp/VW vectors, ~3 loads and stores per multiply-add) against the dense passes
// (the filter gradient's tiles over the grid, and the input gradient's convolution). LeNet-5: C3 + S4
// sparse (1.40 -> 0.69 ms with dx, batch 128, 2 threads), C1 + S2 dense (runs of 5 floats fill a third
// of a vector: 0.45 dense vs 0.76 sparse).
static int poolGradPath = 0;  // 0: the cheaper, 1: dense, 2: sparse (setPoolGradPath: tests run both)
static double poolGradTaken[2] = {0, 0};  // calls that took the dense / the sparse way (poolGradPaths)
static bool sparseIsCheaper(const Geom& g, bool dx) {
  if (poolGradPath) return poolGradPath == 2;
  const double Lp = roundUp(g.KW * g.Ci, VW), windows = (double)(g.OH / 2) * (g.OW / 2) * g.Co;
  const double sparse = 3.0 * windows * g.KH * (Lp / VW) * (dx ? 2 : 1);
  const double grid = (double)g.Hp() * g.Wp() / VW, T = (double)g.KH * g.KW * g.Ci;
  const double dense = T * g.Co * grid * (dx ? 2 : 1);
  return sparse < dense;
}

// ---- the nearest visual word: hard coding (and k-means' assignment) in one pass ----------------------
// For each row x_p of x [P,D]: the word m that maximises s_m = x_p . k[:,m] + b[m] (with k = 2c^T [D,M] and
// b = -||c||^2 that is the nearest centre, argmin ||x_p - c_m||^2), its index and its score, tile by tile in
// registers: the [P,M] score matrix is never written. Rows that are all zero (the descriptor of a flat
// patch: much of a digit's background) all get argmax b, computed once. Ties go to the first word, as
// tfjs's ArgMax does. Words are padded to whole tiles with k = 0 and b = -inf, which never win.
constexpr int NMR = VW == 16 ? 6 : 4;  // rows per tile
constexpr int NNR = VW == 16 ? 4 : 3;  // vectors of words per tile (NMR x NNR accumulators)

// kt: the words j0 .. j0 + NNR VW - 1 of k, packed [D][NNR VW] (contiguous: a tile's words are read in order).
// Only the dimensions in dims (those where one of the NMR rows is not zero) are visited: SIFT descriptors are
// mostly zeros (an MNIST digit's: three quarters), and a dimension that is zero in all the rows adds nothing.
template <bool ALL>  // ALL: every dimension (dims unused), the loop without the indirection
static void nearestTile(const float* xr, const float* kt, const float* bp, int D, const int* dims, int nd, int j0, float* out) {
  constexpr int T = NNR * VW;
  V acc[NMR][NNR];
  for (int j = 0; j < NNR; j++) {
    const V bj = load(bp + j0 + j * VW);
    for (int i = 0; i < NMR; i++) acc[i][j] = bj;
  }
  for (int q = 0; q < nd; q++) {
    const int d = ALL ? q : dims[q];
    V kv[NNR];
    for (int j = 0; j < NNR; j++) kv[j] = load(kt + (size_t)d * T + j * VW);
    for (int i = 0; i < NMR; i++) {
      const float a = xr[(size_t)i * D + d];
      for (int j = 0; j < NNR; j++) acc[i][j] += kv[j] * a;
    }
  }
  for (int i = 0; i < NMR; i++)
    for (int j = 0; j < NNR; j++) store(out + ((size_t)i * NNR + j) * VW, acc[i][j]);
}

// k [D,M] packed tile by tile (tile t: words t T .. t T + T - 1, [D][T], T = NNR VW, zeros past M), so that a
// tile is one contiguous block rather than D rows M floats apart (a power-of-two stride that maps them all to the
// same cache sets)
static std::vector<float> packWords(const float* k, int D, int M) {
  const int T = NNR * VW, Mp = roundUp(M, T);
  std::vector<float> kp((size_t)D * Mp, 0.f);
  for (int d = 0; d < D; d++)
    for (int m = 0; m < M; m++) kp[((size_t)(m / T) * D + d) * T + m % T] = k[(size_t)d * M + m];
  return kp;
}

// The dimensions where one of the NMR rows of xr [NMR, D] is not zero, into dims; returns their count.
static int activeDims(const float* xr, int D, int* dims) {
  int nd = 0;
  for (int d = 0; d < D; d++) {
    bool any = false;
    for (int i = 0; i < NMR; i++) any |= xr[(size_t)i * D + d] != 0.f;
    if (any) dims[nd++] = d;
  }
  return nd;
}

// The scores of the NMR rows of xr against the tile of words starting at j0: out [NMR][NNR VW].
static inline void scoreTile(const float* xr, const float* kp, const float* bp, int D, const int* dims, int nd, int j0, float* out) {
  const int T = NNR * VW;
  if (nd == D) nearestTile<true>(xr, kp + (size_t)(j0 / T) * D * T, bp, D, nullptr, D, j0, out);
  else nearestTile<false>(xr, kp + (size_t)(j0 / T) * D * T, bp, D, dims, nd, j0, out);
}

static void nearest(const float* x, const float* k, const float* b, int* idx, float* best, long P, int D, int M) {
  const int T = NNR * VW, Mp = roundUp(M, T);
  const std::vector<float> kp = packWords(k, D, M);
  std::vector<float> bp(Mp, -std::numeric_limits<float>::infinity());
  std::memcpy(bp.data(), b, sizeof(float) * M);
  int b0 = 0;
  for (int m = 1; m < M; m++)
    if (b[m] > b[b0]) b0 = m;
  // the rows that are not all zero; the others take (b0, b[b0])
  std::vector<long> nz;
  nz.reserve(P);
  for (long p = 0; p < P; p++) {
    const float* r = x + (size_t)p * D;
    bool any = false;
    for (int d = 0; d < D && !any; d++) any = r[d] != 0.f;
    if (any) nz.push_back(p);
    else {
      idx[p] = b0;
      if (best) best[p] = b[b0];
    }
  }
  const long blocks = ((long)nz.size() + NMR - 1) / NMR;
  const double work = (double)nz.size() * D * M;
#pragma omp parallel if (work > 1e6)
  {
    std::vector<float> xr((size_t)NMR * D), out((size_t)NMR * T);
    std::vector<int> dims(D);
    float bv[NMR][VW];
    int bi[NMR][VW];
    VI lane;
    for (int l = 0; l < VW; l++) lane[l] = l;
#pragma omp for schedule(static)
    for (long blk = 0; blk < blocks; blk++) {
      const long r0 = blk * NMR;
      const int rows = (int)std::min<long>(NMR, (long)nz.size() - r0);
      for (int i = 0; i < NMR; i++) {
        if (i < rows) std::memcpy(xr.data() + (size_t)i * D, x + (size_t)nz[r0 + i] * D, sizeof(float) * D);
        else std::fill(xr.data() + (size_t)i * D, xr.data() + (size_t)(i + 1) * D, 0.f);
        for (int l = 0; l < VW; l++) { bv[i][l] = -std::numeric_limits<float>::infinity(); bi[i][l] = 0; }
      }
      const int nd = activeDims(xr.data(), D, dims.data());
      for (int j0 = 0; j0 < Mp; j0 += T) {
        scoreTile(xr.data(), kp.data(), bp.data(), D, dims.data(), nd, j0, out.data());
        for (int i = 0; i < NMR; i++)
          for (int j = 0; j < NNR; j++) {
            const V sv = load(out.data() + ((size_t)i * NNR + j) * VW), cur = load(bv[i]);
            VI ci;
            std::memcpy(&ci, bi[i], sizeof ci);
            const VI m = sv > cur;  // strictly greater: the first of equal scores stays
            const VI base = lane + (j0 + j * VW);
            VI sb, cb;
            std::memcpy(&sb, &sv, sizeof sb);
            std::memcpy(&cb, &cur, sizeof cb);
            const VI nb = (sb & m) | (cb & ~m), ni = (base & m) | (ci & ~m);
            std::memcpy(bv[i], &nb, sizeof nb);
            std::memcpy(bi[i], &ni, sizeof ni);
          }
      }
      for (int i = 0; i < rows; i++) {
        float v = bv[i][0];
        int w = bi[i][0];
        for (int l = 1; l < VW; l++)
          if (bv[i][l] > v || (bv[i][l] == v && bi[i][l] < w)) { v = bv[i][l]; w = bi[i][l]; }
        idx[nz[r0 + i]] = w;
        if (best) best[nz[r0 + i]] = v;
      }
    }
  }
}


// The pooling regions [r0, r1) x [c0, c1) (reg [R, 4]) that hold each position of an h x w map, as a flat list:
// position p's regions are regs[start[p] .. start[p + 1]).
static void positionRegions(const int* reg, int R, int h, int w, std::vector<int>& start, std::vector<int>& regs) {
  start.assign((size_t)h * w + 1, 0);
  regs.clear();
  for (int p = 0; p < h * w; p++) {
    const int y = p / w, xx = p % w;
    for (int r = 0; r < R; r++)
      if (y >= reg[4 * r] && y < reg[4 * r + 1] && xx >= reg[4 * r + 2] && xx < reg[4 * r + 3]) regs.push_back(r);
    start[p + 1] = (int)regs.size();
  }
}

// ---- soft and triangle coding, accumulated into pooling regions -------------------------------------
// For each image of n (h x w positions of D-dimensional descriptors, x [n h w, D]) and each position, the
// scores s_m = x . k[:,m] + b[m] over the M words (k = 2c^T, b = -||c||^2: s_m = ||x||^2 - ||x - c_m||^2) in
// the register tiles of `nearest`, then the position's code, added (op 0 sum, 1 mean) or max-ed (op 2) into
// every region [r0, r1) x [c0, c1) that holds the position: out [n, R, M]. The `[n h w, M]` codes are never
// written: a thread holds one block of NMR positions' scores at a time. Codes (stages/coding.ts):
//   mode 1, soft: softmax(beta s) over all M words, or with knn > 0 over the knn highest scores only (the others 0)
//   mode 2, triangle: z_m = sqrt(max(0, ||x||^2 - s_m)) = ||x - c_m||, f_m = max(0, mean_j z_j - z_m)
static void codeSums(const float* x, const float* k, const float* b, const int* reg, float* out, long n, int h, int w, int D, int M,
                     int R, int mode, float beta, int knn, int op) {
  const int T = NNR * VW, Mp = roundUp(M, T), HW = h * w;
  const std::vector<float> kp = packWords(k, D, M);
  std::vector<float> bp(Mp, 0.f);
  std::memcpy(bp.data(), b, sizeof(float) * M);
  std::vector<int> start, regs;
  positionRegions(reg, R, h, w, start, regs);
  const int kk = knn > 0 && knn < M ? knn : M;
#pragma omp parallel
  {
    std::vector<float> xr((size_t)NMR * D), tile((size_t)NMR * T), sc((size_t)NMR * Mp), code(M);
    std::vector<int> dims(D), top(kk);
#pragma omp for schedule(dynamic, 1)
    for (long img = 0; img < n; img++) {
      float* o = out + (size_t)img * R * M;
      std::fill(o, o + (size_t)R * M, 0.f);
      for (int p0 = 0; p0 < HW; p0 += NMR) {
        const int rows = std::min(NMR, HW - p0);
        for (int i = 0; i < NMR; i++) {
          if (i < rows) std::memcpy(xr.data() + (size_t)i * D, x + ((size_t)img * HW + p0 + i) * D, sizeof(float) * D);
          else std::fill(xr.data() + (size_t)i * D, xr.data() + (size_t)(i + 1) * D, 0.f);
        }
        const int nd = activeDims(xr.data(), D, dims.data());
        for (int j0 = 0; j0 < Mp; j0 += T) {
          scoreTile(xr.data(), kp.data(), bp.data(), D, dims.data(), nd, j0, tile.data());
          for (int i = 0; i < NMR; i++) std::memcpy(sc.data() + (size_t)i * Mp + j0, tile.data() + (size_t)i * T, sizeof(float) * T);
        }
        for (int i = 0; i < rows; i++) {
          const float* s = sc.data() + (size_t)i * Mp;
          int nk = 0;  // the code's nonzeros: (top[j], code[j]) for j < nk
          if (mode == 1) {
            if (kk == M) {
              for (int m = 0; m < M; m++) top[m] = m;
            } else {
              // the kk highest scores (ties: the lower index), kept sorted in top[0 .. kk)
              int have = 0;
              for (int m = 0; m < M; m++) {
                if (have == kk && s[m] <= s[top[kk - 1]]) continue;
                int j = have < kk ? have++ : kk - 1;
                while (j > 0 && s[top[j - 1]] < s[m]) { top[j] = top[j - 1]; j--; }
                top[j] = m;
              }
            }
            float mx = -std::numeric_limits<float>::infinity();
            for (int j = 0; j < kk; j++) mx = std::max(mx, s[top[j]]);
            double sum = 0;
            for (int j = 0; j < kk; j++) sum += (code[j] = std::exp(beta * (s[top[j]] - mx)));
            for (int j = 0; j < kk; j++) code[j] = (float)(code[j] / sum);
            nk = kk;
          } else {
            const float* xi = xr.data() + (size_t)i * D;
            double xx = 0;
            for (int d = 0; d < D; d++) xx += (double)xi[d] * xi[d];
            // the distances in float, a loop the compiler vectorises (sqrtps), then their mean in double
            const float xxf = (float)xx;
            float* z = code.data();
            for (int m = 0; m < M; m++) z[m] = std::sqrt(std::max(0.f, xxf - s[m]));
            double mean = 0;
            for (int m = 0; m < M; m++) mean += z[m];
            const float mf = (float)(mean / M);
            for (int m = 0; m < M; m++) {  // code[nk] is written after z[m] is read, and nk <= m
              const float f = mf - z[m];
              if (f > 0) { top[nk] = m; code[nk++] = f; }
            }
          }
          const int p = p0 + i;
          for (int q = start[p]; q < start[p + 1]; q++) {
            float* orow = o + (size_t)regs[q] * M;
            if (op == 2) for (int j = 0; j < nk; j++) orow[top[j]] = std::max(orow[top[j]], code[j]);
            else for (int j = 0; j < nk; j++) orow[top[j]] += code[j];
          }
        }
      }
      if (op == 1)
        for (int r = 0; r < R; r++) {
          const float area = (float)(reg[4 * r + 1] - reg[4 * r]) * (reg[4 * r + 3] - reg[4 * r + 2]);
          if (area > 0) for (int m = 0; m < M; m++) o[(size_t)r * M + m] /= area;
        }
    }
  }
}

// ---- the linear SVM: LIBLINEAR's dual coordinate descent over sparse rows ----------------------------
// One-vs-rest L2-regularised squared-hinge SVM with the bias as a constant feature 1 (liblinear -s 1 -B 1;
// Hsieh et al. 2008, LIBLINEAR's solve_l2r_l1l2_svc with shrinking). Rows are CSR: row i is
// indices[indptr[i] .. indptr[i+1]) with values beside them. For class k, y_i = +1 where labels[i] == k,
// else -1, and with D_ii = 1 / (2C), Q_ii = ||x_i||^2 + 1 + D_ii:
//     G = y_i w.x_i - 1 + D_ii alpha_i,   alpha_i <- max(alpha_i - G / Q_ii, 0),   w += (alpha_i' - alpha_i) y_i x_i
// Everything a class needs to go on lives in the caller's arrays (w [K, d+1] with the bias last, alpha [K, n],
// the order index [K, n], and per class: active size, the previous pass's projected-gradient max and min,
// passes made, done, its random state), so that a fit runs as many calls of a few passes each and the
// JavaScript between them can show progress and let Ctrl-C through. Classes are independent: one thread each,
// and each class's passes are the same whatever the thread count. src/learn/svm.ts holds the same steps in
// JavaScript (the fallback, and what the tests hold this to).
struct DcdRows {
  const int* indptr;
  const int* indices;
  const float* values;
  long n;
};

static inline unsigned xorshift32(unsigned& s) {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

// stat per class: [active, PGmaxOld, PGminOld, passes, done, rng]
static void dcdClass(const DcdRows& X, const int* labels, int k, int d, const double* Q, double diag, double eps, int passes,
                     int maxIter, double* w, double* alpha, int* index, double* stat) {
  long active = (long)stat[0];
  double PGmaxOld = stat[1], PGminOld = stat[2];
  int it = (int)stat[3];
  unsigned rs = (unsigned)stat[5];
  const double INF = std::numeric_limits<double>::infinity();
  bool done = stat[4] != 0;
  for (int p = 0; p < passes && !done && it < maxIter; p++) {
    double PGmaxNew = -INF, PGminNew = INF;
    for (long i = 0; i < active; i++) {
      const long j = i + (long)(xorshift32(rs) % (unsigned)(active - i));
      std::swap(index[i], index[j]);
    }
    for (long s = 0; s < active; s++) {
      const int i = index[s];
      const double y = labels[i] == k ? 1.0 : -1.0;
      double dot = w[d];
      for (int t = X.indptr[i]; t < X.indptr[i + 1]; t++) dot += w[X.indices[t]] * (double)X.values[t];
      const double G = y * dot - 1 + alpha[i] * diag;
      double PG = 0;
      if (alpha[i] == 0) {
        if (G > PGmaxOld) {  // shrink: at its bound and not wanting to leave it
          active--;
          std::swap(index[s], index[active]);
          s--;
          continue;
        }
        if (G < 0) PG = G;
      } else PG = G;
      PGmaxNew = std::max(PGmaxNew, PG);
      PGminNew = std::min(PGminNew, PG);
      if (std::fabs(PG) > 1e-12) {
        const double old = alpha[i];
        alpha[i] = std::max(old - G / Q[i], 0.0);
        const double step = (alpha[i] - old) * y;
        for (int t = X.indptr[i]; t < X.indptr[i + 1]; t++) w[X.indices[t]] += step * (double)X.values[t];
        w[d] += step;
      }
    }
    it++;
    if (PGmaxNew - PGminNew <= eps) {
      if (active == X.n) done = true;
      else {  // converged on the active rows: check them all once more
        active = X.n;
        PGmaxOld = INF;
        PGminOld = -INF;
        continue;
      }
    }
    PGmaxOld = PGmaxNew <= 0 ? INF : PGmaxNew;
    PGminOld = PGminNew >= 0 ? -INF : PGminNew;
  }
  if (it >= maxIter) done = true;
  stat[0] = (double)active;
  stat[1] = PGmaxOld;
  stat[2] = PGminOld;
  stat[3] = it;
  stat[4] = done ? 1 : 0;
  stat[5] = rs;
}


// ---- dense SIFT in one pass -------------------------------------------------------------------------
// The chain gradient -> orientation -> cells -> descriptor (src/stages/*.ts; passes/sift.ts decides when it
// applies) per image, without writing the intermediate maps to the tensor heap:
//   d_k  = sum over the filter bank F [n,n,C,T] of the image padded by continuity (radius (n-1)/2)
//   O_t  = orientation maps: 'wta' |g| = sqrt(2/T sum_k d_k^2) on the first largest d_k; 'bilinear' |g| split
//          between bins floor(t) and floor(t)+1 (mod T) of t = (atan2(d_2, d_0) T / 2pi) mod T
//   Cl_t = local sums of O_t over cells (box: s taps, triangle: 2s-1 taps of 1 - |u|/s, separable), on O padded
//          by zeros or by continuity (before / after taps as cells.ts)
//   out  = for each frame (fy, fx) of the grid and cell (by, bx): wb[by] wb[bx] Cl[off + fy step + by s][off + fx step + bx s],
//          channels (by, bx, t), then the normalisation and the contrast threshold of descriptor.ts.
// Images are split between threads; each value is computed by one thread in a fixed order.
struct SiftGeom {
  int N, H, W, C, n, T, mode, s, window, cellPad, step, bins, norm, off, FY, FX;
  float contrast;
};

// sum of v (what 0), of v^2 (1) or of |v| (2) over n floats, in 4 vector accumulators: a plain loop would be one
// chain of n dependent adds (the compiler may not reorder them), the bottleneck of the descriptor's norms
static float reduceSum(const float* v, int n, int what) {
  V acc[4] = {V{}, V{}, V{}, V{}};
  int i = 0;
  for (; i + 4 * VW <= n; i += 4 * VW)
    for (int j = 0; j < 4; j++) {
      V x = load(v + i + j * VW);
      if (what == 1) x = x * x;
      else if (what == 2) x = x < 0 ? -x : x;
      acc[j] += x;
    }
  float s = hsum(acc[0] + acc[1] + acc[2] + acc[3]);
  for (; i < n; i++) s += what == 1 ? v[i] * v[i] : what == 2 ? std::fabs(v[i]) : v[i];
  return s;
}

// The orientation maps O [H,W,T] and the cell maps B [H,W,T] of one image (A: scratch). TT: T known when
// compiling (8, the SIFT case: the loops over orientations become single vectors), 0: read from g.
template <int TT>
static void siftMaps(const float* img, const float* F, const SiftGeom& g, float* O, float* A, float* B, std::vector<float>& pad) {
  const int H = g.H, W = g.W, C = g.C, n = g.n, r = (n - 1) / 2;
  const int T = TT > 0 ? TT : g.T;
  // the image padded by continuity, so that the filter taps need no bounds
  const int Wp = W + 2 * r, Hp = H + 2 * r;
  pad.resize((size_t)Hp * Wp * C);
  for (int yy = 0; yy < Hp; yy++) {
    const int y = std::min(H - 1, std::max(0, yy - r));
    for (int xx = 0; xx < Wp; xx++) {
      const int x = std::min(W - 1, std::max(0, xx - r));
      for (int c = 0; c < C; c++) pad[((size_t)yy * Wp + xx) * C + c] = img[((size_t)y * W + x) * C + c];
    }
  }
  const float twoPi = 6.283185307179586f;
  if (g.mode == 0) {
    // winner-take-all: every response, the first largest gets sqrt(2/T sum d_k^2)
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        float d[TT > 0 ? TT : 64] = {};
        for (int ky = 0; ky < n; ky++)
          for (int kx = 0; kx < n; kx++) {
            const float* px = pad.data() + ((size_t)(y + ky) * Wp + x + kx) * C;
            const float* f = F + (size_t)(ky * n + kx) * C * T;
            for (int c = 0; c < C; c++)
              for (int k = 0; k < T; k++) d[k] += f[c * T + k] * px[c];
          }
        float* o = O + ((size_t)y * W + x) * T;
        int best = 0;
        float ss = 0.f;
        for (int k = 0; k < T; k++) {
          ss += d[k] * d[k];
          if (d[k] > d[best]) best = k;
          o[k] = 0.f;
        }
        o[best] = std::sqrt(ss * (2.f / T));
      }
  } else {
    // bilinear: only d_0 = gx and d_2 = gy are needed
    const int taps = n * n * C;
    std::vector<float> f0(taps), f2(taps);
    for (int t = 0; t < taps; t++) {
      f0[t] = F[(size_t)t * T];
      f2[t] = F[(size_t)t * T + 2 % T];
    }
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        float gx = 0.f, gy = 0.f;
        for (int ky = 0; ky < n; ky++) {
          const float* px = pad.data() + ((size_t)(y + ky) * Wp + x) * C;
          const float* a0 = f0.data() + (size_t)ky * n * C;
          const float* a2 = f2.data() + (size_t)ky * n * C;
          for (int q = 0; q < n * C; q++) {
            gx += a0[q] * px[q];
            gy += a2[q] * px[q];
          }
        }
        float* o = O + ((size_t)y * W + x) * T;
        for (int k = 0; k < T; k++) o[k] = 0.f;
        const float mag = std::sqrt(gx * gx + gy * gy);
        float t = std::atan2(gy, gx) * ((float)T / twoPi);
        if (t < 0) t += T;  // [0, T]; t = T exactly goes to bin 0 with share 0, as below
        float b = std::floor(t);
        if (b >= T) b -= T;
        const float rr = t - std::floor(t);
        const int bi = (int)b, b1 = bi + 1 == T ? 0 : bi + 1;
        o[bi] += (1.f - rr) * mag;
        o[b1] += rr * mag;
      }
  }
  // cells (cells.ts cellWindow1d): taps of w along x into A, then along y into B, on O padded by zeros or by
  // continuity (index clamped)
  const int taps = g.window == 0 ? g.s : 2 * g.s - 1;
  const int before = g.window == 0 ? (g.s + 1) / 2 - 1 : g.s - 1;
  float w[64];
  for (int u = 0; u < taps; u++) w[u] = g.window == 0 ? 1.f : 1.f - std::fabs((float)(u - (g.s - 1))) / g.s;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      float acc[TT > 0 ? TT : 64] = {};
      for (int u = 0; u < taps; u++) {
        int xx = x + u - before;
        if (g.cellPad) xx = std::min(W - 1, std::max(0, xx));
        else if (xx < 0 || xx >= W) continue;
        const float* o = O + ((size_t)y * W + xx) * T;
        for (int k = 0; k < T; k++) acc[k] += w[u] * o[k];
      }
      float* dst = A + ((size_t)y * W + x) * T;
      for (int k = 0; k < T; k++) dst[k] = acc[k];
    }
  for (int y = 0; y < H; y++) {
    float* dst = B + (size_t)y * W * T;
    for (int q = 0; q < W * T; q++) dst[q] = 0.f;
    for (int u = 0; u < taps; u++) {
      int yy = y + u - before;
      if (g.cellPad) yy = std::min(H - 1, std::max(0, yy));
      else if (yy < 0 || yy >= H) continue;
      const float* a = A + (size_t)yy * W * T;
      const float wu = w[u];
      for (int q = 0; q < W * T; q++) dst[q] += wu * a[q];  // a whole row at once: long vectors
    }
  }
}

static void siftImage(const float* img, const float* F, const float* wb, const SiftGeom& g, float* out, std::vector<float>& buf,
                      std::vector<float>& pad) {
  const int H = g.H, W = g.W, T = g.T;
  buf.resize((size_t)3 * H * W * T);
  float* O = buf.data();
  float* A = O + (size_t)H * W * T;  // cells along x
  float* B = A + (size_t)H * W * T;  // cells along x then y
  if (T == 8) siftMaps<8>(img, F, g, O, A, B, pad);
  else siftMaps<0>(img, F, g, O, A, B, pad);
  const int D = g.bins * g.bins * T;
  const float frameSize = (float)((g.bins - 1) * g.s + 1);
  const float EPS = 1.1920929e-7f;
  for (int fy = 0; fy < g.FY; fy++)
    for (int fx = 0; fx < g.FX; fx++) {
      float* v = out + ((size_t)fy * g.FX + fx) * D;
      for (int by = 0; by < g.bins; by++)
        for (int bx = 0; bx < g.bins; bx++) {
          const int y = g.off + fy * g.step + by * g.s, x = g.off + fx * g.step + bx * g.s;
          const float* c = B + ((size_t)y * W + x) * T;
          const float ww = wb[by] * wb[bx];
          float* dst = v + (by * g.bins + bx) * T;
          for (int k = 0; k < T; k++) dst[k] = ww * c[k];
        }
      const bool low = g.contrast > 0 && reduceSum(v, D, 0) / (frameSize * frameSize) < g.contrast;
      auto scale = [&](float f) {
        for (int i = 0; i < D; i++) v[i] *= f;
      };
      if (g.norm == 1) scale(1.f / (std::sqrt(reduceSum(v, D, 1)) + EPS));
      else if (g.norm == 2) {
        scale(1.f / (std::sqrt(reduceSum(v, D, 1)) + EPS));
        for (int i = 0; i < D; i++) v[i] = std::min(0.2f, std::max(0.f, v[i]));
        scale(1.f / (std::sqrt(reduceSum(v, D, 1)) + EPS));
      } else if (g.norm == 3) {
        const float f = 1.f / (reduceSum(v, D, 2) + EPS);
        for (int i = 0; i < D; i++) v[i] = std::sqrt(v[i] * f);
      }
      if (low)
        for (int i = 0; i < D; i++) v[i] = 0.f;
    }
}

static void denseSift(const float* x, const float* F, const float* wb, float* out, const SiftGeom& g) {
  const size_t inImg = (size_t)g.H * g.W * g.C, outImg = (size_t)g.FY * g.FX * g.bins * g.bins * g.T;
#pragma omp parallel
  {
    std::vector<float> buf, pad;
#pragma omp for schedule(static)
    for (int i = 0; i < g.N; i++) siftImage(x + i * inImg, F, wb, g, out + i * outImg, buf, pad);
  }
}

// ---- Fisher vectors' statistics, accumulated into pooling regions -------------------------------------
// For each image of n (h x w positions of D-dimensional descriptors, x [n h w, D]) and each position: the GMM's
// E-step as an affine map over [x, x^2] (a [2D, K], b [K]: logit_k = log pi_k N(x; mu_k, sigma_k)), the
// posteriors q = softmax(logits), and for every region [r0, r1) x [c0, c1) that holds the position and every
// component with q_k >= minQ and q_k > 0 (VLFeat's vl_fisher_encode: minQ = 1e-6), with d = (x - mu_k) / sigma_k
// (mu [K, D], isd [K, D] = 1 / sigma): S0_k += q_k, U_k += q_k d, V_k += q_k d^2, as VLFeat accumulates them
// (centred, so that small variances do not magnify rounding). out [n, R, K, 1 + 2D] (S0, U's D values, V's).
static void fisherSums(const float* x, const float* a, const float* b, const float* mu, const float* isd, const int* reg, float* out, long n,
                       int h, int w, int D, int K, int R, float minQ) {
  const int HW = h * w, D2 = 2 * D;
  const size_t per = 1 + (size_t)D2;
  std::vector<int> start, regs;
  positionRegions(reg, R, h, w, start, regs);
  std::vector<float> at((size_t)K * D2);  // a transposed: component k's 2D weights contiguous
  for (int j = 0; j < D2; j++)
    for (int k = 0; k < K; k++) at[(size_t)k * D2 + j] = a[(size_t)j * K + k];
#pragma omp parallel
  {
    std::vector<float> xx(D2), q(K), d(D);
#pragma omp for schedule(dynamic, 1)
    for (long img = 0; img < n; img++) {
      float* o = out + (size_t)img * R * K * per;
      std::fill(o, o + (size_t)R * K * per, 0.f);
      for (int p = 0; p < HW; p++) {
        const float* xp = x + ((size_t)img * HW + p) * D;
        for (int j = 0; j < D; j++) xx[j] = xp[j], xx[D + j] = xp[j] * xp[j];
        float top = -INFINITY;
        for (int k = 0; k < K; k++) {
          const float* ak = at.data() + (size_t)k * D2;
          float s = b[k];
#pragma omp simd reduction(+ : s)
          for (int j = 0; j < D2; j++) s += ak[j] * xx[j];
          q[k] = s;
          top = std::max(top, s);
        }
        float z = 0.f;
        for (int k = 0; k < K; k++) z += (q[k] = std::exp(q[k] - top));
        const float iz = 1.f / z;
        for (int k = 0; k < K; k++) {
          const float qk = q[k] * iz;
          if (qk < minQ || qk == 0.f) continue;
          const float *m = mu + (size_t)k * D, *is = isd + (size_t)k * D;
#pragma omp simd
          for (int j = 0; j < D; j++) d[j] = (xp[j] - m[j]) * is[j];
          for (int e = start[p]; e < start[p + 1]; e++) {
            float* t = o + ((size_t)regs[e] * K + k) * per;
            t[0] += qk;
#pragma omp simd
            for (int j = 0; j < D; j++) {
              t[1 + j] += qk * d[j];
              t[1 + D + j] += qk * d[j] * d[j];
            }
          }
        }
      }
    }
  }
}

// ---- the JavaScript side -----------------------------------------------------------------------

static char* heapOf(Local<Value> v, size_t* len) {
  std::shared_ptr<BackingStore> bs;
  if (v->IsSharedArrayBuffer()) bs = v.As<SharedArrayBuffer>()->GetBackingStore();
  else if (v->IsArrayBuffer()) bs = v.As<ArrayBuffer>()->GetBackingStore();
  else return nullptr;
  *len = bs->ByteLength();
  return static_cast<char*>(bs->Data());
}

static void fail(const FunctionCallbackInfo<Value>& a, const char* msg) {
  Isolate* iso = a.GetIsolate();
  iso->ThrowException(Exception::TypeError(String::NewFromUtf8(iso, msg).ToLocalChecked()));
}

// One call's arguments: the heap, then numbers (byte offsets of tensors, -1 for none, then sizes).
struct Call {
  char* heap = nullptr;
  size_t len = 0;
  double v[24];
  // false when the heap or one of the n numbers is missing or of another kind
  bool read(const FunctionCallbackInfo<Value>& a, int n) {
    if (n > 24 || a.Length() < n + 1 || !(heap = heapOf(a[0], &len))) return false;
    for (int i = 0; i < n; i++) {
      if (!a[i + 1]->IsNumber()) return false;
      v[i] = a[i + 1].As<Number>()->Value();
    }
    return true;
  }
  // whether n floats at the offset in number i lie inside the heap
  bool fits(int i, double n) const { return v[i] >= 0 && v[i] + 4 * n <= (double)len; }
  // the floats at the offset in number i (nullptr for -1)
  float* at(int i) const { return v[i] < 0 ? nullptr : (float*)(heap + (size_t)v[i]); }
};

// The geometry in numbers v[0 .. 10]: N,H,W,Ci, KH,KW,Co, OH,OW, pt,pl
static Geom geomAt(const double* v) {
  return Geom{(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5], (int)v[6], (int)v[7], (int)v[8], (int)v[9], (int)v[10]};
}

// conv(heap, x, w, bias (-1: none), y, relu, wmode, N,H,W,Ci, KH,KW,Co, OH,OW, pt,pl)
static void Conv(const FunctionCallbackInfo<Value>& a) {
  Call c;
  if (!c.read(a, 17)) return fail(a, "conv(heap, x, w, bias, y, relu, wmode, N,H,W,Ci, KH,KW,Co, OH,OW, pt,pl): a heap, then numbers");
  const Geom g = geomAt(c.v + 6);
  if (!c.fits(0, g.inCount()) || !c.fits(1, g.filterCount()) || !c.fits(3, g.outCount()) || (c.v[2] >= 0 && !c.fits(2, g.Co)))
    return fail(a, "conv: a tensor lies outside the heap");
  convForward(Source{c.at(0), nullptr, g.H, g.W, g.Ci}, c.at(1), Sink{c.at(3), nullptr, c.at(2), c.v[4] != 0}, g, (int)c.v[5]);
}

// filterGrad(heap, x, dy, dw, N,H,W,Ci, KH,KW,Co, OH,OW, pt,pl)
static void FilterGrad(const FunctionCallbackInfo<Value>& a) {
  Call c;
  if (!c.read(a, 14)) return fail(a, "filterGrad(heap, x, dy, dw, N,H,W,Ci, KH,KW,Co, OH,OW, pt,pl): a heap, then numbers");
  const Geom g = geomAt(c.v + 3);
  if (!c.fits(0, g.inCount()) || !c.fits(1, g.outCount()) || !c.fits(2, g.filterCount())) return fail(a, "filterGrad: a tensor lies outside the heap");
  convFilterGrad(Source{c.at(0), nullptr, g.H, g.W, g.Ci}, Source{c.at(1), nullptr, g.OH, g.OW, g.Co}, c.at(2), nullptr, g);
}

// convReluPool(heap, x, w, bias, p, code, N,H,W,Ci, KH,KW,Co, OH,OW, pt,pl): p = maxPool2x2(relu(conv(x, w) + bias)),
// p and code [N,OH/2,OW/2,Co] (code: int32 window positions, see scatterPool)
static void ConvReluPool(const FunctionCallbackInfo<Value>& a) {
  Call c;
  if (!c.read(a, 16)) return fail(a, "convReluPool(heap, x, w, bias, p, code, N,H,W,Ci, KH,KW,Co, OH,OW, pt,pl): a heap, then numbers");
  const Geom g = geomAt(c.v + 5);
  const double np = g.pooledCount();
  if (!c.fits(0, g.inCount()) || !c.fits(1, g.filterCount()) || !c.fits(2, g.Co) || !c.fits(3, np) || !c.fits(4, np))
    return fail(a, "convReluPool: a tensor lies outside the heap");
  convForward(Source{c.at(0), nullptr, g.H, g.W, g.Ci}, c.at(1), Sink{c.at(3), (int*)c.at(4), c.at(2), true}, g, 0);
}

// convReluPoolGrad(heap, x, w, dp, code, dw, db, dx (-1: not wanted), N,H,W,Ci, KH,KW,Co, OH,OW, pt,pl):
// the gradients of convReluPool's p with respect to w, bias and x, given dp = dL/dp and the forward's codes
static void ConvReluPoolGrad(const FunctionCallbackInfo<Value>& a) {
  Call c;
  if (!c.read(a, 18)) return fail(a, "convReluPoolGrad(heap, x, w, dp, code, dw, db, dx, N,H,W,Ci, KH,KW,Co, OH,OW, pt,pl): a heap, then numbers");
  const Geom g = geomAt(c.v + 7);
  const double nx = g.inCount(), nw = g.filterCount(), np = g.pooledCount();
  // all four pads (bottom and right follow from the sizes) from 0 to the kernel's size less 1
  const int pb = g.OH + g.KH - 1 - g.H - g.pt, pr = g.OW + g.KW - 1 - g.W - g.pl;
  const auto padOk = [](int p, int k) { return p >= 0 && p <= k - 1; };
  if (!c.fits(0, nx) || !c.fits(1, nw) || !c.fits(2, np) || !c.fits(3, np) || !c.fits(4, nw) || !c.fits(5, g.Co) ||
      (c.v[6] >= 0 && !c.fits(6, nx)) || !padOk(g.pt, g.KH) || !padOk(pb, g.KH) || !padOk(g.pl, g.KW) || !padOk(pr, g.KW))
    return fail(a, "convReluPoolGrad: a tensor lies outside the heap, or a pad is negative or not below the kernel's size");
  const float* dp = c.at(2);
  const int* code = (const int*)c.at(3);
  const bool sparse = sparseIsCheaper(g, c.v[6] >= 0);
  poolGradTaken[sparse ? 1 : 0] += 1;
  if (sparse) return poolGradSparse(c.at(0), c.at(1), dp, code, c.at(4), c.at(5), c.v[6] >= 0 ? c.at(6) : nullptr, g);
  const Source dz{dp, code, g.OH, g.OW, g.Co};
  convFilterGrad(Source{c.at(0), nullptr, g.H, g.W, g.Ci}, dz, c.at(4), c.at(5), g);
  // dx: the "full" convolution of dz with the flipped filter (as for Conv2DBackpropInput)
  if (c.v[6] >= 0) {
    const Geom t{g.N, g.OH, g.OW, g.Co, g.KH, g.KW, g.Ci, g.H, g.W, g.KH - 1 - g.pt, g.KW - 1 - g.pl};
    convForward(dz, c.at(1), Sink{c.at(6), nullptr, nullptr, false}, t, 1);
  }
}

// matmul(heap, a, b, bias (-1: none), c, relu, batch, M, K, N, transposeA, transposeB, aBatched, bBatched)
static void MatMul(const FunctionCallbackInfo<Value>& a) {
  Call c;
  if (!c.read(a, 13)) return fail(a, "matmul(heap, a, b, bias, c, relu, batch, M, K, N, transposeA, transposeB, aBatched, bBatched)");
  const double* v = c.v;
  const int batch = (int)v[5], M = (int)v[6], K = (int)v[7], N = (int)v[8];
  const bool aAll = v[11] != 0, bAll = v[12] != 0;
  if (!c.fits(0, (double)(aAll ? batch : 1) * M * K) || !c.fits(1, (double)(bAll ? batch : 1) * K * N) ||
      !c.fits(3, (double)batch * M * N) || (v[2] >= 0 && !c.fits(2, N)))
    return fail(a, "matmul: a tensor lies outside the heap");
  matmul(c.at(0), c.at(1), c.at(2), v[4] != 0, c.at(3), batch, M, K, N, v[9] != 0, v[10] != 0, aAll, bAll);
}

// pool(heap, x, y, N, H, W, C, OH, OW) and poolGrad(heap, x, dy, dx, N, H, W, C, OH, OW): 2x2, stride 2
static void Pool(const FunctionCallbackInfo<Value>& a) {
  Call c;
  if (!c.read(a, 8)) return fail(a, "pool(heap, x, y, N, H, W, C, OH, OW)");
  const double* v = c.v;
  const int N = (int)v[2], H = (int)v[3], W = (int)v[4], C = (int)v[5], OH = (int)v[6], OW = (int)v[7];
  if (2 * OH > H || 2 * OW > W || !c.fits(0, (double)N * H * W * C) || !c.fits(1, (double)N * OH * OW * C))
    return fail(a, "pool: a tensor lies outside the heap, or the windows outside the input");
  maxPool2x2(c.at(0), c.at(1), N, H, W, C, OH, OW);
}

static void PoolGrad(const FunctionCallbackInfo<Value>& a) {
  Call c;
  if (!c.read(a, 9)) return fail(a, "poolGrad(heap, x, dy, dx, N, H, W, C, OH, OW)");
  const double* v = c.v;
  const int N = (int)v[3], H = (int)v[4], W = (int)v[5], C = (int)v[6], OH = (int)v[7], OW = (int)v[8];
  const double nx = (double)N * H * W * C;
  if (2 * OH > H || 2 * OW > W || C % VW != 0 || !c.fits(0, nx) || !c.fits(1, (double)N * OH * OW * C) || !c.fits(2, nx))
    return fail(a, "poolGrad: a tensor lies outside the heap, the windows outside the input, or C is not a multiple of vectorWidth()");
  maxPoolGrad2x2(c.at(0), c.at(1), c.at(2), N, H, W, C, OH, OW);
}

// biasRelu(heap, x, bias, y, rows, C) and biasReluGrad(heap, dy, y, dx, db, rows, C)
static void BiasRelu(const FunctionCallbackInfo<Value>& a) {
  Call c;
  if (!c.read(a, 5)) return fail(a, "biasRelu(heap, x, bias, y, rows, C)");
  const double n = c.v[3] * c.v[4];
  if (!c.fits(0, n) || !c.fits(1, c.v[4]) || !c.fits(2, n)) return fail(a, "biasRelu: a tensor lies outside the heap");
  biasRelu(c.at(0), c.at(1), c.at(2), (long)c.v[3], (int)c.v[4]);
}

static void BiasReluGrad(const FunctionCallbackInfo<Value>& a) {
  Call c;
  if (!c.read(a, 6)) return fail(a, "biasReluGrad(heap, dy, y, dx, db, rows, C)");
  const double n = c.v[4] * c.v[5];
  if (!c.fits(0, n) || !c.fits(1, n) || !c.fits(2, n) || !c.fits(3, c.v[5])) return fail(a, "biasReluGrad: a tensor lies outside the heap");
  biasReluGrad(c.at(0), c.at(1), c.at(2), c.at(3), (long)c.v[4], (int)c.v[5]);
}

// peak(n, threads): a register-only loop of 12 independent multiply-adds per iteration (acc = acc * c + x,
// the compiler's fused multiply-add where the machine has one), n iterations on each of `threads`
// threads; returns the seconds it took. FLOPs = 2 * 12 * VW * n * threads. For `npm run bench -- peak`.
static void Peak(const FunctionCallbackInfo<Value>& a) {
  if (a.Length() < 2 || !a[0]->IsNumber() || !a[1]->IsNumber()) return fail(a, "peak(n, threads)");
  const long n = (long)a[0].As<Number>()->Value();
  const int th = std::max(1, (int)a[1].As<Number>()->Value());
  float sink = 0;
  const double t0 = omp_get_wtime();
#pragma omp parallel num_threads(th) reduction(+ : sink)
  {
    V acc[12];
    for (int i = 0; i < 12; i++) acc[i] = V{} + (float)(i + omp_get_thread_num());
    const V c = V{} + 0.999999f, x = V{} + 1e-7f;
    for (long j = 0; j < n; j++) {
#pragma GCC unroll 12
      for (int i = 0; i < 12; i++) acc[i] = acc[i] * c + x;
    }
    for (int i = 0; i < 12; i++) sink += hsum(acc[i]);
  }
  const double dt = omp_get_wtime() - t0;
  a.GetReturnValue().Set(Number::New(a.GetIsolate(), sink == 12345.f ? dt + 1e-9 : dt));
}

// nearest(heap, x, k, b, idx, best (-1: none), P, D, M)
static void Nearest(const FunctionCallbackInfo<Value>& a) {
  Call c;
  if (!c.read(a, 8)) return fail(a, "nearest(heap, x, k, b, idx, best, P, D, M): a heap, then numbers");
  const double P = c.v[5], D = c.v[6], M = c.v[7];
  if (!c.fits(0, P * D) || !c.fits(1, D * M) || !c.fits(2, M) || !c.fits(3, P) || (c.v[4] >= 0 && !c.fits(4, P)) || M < 1 || D < 1)
    return fail(a, "nearest: a tensor lies outside the heap, or there are no words");
  nearest(c.at(0), c.at(1), c.at(2), (int*)c.at(3), c.at(4), (long)P, (int)D, (int)M);
}

// The bytes of a typed array (nullptr if it is not one), and their count.
static char* viewOf(Local<Value> v, size_t* len) {
  if (!v->IsArrayBufferView()) return nullptr;
  Local<ArrayBufferView> a = v.As<ArrayBufferView>();
  *len = a->ByteLength();
  return static_cast<char*>(a->Buffer()->GetBackingStore()->Data()) + a->ByteOffset();
}

// The call's first nv arguments as typed arrays (their bytes in p, their lengths in len), then nn numbers in v;
// false (after failing the call with usage) when one is missing or of the wrong kind.
static bool readArgs(const FunctionCallbackInfo<Value>& a, int nv, int nn, char** p, size_t* len, double* v, const char* usage) {
  bool ok = a.Length() >= nv + nn;
  for (int i = 0; ok && i < nv; i++) ok = (p[i] = viewOf(a[i], &len[i])) != nullptr;
  for (int i = 0; ok && i < nn; i++) {
    ok = a[nv + i]->IsNumber();
    if (ok) v[i] = a[nv + i].As<Number>()->Value();
  }
  if (!ok) fail(a, usage);
  return ok;
}

// dcdPasses(indptr i32, indices i32, values f32, labels i32, Q f64 [n], w f64 [K(d+1)], alpha f64 [Kn],
//           index i32 [Kn], stat f64 [6K], n, d, K, C, eps, passes, maxIter): up to `passes` passes for every class
//           not done (see dcdClass); returns how many classes are not done yet
static void DcdPasses(const FunctionCallbackInfo<Value>& a) {
  char* p[9];
  size_t len[9];
  double v[7];
  if (!readArgs(a, 9, 7, p, len, v, "dcdPasses(indptr, indices, values, labels, Q, w, alpha, index, stat, n, d, K, C, eps, passes, maxIter)"))
    return;
  const long n = (long)v[0];
  const int d = (int)v[1], K = (int)v[2], passes = (int)v[5], maxIter = (int)v[6];
  const double C = v[3], eps = v[4];
  const int* indptr = (const int*)p[0];
  if (len[0] < 4 * (size_t)(n + 1)) return fail(a, "dcdPasses: indptr is shorter than n + 1");
  const size_t nnz = (size_t)indptr[n];
  if (len[1] < 4 * nnz || len[2] < 4 * nnz || len[3] < 4 * (size_t)n || len[4] < 8 * (size_t)n || len[5] < 8 * (size_t)K * (d + 1) ||
      len[6] < 8 * (size_t)K * n || len[7] < 4 * (size_t)K * n || len[8] < 8 * 6 * (size_t)K || !(C > 0))
    return fail(a, "dcdPasses: an array is shorter than n, d and K say, or C is not positive");
  for (size_t t = 0; t < nnz; t++)
    if (((const int*)p[1])[t] < 0 || ((const int*)p[1])[t] >= d) return fail(a, "dcdPasses: a column index lies outside [0, d)");
  const DcdRows X{indptr, (const int*)p[1], (const float*)p[2], n};
  const int* labels = (const int*)p[3];
  const double* Q = (const double*)p[4];
  double* w = (double*)p[5];
  double* alpha = (double*)p[6];
  int* index = (int*)p[7];
  double* stat = (double*)p[8];
#pragma omp parallel for schedule(dynamic, 1)
  for (int k = 0; k < K; k++)
    dcdClass(X, labels, k, d, Q, 1 / (2 * C), eps, passes, maxIter, w + (size_t)k * (d + 1), alpha + (size_t)k * n, index + (size_t)k * n,
             stat + 6 * k);
  int left = 0;
  for (int k = 0; k < K; k++) left += stat[6 * k + 4] == 0;
  a.GetReturnValue().Set(Number::New(a.GetIsolate(), left));
}

// codeSums(x f32 [n h w D], k f32 [D M], b f32 [M], regions i32 [R 4], out f32 [n R M], n, h, w, D, M, R, mode, beta, knn, op)
static void CodeSums(const FunctionCallbackInfo<Value>& a) {
  char* p[5];
  size_t len[5];
  double v[10];
  if (!readArgs(a, 5, 10, p, len, v, "codeSums(x, k, b, regions, out, n, h, w, D, M, R, mode, beta, knn, op)")) return;
  const long n = (long)v[0];
  const int h = (int)v[1], w = (int)v[2], D = (int)v[3], M = (int)v[4], R = (int)v[5], mode = (int)v[6], knn = (int)v[8], op = (int)v[9];
  if (n < 0 || h < 1 || w < 1 || D < 1 || M < 1 || R < 1 || (mode != 1 && mode != 2) || knn < 0 || op < 0 || op > 2)
    return fail(a, "codeSums: a size or mode is out of range");
  if (len[0] < 4 * (size_t)n * h * w * D || len[1] < 4 * (size_t)D * M || len[2] < 4 * (size_t)M || len[3] < 16 * (size_t)R ||
      len[4] < 4 * (size_t)n * R * M)
    return fail(a, "codeSums: an array is shorter than n, h, w, D, M and R say");
  codeSums((const float*)p[0], (const float*)p[1], (const float*)p[2], (const int*)p[3], (float*)p[4], n, h, w, D, M, R, mode, (float)v[7], knn,
           op);
}

// fisherSums(x f32 [n h w D], a f32 [2D K], b f32 [K], mu f32 [K D], isd f32 [K D], regions i32 [R 4],
//            out f32 [n R K (1 + 2D)], n, h, w, D, K, R, minQ)
static void FisherSums(const FunctionCallbackInfo<Value>& a) {
  char* p[7];
  size_t len[7];
  double v[7];
  if (!readArgs(a, 7, 7, p, len, v, "fisherSums(x, a, b, mu, isd, regions, out, n, h, w, D, K, R, minQ)")) return;
  const long n = (long)v[0];
  const int h = (int)v[1], w = (int)v[2], D = (int)v[3], K = (int)v[4], R = (int)v[5];
  if (n < 0 || h < 1 || w < 1 || D < 1 || K < 1 || R < 1) return fail(a, "fisherSums: a size is out of range");
  const size_t kd = 4 * (size_t)K * D;
  if (len[0] < 4 * (size_t)n * h * w * D || len[1] < 2 * kd || len[2] < 4 * (size_t)K || len[3] < kd || len[4] < kd ||
      len[5] < 16 * (size_t)R || len[6] < 4 * (size_t)n * R * K * (1 + 2 * (size_t)D))
    return fail(a, "fisherSums: an array is shorter than n, h, w, D, K and R say");
  fisherSums((const float*)p[0], (const float*)p[1], (const float*)p[2], (const float*)p[3], (const float*)p[4], (const int*)p[5], (float*)p[6],
             n, h, w, D, K, R, (float)v[6]);
}

// denseSift(heap, x, filters, binWeights, out, N,H,W,C, n,T, mode, s, window, cellPad, step, bins, norm, off, FY, FX, contrast)
static void DenseSift(const FunctionCallbackInfo<Value>& a) {
  Call c;
  if (!c.read(a, 21))
    return fail(a, "denseSift(heap, x, filters, binWeights, out, N,H,W,C, n,T, mode, s, window, cellPad, step, bins, norm, off, FY, FX, contrast)");
  const double* v = c.v + 4;
  SiftGeom g{(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5], (int)v[6], (int)v[7], (int)v[8],
             (int)v[9], (int)v[10], (int)v[11], (int)v[12], (int)v[13], (int)v[14], (int)v[15], (float)v[16]};
  const int taps = g.window == 0 ? g.s : 2 * g.s - 1;
  const long lastY = g.off + (long)(g.FY - 1) * g.step + (long)(g.bins - 1) * g.s, lastX = g.off + (long)(g.FX - 1) * g.step + (long)(g.bins - 1) * g.s;
  if (g.N < 0 || g.H < 1 || g.W < 1 || g.C < 1 || g.n < 1 || g.n % 2 == 0 || g.T < 3 || g.T > 64 || g.s < 1 || taps > 64 || g.step < 1 ||
      g.bins < 1 || g.FY < 1 || g.FX < 1 || g.off < 0 || lastY >= g.H || lastX >= g.W)
    return fail(a, "denseSift: a size is out of range, or a frame lies outside the image");
  const double D = (double)g.bins * g.bins * g.T;
  if (!c.fits(0, (double)g.N * g.H * g.W * g.C) || !c.fits(1, (double)g.n * g.n * g.C * g.T) || !c.fits(2, g.bins) ||
      !c.fits(3, (double)g.N * g.FY * g.FX * D))
    return fail(a, "denseSift: a tensor lies outside the heap");
  denseSift(c.at(0), c.at(1), c.at(2), c.at(3), g);
}

// setPoolGradPath(mode): 0 picks the cheaper of convReluPoolGrad's two ways, 1 dense, 2 sparse; returns the previous
static void SetPoolGradPath(const FunctionCallbackInfo<Value>& a) {
  const int before = poolGradPath;
  if (a.Length() > 0 && a[0]->IsNumber()) poolGradPath = std::min(2, std::max(0, (int)a[0].As<Number>()->Value()));
  a.GetReturnValue().Set(Number::New(a.GetIsolate(), before));
}

// poolGradPaths(): [dense, sparse], how many convReluPoolGrad calls took each way since the addon loaded
static void PoolGradPaths(const FunctionCallbackInfo<Value>& a) {
  Isolate* iso = a.GetIsolate();
  Local<Array> out = Array::New(iso, 2);
  for (int i = 0; i < 2; i++) out->Set(iso->GetCurrentContext(), i, Number::New(iso, poolGradTaken[i])).Check();
  a.GetReturnValue().Set(out);
}

static void SetThreads(const FunctionCallbackInfo<Value>& a) {
  if (a.Length() > 0 && a[0]->IsNumber()) omp_set_num_threads(std::max(1, (int)a[0].As<Number>()->Value()));
  a.GetReturnValue().Set(Number::New(a.GetIsolate(), omp_get_max_threads()));
}

static void Info(const FunctionCallbackInfo<Value>& a) {
  Isolate* iso = a.GetIsolate();
  const char* isa = VW == 16 ? "AVX-512" : VW == 8 ? "AVX2" : "SSE";
  a.GetReturnValue().Set(String::NewFromUtf8(iso, isa).ToLocalChecked());
}

static void Init(Local<Object> exports) {
  NODE_SET_METHOD(exports, "conv", Conv);
  NODE_SET_METHOD(exports, "filterGrad", FilterGrad);
  NODE_SET_METHOD(exports, "convReluPool", ConvReluPool);
  NODE_SET_METHOD(exports, "convReluPoolGrad", ConvReluPoolGrad);
  NODE_SET_METHOD(exports, "matmul", MatMul);
  NODE_SET_METHOD(exports, "peak", Peak);
  NODE_SET_METHOD(exports, "pool", Pool);
  NODE_SET_METHOD(exports, "poolGrad", PoolGrad);
  NODE_SET_METHOD(exports, "biasRelu", BiasRelu);
  NODE_SET_METHOD(exports, "biasReluGrad", BiasReluGrad);
  NODE_SET_METHOD(exports, "vectorWidth", [](const FunctionCallbackInfo<Value>& a) { a.GetReturnValue().Set(VW); });
  NODE_SET_METHOD(exports, "setThreads", SetThreads);
  NODE_SET_METHOD(exports, "setPoolGradPath", SetPoolGradPath);
  NODE_SET_METHOD(exports, "poolGradPaths", PoolGradPaths);
  NODE_SET_METHOD(exports, "nearest", Nearest);
  NODE_SET_METHOD(exports, "dcdPasses", DcdPasses);
  NODE_SET_METHOD(exports, "denseSift", DenseSift);
  NODE_SET_METHOD(exports, "codeSums", CodeSums);
  NODE_SET_METHOD(exports, "fisherSums", FisherSums);
  NODE_SET_METHOD(exports, "isa", Info);
}

}  // namespace

NODE_MODULE(NODE_GYP_MODULE_NAME, Init)
