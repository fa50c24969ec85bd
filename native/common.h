/*
 * What stepwise_native.c (the BLAS, threads, N-API helpers) shares with kernels.c (the fused
 * kernels). One addon, two translation units.
 */
#ifndef STEPWISE_COMMON_H
#define STEPWISE_COMMON_H
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

enum { CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 };
typedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc);

typedef void (*sgemv_fn)(int order, int trans, int m, int n, float alpha, const float *a, int lda, const float *x,
                         int incx, float beta, float *y, int incy);
/* the loaded CBLAS (NULL before load(); sgemv may be NULL in a BLAS without it) */
extern sgemm_fn cblas_sgemm;
extern sgemv_fn cblas_sgemv;
/* setThreads(n): the threads a call may use */
extern int threads_wanted;
/* set the BLAS's own threads (cached: a no-op when unchanged) */
void blas_threads(int n);
/* below this many multiply-adds a BLAS call runs on one thread (waking its workers costs more) */
#define MIN_THREADED_MACS (1 << 23)

/*
 * fn(ctx, from, to) over [0, n) in up to threads_wanted contiguous parts, each at least `grain`
 * items (fewer parts when n is small; one part runs here, on the calling thread). Kernels write
 * disjoint outputs per item, so results never depend on how [0, n) was split.
 */
typedef void (*range_fn)(void *ctx, int64_t from, int64_t to);
void parallel_for(int64_t n, int64_t grain, range_fn fn, void *ctx);

/* N-API argument helpers: 1 on success */
int arg_f32(napi_env env, napi_value v, float **data, size_t *len);
int arg_f32_or_null(napi_env env, napi_value v, float **data, size_t *len); /* null -> data NULL, len 0 */
int arg_i32(napi_env env, napi_value v, int32_t **data, size_t *len);
int arg_i64(napi_env env, napi_value v, int64_t *out);
int arg_f64(napi_env env, napi_value v, double *out);

/*
 * y[n] = x[k] @ W, W [k, n] row-major (transposed: W [n, k], y[j] = x . W[j]): a matrix-vector
 * product on our threads (kernels.c), for one-row products (decoding at batch 1), bound by the
 * bandwidth of reading W once; accumulate: y += x @ W
 */
void gemv_threaded(const float *x, const float *w, float *y, int64_t k, int64_t n, bool transposed, bool accumulate);

/*
 * One product C[m, n] = alpha op(A) op(B) + beta C (row-major, leading dimensions k/m for A, n/k
 * for B, n for C), its rows split across our threads with a single-threaded BLAS call each when
 * there are enough rows (the BLAS's own threads cost more to wake for products below ~10^7
 * multiply-adds), else one BLAS call on its own threads when large.
 */
void sgemm_split(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, const float *b,
                 float beta, float *c);

/* register kernels.c's functions on the addon's exports */
napi_status kernels_register(napi_env env, napi_value exports);
#endif
