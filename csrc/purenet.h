/*
 * purenet.h -- the C engine of purenet: a sigmoid multilayer perceptron whose
 * arithmetic is bit for bit the arithmetic of purenet/reference.py.
 *
 * Conventions
 *   sizes[0..n_layers-1]  neurons per layer (layer 0 = inputs), every size >= 1,
 *                         n_layers >= 2; L = n_layers - 1 weight layers.
 *   Textbook layout of the parameters (one flat buffer, as reference.py's lists):
 *     for l = 0..L-1:  w_l[j][k] row-major (sizes[l+1] rows of sizes[l]), then b_l[j].
 *   Fast layout (what pn_train_batches / pn_outputs use): every weight matrix
 *     transposed, wT_l[k][j] (sizes[l] rows of ld_l = sizes[l+1] rounded up to a
 *     multiple of 8, the padding 0.0 and never read), then b_l (ld_l doubles), so
 *     that the innermost loops run across output neurons j without reordering any
 *     sum.  pn_fast_param_count(sizes) doubles; start it 64-byte aligned for speed.
 *   The textbook layout holds pn_param_count(sizes) doubles.
 *   Every function that can fail returns PN_OK (0) or a PN_ERR_* code and then has
 *   written nothing to its outputs (pn_strerror gives the message).  No function
 *   aborts, exits or touches memory outside the lengths it is given.
 *
 * Bit identity (see reference.py): every sum starts from 0.0 and adds its terms in
 * the reference's order (inputs k ascending, samples in batch order); terms whose
 * input is exactly 0 are skipped as the reference skips them; sigma uses libm exp.
 * Build with -ffp-contract=off and without -ffast-math.
 *
 * The block between PN_CDEF_BEGIN and PN_CDEF_END is read by build_ext.py as the
 * cffi cdef: keep it free of preprocessor lines.
 */
#ifndef PURENET_H
#define PURENET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* PN_CDEF_BEGIN */

enum {
    PN_OK = 0,
    PN_ERR_NULL = 1,       /* a required pointer is NULL */
    PN_ERR_SIZES = 2,      /* layer sizes invalid (n_layers < 2, a size < 1 or too large) */
    PN_ERR_PARAMS = 3,     /* parameter buffer length != pn_param_count(sizes) */
    PN_ERR_DATA = 4,       /* dataset inconsistent (lengths, inputs/targets, widths) */
    PN_ERR_INDEX = 5,      /* a sample index out of range */
    PN_ERR_BATCH = 6,      /* batch sizes invalid (< 1, or not summing to the index count) */
    PN_ERR_LABEL = 7,      /* a label >= number of outputs */
    PN_ERR_RANGE = 8,      /* start/stop or output length invalid */
    PN_ERR_THREADS = 9,    /* thread count < 1 or > PN_MAX_THREADS, or a thread failed to start */
    PN_ERR_NOMEM = 10      /* out of memory for scratch buffers */
};

enum { PN_MAX_THREADS = 2, PN_MAX_SIZE = 16777216, PN_MAX_LAYERS = 1024 };

/* A dataset as the C engine reads it: inputs are either uint8 pixels (x = table[p],
 * table[p] == p / divisor computed once) or doubles; targets are either labels
 * (one-hot) or doubles.  Unused pointers are NULL; *_len are element counts. */
typedef struct {
    size_t n;                      /* number of samples */
    int n_in;                      /* inputs per sample */
    int n_out;                     /* targets per sample */
    const uint8_t *pixels;         /* n * n_in bytes, or NULL */
    size_t pixels_len;
    const double *table;           /* 256 doubles: table[p] = p / divisor (with pixels) */
    size_t table_len;
    const double *xs;              /* n * n_in doubles, or NULL */
    size_t xs_len;
    const uint8_t *labels;         /* n class labels, or NULL */
    size_t labels_len;
    const double *ys;              /* n * n_out doubles, or NULL */
    size_t ys_len;
} pn_data;

/* Message for an error code returned by any pn_ function ("ok" for PN_OK). */
const char *pn_strerror(int code);

/* Number of doubles of a network's parameters in the textbook layout; 0 if sizes are invalid. */
size_t pn_param_count(const int *sizes, int n_layers);

/* Number of doubles of a network's parameters in the fast layout (rows padded); 0 if sizes are invalid. */
size_t pn_fast_param_count(const int *sizes, int n_layers);

/* Whether the SIMD kernels run with AVX2 (1) or baseline instructions (0) on this CPU. */
int pn_simd_level(void);

/* --- layer 1: the textbook, one routine per function of reference.py ---------- */

/* sigmoid(z): 1/(1+exp(-z)) for z >= 0, else e/(1+e) with e = exp(z). */
double pn_sigmoid(double z);

/* sigmoid_prime(z): s*(1.0-s) with s = pn_sigmoid(z). */
double pn_sigmoid_prime(double z);

/* weighted_sums: z[j] = (sum over k ascending with a[k] != 0 of w[j*n_in+k]*a[k], from 0.0) + b[j]. */
int pn_weighted_sums(int n_out, int n_in, const double *w, const double *a, const double *b, double *z);

/* output_error: delta[j] = (a[j] - y[j]) * pn_sigmoid_prime(z[j]) for j < n. */
int pn_output_error(int n, const double *a, const double *y, const double *z, double *delta);

/* backward_error: delta[k] = (sum_j w_next[j*n+k]*delta_next[j], j ascending from 0.0) * pn_sigmoid_prime(z[k]). */
int pn_backward_error(int n_next, int n, const double *w_next, const double *delta_next, const double *z, double *delta);

/* feedforward: out[sizes[L]] = output activations for input x[sizes[0]] (textbook layout params). */
int pn_feedforward(const int *sizes, int n_layers, const double *params, size_t n_params, const double *x, double *out);

/* backprop: grad (textbook layout, n_params) = (nabla_w, nabla_b) of one sample (x, y), as reference.backprop. */
int pn_backprop(const int *sizes, int n_layers, const double *params, size_t n_params, const double *x, const double *y, double *grad);

/* update_mini_batch: one SGD step in place on m samples xs[m*sizes[0]], ys[m*sizes[L]] (textbook layout). */
int pn_update_mini_batch(const int *sizes, int n_layers, double *params, size_t n_params, const double *xs, const double *ys, int m, double lr);

/* --- layouts ------------------------------------------------------------------- */

/* Copy textbook-layout params into the fast layout (weights transposed, rows padded); no overlap. */
int pn_to_fast(const int *sizes, int n_layers, const double *textbook, size_t n_textbook, double *fast, size_t n_fast);

/* Copy fast-layout params back into the textbook layout; no overlap. */
int pn_from_fast(const int *sizes, int n_layers, const double *fast, size_t n_fast, double *textbook, size_t n_textbook);

/* --- layer 2: the fast path (fast layout params) ---------------------------------- */

/* For each batch b in order: update_mini_batch on samples indices[pos..pos+batch_sizes[b]-1] of data (fast layout; threads 1 or 2, same bits). */
int pn_train_batches(const int *sizes, int n_layers, double *params, size_t n_params, const pn_data *data, const int64_t *indices, size_t n_indices, const int64_t *batch_sizes, size_t n_batches, double lr, int threads);

/* out[(i-start)*sizes[L] + j] = output j of sample i, start <= i < stop (batch feedforward; fast layout; threads 1 or 2). */
int pn_outputs(const int *sizes, int n_layers, const double *params, size_t n_params, const pn_data *data, size_t start, size_t stop, double *out, size_t out_len, int threads);

/* PN_CDEF_END */

#ifdef __cplusplus
}
#endif

#endif /* PURENET_H */
