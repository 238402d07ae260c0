/*
 * purenet.c -- the C engine of purenet (C99 + libm; GCC vector extensions and
 * target_clones are used when the compiler has them, with plain C otherwise).
 *
 * Every routine does the IEEE double operations of purenet/reference.py in the
 * same order, so results are identical bit for bit:
 *   - a sum starts from 0.0 and adds its terms in the reference's order (inputs k
 *     ascending; samples in batch order), never split into partial sums;
 *   - terms whose input a_k is exactly 0 are skipped, as the reference skips them;
 *   - sigma(z) = 1/(1+exp(-z)) for z >= 0, else e/(1+e) with e = exp(z) (libm exp);
 *   - sigma'(z) = s*(1.0-s), s = sigma(z) (== the activation a);
 *   - w = w - (lr/m) * sum.
 * SIMD is used only *across independent outputs* (j, or samples), never inside a
 * sum.  Compile with -ffp-contract=off (no fused multiply-add) and never with
 * -ffast-math: see build_ext.py.
 *
 * The fast path (pn_train_batches) per mini-batch of m samples:
 *   - the non-zero inputs (k, x) of every sample are gathered into a list (pixels
 *     through the 256-entry table; zero pixels skipped 8 at a time); this is done
 *     for batch b+1 while batch b is computed, and batch b+2's rows are prefetched;
 *   - forward, layer by layer, with the weights transposed (wT[k][j]):
 *     z[j] += wT[k][j] * x_k over the sample's non-zero k, vectorised across j with
 *     up to 13 x 4 running sums in registers; the rows k are taken in chunks that
 *     stay in L1 while every sample of the batch uses them;
 *   - the output errors, then the hidden errors (vectorised across samples);
 *   - per weight layer: the bias sums, and for every input k that is non-zero in
 *     some sample of the batch (the "touched" rows) the gradient row
 *     g[j] = sum over those samples (batch order) of delta[s][j] * x_s[k] with the
 *     update wT[k][j] -= (lr/m) * g[j] fused into it (each touched row is read and
 *     written once per mini-batch).  Untouched rows have a zero gradient and are
 *     left as they are, exactly like the reference.
 * With threads = 2 the first weight layer is split by its output neurons (see
 * run_batches): every number is computed by the same operations in the same
 * order whatever the thread count.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "purenet.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(_WIN32) && !defined(PN_NO_THREADS)
#define PN_THREADS 1
#include <pthread.h>
#include <sched.h>
#else
#define PN_THREADS 0
#endif

/* ------------------------------------------------------------------------- */
/* Compiler support                                                           */

#if (defined(__GNUC__) || defined(__clang__)) && !defined(PN_NO_VECTOR)
#define PN_VEC 1
typedef double pn_v4 __attribute__((vector_size(32)));
#define PN_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define PN_VEC 0
#define PN_ALWAYS_INLINE static inline
#endif

/* target_clones: one AVX2 and one baseline copy of the hot loops, picked at load
 * time.  -ffp-contract=off keeps FMA out of the AVX2 copy (the AVX2 ISA does not
 * include FMA anyway), so both copies give the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && (__GNUC__ >= 6) && \
    defined(__x86_64__) && defined(__linux__) && !defined(PN_NO_CLONES)
#define PN_CLONES __attribute__((target_clones("avx2", "default")))
#define PN_HAVE_CLONES 1
#else
#define PN_CLONES
#define PN_HAVE_CLONES 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PN_ATOMIC_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define PN_ATOMIC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define PN_ATOMIC_ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)
#define PN_HAVE_ATOMICS 1
#else
#define PN_HAVE_ATOMICS 0
#endif

/* ------------------------------------------------------------------------- */
/* Errors and sizes                                                           */

const char *pn_strerror(int code)
{
    switch (code) {
    case PN_OK: return "ok";
    case PN_ERR_NULL: return "a required buffer is NULL";
    case PN_ERR_SIZES: return "invalid layer sizes (need at least 2 layers, each of 1 to 16777216 neurons, at most 1024 layers)";
    case PN_ERR_PARAMS: return "parameter buffer length does not match the layer sizes";
    case PN_ERR_DATA: return "dataset is inconsistent with itself or with the network (lengths, input/target widths, missing inputs or targets)";
    case PN_ERR_INDEX: return "a sample index is out of range";
    case PN_ERR_BATCH: return "invalid batch sizes (each must be >= 1 and together they must cover the index list exactly)";
    case PN_ERR_LABEL: return "a label is not smaller than the number of output neurons";
    case PN_ERR_RANGE: return "invalid sample range or output buffer length";
    case PN_ERR_THREADS: return "invalid thread count, or a worker thread could not be started";
    case PN_ERR_NOMEM: return "out of memory for the C engine's scratch buffers";
    default: return "unknown purenet error code";
    }
}

static int mul_size(size_t a, size_t b, size_t *r)
{
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *r = a * b;
    return 1;
}

static int check_sizes(const int *sizes, int n_layers)
{
    int l;
    if (sizes == NULL) return PN_ERR_NULL;
    if (n_layers < 2 || n_layers > PN_MAX_LAYERS) return PN_ERR_SIZES;
    for (l = 0; l < n_layers; l++)
        if (sizes[l] < 1 || sizes[l] > PN_MAX_SIZE) return PN_ERR_SIZES;
    return PN_OK;
}

size_t pn_param_count(const int *sizes, int n_layers)
{
    size_t total = 0, t;
    int l;
    if (check_sizes(sizes, n_layers) != PN_OK) return 0;
    for (l = 0; l + 1 < n_layers; l++) {
        if (!mul_size((size_t)sizes[l], (size_t)sizes[l + 1], &t)) return 0;
        if (t > SIZE_MAX - total) return 0;
        total += t;
        if ((size_t)sizes[l + 1] > SIZE_MAX - total) return 0;
        total += (size_t)sizes[l + 1];
    }
    return total;
}

/* Row length of layer l's transposed weights in the fast layout: sizes[l+1]
 * rounded up to a multiple of 8 doubles, so that every row starts on a 64-byte
 * cache line (vector loads never straddle lines, and two threads that own
 * different column ranges never write to the same line). */
#define PN_PAD 8
static size_t pad_row(int n) { return ((size_t)n + PN_PAD - 1) / PN_PAD * PN_PAD; }

size_t pn_fast_param_count(const int *sizes, int n_layers)
{
    size_t total = 0, t;
    int l;
    if (check_sizes(sizes, n_layers) != PN_OK) return 0;
    for (l = 0; l + 1 < n_layers; l++) {
        size_t ld = pad_row(sizes[l + 1]);
        if (!mul_size((size_t)sizes[l] + 1, ld, &t)) return 0;
        if (t > SIZE_MAX - total) return 0;
        total += t;
    }
    return total;
}

static int check_fast_params(const int *sizes, int n_layers, const double *params, size_t n_params)
{
    int rc = check_sizes(sizes, n_layers);
    if (rc != PN_OK) return rc;
    if (params == NULL) return PN_ERR_NULL;
    if (n_params != pn_fast_param_count(sizes, n_layers)) return PN_ERR_PARAMS;
    return PN_OK;
}

static int check_params(const int *sizes, int n_layers, const double *params, size_t n_params)
{
    int rc = check_sizes(sizes, n_layers);
    if (rc != PN_OK) return rc;
    if (params == NULL) return PN_ERR_NULL;
    if (n_params != pn_param_count(sizes, n_layers)) return PN_ERR_PARAMS;
    return PN_OK;
}

static int max_size(const int *sizes, int n_layers)
{
    int l, mx = 0;
    for (l = 0; l < n_layers; l++) if (sizes[l] > mx) mx = sizes[l];
    return mx;
}

/* ========================================================================= */
/* Layer 1: the textbook routines (textbook layout: w[j][k] row-major, then b) */

double pn_sigmoid(double z)
{
    double e;
    if (z >= 0.0) return 1.0 / (1.0 + exp(-z));
    e = exp(z);
    return e / (1.0 + e);
}

double pn_sigmoid_prime(double z)
{
    double s = pn_sigmoid(z);
    return s * (1.0 - s);
}

static void weighted_sums(int n_out, int n_in, const double *w, const double *a,
                          const double *b, double *z)
{
    int j, k;
    for (j = 0; j < n_out; j++) {
        const double *row = w + (size_t)j * n_in;
        double s = 0.0;
        for (k = 0; k < n_in; k++)          /* sum_k w_jk a_k, k ascending, a_k != 0 */
            if (a[k] != 0.0) s += row[k] * a[k];
        z[j] = s + b[j];                   /* ... + b_j */
    }
}

int pn_weighted_sums(int n_out, int n_in, const double *w, const double *a,
                     const double *b, double *z)
{
    if (!w || !a || !b || !z) return PN_ERR_NULL;
    if (n_out < 1 || n_in < 1 || n_out > PN_MAX_SIZE || n_in > PN_MAX_SIZE) return PN_ERR_SIZES;
    weighted_sums(n_out, n_in, w, a, b, z);
    return PN_OK;
}

static void output_error(int n, const double *a, const double *y, const double *z, double *delta)
{
    int j;
    for (j = 0; j < n; j++)
        delta[j] = (a[j] - y[j]) * pn_sigmoid_prime(z[j]);
}

int pn_output_error(int n, const double *a, const double *y, const double *z, double *delta)
{
    if (!a || !y || !z || !delta) return PN_ERR_NULL;
    if (n < 1 || n > PN_MAX_SIZE) return PN_ERR_SIZES;
    output_error(n, a, y, z, delta);
    return PN_OK;
}

static void backward_error(int n_next, int n, const double *w_next, const double *delta_next,
                           const double *z, double *delta)
{
    int j, k;
    for (k = 0; k < n; k++) {
        double s = 0.0;
        for (j = 0; j < n_next; j++)       /* ((w^{l+1})^T delta^{l+1})_k, j ascending */
            s += w_next[(size_t)j * n + k] * delta_next[j];
        delta[k] = s * pn_sigmoid_prime(z[k]);
    }
}

int pn_backward_error(int n_next, int n, const double *w_next, const double *delta_next,
                      const double *z, double *delta)
{
    if (!w_next || !delta_next || !z || !delta) return PN_ERR_NULL;
    if (n < 1 || n_next < 1 || n > PN_MAX_SIZE || n_next > PN_MAX_SIZE) return PN_ERR_SIZES;
    backward_error(n_next, n, w_next, delta_next, z, delta);
    return PN_OK;
}

/* Offsets of layer l's weights and biases in a parameter buffer (either layout). */
static void layer_offsets(const int *sizes, int n_layers, size_t *w_off, size_t *b_off)
{
    size_t pos = 0;
    int l;
    for (l = 0; l + 1 < n_layers; l++) {
        w_off[l] = pos;
        pos += (size_t)sizes[l] * (size_t)sizes[l + 1];
        b_off[l] = pos;
        pos += (size_t)sizes[l + 1];
    }
}

/* Scratch for the textbook routines: offsets, zs, activations, deltas. */
typedef struct {
    size_t *w_off, *b_off;
    double **zs, **acts, **deltas;   /* zs[l], acts[l+1], deltas[l]: layer l+1 */
    double *mem;
} tb_work;

static void tb_free(tb_work *t)
{
    free(t->w_off); free(t->b_off); free(t->zs); free(t->acts); free(t->deltas); free(t->mem);
}

static int tb_alloc(tb_work *t, const int *sizes, int n_layers)
{
    int L = n_layers - 1, l;
    size_t total = 0, pos = 0;
    memset(t, 0, sizeof *t);
    for (l = 1; l < n_layers; l++) total += 3 * (size_t)sizes[l];
    t->w_off = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    t->b_off = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    t->zs = (double **)malloc(sizeof(double *) * (size_t)L);
    t->acts = (double **)malloc(sizeof(double *) * (size_t)n_layers);
    t->deltas = (double **)malloc(sizeof(double *) * (size_t)L);
    t->mem = (double *)malloc(sizeof(double) * total);
    if (!t->w_off || !t->b_off || !t->zs || !t->acts || !t->deltas || !t->mem) {
        tb_free(t);
        return PN_ERR_NOMEM;
    }
    layer_offsets(sizes, n_layers, t->w_off, t->b_off);
    t->acts[0] = NULL;
    for (l = 0; l < L; l++) {
        size_t n = (size_t)sizes[l + 1];
        t->zs[l] = t->mem + pos; pos += n;
        t->acts[l + 1] = t->mem + pos; pos += n;
        t->deltas[l] = t->mem + pos; pos += n;
    }
    return PN_OK;
}

/* forward_pass: zs and activations of every layer (acts[0] = x). */
static void tb_forward_pass(tb_work *t, const int *sizes, int n_layers, const double *params,
                            const double *x)
{
    int l, j;
    const double *a = x;
    for (l = 0; l + 1 < n_layers; l++) {
        weighted_sums(sizes[l + 1], sizes[l], params + t->w_off[l], a, params + t->b_off[l], t->zs[l]);
        for (j = 0; j < sizes[l + 1]; j++) t->acts[l + 1][j] = pn_sigmoid(t->zs[l][j]);
        a = t->acts[l + 1];
    }
}

/* backward_pass: the deltas of every layer, output layer first. */
static void tb_backward_pass(tb_work *t, const int *sizes, int n_layers, const double *params,
                             const double *y)
{
    int L = n_layers - 1, l;
    output_error(sizes[L], t->acts[L], y, t->zs[L - 1], t->deltas[L - 1]);
    for (l = L - 2; l >= 0; l--)
        backward_error(sizes[l + 2], sizes[l + 1], params + t->w_off[l + 1], t->deltas[l + 1],
                       t->zs[l], t->deltas[l]);
}

int pn_feedforward(const int *sizes, int n_layers, const double *params, size_t n_params,
                   const double *x, double *out)
{
    tb_work t;
    int rc = check_params(sizes, n_layers, params, n_params);
    if (rc != PN_OK) return rc;
    if (!x || !out) return PN_ERR_NULL;
    if ((rc = tb_alloc(&t, sizes, n_layers)) != PN_OK) return rc;
    tb_forward_pass(&t, sizes, n_layers, params, x);
    memcpy(out, t.acts[n_layers - 1], sizeof(double) * (size_t)sizes[n_layers - 1]);
    tb_free(&t);
    return PN_OK;
}

int pn_backprop(const int *sizes, int n_layers, const double *params, size_t n_params,
                const double *x, const double *y, double *grad)
{
    tb_work t;
    int l, j, k, L = n_layers - 1;
    int rc = check_params(sizes, n_layers, params, n_params);
    if (rc != PN_OK) return rc;
    if (!x || !y || !grad) return PN_ERR_NULL;
    if ((rc = tb_alloc(&t, sizes, n_layers)) != PN_OK) return rc;
    tb_forward_pass(&t, sizes, n_layers, params, x);
    tb_backward_pass(&t, sizes, n_layers, params, y);
    for (l = 0; l < L; l++) {
        const double *a = l == 0 ? x : t.acts[l], *d = t.deltas[l];
        double *nw = grad + t.w_off[l], *nb = grad + t.b_off[l];
        for (j = 0; j < sizes[l + 1]; j++) {
            nb[j] = d[j];                                       /* dC/db = delta */
            for (k = 0; k < sizes[l]; k++)
                nw[(size_t)j * sizes[l] + k] = d[j] * a[k];     /* dC/dw = delta a^T */
        }
    }
    tb_free(&t);
    return PN_OK;
}

int pn_update_mini_batch(const int *sizes, int n_layers, double *params, size_t n_params,
                         const double *xs, const double *ys, int m, double lr)
{
    tb_work t;
    double *nabla, scale;
    unsigned char *touched;
    size_t *t_off, tpos = 0;
    int L = n_layers - 1, l, j, k, s;
    int rc = check_params(sizes, n_layers, params, n_params);
    if (rc != PN_OK) return rc;
    if (!xs || !ys) return PN_ERR_NULL;
    if (m < 1) return PN_ERR_BATCH;
    if ((rc = tb_alloc(&t, sizes, n_layers)) != PN_OK) return rc;
    nabla = (double *)calloc(n_params, sizeof(double));
    t_off = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    for (l = 0; l < L; l++) tpos += (size_t)sizes[l];
    touched = (unsigned char *)calloc(tpos, 1);
    if (!nabla || !t_off || !touched) {
        free(nabla); free(t_off); free(touched); tb_free(&t);
        return PN_ERR_NOMEM;
    }
    for (tpos = 0, l = 0; l < L; l++) { t_off[l] = tpos; tpos += (size_t)sizes[l]; }
    for (s = 0; s < m; s++) {
        const double *x = xs + (size_t)s * sizes[0], *y = ys + (size_t)s * sizes[L];
        tb_forward_pass(&t, sizes, n_layers, params, x);
        tb_backward_pass(&t, sizes, n_layers, params, y);
        for (l = 0; l < L; l++) {
            const double *a = l == 0 ? x : t.acts[l], *delta = t.deltas[l];
            double *nb = nabla + t.b_off[l], *nw = nabla + t.w_off[l];
            unsigned char *tl = touched + t_off[l];
            for (k = 0; k < sizes[l]; k++) if (a[k] != 0.0) tl[k] = 1;
            for (j = 0; j < sizes[l + 1]; j++) {
                double d = delta[j], *row = nw + (size_t)j * sizes[l];
                nb[j] += d;                                     /* sum dC/db_j = sum delta_j */
                for (k = 0; k < sizes[l]; k++)
                    if (a[k] != 0.0) row[k] += d * a[k];        /* sum dC/dw_jk = sum delta_j a_k */
            }
        }
    }
    scale = lr / (double)m;                                     /* eta/m */
    for (l = 0; l < L; l++) {
        double *w = params + t.w_off[l], *b = params + t.b_off[l];
        const double *nw = nabla + t.w_off[l], *nb = nabla + t.b_off[l];
        const unsigned char *tl = touched + t_off[l];
        for (j = 0; j < sizes[l + 1]; j++) {
            double *row = w + (size_t)j * sizes[l];
            const double *g = nw + (size_t)j * sizes[l];
            b[j] = b[j] - scale * nb[j];
            for (k = 0; k < sizes[l]; k++)
                if (tl[k]) row[k] = row[k] - scale * g[k];
        }
    }
    free(nabla); free(t_off); free(touched); tb_free(&t);
    return PN_OK;
}

/* ========================================================================= */
/* Layouts                                                                    */

static int convert(const int *sizes, int n_layers, const double *textbook, size_t n_textbook,
                   double *fast, size_t n_fast, int to_fast)
{
    size_t tpos = 0, fpos = 0;
    int l, j, k, rc;
    if (to_fast) rc = check_params(sizes, n_layers, textbook, n_textbook);
    else rc = check_fast_params(sizes, n_layers, fast, n_fast);
    if (rc != PN_OK) return rc;
    if (!textbook || !fast) return PN_ERR_NULL;
    if (n_textbook != pn_param_count(sizes, n_layers) ||
        n_fast != pn_fast_param_count(sizes, n_layers)) return PN_ERR_PARAMS;
    for (l = 0; l + 1 < n_layers; l++) {
        int n_in = sizes[l], n_out = sizes[l + 1];
        size_t ld = pad_row(n_out);
        double *ft = fast + fpos;
        const double *cft = ft;
        for (k = 0; k < n_in; k++)
            for (j = 0; j < n_out; j++) {
                size_t tb = tpos + (size_t)j * n_in + k, fi = (size_t)k * ld + j;
                if (to_fast) ft[fi] = textbook[tb]; else ((double *)textbook)[tb] = cft[fi];
            }
        if (to_fast)
            for (k = 0; k <= n_in; k++)
                for (j = n_out; j < (int)ld; j++) ft[(size_t)k * ld + j] = 0.0;   /* padding */
        tpos += (size_t)n_in * n_out;
        fpos += (size_t)n_in * ld;
        for (j = 0; j < n_out; j++) {
            if (to_fast) fast[fpos + j] = textbook[tpos + j];
            else ((double *)textbook)[tpos + j] = fast[fpos + j];
        }
        tpos += (size_t)n_out;
        fpos += ld;
    }
    return PN_OK;
}

int pn_to_fast(const int *sizes, int n_layers, const double *textbook, size_t n_textbook,
               double *fast, size_t n_fast)
{
    return convert(sizes, n_layers, textbook, n_textbook, fast, n_fast, 1);
}

int pn_from_fast(const int *sizes, int n_layers, const double *fast, size_t n_fast,
                 double *textbook, size_t n_textbook)
{
    return convert(sizes, n_layers, (double *)textbook, n_textbook, (double *)fast, n_fast, 0);
}

/* ========================================================================= */
/* Layer 2: the fast path                                                     */

/* rowsum: out[c] = sum over t = 0..n-1 of base[rows[t]*ld + c] * xv[t], for
 * c = 0..nc-1, each sum from 0.0 with t ascending.  This one kernel is every
 * product of the fast path:
 *   forward:   base = wT (rows k = non-zero inputs),   xv = the inputs x_k;
 *   gradient:  base = delta (rows s = samples with x_s[k] != 0), xv = x_s[k];
 *   backward:  base = deltaT (rows j, columns = samples), xv = wT[k][j].
 * The columns c are independent sums, so they are computed side by side in
 * vector registers (blocks of up to 12 x 4 doubles); each sum keeps its order.
 * mode RS_SET: out = sum;  RS_ACC: out = out + (the terms, added one by one to
 * the running value out, i.e. the sum continued);  RS_UPDATE: out = out - scale * sum
 * (out is then a weight row: the gradient step fused with the gradient sum). */
enum { RS_SET = 0, RS_ACC = 1, RS_UPDATE = 2 };

#if PN_VEC
#define PN_R1(M) M(0)
#define PN_R2(M) PN_R1(M) M(1)
#define PN_R3(M) PN_R2(M) M(2)
#define PN_R4(M) PN_R3(M) M(3)
#define PN_R5(M) PN_R4(M) M(4)
#define PN_R6(M) PN_R5(M) M(5)
#define PN_R7(M) PN_R6(M) M(6)
#define PN_R8(M) PN_R7(M) M(7)
#define PN_R9(M) PN_R8(M) M(8)
#define PN_R10(M) PN_R9(M) M(9)
#define PN_R11(M) PN_R10(M) M(10)
#define PN_R12(M) PN_R11(M) M(11)
#define PN_R13(M) PN_R12(M) M(12)
#define PN_R14(M) PN_R13(M) M(13)
#define PN_R15(M) PN_R14(M) M(14)
#define PN_R16(M) PN_R15(M) M(15)
#define PN_R17(M) PN_R16(M) M(16)
#define PN_R18(M) PN_R17(M) M(17)
#define PN_R19(M) PN_R18(M) M(18)
#define PN_R20(M) PN_R19(M) M(19)
#define PN_R21(M) PN_R20(M) M(20)
#define PN_R22(M) PN_R21(M) M(21)
#define PN_R23(M) PN_R22(M) M(22)
#define PN_R24(M) PN_R23(M) M(23)
#define PN_R25(M) PN_R24(M) M(24)
#define PN_R26(M) PN_R25(M) M(25)
#define PN_R27(M) PN_R26(M) M(26)
#define PN_R28(M) PN_R27(M) M(27)
#define PN_VDECL(i) pn_v4 acc##i = zero; \
    if (mode == RS_ACC) memcpy(&acc##i, out + 4 * (i), sizeof acc##i);
#define PN_VSTEP(i) { pn_v4 w_; memcpy(&w_, r + 4 * (i), sizeof w_); acc##i += w_ * xx; }
#define PN_VSAVE(i) if (mode == RS_UPDATE) { \
        pn_v4 o_; memcpy(&o_, out + 4 * (i), sizeof o_); o_ = o_ - sc * acc##i; \
        memcpy(out + 4 * (i), &o_, sizeof o_); \
    } else memcpy(out + 4 * (i), &acc##i, sizeof acc##i);
#define PN_DEF_RS(NV)                                                              \
    PN_ALWAYS_INLINE void rs_v##NV(const double *base, size_t ld, const int *rows,  \
                                   const double *xv, int n, double *out, int mode,  \
                                   double scale)                                    \
    {                                                                              \
        const pn_v4 zero = {0.0, 0.0, 0.0, 0.0}, sc = {scale, scale, scale, scale}; \
        int t;                                                                     \
        PN_R##NV(PN_VDECL)                                                         \
        for (t = 0; t < n; t++) {                                                  \
            const double *r = base + (size_t)rows[t] * ld;                         \
            const double x = xv[t];                                                \
            const pn_v4 xx = {x, x, x, x};                                         \
            PN_R##NV(PN_VSTEP)                                                     \
        }                                                                          \
        PN_R##NV(PN_VSAVE)                                                         \
    }
PN_DEF_RS(1) PN_DEF_RS(2) PN_DEF_RS(3) PN_DEF_RS(4) PN_DEF_RS(5) PN_DEF_RS(6) PN_DEF_RS(7)
PN_DEF_RS(8) PN_DEF_RS(9) PN_DEF_RS(10) PN_DEF_RS(11) PN_DEF_RS(12) PN_DEF_RS(13) PN_DEF_RS(14)
PN_DEF_RS(15) PN_DEF_RS(16) PN_DEF_RS(17) PN_DEF_RS(18) PN_DEF_RS(19) PN_DEF_RS(20) PN_DEF_RS(21)
PN_DEF_RS(22) PN_DEF_RS(23) PN_DEF_RS(24) PN_DEF_RS(25) PN_DEF_RS(26) PN_DEF_RS(27) PN_DEF_RS(28)

#ifndef PN_MAX_VBLOCK
#define PN_MAX_VBLOCK 13
#endif
#else
#define PN_MAX_VBLOCK 0
#endif

PN_ALWAYS_INLINE void rs_s2(const double *base, size_t ld, const int *rows, const double *xv,
                            int n, double *out, int mode, double scale)
{
    double s0 = 0.0, s1 = 0.0;
    int t;
    if (mode == RS_ACC) { s0 = out[0]; s1 = out[1]; }
    for (t = 0; t < n; t++) {
        const double *r = base + (size_t)rows[t] * ld;
        s0 += r[0] * xv[t];
        s1 += r[1] * xv[t];
    }
    if (mode == RS_UPDATE) { out[0] = out[0] - scale * s0; out[1] = out[1] - scale * s1; }
    else { out[0] = s0; out[1] = s1; }
}

PN_ALWAYS_INLINE void rs_s1(const double *base, size_t ld, const int *rows, const double *xv,
                            int n, double *out, int mode, double scale)
{
    double s0 = mode == RS_ACC ? out[0] : 0.0;
    int t;
    for (t = 0; t < n; t++) s0 += base[(size_t)rows[t] * ld] * xv[t];
    if (mode == RS_UPDATE) out[0] = out[0] - scale * s0;
    else out[0] = s0;
}

/* How the columns 0..nc-1 are cut into blocks: kinds 1..12 = that many vectors of
 * 4 (balanced, so no block is much narrower than the others), -2 = a scalar pair,
 * -1 = a scalar column.  Returns the number of blocks (at most nc). */
static int plan_blocks(int nc, int *kind, int *first)
{
    int c = 0, nb = 0;
#if PN_VEC
    int nv = nc / 4;
    if (nv > 0) {
        int nblk = (nv + PN_MAX_VBLOCK - 1) / PN_MAX_VBLOCK, b;
        for (b = 0; b < nblk; b++) {
            int v = nv / nblk + (b < nv % nblk);
            kind[nb] = v; first[nb++] = c; c += 4 * v;
        }
    }
#endif
    for (; c + 2 <= nc; c += 2) { kind[nb] = -2; first[nb++] = c; }
    for (; c < nc; c++) { kind[nb] = -1; first[nb++] = c; }
    return nb;
}

PN_ALWAYS_INLINE void rs_block(int kind, const double *base, size_t ld, const int *rows,
                               const double *xv, int n, double *out, int mode, double scale)
{
    switch (kind) {
#if PN_VEC
    case 1: rs_v1(base, ld, rows, xv, n, out, mode, scale); break;
    case 2: rs_v2(base, ld, rows, xv, n, out, mode, scale); break;
    case 3: rs_v3(base, ld, rows, xv, n, out, mode, scale); break;
    case 4: rs_v4(base, ld, rows, xv, n, out, mode, scale); break;
    case 5: rs_v5(base, ld, rows, xv, n, out, mode, scale); break;
    case 6: rs_v6(base, ld, rows, xv, n, out, mode, scale); break;
    case 7: rs_v7(base, ld, rows, xv, n, out, mode, scale); break;
    case 8: rs_v8(base, ld, rows, xv, n, out, mode, scale); break;
    case 9: rs_v9(base, ld, rows, xv, n, out, mode, scale); break;
    case 10: rs_v10(base, ld, rows, xv, n, out, mode, scale); break;
    case 11: rs_v11(base, ld, rows, xv, n, out, mode, scale); break;
    case 12: rs_v12(base, ld, rows, xv, n, out, mode, scale); break;
    case 13: rs_v13(base, ld, rows, xv, n, out, mode, scale); break;
    case 14: rs_v14(base, ld, rows, xv, n, out, mode, scale); break;
    case 15: rs_v15(base, ld, rows, xv, n, out, mode, scale); break;
    case 16: rs_v16(base, ld, rows, xv, n, out, mode, scale); break;
    case 17: rs_v17(base, ld, rows, xv, n, out, mode, scale); break;
    case 18: rs_v18(base, ld, rows, xv, n, out, mode, scale); break;
    case 19: rs_v19(base, ld, rows, xv, n, out, mode, scale); break;
    case 20: rs_v20(base, ld, rows, xv, n, out, mode, scale); break;
    case 21: rs_v21(base, ld, rows, xv, n, out, mode, scale); break;
    case 22: rs_v22(base, ld, rows, xv, n, out, mode, scale); break;
    case 23: rs_v23(base, ld, rows, xv, n, out, mode, scale); break;
    case 24: rs_v24(base, ld, rows, xv, n, out, mode, scale); break;
    case 25: rs_v25(base, ld, rows, xv, n, out, mode, scale); break;
    case 26: rs_v26(base, ld, rows, xv, n, out, mode, scale); break;
    case 27: rs_v27(base, ld, rows, xv, n, out, mode, scale); break;
    case 28: rs_v28(base, ld, rows, xv, n, out, mode, scale); break;
#endif
    case -2: rs_s2(base, ld, rows, xv, n, out, mode, scale); break;
    default: rs_s1(base, ld, rows, xv, n, out, mode, scale); break;
    }
}

/* All columns of one rowsum, cut into the nb blocks of a plan_blocks plan. */
PN_CLONES
static void rowsum_planned(const double *base, size_t ld, const int *rows, const double *xv,
                           int n, double *out, int mode, double scale, int nb, const int *kind,
                           const int *first)
{
    int b;
    for (b = 0; b < nb; b++)
        rs_block(kind[b], base + first[b], ld, rows, xv, n, out + first[b], mode, scale);
}

/* Forward sums of samples s = 0..ns-1 of one layer, Z[s*ldz + j] += sum over the
 * sample's non-zero inputs k (ascending) of wT[k*n_out + j] * x_k.  The inputs are
 * cut into chunks of rows k (cp[s*(nch+1) + c] = first entry of chunk c of sample s)
 * and for each column block every sample goes through chunk c before any goes to
 * chunk c+1: the block of weight rows of a chunk stays in L1 while all the samples
 * of the batch use it, instead of streaming the weights from L2 once per sample.
 * Each sum still runs over k ascending. */
PN_CLONES
static void forward_sums(const double *wT, size_t ldw, int n_out, int ns, int const *const *idx,
                         double const *const *val, const int *cp, int nch, double *Z,
                         size_t ldz, int *kind, int *first)
{
    int nb = plan_blocks(n_out, kind, first), b, c, s;
    for (b = 0; b < nb; b++)
        for (c = 0; c < nch; c++)
            for (s = 0; s < ns; s++) {
                int t0 = cp[s * (nch + 1) + c], t1 = cp[s * (nch + 1) + c + 1];
                if (t1 > t0)
                    rs_block(kind[b], wT + first[b], ldw, idx[s] + t0, val[s] + t0,
                             t1 - t0, Z + (size_t)s * ldz + first[b], RS_ACC, 0.0);
            }
}

/* a[j] = sigma(sum[j] + b[j]) for j < n; z and e are scratch of n doubles. */
PN_CLONES
static void activate(const double *sum, const double *b, int n, double *a, double *z, double *e)
{
    int j;
    for (j = 0; j < n; j++) z[j] = sum[j] + b[j];
    for (j = 0; j < n; j++) {
        double zj = z[j];
        e[j] = exp(zj >= 0.0 ? -zj : zj);             /* libm exp, as math.exp */
    }
    for (j = 0; j < n; j++)                           /* 1/(1+e^-z) or e^z/(1+e^z) */
        a[j] = (z[j] >= 0.0 ? 1.0 : e[j]) / (1.0 + e[j]);
}

/* w[j] = w[j] - scale * g[j] for j < n. */
PN_CLONES
static void axpy_update(double *w, const double *g, double scale, int n)
{
    int j;
    for (j = 0; j < n; j++) w[j] = w[j] - scale * g[j];
}

/* The lists of non-zero inputs (k ascending, with their values) that the fast
 * path works on.  Each also records blk[i] = the number of entries with k < 64 i
 * (i = 0..ceil(n/64)), from which the forward pass cuts its chunks of rows. */
#define PN_BLK 64
static int blk_count(int n) { return (n + PN_BLK - 1) / PN_BLK + 1; }

/* The non-zero entries of a dense vector: returns the count. */
static int compact_dense(const double *a, int n, int *idx, double *val, int *blk)
{
    int c = 0, k, base;
    for (base = 0; base < n; base += PN_BLK) {
        int end = n - base < PN_BLK ? n : base + PN_BLK;
        blk[base / PN_BLK] = c;
        for (k = base; k < end; k++) {
            double x = a[k];
            idx[c] = k; val[c] = x;
            c += (x != 0.0);                          /* NaN counts as non-zero, as in Python */
        }
    }
    blk[(n + PN_BLK - 1) / PN_BLK] = c;
    return c;
}

/* The non-zero inputs of a pixel row through the table (any table). */
static int compact_pixels(const uint8_t *row, const double *table, int n, int *idx, double *val,
                          int *blk)
{
    int c = 0, k, base;
    for (base = 0; base < n; base += PN_BLK) {
        int end = n - base < PN_BLK ? n : base + PN_BLK;
        blk[base / PN_BLK] = c;
        for (k = base; k < end; k++) {
            double x = table[row[k]];
            idx[c] = k; val[c] = x;
            c += (x != 0.0);
        }
    }
    blk[(n + PN_BLK - 1) / PN_BLK] = c;
    return c;
}

/* The same for the usual table, where table[p] != 0 exactly when p != 0: a bit
 * mask of the non-zero bytes, 8 at a time, then one step per non-zero pixel. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && \
    (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
#define PN_SWAR 1
static int compact_pixels_nz(const uint8_t *row, const double *table, int n, int *idx, double *val,
                             int *blk)
{
    int c = 0, base, q;
    for (base = 0; base < n; base += 64) {
        int len = n - base < 64 ? n - base : 64;
        uint64_t m = 0;
        blk[base / 64] = c;
        for (q = 0; q + 8 <= len; q += 8) {
            uint64_t w;
            memcpy(&w, row + base + q, 8);
            w |= w >> 4; w |= w >> 2; w |= w >> 1;
            w &= 0x0101010101010101ULL;                        /* bit 8i: byte i != 0 */
            m |= ((w * 0x0102040810204080ULL) >> 56) << q;      /* gathered into 8 bits */
        }
        for (; q < len; q++) m |= (uint64_t)(row[base + q] != 0) << q;
        while (m) {
            int k = base + __builtin_ctzll(m);
            idx[c] = k; val[c] = table[row[k]]; c++;
            m &= m - 1;
        }
    }
    blk[(n + 63) / 64] = c;
    return c;
}
#else
#define PN_SWAR 0
#endif

/* 1 when table[p] != 0.0 exactly for p != 0 (then zero pixels are the zero inputs). */
static int table_zero_only_at_0(const double *table)
{
    int p;
    if (!(table[0] == 0.0)) return 0;
    for (p = 1; p < 256; p++) if (table[p] == 0.0) return 0;
    return 1;
}

/* Everything a call of the fast path needs, allocated once per call. */
typedef struct {
    int L;                 /* weight layers */
    const int *n;          /* sizes */
    int m_max, ld_max;     /* largest batch; its sample count rounded up to 4 */
    size_t *w_off, *b_off; /* layer l's wT and b in the fast layout */
    size_t *ldw;           /* ldw[l]: row length of wT_l = ld of layer l+1 (n[l+1] padded to 4) */
    size_t *lda;           /* lda[l]: row length of act[l] and delta[l] (n[l] padded to 4) */
    int **nz_idx;          /* nz_idx[l] + s*n[l]: non-zero inputs k of weight layer l, sample s */
    double **nz_val;       /* their values */
    int **nz_cnt;          /* nz_cnt[l][s]: how many */
    int *nz0_idx[2];       /* layer 0 has two sets (batch b uses set b % 2, so that */
    double *nz0_val[2];    /*  the next batch can be gathered while this one is used) */
    int *nz0_cnt[2];
    int **nz_blk;          /* nz_blk[l] + s*blk_count(n[l]): chunk positions (compact_dense) */
    int *nz0_blk[2];
    double **act;          /* act[l] (1 <= l <= L): m x n[l] activations */
    double **delta;        /* delta[l] (1 <= l <= L): m x n[l] errors */
    double **deltaT;       /* deltaT[l] (2 <= l <= L): n[l] x ld (columns = samples) */
    int *iota;             /* 0, 1, 2, ... */
    int pix_nz;            /* pixels: table[p] != 0 exactly for p != 0 */
    void *mem;
} fast_work;

/* The rows of a weight layer that some sample of the batch touches (inputs
 * non-zero), each with its samples in batch order: row uk[u] has the cnt[u]
 * samples es[start[u]...] with inputs ex[start[u]...]. */
typedef struct {
    int nu;
    int *uk, *start, *cnt, *es;
    double *ex;
} pn_csr;

/* Per-thread scratch. */
typedef struct {
    double *out, *z, *e, *nb;
    int *kcnt;             /* per-row counters (n_max) */
    pn_csr csr;            /* rows of a layer >= 1 (any width) */
    pn_csr csr0;           /* rows of layer 0, kept from phase C to the end of phase D */
    int *kind, *first;     /* column blocks of a rowsum */
    int *cp;               /* chunk positions of the forward sums */
    const int **idx;       /* per-sample pointers into nz lists */
    const double **val;
    void *mem;
} thread_work;

/* Rows k per chunk of the forward sums: the weight block of a chunk (rows x the
 * widest column block) should stay well inside a 32 KiB L1 data cache. */
#ifndef PN_CHUNK_BYTES
#define PN_CHUNK_BYTES 32768
#endif
static int chunk_rows(int n_out)
{
    int widest = n_out < 4 * PN_MAX_VBLOCK ? n_out : 4 * PN_MAX_VBLOCK;
    int kc = PN_CHUNK_BYTES / (8 * (widest > 0 ? widest : 1));
    return kc < 8 ? 8 : kc;
}

#define PN_ALIGN 64
static size_t round_up(size_t x) { return (x + PN_ALIGN - 1) / PN_ALIGN * PN_ALIGN; }

/* A bump allocator: a first pass with base == NULL only adds up the sizes. */
typedef struct { char *base; size_t used; int overflow; } bump;

static void *bump_take(bump *b, size_t count, size_t elem)
{
    size_t bytes;
    void *p;
    if (!mul_size(count, elem, &bytes) || bytes > SIZE_MAX - PN_ALIGN ||
        round_up(bytes) > SIZE_MAX - b->used) {
        b->overflow = 1;
        return NULL;
    }
    p = b->base ? b->base + b->used : NULL;
    b->used += round_up(bytes);
    return p;
}

static void *aligned_block(size_t bytes)
{
    void *p = NULL;
#if defined(_WIN32)
    p = malloc(bytes);
#else
    if (posix_memalign(&p, PN_ALIGN, bytes ? bytes : PN_ALIGN) != 0) p = NULL;
#endif
    return p;
}

static void fast_free(fast_work *w)
{
    free(w->w_off); free(w->b_off); free(w->ldw); free(w->lda); free(w->nz_idx); free(w->nz_val); free(w->nz_cnt); free(w->nz_blk);
    free(w->act); free(w->delta); free(w->deltaT); free(w->mem);
    memset(w, 0, sizeof *w);
}

static int fast_alloc(fast_work *w, const int *sizes, int n_layers, int m_max)
{
    int L = n_layers - 1, l, pass, n_max = max_size(sizes, n_layers);
    size_t ld = ((size_t)m_max + 3) / 4 * 4;
    memset(w, 0, sizeof *w);
    w->L = L; w->n = sizes; w->m_max = m_max; w->ld_max = (int)ld;
    w->w_off = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    w->b_off = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    w->ldw = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    w->lda = (size_t *)malloc(sizeof(size_t) * (size_t)n_layers);
    w->nz_idx = (int **)calloc((size_t)L, sizeof(int *));
    w->nz_val = (double **)calloc((size_t)L, sizeof(double *));
    w->nz_cnt = (int **)calloc((size_t)L, sizeof(int *));
    w->nz_blk = (int **)calloc((size_t)L, sizeof(int *));
    w->act = (double **)calloc((size_t)n_layers, sizeof(double *));
    w->delta = (double **)calloc((size_t)n_layers, sizeof(double *));
    w->deltaT = (double **)calloc((size_t)n_layers, sizeof(double *));
    if (!w->w_off || !w->b_off || !w->ldw || !w->lda || !w->nz_idx || !w->nz_val || !w->nz_cnt || !w->nz_blk || !w->act ||
        !w->delta || !w->deltaT) {
        fast_free(w);
        return PN_ERR_NOMEM;
    }
    {
        size_t pos = 0;
        for (l = 0; l < n_layers; l++) w->lda[l] = pad_row(sizes[l]);
        for (l = 0; l < L; l++) {
            w->ldw[l] = w->lda[l + 1];
            w->w_off[l] = pos;
            pos += (size_t)sizes[l] * w->ldw[l];
            w->b_off[l] = pos;
            pos += w->ldw[l];
        }
    }
    for (pass = 0; pass < 2; pass++) {
        bump b;
        b.base = (char *)w->mem; b.used = 0; b.overflow = 0;
        for (l = 0; l < L; l++) {
            size_t cap, nblk;
            if (!mul_size((size_t)m_max, (size_t)sizes[l], &cap)) return fast_free(w), PN_ERR_NOMEM;
            w->nz_idx[l] = (int *)bump_take(&b, cap, sizeof(int));
            w->nz_val[l] = (double *)bump_take(&b, cap, sizeof(double));
            w->nz_cnt[l] = (int *)bump_take(&b, (size_t)m_max, sizeof(int));
            if (!mul_size((size_t)m_max, (size_t)blk_count(sizes[l]), &nblk)) return fast_free(w), PN_ERR_NOMEM;
            w->nz_blk[l] = (int *)bump_take(&b, nblk, sizeof(int));
            if (l == 0) {
                w->nz0_blk[0] = w->nz_blk[0];
                w->nz0_blk[1] = (int *)bump_take(&b, nblk, sizeof(int));
                w->nz0_idx[0] = w->nz_idx[0]; w->nz0_val[0] = w->nz_val[0]; w->nz0_cnt[0] = w->nz_cnt[0];
                w->nz0_idx[1] = (int *)bump_take(&b, cap, sizeof(int));
                w->nz0_val[1] = (double *)bump_take(&b, cap, sizeof(double));
                w->nz0_cnt[1] = (int *)bump_take(&b, (size_t)m_max, sizeof(int));
            }
        }
        for (l = 1; l <= L; l++) {
            size_t cap;
            if (!mul_size((size_t)m_max, w->lda[l], &cap)) return fast_free(w), PN_ERR_NOMEM;
            w->act[l] = (double *)bump_take(&b, cap, sizeof(double));
            w->delta[l] = (double *)bump_take(&b, cap, sizeof(double));
            if (l >= 2) {
                if (!mul_size(ld, (size_t)sizes[l], &cap)) return fast_free(w), PN_ERR_NOMEM;
                w->deltaT[l] = (double *)bump_take(&b, cap, sizeof(double));
            }
        }
        w->iota = (int *)bump_take(&b, (size_t)(n_max > m_max ? n_max : m_max), sizeof(int));
        if (b.overflow) { fast_free(w); return PN_ERR_NOMEM; }
        if (pass == 0) {
            w->mem = aligned_block(b.used);
            if (!w->mem) { fast_free(w); return PN_ERR_NOMEM; }
        }
    }
    for (l = 0; l < (n_max > m_max ? n_max : m_max); l++) w->iota[l] = l;
    for (l = 2; l <= L; l++)                       /* padding columns stay 0.0 */
        memset(w->deltaT[l], 0, sizeof(double) * ld * (size_t)sizes[l]);
    return PN_OK;
}

static void thread_free(thread_work *t) { free(t->mem); memset(t, 0, sizeof *t); }

static int thread_alloc(thread_work *t, const int *sizes, int n_layers, int m_max)
{
    int pass, n_max = max_size(sizes, n_layers);
    size_t wide = (size_t)(n_max > m_max + 4 ? n_max : m_max + 4), cap, cap0, cpn;
    memset(t, 0, sizeof *t);
    if (!mul_size((size_t)m_max, (size_t)n_max, &cap)) return PN_ERR_NOMEM;
    if (!mul_size((size_t)m_max, (size_t)sizes[0], &cap0)) return PN_ERR_NOMEM;
    if (!mul_size((size_t)m_max, (size_t)(n_max / 8 + 2), &cpn)) return PN_ERR_NOMEM;
    for (pass = 0; pass < 2; pass++) {
        bump b;
        b.base = (char *)t->mem; b.used = 0; b.overflow = 0;
        t->out = (double *)bump_take(&b, wide, sizeof(double));
        t->z = (double *)bump_take(&b, wide, sizeof(double));
        t->e = (double *)bump_take(&b, wide, sizeof(double));
        t->nb = (double *)bump_take(&b, wide, sizeof(double));
        t->kcnt = (int *)bump_take(&b, (size_t)n_max, sizeof(int));
        t->csr.uk = (int *)bump_take(&b, (size_t)n_max, sizeof(int));
        t->csr.start = (int *)bump_take(&b, (size_t)n_max, sizeof(int));
        t->csr.cnt = (int *)bump_take(&b, (size_t)n_max, sizeof(int));
        t->csr0.uk = (int *)bump_take(&b, (size_t)sizes[0], sizeof(int));
        t->csr0.start = (int *)bump_take(&b, (size_t)sizes[0], sizeof(int));
        t->csr0.cnt = (int *)bump_take(&b, (size_t)sizes[0], sizeof(int));
        t->csr0.es = (int *)bump_take(&b, cap0, sizeof(int));
        t->csr0.ex = (double *)bump_take(&b, cap0, sizeof(double));
        t->kind = (int *)bump_take(&b, wide, sizeof(int));
        t->first = (int *)bump_take(&b, wide, sizeof(int));
        t->cp = (int *)bump_take(&b, cpn, sizeof(int));
        t->idx = (const int **)bump_take(&b, (size_t)m_max, sizeof(int *));
        t->val = (const double **)bump_take(&b, (size_t)m_max, sizeof(double *));
        t->csr.es = (int *)bump_take(&b, cap, sizeof(int));
        t->csr.ex = (double *)bump_take(&b, cap, sizeof(double));
        if (b.overflow) { thread_free(t); return PN_ERR_NOMEM; }
        if (pass == 0) {
            t->mem = aligned_block(b.used);
            if (!t->mem) return PN_ERR_NOMEM;
        }
    }
    memset(t->kcnt, 0, sizeof(int) * (size_t)n_max);
    return PN_OK;
}

/* Validate a dataset against the network; need_y: targets are required. */
static int check_data(const pn_data *d, const int *sizes, int n_layers, int need_y)
{
    size_t need;
    if (!d) return PN_ERR_NULL;
    if (d->n_in != sizes[0] || d->n_out != sizes[n_layers - 1]) return PN_ERR_DATA;
    if ((d->pixels == NULL) == (d->xs == NULL)) return PN_ERR_DATA;
    if (!mul_size(d->n, (size_t)d->n_in, &need)) return PN_ERR_DATA;
    if (d->pixels) {
        if (d->pixels_len != need || !d->table || d->table_len != 256) return PN_ERR_DATA;
    } else if (d->xs_len != need) return PN_ERR_DATA;
    if (need_y) {
        if ((d->labels == NULL) == (d->ys == NULL)) return PN_ERR_DATA;
        if (d->labels) {
            if (d->labels_len != d->n) return PN_ERR_DATA;
        } else {
            if (!mul_size(d->n, (size_t)d->n_out, &need) || d->ys_len != need) return PN_ERR_DATA;
        }
    }
    return PN_OK;
}

/* Ask for the input rows of samples idx[0..m-1] to be brought into the cache
 * (used one batch ahead: the samples come in random order from a dataset far
 * larger than the caches). */
/* Ask for the input row of sample i to be brought into the (L2) cache: used for
 * the next batch while this one is computed, since samples come in random order
 * from a dataset far larger than the caches. */
static void prefetch_input(const pn_data *d, int64_t i)
{
#if defined(__GNUC__) || defined(__clang__)
    size_t bytes = (size_t)d->n_in * (d->pixels ? 1 : sizeof(double)), o;
    const char *row = d->pixels ? (const char *)(d->pixels + (size_t)i * d->n_in)
                                : (const char *)(d->xs + (size_t)i * d->n_in);
    for (o = 0; o < bytes; o += 64) __builtin_prefetch(row + o, 0, 1);
    __builtin_prefetch(row + bytes - 1, 0, 1);
#else
    (void)d; (void)i;
#endif
}

/* The non-zero inputs of layer l, sample s: set `view` for layer 0 (see fast_work). */
static int *nz_idx(fast_work *w, int l, int view, int s)
{
    return (l == 0 ? w->nz0_idx[view] : w->nz_idx[l]) + (size_t)s * w->n[l];
}
static double *nz_val(fast_work *w, int l, int view, int s)
{
    return (l == 0 ? w->nz0_val[view] : w->nz_val[l]) + (size_t)s * w->n[l];
}
static int *nz_cnt(fast_work *w, int l, int view)
{
    return l == 0 ? w->nz0_cnt[view] : w->nz_cnt[l];
}
static int *nz_blk(fast_work *w, int l, int view, int s)
{
    return (l == 0 ? w->nz0_blk[view] : w->nz_blk[l]) + (size_t)s * blk_count(w->n[l]);
}

/* Non-zero inputs of sample i into slot s of layer 0, set `view`. */
static void gather_input(fast_work *w, const pn_data *d, size_t i, int s, int view)
{
    int n_in = w->n[0];
    int *idx = nz_idx(w, 0, view, s);
    double *val = nz_val(w, 0, view, s);
    int *blk = nz_blk(w, 0, view, s), c;
#if PN_SWAR
    if (d->pixels && w->pix_nz)
        c = compact_pixels_nz(d->pixels + i * (size_t)n_in, d->table, n_in, idx, val, blk);
    else
#endif
    if (d->pixels)
        c = compact_pixels(d->pixels + i * (size_t)n_in, d->table, n_in, idx, val, blk);
    else
        c = compact_dense(d->xs + i * (size_t)n_in, n_in, idx, val, blk);
    nz_cnt(w, 0, view)[s] = c;
}

/* The non-zero activations of layer l (>= 1) of samples s0..s1-1: the inputs of
 * weight layer l. */
static void compact_layer(fast_work *w, int l, int s0, int s1)
{
    int s;
    for (s = s0; s < s1; s++)
        w->nz_cnt[l][s] = compact_dense(w->act[l] + (size_t)s * w->lda[l], w->n[l],
                                        nz_idx(w, l, 0, s), nz_val(w, l, 0, s), nz_blk(w, l, 0, s));
}

/* Forward through weight layer l for samples s0..s1-1 and output neurons c0..c1-1:
 * act[l+1][s][j] = sigma(sum over the non-zero inputs k, ascending, of wT[k][j] * x_k
 * + b[j]).  The sums run in chunks of rows k (forward_sums). */
static void forward_layer(fast_work *w, thread_work *t, const double *params, int l, int view,
                          int s0, int s1, int c0, int c1)
{
    int n_in = w->n[l], nc = c1 - c0, ns = s1 - s0, s, c;
    int kc = chunk_rows(nc) / PN_BLK * PN_BLK, nch;
    const double *wT = params + w->w_off[l], *b = params + w->b_off[l];
    size_t ldz = w->lda[l + 1];
    double *Z = w->act[l + 1] + (size_t)s0 * ldz;
    if (nc <= 0 || ns <= 0) return;
    if (kc < PN_BLK) kc = PN_BLK;
    nch = (n_in + kc - 1) / kc;
    for (s = 0; s < ns; s++) {                      /* chunk boundaries of each sample */
        const int *blk = nz_blk(w, l, view, s0 + s);
        int *cp = t->cp + (size_t)s * (nch + 1);
        t->idx[s] = nz_idx(w, l, view, s0 + s);
        t->val[s] = nz_val(w, l, view, s0 + s);
        for (c = 0; c < nch; c++) cp[c] = blk[c * (kc / PN_BLK)];
        cp[nch] = nz_cnt(w, l, view)[s0 + s];
        memset(Z + (size_t)s * ldz + c0, 0, sizeof(double) * (size_t)nc);   /* sums start at 0.0 */
    }
    forward_sums(wT + c0, w->ldw[l], nc, ns, t->idx, t->val, t->cp, nch, Z + c0, ldz,
                 t->kind, t->first);
    for (s = 0; s < ns; s++) {
        double *a = Z + (size_t)s * ldz + c0;
        activate(a, b + c0, nc, a, t->z, t->e);     /* in place: sum -> sigma(sum + b) */
    }
}

/* Output errors of samples s0..s1-1: delta = (a - y) * a(1 - a). */
static void output_errors(fast_work *w, const pn_data *d, const int64_t *idx, int ld, int s0, int s1)
{
    int L = w->L, nL = w->n[L], s, j;
    size_t la = w->lda[L];
    for (s = s0; s < s1; s++) {
        const double *a = w->act[L] + (size_t)s * la;
        double *dl = w->delta[L] + (size_t)s * la;
        size_t i = (size_t)idx[s];
        if (d->labels) {
            int lab = d->labels[i];
            for (j = 0; j < nL; j++) {
                double y = j == lab ? 1.0 : 0.0;
                dl[j] = (a[j] - y) * (a[j] * (1.0 - a[j]));
            }
        } else {
            const double *y = d->ys + i * (size_t)nL;
            for (j = 0; j < nL; j++) dl[j] = (a[j] - y[j]) * (a[j] * (1.0 - a[j]));
        }
        if (L >= 2)
            for (j = 0; j < nL; j++) w->deltaT[L][(size_t)j * ld + s] = dl[j];
    }
}

/* Errors of hidden layer l for samples s0..s1-1:
 * delta[s][k] = (sum_j wT[k][j] * delta_next[s][j], j ascending) * a(1 - a),
 * as a rowsum over deltaT (its columns are the samples, so it vectorises across
 * samples). */
static void hidden_errors(fast_work *w, thread_work *t, const double *params, int l, int ld,
                          int s0, int s1)
{
    int n_l = w->n[l], n_next = w->n[l + 1], k, s;
    size_t la = w->lda[l];
    const double *wT = params + w->w_off[l];
    const double *dT = w->deltaT[l + 1] + s0;
    int nb = plan_blocks(s1 - s0, t->kind, t->first);
    if (s1 <= s0) return;
    for (k = 0; k < n_l; k++) {
        rowsum_planned(dT, (size_t)ld, w->iota, wT + (size_t)k * w->ldw[l], n_next, t->out,
                       RS_SET, 0.0, nb, t->kind, t->first);
        for (s = s0; s < s1; s++) {
            double a = w->act[l][(size_t)s * la + k];
            double dk = t->out[s - s0] * (a * (1.0 - a));
            w->delta[l][(size_t)s * la + k] = dk;
            if (l >= 2) w->deltaT[l][(size_t)k * ld + s] = dk;
        }
    }
}

/* Bias step of layer l for outputs j0..j1-1: b[j] -= scale * sum_s delta[s][j]. */
static void bias_update(fast_work *w, thread_work *t, double *params, int l, int m, double scale,
                        int j0, int j1)
{
    int s, j;
    double *b = params + w->b_off[l], *nb = t->nb;
    if (j1 <= j0) return;
    for (j = j0; j < j1; j++) nb[j - j0] = 0.0;
    for (s = 0; s < m; s++) {
        const double *dl = w->delta[l + 1] + (size_t)s * w->lda[l + 1];
        for (j = j0; j < j1; j++) nb[j - j0] += dl[j];     /* sum dC/db_j, batch order */
    }
    axpy_update(b + j0, nb, scale, j1 - j0);
}

/* The touched rows k0 <= k < k1 of weight layer l (inputs non-zero in some
 * sample), with their samples in batch order: a transposition of the samples'
 * lists of non-zero inputs.  kcnt: n[l] ints of scratch. */
static void csr_build(fast_work *w, pn_csr *c, int *kcnt, int l, int view, int m, int k0, int k1)
{
    int s, k, q, nu = 0, pos = 0, *cnt = nz_cnt(w, l, view);
    int whole = k0 == 0 && k1 == w->n[l];
    if (k1 <= k0) { c->nu = 0; return; }
    memset(kcnt + k0, 0, sizeof(int) * (size_t)(k1 - k0));
    for (s = 0; s < m; s++) {                           /* samples per row */
        const int *ix = nz_idx(w, l, view, s);
        if (whole) for (q = 0; q < cnt[s]; q++) kcnt[ix[q]]++;
        else for (q = 0; q < cnt[s]; q++) { k = ix[q]; if (k >= k0 && k < k1) kcnt[k]++; }
    }
    for (k = k0; k < k1; k++)
        if (kcnt[k]) {
            c->uk[nu] = k; c->start[nu] = pos; c->cnt[nu] = kcnt[k];
            kcnt[k] = pos;                              /* now: where its next sample goes */
            pos += c->cnt[nu++];
        }
    for (s = 0; s < m; s++) {                           /* in batch order */
        const int *ix = nz_idx(w, l, view, s);
        const double *vx = nz_val(w, l, view, s);
        for (q = 0; q < cnt[s]; q++) {
            k = ix[q];
            if (whole || (k >= k0 && k < k1)) { int p = kcnt[k]++; c->es[p] = s; c->ex[p] = vx[q]; }
        }
    }
    c->nu = nu;
}

/* Weight step of layer l on the rows of c, columns c0..c1-1: for each touched row
 * k, g[j] = sum over its samples s (batch order) of delta[s][j] * x_s[k], fused with
 * the step wT[k][j] -= scale * g[j] (RS_UPDATE).  Untouched rows have a zero
 * gradient and are left as they are, as in the reference. */
static void csr_apply(fast_work *w, thread_work *t, double *params, int l, const pn_csr *c,
                      double scale, int c0, int c1)
{
    double *wT = params + w->w_off[l];
    const double *dl = w->delta[l + 1] + c0;
    size_t lda = w->lda[l + 1], ldw = w->ldw[l];
    int nb, u;
    if (c1 <= c0 || c->nu == 0) return;
    nb = plan_blocks(c1 - c0, t->kind, t->first);
    for (u = 0; u < c->nu; u++)
        rowsum_planned(dl, lda, c->es + c->start[u], c->ex + c->start[u], c->cnt[u],
                       wT + (size_t)c->uk[u] * ldw + c0, RS_UPDATE, scale, nb, t->kind, t->first);
}

/* ------------------------------------------------------------------------- */
/* The training loop                                                          */

struct pn_barrier_s;

typedef struct {
    fast_work *w;
    thread_work tw[PN_MAX_THREADS];
    double *params;
    const pn_data *d;
    const int64_t *indices;
    const int64_t *batch_sizes;
    size_t n_batches;
    double lr;
    int nthreads;
    struct pn_barrier_s *barrier;
} train_job;

static int check_batches(const pn_data *d, const int64_t *indices, size_t n_indices,
                         const int64_t *batch_sizes, size_t n_batches, int n_out, int *m_max)
{
    size_t b, pos = 0, i;
    int64_t mx = 0;
    if (n_batches > 0 && !batch_sizes) return PN_ERR_NULL;
    if (n_indices > 0 && !indices) return PN_ERR_NULL;
    for (b = 0; b < n_batches; b++) {
        int64_t m = batch_sizes[b];
        if (m < 1 || (uint64_t)m > (uint64_t)(n_indices - pos) || m > (int64_t)PN_MAX_SIZE)
            return PN_ERR_BATCH;
        pos += (size_t)m;
        if (m > mx) mx = m;
    }
    if (pos != n_indices) return PN_ERR_BATCH;
    for (i = 0; i < n_indices; i++) {
        int64_t k = indices[i];
        if (k < 0 || (uint64_t)k >= (uint64_t)d->n) return PN_ERR_INDEX;
        if (d->labels && d->labels[k] >= n_out) return PN_ERR_LABEL;
    }
    *m_max = (int)mx;
    return PN_OK;
}

/* A barrier for the threads of one call: spin briefly (a phase is some
 * microseconds), then sleep on a condition variable, so that a machine with
 * fewer free cores than threads slows down gracefully instead of spinning. */
typedef struct pn_barrier_s {
    int count;
    int sense;
    int n;
#if PN_THREADS
    pthread_mutex_t mu;
    pthread_cond_t cv;
#endif
} pn_barrier;

#if PN_THREADS && PN_HAVE_ATOMICS
#define PN_SPINS 4000
static void barrier_wait(pn_barrier *b, int *local_sense)
{
    int sense = !*local_sense, spins;
    *local_sense = sense;
    if (PN_ATOMIC_ADD(&b->count, 1) == b->n) {          /* the last one in opens it */
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        pthread_mutex_lock(&b->mu);
        PN_ATOMIC_STORE(&b->sense, sense);
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        return;
    }
    for (spins = 0; spins < PN_SPINS; spins++) {
        if (PN_ATOMIC_LOAD(&b->sense) == sense) return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    pthread_mutex_lock(&b->mu);
    while (PN_ATOMIC_LOAD(&b->sense) != sense) pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}
#define PN_CAN_THREAD 1
#else
#define PN_CAN_THREAD 0
#endif

static void sync_threads(train_job *j, int *sense)
{
#if PN_CAN_THREAD
    if (j->nthreads > 1) barrier_wait(j->barrier, sense);
#else
    (void)j; (void)sense;
#endif
}

/* Split [0, n) into parts, part p getting [lo, hi), with inner boundaries on
 * multiples of PN_PAD (whole cache lines). */
static void split_lines(int n, int parts, int p, int *lo, int *hi)
{
    int nv = (n + PN_PAD - 1) / PN_PAD;
    *lo = (int)((long long)nv * p / parts) * PN_PAD;
    *hi = p + 1 == parts ? n : (int)((long long)nv * (p + 1) / parts) * PN_PAD;
    if (*lo > n) *lo = n;
    if (*hi > n) *hi = n;
}

/* Gather batch b's inputs into set b % 2 (and prefetch batch b+1's rows). */
static void gather_batch(train_job *j, size_t b, size_t pos)
{
    int m = (int)j->batch_sizes[b], s;
    for (s = 0; s < m; s++) gather_input(j->w, j->d, (size_t)j->indices[pos + s], s, (int)(b & 1));
    if (b + 1 < j->n_batches) {                          /* the batch after: to the cache */
        int m2 = (int)j->batch_sizes[b + 1];
        for (s = 0; s < m2; s++) prefetch_input(j->d, j->indices[pos + (size_t)m + s]);
    }
}

/* Thread `part` of `parts` runs its share of every batch.  With 2 threads the
 * big first layer is split by its output neurons (columns of wT_0), so that each
 * thread reads and writes only its own half of wT_0, and the small rest of the
 * network stays on thread 0 (moving data between cores costs more than it saves
 * there).  Per batch b:
 *   B: every thread: the forward sums and activations of its neurons of layer 1,
 *      for all samples;
 *   -- barrier (layer 1 complete) --
 *   C: thread 0: the rest of the forward pass and all the errors; the last thread
 *      (thread 0 when alone): gathering the inputs of batch b+1;
 *   -- barrier (errors and the next inputs ready) --
 *   D: every thread: the gradient step of its columns of wT_0 and b_0 (all touched
 *      rows); thread 0: the steps of the other layers.
 * Every number is computed by the same operations in the same order as with one
 * thread.  Batch b+1's phase B uses only this thread's own columns of wT_0 and
 * b_0, and everything else waits for its first barrier, so phase D needs no
 * barrier after it. */
static void run_batches(train_job *j, int part, int *sense)
{
    fast_work *w = j->w;
    thread_work *t = &j->tw[part];
    const double *cparams = j->params;
    int parts = j->nthreads, L = w->L, l, c0, c1;
    int main_part = part == 0, gather_part = part == parts - 1;
    size_t b, pos = 0;
    split_lines(w->n[1], parts, part, &c0, &c1);
    if (gather_part) gather_batch(j, 0, 0);
    sync_threads(j, sense);
    for (b = 0; b < j->n_batches; b++) {
        int m = (int)j->batch_sizes[b], ld = (m + 3) / 4 * 4, view = (int)(b & 1);
        const int64_t *idx = j->indices + pos;
        double scale = j->lr / (double)m;              /* eta/m */
        /* B */
        forward_layer(w, t, cparams, 0, view, 0, m, c0, c1);
        sync_threads(j, sense);
        /* C */
        if (main_part) {
            for (l = 1; l < L; l++) {
                compact_layer(w, l, 0, m);
                forward_layer(w, t, cparams, l, 0, 0, m, 0, w->n[l + 1]);
            }
            output_errors(w, j->d, idx, ld, 0, m);
            for (l = L - 1; l >= 1; l--) hidden_errors(w, t, cparams, l, ld, 0, m);
        }
        if (gather_part && b + 1 < j->n_batches) gather_batch(j, b + 1, pos + (size_t)m);
        sync_threads(j, sense);
        /* D */
        bias_update(w, t, j->params, 0, m, scale, c0, c1);
        csr_build(w, &t->csr0, t->kcnt, 0, view, m, 0, w->n[0]);
        csr_apply(w, t, j->params, 0, &t->csr0, scale, c0, c1);
        if (main_part)
            for (l = 1; l < L; l++) {
                bias_update(w, t, j->params, l, m, scale, 0, w->n[l + 1]);
                csr_build(w, &t->csr, t->kcnt, l, 0, m, 0, w->n[l]);
                csr_apply(w, t, j->params, l, &t->csr, scale, 0, w->n[l + 1]);
            }
        pos += (size_t)m;
    }
}

typedef struct {
    train_job *job;
    int part;
    int sense;
} worker_arg;

#if PN_CAN_THREAD
static void *worker_main(void *p)
{
    worker_arg *a = (worker_arg *)p;
    run_batches(a->job, a->part, &a->sense);
    return NULL;
}
#endif

int pn_train_batches(const int *sizes, int n_layers, double *params, size_t n_params,
                     const pn_data *data, const int64_t *indices, size_t n_indices,
                     const int64_t *batch_sizes, size_t n_batches, double lr, int threads)
{
    fast_work w;
    train_job job;
    pn_barrier barrier;
    int m_max = 0, rc, p, nthreads, sense0 = 0;
    rc = check_fast_params(sizes, n_layers, params, n_params);
    if (rc != PN_OK) return rc;
    if ((rc = check_data(data, sizes, n_layers, 1)) != PN_OK) return rc;
    if (threads < 1 || threads > PN_MAX_THREADS) return PN_ERR_THREADS;
    rc = check_batches(data, indices, n_indices, batch_sizes, n_batches, sizes[n_layers - 1], &m_max);
    if (rc != PN_OK) return rc;
    if (n_batches == 0) return PN_OK;
    nthreads = PN_CAN_THREAD ? threads : 1;            /* the results are the same */
    if ((rc = fast_alloc(&w, sizes, n_layers, m_max)) != PN_OK) return rc;
    w.pix_nz = data->pixels ? table_zero_only_at_0(data->table) : 0;
    memset(&job, 0, sizeof job);
    job.w = &w; job.params = params; job.d = data; job.indices = indices;
    job.batch_sizes = batch_sizes; job.n_batches = n_batches; job.lr = lr;
    for (p = 0; p < nthreads; p++)
        if ((rc = thread_alloc(&job.tw[p], sizes, n_layers, m_max)) != PN_OK) {
            while (p-- > 0) thread_free(&job.tw[p]);
            fast_free(&w);
            return rc;
        }
    job.nthreads = nthreads;
    barrier.count = 0; barrier.sense = 0; barrier.n = nthreads;
    job.barrier = &barrier;
#if PN_CAN_THREAD
    if (nthreads == 2) {                                /* one worker + this thread */
        pthread_t tid;
        worker_arg arg;
        int ok = pthread_mutex_init(&barrier.mu, NULL) == 0;
        if (ok && pthread_cond_init(&barrier.cv, NULL) != 0) {
            pthread_mutex_destroy(&barrier.mu);
            ok = 0;
        }
        arg.job = &job; arg.part = 1; arg.sense = 0;
        if (ok && pthread_create(&tid, NULL, worker_main, &arg) == 0) {
            run_batches(&job, 0, &sense0);
            pthread_join(tid, NULL);
        } else {                                        /* no worker: all on this thread */
            job.nthreads = 1;
            barrier.n = 1;
            run_batches(&job, 0, &sense0);
        }
        if (ok) {
            pthread_cond_destroy(&barrier.cv);
            pthread_mutex_destroy(&barrier.mu);
        }
    } else
#endif
        run_batches(&job, 0, &sense0);
    for (p = 0; p < nthreads; p++) thread_free(&job.tw[p]);
    fast_free(&w);
    return PN_OK;
}

typedef struct {
    const int *sizes;
    int n_layers;
    const double *params;
    const pn_data *data;
    size_t start, stop;
    double *out;
    int rc;
} outputs_job;

/* Feed samples start..stop-1 forward, 64 at a time, into out. */
static void outputs_run(outputs_job *o)
{
    enum { CHUNK = 64 };
    fast_work w;
    thread_work t;
    size_t i;
    int L = o->n_layers - 1, nL = o->sizes[L], m_max, l;
    if (o->stop <= o->start) { o->rc = PN_OK; return; }
    m_max = o->stop - o->start < CHUNK ? (int)(o->stop - o->start) : CHUNK;
    if ((o->rc = fast_alloc(&w, o->sizes, o->n_layers, m_max)) != PN_OK) return;
    if ((o->rc = thread_alloc(&t, o->sizes, o->n_layers, m_max)) != PN_OK) { fast_free(&w); return; }
    w.pix_nz = o->data->pixels ? table_zero_only_at_0(o->data->table) : 0;
    for (i = o->start; i < o->stop; i += (size_t)m_max) {
        int m = o->stop - i < (size_t)m_max ? (int)(o->stop - i) : m_max, s;
        for (s = 0; s < m; s++) gather_input(&w, o->data, i + (size_t)s, s, 0);
        for (l = 0; l < L; l++) {
            if (l > 0) compact_layer(&w, l, 0, m);
            forward_layer(&w, &t, o->params, l, 0, 0, m, 0, o->sizes[l + 1]);
        }
        for (s = 0; s < m; s++)
            memcpy(o->out + (i - o->start + (size_t)s) * nL, w.act[L] + (size_t)s * w.lda[L],
                   sizeof(double) * (size_t)nL);
    }
    thread_free(&t);
    fast_free(&w);
}

#if PN_CAN_THREAD
static void *outputs_main(void *p)
{
    outputs_run((outputs_job *)p);
    return NULL;
}
#endif

int pn_outputs(const int *sizes, int n_layers, const double *params, size_t n_params,
               const pn_data *data, size_t start, size_t stop, double *out, size_t out_len,
               int threads)
{
    outputs_job jobs[2];
    size_t need;
    int rc, nL;
    rc = check_fast_params(sizes, n_layers, params, n_params);
    if (rc != PN_OK) return rc;
    if ((rc = check_data(data, sizes, n_layers, 0)) != PN_OK) return rc;
    if (threads < 1 || threads > PN_MAX_THREADS) return PN_ERR_THREADS;
    if (start > stop || stop > data->n) return PN_ERR_RANGE;
    nL = sizes[n_layers - 1];
    if (!mul_size(stop - start, (size_t)nL, &need) || out_len != need) return PN_ERR_RANGE;
    if (stop == start) return PN_OK;
    if (!out) return PN_ERR_NULL;
    jobs[0].sizes = sizes; jobs[0].n_layers = n_layers; jobs[0].params = params;
    jobs[0].data = data; jobs[0].start = start; jobs[0].stop = stop; jobs[0].out = out;
    jobs[0].rc = PN_OK;
#if PN_CAN_THREAD
    if (threads == 2 && stop - start >= 256) {          /* each thread takes half the samples */
        pthread_t tid;
        jobs[1] = jobs[0];
        jobs[0].stop = jobs[1].start = start + (stop - start) / 2;
        jobs[1].out = out + (jobs[1].start - start) * (size_t)nL;
        if (pthread_create(&tid, NULL, outputs_main, &jobs[1]) == 0) {
            outputs_run(&jobs[0]);
            pthread_join(tid, NULL);
            return jobs[0].rc != PN_OK ? jobs[0].rc : jobs[1].rc;
        }
        jobs[0].stop = stop;                            /* no worker: do it all here */
    }
#endif
    outputs_run(&jobs[0]);
    return jobs[0].rc;
}

int pn_simd_level(void)
{
#if PN_HAVE_CLONES
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}
