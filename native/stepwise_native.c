/*
 * Stepwise's optional native addon (N-API): batched single-precision matrix products on a BLAS
 * loaded at run time, for the tfjs wasm backend's BatchMatMul (src/backend/native.ts).
 *
 * Why dlopen and not -lopenblas: the addon then builds with a C compiler and Node's headers alone
 * (no libopenblas-dev), and loads whichever CBLAS the machine has (Debian's libopenblas0 by
 * default, or the library named by STEPWISE_BLAS). Without one it still loads and reports why.
 *
 * The operands are Float32Arrays that are views on the wasm heap (tfjs tensors), so nothing is
 * copied; the caller guarantees nothing grows that heap during a call (no JS runs inside).
 *
 * Exports:
 *   load(paths: string[]) -> string | null     open the first CBLAS that loads; null or an error text
 *   sgemm(transA, transB, batch, m, n, k, a, aStride, b, bStride, c)
 *       for i < batch: C_i[m,n] = op(A_i) @ op(B_i), row-major, A_i = a + i*aStride (floats), ...
 *   setThreads(n), threads() -> n, info() -> {library, corename, config, blasThreads}
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "common.h"

typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*get_str_fn)(void);

sgemm_fn cblas_sgemm = NULL;
sgemv_fn cblas_sgemv = NULL;
static set_threads_fn set_threads = NULL;
static get_threads_fn get_threads = NULL;
static get_str_fn get_corename = NULL, get_config = NULL;
static char lib_path[1024] = "";

/* Below this many multiply-adds a product is done here (a BLAS call's fixed cost dominates it). */
#define SMALL_MACS 4096
/*
 * A batch of products each below SLICE_MACS (attention's [B*H] slices) is split across our own
 * threads, each slice on a single-threaded BLAS call: waking the BLAS's own workers for every
 * small slice costs more than the slice (measured: 128 x [128,32]@[32,128] took 1.8 ms on one
 * thread and up to 130 ms on two OpenBLAS threads on a loaded machine). Larger products use the
 * BLAS's threads. Each slice is computed by exactly one call either way, so results do not
 * depend on how the batch was split.
 */
#define SLICE_MACS (1 << 22)
#define MIN_SPLIT_MACS (1 << 20)
#define MIN_THREADED_GEMV (1 << 20)
#define MAX_THREADS 64

int threads_wanted = 1; /* setThreads(n) */
static int blas_threads_now = -1; /* what the BLAS is set to now */

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      napi_throw_error(env, NULL, "stepwise_native: N-API call failed: " #call);                   \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

static napi_value throw_msg(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value load(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_value result;
  if (cblas_sgemm) {
    CHECK(napi_get_null(env, &result));
    return result;
  }
  uint32_t count = 0;
  if (argc < 1 || napi_get_array_length(env, argv[0], &count) != napi_ok) return throw_msg(env, "load(paths: string[])");
  char errors[4096] = "";
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    char path[1024];
    size_t len = 0;
    CHECK(napi_get_element(env, argv[0], i, &item));
    if (napi_get_value_string_utf8(env, item, path, sizeof path, &len) != napi_ok) continue;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      size_t used = strlen(errors);
      snprintf(errors + used, sizeof errors - used, "%s%s", used ? "; " : "", dlerror());
      continue;
    }
    sgemm_fn f = (sgemm_fn)dlsym(h, "cblas_sgemm");
    if (!f) {
      size_t used = strlen(errors);
      snprintf(errors + used, sizeof errors - used, "%s%s: no cblas_sgemm", used ? "; " : "", path);
      dlclose(h);
      continue;
    }
    cblas_sgemm = f;
    cblas_sgemv = (sgemv_fn)dlsym(h, "cblas_sgemv");
    set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
    get_threads = (get_threads_fn)dlsym(h, "openblas_get_num_threads");
    get_corename = (get_str_fn)dlsym(h, "openblas_get_corename");
    get_config = (get_str_fn)dlsym(h, "openblas_get_config");
    snprintf(lib_path, sizeof lib_path, "%s", path);
    CHECK(napi_get_null(env, &result));
    return result;
  }
  CHECK(napi_create_string_utf8(env, errors[0] ? errors : "no library path given", NAPI_AUTO_LENGTH, &result));
  return result;
}

/* A typed array of the given type: its data pointer and length in elements. */
static int typed_array(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  napi_typedarray_type type;
  napi_value buf;
  size_t off;
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  return napi_get_typedarray_info(env, v, &type, len, data, &buf, &off) == napi_ok && type == want;
}

int arg_f32(napi_env env, napi_value v, float **data, size_t *len) {
  return typed_array(env, v, napi_float32_array, (void **)data, len);
}

int arg_f32_or_null(napi_env env, napi_value v, float **data, size_t *len) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (t == napi_null || t == napi_undefined) {
    *data = NULL;
    *len = 0;
    return 1;
  }
  return arg_f32(env, v, data, len);
}

int arg_i32(napi_env env, napi_value v, int32_t **data, size_t *len) {
  return typed_array(env, v, napi_int32_array, (void **)data, len);
}

int arg_i64(napi_env env, napi_value v, int64_t *out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

int arg_f64(napi_env env, napi_value v, double *out) {
  return napi_get_value_double(env, v, out) == napi_ok;
}

typedef struct {
  range_fn fn;
  void *ctx;
  int64_t from, to;
} range_job;

/*
 * A pool of worker threads, started on first use and kept: creating and joining a thread per
 * call cost ~0.1 ms, as much as a decoding step's matrix-vector product of a 1024 x 1024 weight.
 * A worker spins for a while after each job (the next call usually comes within microseconds in
 * a sampling loop) and then sleeps on a condition variable. A parallel_for inside a worker (a
 * kernel calling another) runs serially there.
 */
#define SPIN_ROUNDS 20000 /* pause instructions before a worker sleeps: ~0.5 ms on the project's EPYC */

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER, pool_dispatch = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER, pool_done = PTHREAD_COND_INITIALIZER;
static int pool_started = 0;
static range_job pool_jobs[MAX_THREADS];
static int pool_parts = 0;
static _Atomic uint64_t pool_generation = 0;
static _Atomic int pool_pending = 0;
static _Thread_local bool in_worker = false;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void *pool_worker(void *arg) {
  const int id = (int)(intptr_t)arg;
  in_worker = true;
  uint64_t seen = 0;
  for (;;) {
    uint64_t g;
    int spins = 0;
    while ((g = atomic_load_explicit(&pool_generation, memory_order_acquire)) == seen && spins < SPIN_ROUNDS) {
      cpu_relax();
      spins++;
    }
    if (g == seen) {
      pthread_mutex_lock(&pool_mu);
      while ((g = atomic_load_explicit(&pool_generation, memory_order_acquire)) == seen) pthread_cond_wait(&pool_wake, &pool_mu);
      pthread_mutex_unlock(&pool_mu);
    }
    seen = g;
    if (id < pool_parts) {
      const range_job *j = &pool_jobs[id];
      j->fn(j->ctx, j->from, j->to);
      if (atomic_fetch_sub_explicit(&pool_pending, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_lock(&pool_mu);
        pthread_cond_signal(&pool_done);
        pthread_mutex_unlock(&pool_mu);
      }
    }
  }
  return NULL;
}

/* start workers 1 .. n-1 (part 0 runs on the calling thread); how many are running */
static int pool_ensure(int n) {
  while (pool_started < n - 1) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    const int ok = pthread_create(&t, &attr, pool_worker, (void *)(intptr_t)(pool_started + 1)) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) break;
    pool_started++;
  }
  return pool_started + 1;
}

void parallel_for(int64_t n, int64_t grain, range_fn fn, void *ctx) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int64_t parts = n / grain;
  if (parts > threads_wanted) parts = threads_wanted;
  if (parts > MAX_THREADS) parts = MAX_THREADS;
  /* one dispatch at a time (a second caller, e.g. another Node worker thread, runs serially) */
  if (parts <= 1 || in_worker || pthread_mutex_trylock(&pool_dispatch) != 0) {
    fn(ctx, 0, n);
    return;
  }
  const int avail = pool_ensure((int)parts);
  if (parts > avail) parts = avail;
  if (parts <= 1) {
    pthread_mutex_unlock(&pool_dispatch);
    fn(ctx, 0, n);
    return;
  }
  for (int p = 0; p < parts; p++) pool_jobs[p] = (range_job){fn, ctx, n * p / parts, n * (p + 1) / parts};
  /* workers with an id >= parts see the new generation and skip it */
  pool_parts = (int)parts;
  atomic_store_explicit(&pool_pending, (int)parts - 1, memory_order_release);
  pthread_mutex_lock(&pool_mu);
  atomic_fetch_add_explicit(&pool_generation, 1, memory_order_acq_rel);
  pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_mu);
  fn(ctx, pool_jobs[0].from, pool_jobs[0].to);
  int spins = 0;
  while (atomic_load_explicit(&pool_pending, memory_order_acquire) > 0 && spins < SPIN_ROUNDS) {
    cpu_relax();
    spins++;
  }
  if (atomic_load_explicit(&pool_pending, memory_order_acquire) > 0) {
    pthread_mutex_lock(&pool_mu);
    while (atomic_load_explicit(&pool_pending, memory_order_acquire) > 0) pthread_cond_wait(&pool_done, &pool_mu);
    pthread_mutex_unlock(&pool_mu);
  }
  pthread_mutex_unlock(&pool_dispatch);
}

/* C[m,n] = op(A) @ op(B) for one small product: plain loops (the compiler vectorises the inner one). */
static void small_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, const float *b, float *c) {
  for (int64_t i = 0; i < m; i++) {
    float *ci = c + i * n;
    for (int64_t j = 0; j < n; j++) ci[j] = 0.0f;
    for (int64_t p = 0; p < k; p++) {
      const float av = ta ? a[p * m + i] : a[i * k + p];
      if (!tb) {
        const float *bp = b + p * n;
        for (int64_t j = 0; j < n; j++) ci[j] += av * bp[j];
      } else {
        for (int64_t j = 0; j < n; j++) ci[j] += av * b[j * k + p];
      }
    }
  }
}

void blas_threads(int n) {
  if (set_threads && blas_threads_now != n) {
    set_threads(n);
    blas_threads_now = n;
  }
}

typedef struct {
  bool ta, tb;
  int64_t from, to, m, n, k, as, bs;
  const float *a, *b;
  float *c;
} job;

static void run_slices(const job *j) {
  const int lda = j->ta ? (int)j->m : (int)j->k, ldb = j->tb ? (int)j->k : (int)j->n;
  const int small = j->m * j->n * j->k < SMALL_MACS;
  for (int64_t i = j->from; i < j->to; i++) {
    const float *ai = j->a + i * j->as, *bi = j->b + i * j->bs;
    float *ci = j->c + i * j->m * j->n;
    if (j->k == 0) {
      memset(ci, 0, sizeof(float) * j->m * j->n);
    } else if (small) {
      small_gemm(j->ta, j->tb, j->m, j->n, j->k, ai, bi, ci);
    } else if (j->m == 1 && !j->ta) {
      /* one row (decoding at batch 1): a matrix-vector product streams B once, where a GEMM
         would first copy it into packed panels; on our threads when this is the only product
         (kernels.c gemv_threaded: the BLAS's own threaded GEMV read a model's weights at 9-14
         GB/s, ours at ~20). A nested call (a slice of a parallel batch) runs it serially. */
      if (j->to - j->from == 1) gemv_threaded(ai, bi, ci, j->k, j->n, j->tb, false);
      else if (j->tb) cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)j->n, (int)j->k, 1.0f, bi, (int)j->k, ai, 1, 0.0f, ci, 1);
      else cblas_sgemv(CblasRowMajor, CblasTrans, (int)j->k, (int)j->n, 1.0f, bi, (int)j->n, ai, 1, 0.0f, ci, 1);
    } else {
      cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, (int)j->m,
                  (int)j->n, (int)j->k, 1.0f, ai, lda, bi, ldb, 0.0f, ci, (int)j->n);
    }
  }
}

/* rows (or columns) per chunk of a split product: thinner parts are slow in the BLAS's kernels */
#define SPLIT_ROWS 16

typedef struct {
  bool ta, tb, by_columns;
  int64_t m, n, k;
  float alpha, beta;
  const float *a, *b;
  float *c;
} split_job;

/* chunks [from, to) of SPLIT_ROWS rows of C (or columns, by_columns) */
static void split_part(void *ctx, int64_t from, int64_t to) {
  const split_job *j = ctx;
  const int64_t extent = j->by_columns ? j->n : j->m;
  const int64_t p0 = from * SPLIT_ROWS, p1 = to * SPLIT_ROWS < extent ? to * SPLIT_ROWS : extent;
  const int lda = j->ta ? (int)j->m : (int)j->k, ldb = j->tb ? (int)j->k : (int)j->n, ldc = (int)j->n;
  const float *a = j->a, *b = j->b;
  float *c = j->c;
  int64_t m = j->m, n = j->n;
  if (j->by_columns) { /* C[:, p0:p1] = op(A) op(B)[:, p0:p1] */
    b += j->tb ? p0 * j->k : p0;
    c += p0;
    n = p1 - p0;
  } else { /* C[p0:p1, :] = op(A)[p0:p1, :] op(B) */
    a += j->ta ? p0 : p0 * j->k;
    c += p0 * j->n;
    m = p1 - p0;
  }
  cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)j->k,
              j->alpha, a, lda, b, ldb, j->beta, c, ldc);
}

/*
 * Split along the rows of C when op(B) is the smaller operand (each thread then reads all of it),
 * along the columns when op(A) is: decoding's [64, 128] @ [128, 384] reads the weight once, in
 * halves, instead of twice (row halves ran at 145 us per product in a sampling loop, one thread
 * at 106 us: the weight comes from the shared cache each time).
 */
void sgemm_split(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, const float *b,
                 float beta, float *c) {
  const bool by_columns = m * k < k * n;
  split_job j = {ta, tb, by_columns, m, n, k, alpha, beta, a, b, c};
  const int64_t chunks = ((by_columns ? n : m) + SPLIT_ROWS - 1) / SPLIT_ROWS;
  blas_threads(1);
  if (chunks >= 2 && threads_wanted > 1) parallel_for(chunks, 1, split_part, &j);
  else split_part(&j, 0, chunks);
}

static void slices_range(void *ctx, int64_t from, int64_t to) {
  job j = *(const job *)ctx;
  j.from = from;
  j.to = to;
  run_slices(&j);
}

static napi_value sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 11) return throw_msg(env, "sgemm(transA, transB, batch, m, n, k, a, aStride, b, bStride, c): 11 arguments");
  if (!cblas_sgemm) return throw_msg(env, "sgemm: no BLAS loaded (call load first)");
  bool ta, tb;
  int64_t batch, m, n, k, as, bs;
  float *a, *b, *c;
  size_t al, bl, cl;
  if (napi_get_value_bool(env, argv[0], &ta) != napi_ok || napi_get_value_bool(env, argv[1], &tb) != napi_ok ||
      !arg_i64(env, argv[2], &batch) || !arg_i64(env, argv[3], &m) || !arg_i64(env, argv[4], &n) || !arg_i64(env, argv[5], &k) ||
      !arg_f32(env, argv[6], &a, &al) || !arg_i64(env, argv[7], &as) || !arg_f32(env, argv[8], &b, &bl) ||
      !arg_i64(env, argv[9], &bs) || !arg_f32(env, argv[10], &c, &cl))
    return throw_msg(env, "sgemm: argument types are (bool, bool, int x4, Float32Array, int, Float32Array, int, Float32Array)");
  if (batch < 0 || m < 0 || n < 0 || k < 0 || as < 0 || bs < 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
    return throw_msg(env, "sgemm: negative or too large sizes");
  /* bounds: every slice must lie inside its array (a wrong size would write outside a tensor) */
  if (batch > 0 && ((uint64_t)(batch - 1) * as + m * k > al || (uint64_t)(batch - 1) * bs + k * n > bl ||
                    (uint64_t)batch * m * n > cl))
    return throw_msg(env, "sgemm: an operand is smaller than batch, sizes and strides say");
  const int64_t macs = m * n * k;
  job whole = {ta, tb, 0, batch, m, n, k, as, bs, a, b, c};
  int parts = threads_wanted < batch ? threads_wanted : (int)batch;
  if (parts > 1 && macs < SLICE_MACS && macs * batch >= MIN_SPLIT_MACS) {
    /* 1) many small slices: our threads over the batch, one BLAS thread each */
    blas_threads(1);
    parallel_for(batch, 1, slices_range, &whole);
  } else {
    /* 2) one product of two or more rows: split across our threads (sgemm_split); else (few
       slices, or one row) the BLAS's own threads, unless the whole call is small: waking the
       BLAS's workers costs more than they save there (sampling ran 15% faster on one thread) */
    if (batch == 1 && (m >= 2 * SPLIT_ROWS || n >= 2 * SPLIT_ROWS) && m > 1 && k > 0 && macs >= SMALL_MACS) {
      sgemm_split(ta, tb, m, n, k, 1.0f, a, b, 0.0f, c);
    } else {
      const bool gemv = m == 1 && n * k >= MIN_THREADED_GEMV; /* bandwidth-bound: more cores read faster */
      blas_threads(macs * batch < MIN_THREADED_MACS && !gemv ? 1 : threads_wanted);
      run_slices(&whole);
    }
  }
  return NULL;
}

static napi_value set_threads_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n = 1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1 || n > MAX_THREADS)
    return throw_msg(env, "setThreads(n): 1 <= n <= 64");
  threads_wanted = n;
  blas_threads(n);
  return NULL;
}

static napi_value threads_js(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  CHECK(napi_create_int32(env, threads_wanted, &r));
  return r;
}

static napi_value str_or_null(napi_env env, const char *s) {
  napi_value r;
  if (s) {
    if (napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &r) != napi_ok) return NULL;
  } else if (napi_get_null(env, &r) != napi_ok) return NULL;
  return r;
}

static napi_value info_js(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value o;
  CHECK(napi_create_object(env, &o));
  CHECK(napi_set_named_property(env, o, "library", str_or_null(env, cblas_sgemm ? lib_path : NULL)));
  CHECK(napi_set_named_property(env, o, "corename", str_or_null(env, get_corename ? get_corename() : NULL)));
  CHECK(napi_set_named_property(env, o, "config", str_or_null(env, get_config ? get_config() : NULL)));
  napi_value bt;
  CHECK(napi_create_int32(env, get_threads ? get_threads() : 1, &bt));
  CHECK(napi_set_named_property(env, o, "blasThreads", bt));
  return o;
}

/*
 * The interface version: src/backend/native.ts refuses an addon whose version differs from the one
 * it was written for (an addon built before a kernel's arguments changed would fail mid-run).
 * Raise it with every change to an export's arguments.
 */
#define STEPWISE_NATIVE_ABI 2

static napi_value abi_js(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  CHECK(napi_create_int32(env, STEPWISE_NATIVE_ABI, &r));
  return r;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"load", NULL, load, NULL, NULL, NULL, napi_default, NULL},
      {"sgemm", NULL, sgemm, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, set_threads_js, NULL, NULL, NULL, napi_default, NULL},
      {"threads", NULL, threads_js, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, info_js, NULL, NULL, NULL, napi_default, NULL},
      {"abi", NULL, abi_js, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  if (kernels_register(env, exports) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
