/*
 * Fused kernels for the tfjs wasm backend (src/backend/native-kernels.ts registers them, the
 * model's ops in src/model/ops.ts call them): each replaces a chain of small tfjs kernels, every
 * one of which would read and write the whole tensor once on wasm's single thread, by one pass
 * here, split across the addon's threads.
 *
 *   gelu(x, y) / geluGrad(x, dy, dx)                       GPT-2's tanh GELU and its derivative
 *   layerNorm(x, w, b, y, mean, rstd, rows, cols, eps)     LayerNorm over the last axis (+ saved stats)
 *   layerNormGrad(x, w, dy, mean, rstd, dx, dw, db, rows, cols)
 *   rmsNorm(x, w, y, rstd, rows, cols, eps) / rmsNormGrad(x, w, dy, rstd, dx, dw, rows, cols)
 *   gatherRows(table, ids, out, rows, cols) / scatterAddRows(x, ids, out, rows, cols)
 *   attention(...) / attentionGrad(...)                    causal attention, GQA, key mask (below)
 *   linear(x, w, b, residual, y, n, in, out)               y = x @ w (+ b) (+ residual): the product's start
 *   rope(...), swiglu(g, u, y) / swigluGrad(...)           rotary embeddings, SwiGLU (and their gradients)
 *   kvWrite(...), copyColumns(...)                         a KV cache's in-place write; a split's pieces
 *
 * Operands are Float32Array (ids Int32Array) views on the wasm heap; every size is checked
 * against the arrays' lengths before anything is written. Reductions across rows (the weight
 * gradients of the norms) sum fixed chunks of rows and then the chunks in order, so the result is
 * the same whatever the number of threads.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"

#define ARGS(n)                                                                                    \
  size_t argc = n;                                                                                 \
  napi_value argv[n];                                                                              \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != n)               \
    return fail(env, __func__, "wrong number of arguments");

static napi_value fail(napi_env env, const char *fn, const char *msg) {
  char text[256];
  snprintf(text, sizeof text, "stepwise_native %s: %s", fn, msg);
  napi_throw_error(env, NULL, text);
  return NULL;
}

/*
 * Loops over exp are vectorised only when the compiler may treat the clamps below as min/max
 * instructions, which needs finite-math semantics; these functions alone get them (GCC), so the
 * rest of the file keeps IEEE rules. A NaN input still gives NaN where it matters: GELU multiplies
 * by x, and attention's outputs are products with V.
 */
#if defined(__GNUC__) && !defined(__clang__)
#define VECTOR_MATH __attribute__((optimize("finite-math-only", "no-signed-zeros")))
#else
#define VECTOR_MATH
#endif

/* exp(x) in float32 (Cephes' expf: range reduction by ln 2, degree-6 polynomial, ~1 ulp), without
   branches or calls, so that the loops it is in are vectorised. */
VECTOR_MATH static inline float sw_expf(float x) {
  x = __builtin_fminf(__builtin_fmaxf(x, -87.0f), 88.0f);
  const float t = x * 1.44269504088896341f + 0.5f;
  const int32_t ti = (int32_t)t;
  const int32_t n = ti - ((float)ti > t); /* floor(t) */
  const float fx = (float)n;
  const float r = x - fx * 0.693359375f + fx * 2.12194440e-4f;
  const float r2 = r * r;
  float y = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
             1.6666665459e-1f) * r + 5.0000001201e-1f;
  y = y * r2 + r + 1.0f;
  union {
    int32_t i;
    float f;
  } u;
  u.i = (n + 127) << 23;
  return y * u.f;
}

/* s[j] = exp(s[j] - shift) where vis[j], else 0 (exp is clamped, so a hidden score never gives inf * 0) */
VECTOR_MATH static void exp_visible(float *restrict s, const unsigned char *restrict vis, int64_t n, float shift) {
  for (int64_t j = 0; j < n; j++) s[j] = sw_expf(s[j] - shift) * (float)vis[j];
}

/* ---------------------------------------------------------------------------------------------
 * GELU, tanh approximation (Hendrycks & Gimpel 2016, sec. 2), as GPT-2's gelu_new:
 *   y = 0.5 x (1 + tanh(u)) = x s,  u = sqrt(2/pi) (x + 0.044715 x^3),  s = sigmoid(2u)
 *   dy/dx = s + x s (1 - s) 2 sqrt(2/pi) (1 + 3 * 0.044715 x^2)
 */
#define GELU_C 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_A 0.044715f

typedef struct {
  const float *x, *dy;
  float *out;
} ew_ctx;

VECTOR_MATH static void gelu_range(void *p, int64_t from, int64_t to) {
  const ew_ctx *c = p;
  const float *restrict xs = c->x;
  float *restrict out = c->out;
  for (int64_t i = from; i < to; i++) {
    const float x = xs[i];
    const float s = 1.0f / (1.0f + sw_expf(-2.0f * GELU_C * (x + GELU_A * x * x * x)));
    out[i] = x * s;
  }
}

VECTOR_MATH static void gelu_grad_range(void *p, int64_t from, int64_t to) {
  const ew_ctx *c = p;
  const float *restrict xs = c->x, *restrict dy = c->dy;
  float *restrict out = c->out;
  for (int64_t i = from; i < to; i++) {
    const float x = xs[i];
    const float s = 1.0f / (1.0f + sw_expf(-2.0f * GELU_C * (x + GELU_A * x * x * x)));
    out[i] = dy[i] * (s + x * s * (1.0f - s) * 2.0f * GELU_C * (1.0f + 3.0f * GELU_A * x * x));
  }
}

static napi_value gelu_js(napi_env env, napi_callback_info info) {
  ARGS(2);
  float *x, *y;
  size_t xl, yl;
  if (!arg_f32(env, argv[0], &x, &xl) || !arg_f32(env, argv[1], &y, &yl)) return fail(env, "gelu", "(x, y: Float32Array)");
  if (yl < xl) return fail(env, "gelu", "y is smaller than x");
  ew_ctx c = {x, NULL, y};
  parallel_for((int64_t)xl, 1 << 16, gelu_range, &c);
  return NULL;
}

static napi_value gelu_grad_js(napi_env env, napi_callback_info info) {
  ARGS(3);
  float *x, *dy, *dx;
  size_t xl, dyl, dxl;
  if (!arg_f32(env, argv[0], &x, &xl) || !arg_f32(env, argv[1], &dy, &dyl) || !arg_f32(env, argv[2], &dx, &dxl))
    return fail(env, "geluGrad", "(x, dy, dx: Float32Array)");
  if (dyl < xl || dxl < xl) return fail(env, "geluGrad", "dy or dx is smaller than x");
  ew_ctx c = {x, dy, dx};
  parallel_for((int64_t)xl, 1 << 16, gelu_grad_range, &c);
  return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * LayerNorm (Ba et al. 2016) and RMSNorm (Zhang & Sennrich 2019, eq. 4) over the last axis.
 *   LayerNorm: mu = mean(x), r = 1 / sqrt(mean((x - mu)^2) + eps), xh = (x - mu) r, y = xh w + b
 *     dx = r (g - mean(g) - xh mean(g xh)), g = dy w;  dw = sum_rows dy xh;  db = sum_rows dy
 *   RMSNorm: r = 1 / sqrt(mean(x^2) + eps), xh = x r, y = xh w
 *     dx = r (g - xh mean(g xh));  dw = sum_rows dy xh
 * Row statistics in double (a row of f32 summed in f32 loses digits at widths of thousands).
 */
typedef struct {
  const float *x, *w, *b, *dy, *mean, *rstd;
  float *y, *mean_out, *rstd_out, *dx, *partial_w, *partial_b;
  int64_t rows, cols;
  float eps;
  bool rms;
} norm_ctx;

#define NORM_CHUNK 32 /* rows per partial sum of dw, db: fixed, so the sums do not depend on threads */

static void norm_range(void *p, int64_t from, int64_t to) {
  const norm_ctx *c = p;
  const int64_t n = c->cols;
  for (int64_t r = from; r < to; r++) {
    const float *x = c->x + r * n;
    float *y = c->y + r * n;
    double mu = 0;
    if (!c->rms) {
      for (int64_t j = 0; j < n; j++) mu += x[j];
      mu /= (double)n;
    }
    double var = 0;
    for (int64_t j = 0; j < n; j++) {
      const double d = x[j] - mu;
      var += d * d;
    }
    const float rs = (float)(1.0 / sqrt(var / (double)n + (double)c->eps));
    const float m = (float)mu;
    if (c->rms) {
      for (int64_t j = 0; j < n; j++) y[j] = x[j] * rs * c->w[j];
    } else {
      for (int64_t j = 0; j < n; j++) y[j] = (x[j] - m) * rs * c->w[j] + c->b[j];
      c->mean_out[r] = m;
    }
    c->rstd_out[r] = rs;
  }
}

/* chunks [from, to) of NORM_CHUNK rows: dx of each row, and each chunk's partial dw (and db) */
static void norm_grad_range(void *p, int64_t from, int64_t to) {
  const norm_ctx *c = p;
  const int64_t n = c->cols;
  for (int64_t ch = from; ch < to; ch++) {
    float *pw = c->partial_w + ch * n, *pb = c->rms ? NULL : c->partial_b + ch * n;
    memset(pw, 0, sizeof(float) * n);
    if (pb) memset(pb, 0, sizeof(float) * n);
    const int64_t r1 = (ch + 1) * NORM_CHUNK < c->rows ? (ch + 1) * NORM_CHUNK : c->rows;
    for (int64_t r = ch * NORM_CHUNK; r < r1; r++) {
      const float *x = c->x + r * n, *dy = c->dy + r * n;
      float *dx = c->dx + r * n;
      const float m = c->rms ? 0.0f : c->mean[r], rs = c->rstd[r];
      double sg = 0, sgx = 0; /* sum g, sum g xh */
      for (int64_t j = 0; j < n; j++) {
        const float xh = (x[j] - m) * rs, g = dy[j] * c->w[j];
        sg += g;
        sgx += (double)g * xh;
        pw[j] += dy[j] * xh;
      }
      if (pb)
        for (int64_t j = 0; j < n; j++) pb[j] += dy[j];
      const float mg = c->rms ? 0.0f : (float)(sg / (double)n), mgx = (float)(sgx / (double)n);
      for (int64_t j = 0; j < n; j++) {
        const float xh = (x[j] - m) * rs;
        dx[j] = rs * (dy[j] * c->w[j] - mg - xh * mgx);
      }
    }
  }
}

/* columns [from, to): the chunks' partial sums, in chunk order */
typedef struct {
  const float *partial;
  float *out;
  int64_t chunks, cols;
} colsum_ctx;

static void colsum_range(void *p, int64_t from, int64_t to) {
  const colsum_ctx *c = p;
  for (int64_t j = from; j < to; j++) {
    float s = 0;
    for (int64_t ch = 0; ch < c->chunks; ch++) s += c->partial[ch * c->cols + j];
    c->out[j] = s;
  }
}

static int norm_sizes(napi_env env, napi_value r, napi_value cl, int64_t *rows, int64_t *cols) {
  return arg_i64(env, r, rows) && arg_i64(env, cl, cols) && *rows >= 0 && *cols > 0;
}

/* layerNorm(x, w, b, y, mean, rstd, rows, cols, eps); rmsNorm(x, w, y, rstd, rows, cols, eps) */
static napi_value norm_forward(napi_env env, napi_callback_info info, bool rms) {
  const char *fn = rms ? "rmsNorm" : "layerNorm";
  size_t argc = 9;
  napi_value argv[9];
  const size_t want = rms ? 7 : 9;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != want) return fail(env, fn, "wrong number of arguments");
  norm_ctx c = {0};
  float *x, *w, *b = NULL, *y, *mean = NULL, *rstd;
  size_t xl, wl, bl = 0, yl, ml = 0, rl;
  double eps;
  int i = 0;
  int ok = arg_f32(env, argv[i++], &x, &xl) && arg_f32(env, argv[i++], &w, &wl);
  if (ok && !rms) ok = arg_f32(env, argv[i++], &b, &bl);
  ok = ok && arg_f32(env, argv[i++], &y, &yl);
  if (ok && !rms) ok = arg_f32(env, argv[i++], &mean, &ml);
  ok = ok && arg_f32(env, argv[i++], &rstd, &rl) && norm_sizes(env, argv[i], argv[i + 1], &c.rows, &c.cols) &&
       arg_f64(env, argv[i + 2], &eps);
  if (!ok) return fail(env, fn, "argument types or sizes");
  const size_t total = (size_t)(c.rows * c.cols);
  if (xl < total || yl < total || wl < (size_t)c.cols || rl < (size_t)c.rows || (!rms && (bl < (size_t)c.cols || ml < (size_t)c.rows)))
    return fail(env, fn, "an operand is smaller than rows x cols say");
  c.x = x; c.w = w; c.b = b; c.y = y; c.mean_out = mean; c.rstd_out = rstd; c.eps = (float)eps; c.rms = rms;
  parallel_for(c.rows, (1 << 15) / c.cols + 1, norm_range, &c);
  return NULL;
}

/* layerNormGrad(x, w, dy, mean, rstd, dx, dw, db, rows, cols); rmsNormGrad(x, w, dy, rstd, dx, dw, rows, cols) */
static napi_value norm_backward(napi_env env, napi_callback_info info, bool rms) {
  const char *fn = rms ? "rmsNormGrad" : "layerNormGrad";
  size_t argc = 10;
  napi_value argv[10];
  const size_t want = rms ? 8 : 10;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != want) return fail(env, fn, "wrong number of arguments");
  norm_ctx c = {0};
  float *x, *w, *dy, *mean = NULL, *rstd, *dx, *dw, *db = NULL;
  size_t xl, wl, dyl, ml = 0, rl, dxl, dwl, dbl = 0;
  int i = 0;
  int ok = arg_f32(env, argv[i++], &x, &xl) && arg_f32(env, argv[i++], &w, &wl) && arg_f32(env, argv[i++], &dy, &dyl);
  if (ok && !rms) ok = arg_f32(env, argv[i++], &mean, &ml);
  ok = ok && arg_f32(env, argv[i++], &rstd, &rl) && arg_f32(env, argv[i++], &dx, &dxl) && arg_f32(env, argv[i++], &dw, &dwl);
  if (ok && !rms) ok = arg_f32(env, argv[i++], &db, &dbl);
  ok = ok && norm_sizes(env, argv[i], argv[i + 1], &c.rows, &c.cols);
  if (!ok) return fail(env, fn, "argument types or sizes");
  const size_t total = (size_t)(c.rows * c.cols), n = (size_t)c.cols;
  if (xl < total || dyl < total || dxl < total || wl < n || dwl < n || rl < (size_t)c.rows ||
      (!rms && (ml < (size_t)c.rows || dbl < n)))
    return fail(env, fn, "an operand is smaller than rows x cols say");
  const int64_t chunks = (c.rows + NORM_CHUNK - 1) / NORM_CHUNK;
  float *partial = malloc(sizeof(float) * (size_t)(chunks > 0 ? chunks : 1) * n * (rms ? 1 : 2));
  if (!partial) return fail(env, fn, "out of memory");
  c.x = x; c.w = w; c.dy = dy; c.mean = mean; c.rstd = rstd; c.dx = dx; c.rms = rms;
  c.partial_w = partial;
  c.partial_b = rms ? NULL : partial + chunks * n;
  parallel_for(chunks, (1 << 14) / (NORM_CHUNK * c.cols) + 1, norm_grad_range, &c);
  colsum_ctx sw = {c.partial_w, dw, chunks, c.cols};
  parallel_for(c.cols, 64, colsum_range, &sw);
  if (!rms) {
    colsum_ctx sb = {c.partial_b, db, chunks, c.cols};
    parallel_for(c.cols, 64, colsum_range, &sb);
  }
  free(partial);
  return NULL;
}

static napi_value layer_norm_js(napi_env env, napi_callback_info info) { return norm_forward(env, info, false); }
static napi_value rms_norm_js(napi_env env, napi_callback_info info) { return norm_forward(env, info, true); }
static napi_value layer_norm_grad_js(napi_env env, napi_callback_info info) { return norm_backward(env, info, false); }
static napi_value rms_norm_grad_js(napi_env env, napi_callback_info info) { return norm_backward(env, info, true); }

/* ---------------------------------------------------------------------------------------------
 * Embedding rows: gatherRows out[i] = table[ids[i]] (an id outside [0, tableRows) gives zeros,
 * as tfjs's GatherV2 on wasm); scatterAddRows out[ids[i]] += x[i] (the gradient of the gather;
 * out is zeroed first; ids outside the table are skipped, as UnsortedSegmentSum). The scatter
 * splits the columns across threads, so each out element is summed in row order by one thread.
 */
typedef struct {
  const float *src;
  const int32_t *ids;
  float *out;
  int64_t n, table_rows, cols;
} rows_ctx;

static void gather_range(void *p, int64_t from, int64_t to) {
  const rows_ctx *c = p;
  for (int64_t i = from; i < to; i++) {
    const int32_t id = c->ids[i];
    float *o = c->out + i * c->cols;
    if (id < 0 || id >= c->table_rows) memset(o, 0, sizeof(float) * c->cols);
    else memcpy(o, c->src + (int64_t)id * c->cols, sizeof(float) * c->cols);
  }
}

static void scatter_range(void *p, int64_t from, int64_t to) {
  const rows_ctx *c = p;
  for (int64_t r = 0; r < c->table_rows; r++) memset(c->out + r * c->cols + from, 0, sizeof(float) * (to - from));
  for (int64_t i = 0; i < c->n; i++) {
    const int32_t id = c->ids[i];
    if (id < 0 || id >= c->table_rows) continue;
    const float *s = c->src + i * c->cols;
    float *o = c->out + (int64_t)id * c->cols;
    for (int64_t j = from; j < to; j++) o[j] += s[j];
  }
}

/* gatherRows(table, ids, out, cols) ; scatterAddRows(x, ids, out, cols) */
static napi_value rows_op(napi_env env, napi_callback_info info, bool scatter) {
  const char *fn = scatter ? "scatterAddRows" : "gatherRows";
  ARGS(4);
  float *a, *out;
  int32_t *ids;
  size_t al, il, ol;
  int64_t cols;
  if (!arg_f32(env, argv[0], &a, &al) || !arg_i32(env, argv[1], &ids, &il) || !arg_f32(env, argv[2], &out, &ol) ||
      !arg_i64(env, argv[3], &cols) || cols <= 0)
    return fail(env, fn, "(Float32Array, Int32Array, Float32Array, cols > 0)");
  rows_ctx c = {a, ids, out, (int64_t)il, 0, cols};
  if (scatter) {
    if (al < il * (size_t)cols) return fail(env, fn, "x is smaller than ids x cols");
    c.table_rows = (int64_t)(ol / (size_t)cols);
    parallel_for(cols, 64, scatter_range, &c);
  } else {
    if (ol < il * (size_t)cols) return fail(env, fn, "out is smaller than ids x cols");
    c.table_rows = (int64_t)(al / (size_t)cols);
    parallel_for((int64_t)il, (1 << 14) / cols + 1, gather_range, &c);
  }
  return NULL;
}

static napi_value gather_rows_js(napi_env env, napi_callback_info info) { return rows_op(env, info, false); }
static napi_value scatter_add_rows_js(napi_env env, napi_callback_info info) { return rows_op(env, info, true); }

/* ---------------------------------------------------------------------------------------------
 * Causal scaled dot-product attention (Vaswani et al. 2017, eq. 1) with grouped key/value heads
 * (Ainslie et al. 2023) and an optional key mask, computed per (batch row, key/value head) with
 * the score matrix of one head at a time (no [B, H, T, Tk] tensor is kept), FlashAttention's
 * scheme (Dao et al. 2022): the forward saves each query row's log-sum-exp, the backward
 * recomputes the probabilities from it.
 *
 *   q [B, T, H, hd], k, v [B, Tc, KV, hd] (row-major, the layout of a [B*T, H*hd] projection) or,
 *   headMajor, [B, KV, Tc, hd] (a KV cache: one head's keys contiguous, read as one stream), of
 *   which the first Tk = Tp + T positions of each row are used (Tc > Tk: a preallocated KV cache),
 *   keyMask [B, Tk] or null (> 0: a real key), o [B, T, H, hd], lse [B, H, T].
 *   Query i (absolute position Tp + i) sees key j when j <= Tp + i and keyMask[b, j] > 0.
 *   S = scale Q K^T,  P = softmax over the visible keys,  O = P V.
 *   A query that sees no key (a padding row) attends uniformly to all Tk keys: what the additive
 *   -1e9 mask of the composed path gives (s - 1e9 rounds to -1e9 in float32 for every key).
 *   Backward: dP = dO V^T, D = rowsum(dO o O), dS = P o (dP - D), dQ = scale dS K,
 *   dK = scale dS^T Q, dV = P^T dO (summed over the heads that share a key/value head).
 */
typedef struct {
  const float *q, *k, *v, *mask, *o, *lse, *dout;
  float *out, *lse_out, *dq, *dk, *dv;
  int64_t B, T, Tk, Tc, H, KV, hd, Tp;
  int64_t kb, kt, kg; /* k and v strides (floats) of a batch row, a position, a key/value head */
  float scale;
  _Atomic int out_of_memory; /* a part could not get its score rows: the call throws */
} attn_ctx;

/* a . b with 16 running sums (a vector register's worth): the compiler vectorises it, where a
   single running sum is a chain of dependent scalar adds; the order is fixed, so deterministic */
static inline float dot(const float *restrict a, const float *restrict b, int64_t n) {
  float acc[8] = {0};
  int64_t p = 0;
  for (; p + 8 <= n; p += 8)
    for (int u = 0; u < 8; u++) acc[u] += a[p + u] * b[p + u];
  for (int w = 4; w > 0; w /= 2) /* a tree, which compiles to a few shuffles */
    for (int u = 0; u < w; u++) acc[u] += acc[u + w];
  float s = acc[0];
  for (; p < n; p++) s += a[p] * b[p];
  return s;
}

/* o[e] = sum_j p[j] v[j * ldv + e], e < hd: 16 outputs at a time held in registers over j */
static inline void weighted_rows(const float *restrict p, const float *restrict v, int64_t ldv, int64_t n, int64_t hd,
                                 float *restrict o) {
  int64_t e0 = 0;
  for (; e0 + 16 <= hd; e0 += 16) {
    float acc[16] = {0};
    for (int64_t j = 0; j < n; j++) {
      const float pj = p[j], *vj = v + j * ldv + e0;
      for (int u = 0; u < 16; u++) acc[u] += pj * vj[u];
    }
    memcpy(o + e0, acc, sizeof acc);
  }
  for (; e0 < hd; e0++) {
    float a = 0;
    for (int64_t j = 0; j < n; j++) a += p[j] * v[j * ldv + e0];
    o[e0] = a;
  }
}

/* C[m,n] (ldc) = alpha op(A) op(B) + beta C; the BLAS for larger products, loops for tiny ones */
static void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *A, int64_t lda,
                 const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
  if (m == 1 && !ta && cblas_sgemv && n * k >= 256) {
    /* one row (decoding): a matrix-vector product, the BLAS's GEMV kernel; c = alpha op(B)^T a + beta c */
    if (tb) cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, alpha, B, (int)ldb, A, 1, beta, C, 1);
    else cblas_sgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, alpha, B, (int)ldb, A, 1, beta, C, 1);
    return;
  }
  if (m * n * k >= 4096 && cblas_sgemm) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
    return;
  }
  /* tiny products (decoding: one query row per head): loops whose inner loop runs along a
     contiguous row, so it vectorises */
  for (int64_t i = 0; i < m; i++) {
    float *restrict c = C + i * ldc;
    if (tb && !ta) {
      /* C[i,j] = A[i,:] . B[j,:] */
      const float *restrict a = A + i * lda;
      for (int64_t j = 0; j < n; j++) {
        const float s = dot(a, B + j * ldb, k);
        c[j] = beta == 0.0f ? alpha * s : alpha * s + beta * c[j];
      }
      continue;
    }
    if (beta == 0.0f) memset(c, 0, sizeof(float) * (size_t)n);
    else if (beta != 1.0f)
      for (int64_t j = 0; j < n; j++) c[j] *= beta;
    for (int64_t p = 0; p < k; p++) {
      const float av = alpha * (ta ? A[p * lda + i] : A[i * lda + p]);
      if (!tb) {
        const float *restrict bp = B + p * ldb;
        for (int64_t j = 0; j < n; j++) c[j] += av * bp[j];
      } else {
        for (int64_t j = 0; j < n; j++) c[j] += av * B[j * ldb + p];
      }
    }
  }
}

/* which keys row i sees: 1 or 0 into vis[Tk]; returns how many */
static int64_t visible(const attn_ctx *c, int64_t b, int64_t i, unsigned char *vis) {
  int64_t n = 0;
  const int64_t last = c->Tp + i;
  for (int64_t j = 0; j < c->Tk; j++) {
    const int ok = j <= last && (!c->mask || c->mask[b * c->Tk + j] > 0.0f);
    vis[j] = (unsigned char)ok;
    n += ok;
  }
  return n;
}

/* rows of S [T, Tk] -> probabilities in place; lse per row (NAN for a row that sees no key) */
static void softmax_rows(const attn_ctx *c, int64_t b, float *S, float *lse, unsigned char *vis) {
  const int64_t Tk = c->Tk;
  for (int64_t i = 0; i < c->T; i++) {
    float *s = S + i * Tk;
    if (visible(c, b, i, vis) == 0) {
      for (int64_t j = 0; j < Tk; j++) s[j] = 1.0f / (float)Tk;
      lse[i] = NAN;
      continue;
    }
    float mx = -INFINITY;
    for (int64_t j = 0; j < Tk; j++)
      if (vis[j] && s[j] > mx) mx = s[j];
    exp_visible(s, vis, Tk, mx);
    double z = 0;
    for (int64_t j = 0; j < Tk; j++) z += s[j];
    const float inv = (float)(1.0 / z);
    for (int64_t j = 0; j < Tk; j++) s[j] *= inv;
    lse[i] = mx + (float)log(z);
  }
}

/* the probabilities again from the saved lse (backward) */
static void recompute_p(const attn_ctx *c, int64_t b, float *S, const float *lse, unsigned char *vis) {
  const int64_t Tk = c->Tk;
  for (int64_t i = 0; i < c->T; i++) {
    float *s = S + i * Tk;
    if (isnan(lse[i])) {
      for (int64_t j = 0; j < Tk; j++) s[j] = 1.0f / (float)Tk;
      continue;
    }
    visible(c, b, i, vis);
    const float l = lse[i];
    exp_visible(s, vis, Tk, l);
  }
}

/* one part's working rows: scores or probabilities [T, Tk] (and for the gradient dP [T, Tk], D [T]),
   visible keys [Tk]; on failure the call is marked out of memory and the part does nothing */
typedef struct {
  float *p, *dp, *d;
  unsigned char *vis;
} attn_scratch;

static void scratch_free(attn_scratch *w) {
  free(w->p);
  free(w->dp);
  free(w->d);
  free(w->vis);
}

static bool scratch_alloc(attn_ctx *c, attn_scratch *w, bool grad) {
  const size_t rows = (size_t)(c->T * c->Tk);
  w->p = malloc(sizeof(float) * rows);
  w->dp = grad ? malloc(sizeof(float) * rows) : NULL;
  w->d = grad ? malloc(sizeof(float) * (size_t)c->T) : NULL;
  w->vis = malloc((size_t)c->Tk);
  if (w->p && w->vis && (!grad || (w->dp && w->d))) return true;
  scratch_free(w);
  atomic_store(&c->out_of_memory, 1);
  return false;
}

static void attn_range(void *p, int64_t from, int64_t to) {
  const attn_ctx *c = p;
  const int64_t T = c->T, Tk = c->Tk, H = c->H, KV = c->KV, hd = c->hd, rep = H / KV;
  attn_scratch w;
  if (!scratch_alloc((attn_ctx *)p, &w, false)) return;
  float *S = w.p;
  unsigned char *vis = w.vis;
  for (int64_t item = from; item < to; item++) {
    const int64_t b = item / KV, g = item % KV;
    const float *K = c->k + b * c->kb + g * c->kg, *V = c->v + b * c->kb + g * c->kg;
    for (int64_t r = 0; r < rep; r++) {
      const int64_t h = g * rep + r;
      const float *Q = c->q + b * T * H * hd + h * hd;
      float *O = c->out + b * T * H * hd + h * hd;
      if (T == 1) { /* decoding: one query row, vectorised loops (a BLAS call per row costs more than the row) */
        for (int64_t j = 0; j < Tk; j++) S[j] = c->scale * dot(Q, K + j * c->kt, hd);
        softmax_rows(c, b, S, c->lse_out + (b * H + h) * T, vis);
        weighted_rows(S, V, c->kt, Tk, hd, O);
        continue;
      }
      gemm(false, true, T, Tk, hd, c->scale, Q, H * hd, K, c->kt, 0.0f, S, Tk);
      softmax_rows(c, b, S, c->lse_out + (b * H + h) * T, vis);
      gemm(false, false, T, hd, Tk, 1.0f, S, Tk, V, c->kt, 0.0f, O, H * hd);
    }
  }
  scratch_free(&w);
}

static void attn_grad_range(void *p, int64_t from, int64_t to) {
  const attn_ctx *c = p;
  const int64_t T = c->T, Tk = c->Tk, H = c->H, KV = c->KV, hd = c->hd, rep = H / KV;
  attn_scratch w;
  if (!scratch_alloc((attn_ctx *)p, &w, true)) return;
  float *P = w.p, *dP = w.dp, *D = w.d;
  unsigned char *vis = w.vis;
  for (int64_t item = from; item < to; item++) {
    const int64_t b = item / KV, g = item % KV;
    const float *K = c->k + b * c->kb + g * c->kg, *V = c->v + b * c->kb + g * c->kg;
    float *dK = c->dk + b * c->kb + g * c->kg, *dV = c->dv + b * c->kb + g * c->kg;
    for (int64_t r = 0; r < rep; r++) {
      const int64_t h = g * rep + r, qoff = b * T * H * hd + h * hd;
      const float *Q = c->q + qoff, *O = c->o + qoff, *dO = c->dout + qoff;
      gemm(false, true, T, Tk, hd, c->scale, Q, H * hd, K, c->kt, 0.0f, P, Tk);
      recompute_p(c, b, P, c->lse + (b * H + h) * T, vis);
      gemm(false, true, T, Tk, hd, 1.0f, dO, H * hd, V, c->kt, 0.0f, dP, Tk);
      for (int64_t i = 0; i < T; i++) {
        double d = 0;
        for (int64_t e = 0; e < hd; e++) d += (double)dO[i * H * hd + e] * O[i * H * hd + e];
        D[i] = (float)d;
      }
      for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < Tk; j++) dP[i * Tk + j] = P[i * Tk + j] * (dP[i * Tk + j] - D[i]);
      const float beta = r == 0 ? 0.0f : 1.0f;
      gemm(false, false, T, hd, Tk, c->scale, dP, Tk, K, c->kt, 0.0f, c->dq + qoff, H * hd);
      gemm(true, false, Tk, hd, T, c->scale, dP, Tk, Q, H * hd, beta, dK, c->kt);
      gemm(true, false, Tk, hd, T, 1.0f, P, Tk, dO, H * hd, beta, dV, c->kt);
    }
  }
  scratch_free(&w);
}

static int attn_dims(napi_env env, napi_value *argv, attn_ctx *c) {
  double scale;
  bool head_major;
  if (!arg_i64(env, argv[0], &c->B) || !arg_i64(env, argv[1], &c->T) || !arg_i64(env, argv[2], &c->Tc) ||
      !arg_i64(env, argv[3], &c->H) || !arg_i64(env, argv[4], &c->KV) || !arg_i64(env, argv[5], &c->hd) ||
      !arg_i64(env, argv[6], &c->Tp) || !arg_f64(env, argv[7], &scale) || napi_get_value_bool(env, argv[8], &head_major) != napi_ok)
    return 0;
  c->scale = (float)scale;
  c->Tk = c->Tp + c->T;
  /* [B, Tc, KV, hd] (a projection's layout) or [B, KV, Tc, hd] (a KV cache: each head's keys contiguous) */
  c->kb = c->Tc * c->KV * c->hd;
  c->kt = head_major ? c->hd : c->KV * c->hd;
  c->kg = head_major ? c->Tc * c->hd : c->hd;
  return c->B >= 0 && c->T >= 0 && c->Tk > 0 && c->Tc >= c->Tk && c->KV > 0 && c->H % c->KV == 0 && c->H > 0 && c->hd > 0 &&
         c->Tp >= 0 && c->Tc < INT32_MAX && c->H * c->hd < INT32_MAX;
}

/* attention(q, k, v, keyMask | null, o, lse, B, T, Tc, H, KV, hd, Tp, scale, headMajor); keyMask [B, Tp + T] */
static napi_value attention_js(napi_env env, napi_callback_info info) {
  ARGS(15);
  attn_ctx c = {0};
  float *q, *k, *v, *mask, *o, *lse;
  size_t ql, kl, vl, ml, ol, ll;
  if (!arg_f32(env, argv[0], &q, &ql) || !arg_f32(env, argv[1], &k, &kl) || !arg_f32(env, argv[2], &v, &vl) ||
      !arg_f32_or_null(env, argv[3], &mask, &ml) || !arg_f32(env, argv[4], &o, &ol) || !arg_f32(env, argv[5], &lse, &ll) ||
      !attn_dims(env, argv + 6, &c))
    return fail(env, "attention", "argument types or sizes");
  const size_t qn = (size_t)(c.B * c.T * c.H * c.hd), kn = (size_t)(c.B * c.Tc * c.KV * c.hd);
  if (ql < qn || ol < qn || kl < kn || vl < kn || ll < (size_t)(c.B * c.H * c.T) || (mask && ml < (size_t)(c.B * c.Tk)))
    return fail(env, "attention", "an operand is smaller than the sizes say");
  c.q = q; c.k = k; c.v = v; c.mask = mask; c.out = o; c.lse_out = lse;
  blas_threads(1);
  parallel_for(c.B * c.KV, 1, attn_range, &c);
  if (atomic_load(&c.out_of_memory)) return fail(env, "attention", "out of memory for the score rows (T x Tk floats per thread)");
  return NULL;
}

/* attentionGrad(q, k, v, keyMask | null, o, lse, dO, dq, dk, dv, B, T, Tc, H, KV, hd, Tp, scale, headMajor) */
static napi_value attention_grad_js(napi_env env, napi_callback_info info) {
  ARGS(19);
  attn_ctx c = {0};
  float *q, *k, *v, *mask, *o, *lse, *dout, *dq, *dk, *dv;
  size_t ql, kl, vl, ml, ol, ll, dol, dql, dkl, dvl;
  if (!arg_f32(env, argv[0], &q, &ql) || !arg_f32(env, argv[1], &k, &kl) || !arg_f32(env, argv[2], &v, &vl) ||
      !arg_f32_or_null(env, argv[3], &mask, &ml) || !arg_f32(env, argv[4], &o, &ol) || !arg_f32(env, argv[5], &lse, &ll) ||
      !arg_f32(env, argv[6], &dout, &dol) || !arg_f32(env, argv[7], &dq, &dql) || !arg_f32(env, argv[8], &dk, &dkl) ||
      !arg_f32(env, argv[9], &dv, &dvl) || !attn_dims(env, argv + 10, &c))
    return fail(env, "attentionGrad", "argument types or sizes");
  const size_t qn = (size_t)(c.B * c.T * c.H * c.hd), kn = (size_t)(c.B * c.Tc * c.KV * c.hd);
  if (ql < qn || ol < qn || dol < qn || dql < qn || kl < kn || vl < kn || dkl < kn || dvl < kn ||
      ll < (size_t)(c.B * c.H * c.T) || (mask && ml < (size_t)(c.B * c.Tk)))
    return fail(env, "attentionGrad", "an operand is smaller than the sizes say");
  c.q = q; c.k = k; c.v = v; c.mask = mask; c.o = o; c.lse = lse; c.dout = dout; c.dq = dq; c.dk = dk; c.dv = dv;
  if (c.Tc > c.Tk) { /* positions past Tk get no gradient */
    memset(dk, 0, sizeof(float) * kn);
    memset(dv, 0, sizeof(float) * kn);
  }
  blas_threads(1);
  parallel_for(c.B * c.KV, 1, attn_grad_range, &c);
  if (atomic_load(&c.out_of_memory)) return fail(env, "attentionGrad", "out of memory for the score rows (2 T x Tk floats per thread)");
  return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * A linear layer with its bias and the residual stream in one call:
 *   y[n, out] = x[n, in] @ w[in, out] (+ b) (+ residual)
 * by starting every row of y at b + residual and accumulating the product onto it (beta = 1), so
 * no separate pass adds them. b and residual may be null.
 */
typedef struct {
  const float *b, *res;
  float *y;
  int64_t out;
} bias_ctx;

static void bias_rows(void *p, int64_t from, int64_t to) {
  const bias_ctx *c = p;
  const int64_t n = c->out;
  for (int64_t r = from; r < to; r++) {
    float *restrict y = c->y + r * n;
    const float *restrict res = c->res ? c->res + r * n : NULL, *restrict b = c->b;
    if (res && b)
      for (int64_t j = 0; j < n; j++) y[j] = res[j] + b[j];
    else if (res)
      memcpy(y, res, sizeof(float) * (size_t)n);
    else
      memcpy(y, b, sizeof(float) * (size_t)n);
  }
}

/* linear(x, w, b | null, residual | null, y, n, in, out) */
static napi_value linear_js(napi_env env, napi_callback_info info) {
  ARGS(8);
  float *x, *w, *b, *res, *y;
  size_t xl, wl, bl, rl, yl;
  int64_t n, in, out;
  if (!arg_f32(env, argv[0], &x, &xl) || !arg_f32(env, argv[1], &w, &wl) || !arg_f32_or_null(env, argv[2], &b, &bl) ||
      !arg_f32_or_null(env, argv[3], &res, &rl) || !arg_f32(env, argv[4], &y, &yl) || !arg_i64(env, argv[5], &n) ||
      !arg_i64(env, argv[6], &in) || !arg_i64(env, argv[7], &out) || n < 0 || in < 0 || out <= 0 || n > INT32_MAX ||
      in > INT32_MAX || out > INT32_MAX)
    return fail(env, "linear", "(x, w, b | null, residual | null, y: Float32Array, n, in, out)");
  if (xl < (size_t)(n * in) || wl < (size_t)(in * out) || (b && bl < (size_t)out) || (res && rl < (size_t)(n * out)) ||
      yl < (size_t)(n * out))
    return fail(env, "linear", "an operand is smaller than n, in, out say");
  if (!cblas_sgemm) return fail(env, "linear", "no BLAS loaded");
  const bool start = b || res;
  if (start) {
    bias_ctx c = {b, res, y, out};
    parallel_for(n, (1 << 16) / out + 1, bias_rows, &c);
  } else if (in == 0) {
    memset(y, 0, sizeof(float) * (size_t)(n * out));
  }
  if (n == 0 || in == 0) return NULL;
  if (n == 1) gemv_threaded(x, w, y, in, out, false, start); /* one row (decoding at batch 1): bandwidth-bound */
  else sgemm_split(false, false, n, out, in, 1.0f, x, w, start ? 1.0f : 0.0f, y);
  return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Matrix-vector products (gemv_threaded, common.h). W [k, n]: the rows of W are split into
 * fixed blocks of GEMV_ROWS, each block's partial sum over its rows goes into its own buffer,
 * and the blocks are then added in order: reads stream through W, and the result does not depend
 * on the number of threads. Transposed, W [n, k]: each y[j] is one dot product, split over j.
 */
#define GEMV_ROWS 256

typedef struct {
  const float *x, *w;
  float *y, *partial;
  int64_t k, n;
  bool accumulate;
} gemv_ctx;

static void gemv_blocks(void *p, int64_t from, int64_t to) {
  const gemv_ctx *c = p;
  const int64_t n = c->n;
  for (int64_t blk = from; blk < to; blk++) {
    float *restrict y = c->partial + blk * n;
    memset(y, 0, sizeof(float) * (size_t)n);
    const int64_t r1 = (blk + 1) * GEMV_ROWS < c->k ? (blk + 1) * GEMV_ROWS : c->k;
    int64_t r = blk * GEMV_ROWS;
    for (; r + 4 <= r1; r += 4) { /* four rows per pass over y: a quarter of the loads and stores of y */
      const float x0 = c->x[r], x1 = c->x[r + 1], x2 = c->x[r + 2], x3 = c->x[r + 3];
      const float *restrict w0 = c->w + r * n, *restrict w1 = w0 + n, *restrict w2 = w1 + n, *restrict w3 = w2 + n;
      for (int64_t j = 0; j < n; j++) y[j] += x0 * w0[j] + x1 * w1[j] + x2 * w2[j] + x3 * w3[j];
    }
    for (; r < r1; r++) {
      const float xr = c->x[r], *restrict wr = c->w + r * n;
      for (int64_t j = 0; j < n; j++) y[j] += xr * wr[j];
    }
  }
}

static void gemv_sum(void *p, int64_t from, int64_t to) {
  const gemv_ctx *c = p;
  const int64_t blocks = (c->k + GEMV_ROWS - 1) / GEMV_ROWS;
  for (int64_t j = from; j < to; j++) {
    float s = 0;
    for (int64_t b = 0; b < blocks; b++) s += c->partial[b * c->n + j];
    c->y[j] = c->accumulate ? c->y[j] + s : s;
  }
}

/* rows [from, to) of W [n, k]: the BLAS's single-threaded GEMV on this part (its kernel streams
   rows faster than dot() does), else dot products */
static void gemv_dots(void *p, int64_t from, int64_t to) {
  const gemv_ctx *c = p;
  if (cblas_sgemv && to > from) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)(to - from), (int)c->k, 1.0f, c->w + from * c->k, (int)c->k, c->x, 1,
                c->accumulate ? 1.0f : 0.0f, c->y + from, 1);
    return;
  }
  for (int64_t j = from; j < to; j++) c->y[j] = (c->accumulate ? c->y[j] : 0.0f) + dot(c->x, c->w + j * c->k, c->k);
}

void gemv_threaded(const float *x, const float *w, float *y, int64_t k, int64_t n, bool transposed, bool accumulate) {
  gemv_ctx c = {x, w, y, NULL, k, n, accumulate};
  if (transposed) {
    blas_threads(1);
    parallel_for(n, (1 << 16) / (k + 1) + 1, gemv_dots, &c);
    return;
  }
  const int64_t blocks = (k + GEMV_ROWS - 1) / GEMV_ROWS;
  c.partial = malloc(sizeof(float) * (size_t)(blocks * n));
  if (!c.partial) { /* no room for the partial sums: the BLAS's GEMV, or plain rows, which need none */
    if (cblas_sgemv) {
      cblas_sgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, 1.0f, w, (int)n, x, 1, accumulate ? 1.0f : 0.0f, y, 1);
    } else {
      if (!accumulate) memset(y, 0, sizeof(float) * (size_t)n);
      for (int64_t r = 0; r < k; r++)
        for (int64_t j = 0; j < n; j++) y[j] += x[r] * w[r * n + j];
    }
    return;
  }
  parallel_for(blocks, (1 << 16) / (GEMV_ROWS * n) + 1, gemv_blocks, &c);
  parallel_for(n, 1 << 12, gemv_sum, &c);
  free(c.partial);
}

/* ---------------------------------------------------------------------------------------------
 * kvWrite(cache, x, B, T, KV, hd, Tc, at): cache [B, KV, Tc, hd] (head-major) gets the new keys
 * or values x [B, T, KV, hd] at positions at .. at + T - 1, in place.
 */
static napi_value kv_write_js(napi_env env, napi_callback_info info) {
  ARGS(8);
  float *cache, *x;
  size_t cl, xl;
  int64_t B, T, KV, hd, Tc, at;
  if (!arg_f32(env, argv[0], &cache, &cl) || !arg_f32(env, argv[1], &x, &xl) || !arg_i64(env, argv[2], &B) ||
      !arg_i64(env, argv[3], &T) || !arg_i64(env, argv[4], &KV) || !arg_i64(env, argv[5], &hd) || !arg_i64(env, argv[6], &Tc) ||
      !arg_i64(env, argv[7], &at) || B < 0 || T < 0 || KV <= 0 || hd <= 0 || at < 0 || at + T > Tc)
    return fail(env, "kvWrite", "(cache, x: Float32Array, B, T, KV, hd, Tc, at) with at + T <= Tc");
  if (cl < (size_t)(B * KV * Tc * hd) || xl < (size_t)(B * T * KV * hd)) return fail(env, "kvWrite", "an operand is smaller than the sizes say");
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++)
      for (int64_t g = 0; g < KV; g++)
        memcpy(cache + ((b * KV + g) * Tc + at + t) * hd, x + ((b * T + t) * KV + g) * hd, sizeof(float) * (size_t)hd);
  return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * copyColumns(src, rows, srcCols, from, dst, width): dst[r, :] = src[r, from : from + width], the
 * pieces of a split along the last axis (q, k and v out of one projection), one memcpy per row.
 */
static napi_value copy_columns_js(napi_env env, napi_callback_info info) {
  ARGS(6);
  float *src, *dst;
  size_t sl, dl;
  int64_t rows, cols, from, width;
  if (!arg_f32(env, argv[0], &src, &sl) || !arg_i64(env, argv[1], &rows) || !arg_i64(env, argv[2], &cols) ||
      !arg_i64(env, argv[3], &from) || !arg_f32(env, argv[4], &dst, &dl) || !arg_i64(env, argv[5], &width) || rows < 0 ||
      from < 0 || width < 0 || from + width > cols)
    return fail(env, "copyColumns", "(src, rows, srcCols, from, dst, width) with from + width <= srcCols");
  if (sl < (size_t)(rows * cols) || dl < (size_t)(rows * width)) return fail(env, "copyColumns", "an operand is smaller than the sizes say");
  for (int64_t r = 0; r < rows; r++) memcpy(dst + r * width, src + r * cols + from, sizeof(float) * (size_t)width);
  return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Rotary position embeddings (Su et al. 2021, eq. 34), HF's rotate-half layout:
 *   y = x cos + rotate_half(x) sin,  rotate_half(x) = cat(-x[h:], x[:h]),  h = hd / 2
 * and its gradient, with rotate_half's transpose cat(z[h:], -z[:h]) (inverse = 1):
 *   dx = dy cos + rotate_half^T(dy sin)
 * rope(x, cos, sin, y, rows, heads, T, hd, cosBatch, inverse): x, y [B, T, heads, hd] (rows =
 * B T heads), cos and sin [cosBatch, T, hd] with cosBatch 1 (shared) or B.
 */
typedef struct {
  const float *x, *cs, *sn;
  float *y;
  int64_t heads, T, hd, cos_batch;
  bool inverse;
} rope_ctx;

static void rope_range(void *p, int64_t from, int64_t to) {
  const rope_ctx *c = p;
  const int64_t hd = c->hd, h = hd / 2;
  for (int64_t r = from; r < to; r++) {
    const int64_t bt = r / c->heads, b = bt / c->T, t = bt % c->T;
    const int64_t off = ((c->cos_batch == 1 ? 0 : b) * c->T + t) * hd;
    const float *restrict cs = c->cs + off, *restrict sn = c->sn + off, *restrict x = c->x + r * hd;
    float *restrict y = c->y + r * hd;
    if (!c->inverse) {
      for (int64_t j = 0; j < h; j++) y[j] = x[j] * cs[j] - x[j + h] * sn[j];
      for (int64_t j = h; j < hd; j++) y[j] = x[j] * cs[j] + x[j - h] * sn[j];
    } else {
      for (int64_t j = 0; j < h; j++) y[j] = x[j] * cs[j] + x[j + h] * sn[j + h];
      for (int64_t j = h; j < hd; j++) y[j] = x[j] * cs[j] - x[j - h] * sn[j - h];
    }
  }
}

static napi_value rope_js(napi_env env, napi_callback_info info) {
  ARGS(10);
  rope_ctx c = {0};
  float *x, *cs, *sn, *y;
  size_t xl, cl, sl, yl;
  int64_t rows;
  bool inverse;
  if (!arg_f32(env, argv[0], &x, &xl) || !arg_f32(env, argv[1], &cs, &cl) || !arg_f32(env, argv[2], &sn, &sl) ||
      !arg_f32(env, argv[3], &y, &yl) || !arg_i64(env, argv[4], &rows) || !arg_i64(env, argv[5], &c.heads) ||
      !arg_i64(env, argv[6], &c.T) || !arg_i64(env, argv[7], &c.hd) || !arg_i64(env, argv[8], &c.cos_batch) ||
      napi_get_value_bool(env, argv[9], &inverse) != napi_ok || rows < 0 || c.heads <= 0 || c.T <= 0 || c.hd <= 0 ||
      c.hd % 2 != 0 || c.cos_batch <= 0 || rows % (c.heads * c.T) != 0 || (c.cos_batch != 1 && c.cos_batch != rows / (c.heads * c.T)))
    return fail(env, "rope", "(x, cos, sin, y, rows, heads, T, hd (even), cosBatch (1 or B), inverse)");
  if (xl < (size_t)(rows * c.hd) || yl < (size_t)(rows * c.hd) || cl < (size_t)(c.cos_batch * c.T * c.hd) || sl < cl)
    return fail(env, "rope", "an operand is smaller than the sizes say");
  c.x = x; c.cs = cs; c.sn = sn; c.y = y; c.inverse = inverse;
  parallel_for(rows, (1 << 15) / c.hd + 1, rope_range, &c);
  return NULL;
}

/*
 * SwiGLU (Shazeer 2020, eq. 6) after the two projections: y = silu(g) u, silu(g) = g sigmoid(g)
 * (Elfwing et al. 2018); dg = dy u (s + g s (1 - s)), du = dy g s, s = sigmoid(g).
 */
typedef struct {
  const float *g, *u, *dy;
  float *y, *dg, *du;
} glu_ctx;

VECTOR_MATH static void swiglu_range(void *p, int64_t from, int64_t to) {
  const glu_ctx *c = p;
  const float *restrict g = c->g, *restrict u = c->u;
  float *restrict y = c->y;
  for (int64_t i = from; i < to; i++) y[i] = g[i] / (1.0f + sw_expf(-g[i])) * u[i];
}

VECTOR_MATH static void swiglu_grad_range(void *p, int64_t from, int64_t to) {
  const glu_ctx *c = p;
  const float *restrict g = c->g, *restrict u = c->u, *restrict dy = c->dy;
  float *restrict dg = c->dg, *restrict du = c->du;
  for (int64_t i = from; i < to; i++) {
    const float s = 1.0f / (1.0f + sw_expf(-g[i]));
    dg[i] = dy[i] * u[i] * (s + g[i] * s * (1.0f - s));
    du[i] = dy[i] * g[i] * s;
  }
}

static napi_value swiglu_js(napi_env env, napi_callback_info info) {
  ARGS(3);
  float *g, *u, *y;
  size_t gl, ul, yl;
  if (!arg_f32(env, argv[0], &g, &gl) || !arg_f32(env, argv[1], &u, &ul) || !arg_f32(env, argv[2], &y, &yl))
    return fail(env, "swiglu", "(g, u, y: Float32Array)");
  if (ul < gl || yl < gl) return fail(env, "swiglu", "u or y is smaller than g");
  glu_ctx c = {g, u, NULL, y, NULL, NULL};
  parallel_for((int64_t)gl, 1 << 16, swiglu_range, &c);
  return NULL;
}

static napi_value swiglu_grad_js(napi_env env, napi_callback_info info) {
  ARGS(5);
  float *g, *u, *dy, *dg, *du;
  size_t gl, ul, dyl, dgl, dul;
  if (!arg_f32(env, argv[0], &g, &gl) || !arg_f32(env, argv[1], &u, &ul) || !arg_f32(env, argv[2], &dy, &dyl) ||
      !arg_f32(env, argv[3], &dg, &dgl) || !arg_f32(env, argv[4], &du, &dul))
    return fail(env, "swigluGrad", "(g, u, dy, dg, du: Float32Array)");
  if (ul < gl || dyl < gl || dgl < gl || dul < gl) return fail(env, "swigluGrad", "an operand is smaller than g");
  glu_ctx c = {g, u, dy, NULL, dg, du};
  parallel_for((int64_t)gl, 1 << 16, swiglu_grad_range, &c);
  return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * sumAll(x) -> the sum of x, read once by the addon's threads in blocks (the bench's measure of how
 * fast these threads read memory: a decoding step at batch 1 reads every weight once).
 */
#define SUM_BLOCK (1 << 16)

typedef struct {
  const float *x;
  float *block_sums;
  int64_t n;
} sum_ctx;

static void sum_blocks(void *p, int64_t from, int64_t to) {
  const sum_ctx *c = p;
  for (int64_t blk = from; blk < to; blk++) {
    const int64_t i1 = (blk + 1) * SUM_BLOCK < c->n ? (blk + 1) * SUM_BLOCK : c->n, i0 = blk * SUM_BLOCK;
    float acc[16] = {0};
    int64_t i = i0;
    for (; i + 16 <= i1; i += 16)
      for (int u = 0; u < 16; u++) acc[u] += c->x[i + u];
    float s = 0;
    for (int u = 0; u < 16; u++) s += acc[u];
    for (; i < i1; i++) s += c->x[i];
    c->block_sums[blk] = s;
  }
}

static napi_value sum_all_js(napi_env env, napi_callback_info info) {
  ARGS(1);
  float *x;
  size_t xl;
  if (!arg_f32(env, argv[0], &x, &xl)) return fail(env, "sumAll", "(x: Float32Array)");
  const int64_t blocks = ((int64_t)xl + SUM_BLOCK - 1) / SUM_BLOCK;
  float *sums = malloc(sizeof(float) * (size_t)(blocks > 0 ? blocks : 1));
  if (!sums) return fail(env, "sumAll", "out of memory");
  sum_ctx c = {x, sums, (int64_t)xl};
  parallel_for(blocks, 1, sum_blocks, &c);
  double total = 0;
  for (int64_t b = 0; b < blocks; b++) total += sums[b];
  free(sums);
  napi_value r;
  if (napi_create_double(env, total, &r) != napi_ok) return fail(env, "sumAll", "N-API call failed");
  return r;
}

napi_status kernels_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"gelu", NULL, gelu_js, NULL, NULL, NULL, napi_default, NULL},
      {"geluGrad", NULL, gelu_grad_js, NULL, NULL, NULL, napi_default, NULL},
      {"layerNorm", NULL, layer_norm_js, NULL, NULL, NULL, napi_default, NULL},
      {"layerNormGrad", NULL, layer_norm_grad_js, NULL, NULL, NULL, napi_default, NULL},
      {"rmsNorm", NULL, rms_norm_js, NULL, NULL, NULL, napi_default, NULL},
      {"rmsNormGrad", NULL, rms_norm_grad_js, NULL, NULL, NULL, napi_default, NULL},
      {"gatherRows", NULL, gather_rows_js, NULL, NULL, NULL, napi_default, NULL},
      {"scatterAddRows", NULL, scatter_add_rows_js, NULL, NULL, NULL, napi_default, NULL},
      {"attention", NULL, attention_js, NULL, NULL, NULL, napi_default, NULL},
      {"attentionGrad", NULL, attention_grad_js, NULL, NULL, NULL, napi_default, NULL},
      {"linear", NULL, linear_js, NULL, NULL, NULL, napi_default, NULL},
      {"kvWrite", NULL, kv_write_js, NULL, NULL, NULL, napi_default, NULL},
      {"copyColumns", NULL, copy_columns_js, NULL, NULL, NULL, napi_default, NULL},
      {"rope", NULL, rope_js, NULL, NULL, NULL, napi_default, NULL},
      {"sumAll", NULL, sum_all_js, NULL, NULL, NULL, napi_default, NULL},
      {"swiglu", NULL, swiglu_js, NULL, NULL, NULL, napi_default, NULL},
      {"swigluGrad", NULL, swiglu_grad_js, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
