/*
 * purenet.h -- the C engine of purenet: a multilayer perceptron whose arithmetic
 * is bit for bit the arithmetic of purenet/reference.py, for the seed's network
 * (sigmoid neurons, quadratic cost) and the book's chapter 3 (cross-entropy and
 * log-likelihood costs with a softmax output, tanh and ReLU neurons, L2 and L1
 * regularisation, momentum).
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
 * input is exactly 0 are skipped as the reference skips them; exp, log, log1p and
 * tanh are libm's, as in Python's math module.
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
    PN_ERR_SIZES = 2,      /* layer sizes invalid (n_layers < 2, a size < 1 or too large), or map shapes (chapter 6) */
    PN_ERR_PARAMS = 3,     /* parameter buffer length != pn_param_count(sizes) */
    PN_ERR_DATA = 4,       /* dataset inconsistent (lengths, inputs/targets, widths) */
    PN_ERR_INDEX = 5,      /* a sample index out of range (or a pooling choice outside its window) */
    PN_ERR_BATCH = 6,      /* batch sizes invalid (< 1, or not summing to the index count) */
    PN_ERR_LABEL = 7,      /* a label >= number of outputs */
    PN_ERR_RANGE = 8,      /* start/stop or output length invalid */
    PN_ERR_THREADS = 9,    /* thread count < 1 or > PN_MAX_THREADS (a thread that cannot start: its share runs on the caller's) */
    PN_ERR_NOMEM = 10,     /* out of memory for scratch buffers */
    PN_ERR_MODEL = 11,     /* unknown cost or activation */
    PN_ERR_STEP = 12,      /* invalid step: need lr > 0, n >= 1, l2 >= 0, l1 >= 0 (all finite),
                              0 <= momentum < 1, and velocities when momentum > 0 */
    PN_ERR_NONFINITE = 13  /* a value is NaN or infinite (pn_all_finite) */
};

/* The costs (with the output layer each implies) and the hidden layers' activations. */
enum { PN_QUADRATIC = 0, PN_CROSS_ENTROPY = 1, PN_LOG_LIKELIHOOD = 2 };
enum { PN_SIGMOID = 0, PN_TANH = 1, PN_RELU = 2 };

/* What kind of network: cost PN_QUADRATIC or PN_CROSS_ENTROPY (sigmoid outputs) or
 * PN_LOG_LIKELIHOOD (softmax outputs); activation of the hidden layers. */
typedef struct {
    int cost;
    int activation;
} pn_model;

/* One training step's settings (reference.py: update_mini_batch when l2 = l1 =
 * momentum = 0; regularized_update when momentum = 0; else momentum_update). */
typedef struct {
    double lr;             /* eta */
    double n;              /* the training-set size n of the regularisation terms */
    double l2, l1;         /* lambda_2, lambda_1 */
    double momentum;       /* mu */
} pn_step;

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

/* PN_OK when every values[i], i < n, is finite, else PN_ERR_NONFINITE (PN_ERR_NULL for NULL
 * values with n > 0): the divergence check fit makes after every epoch (reference.py:
 * ReferenceEngine.all_finite).  Any layout: the fast layout's padding is 0.0. */
int pn_all_finite(const double *values, size_t n);

/* Python's random.Random.shuffle on order[0..n-1], fed the 32-bit words it draws
 * (4 little-endian bytes each, in the order getrandbits(32 * n_words) gives them):
 * for i = *top down to 1, j = (next word) >> (32 - bit_length(i + 1)), taken again
 * while j > i (Python's _randbelow), then order[i] and order[j] swap.  It stops at
 * i = 0 or when the words run out, and sets *top to that i; the caller then draws *top
 * more words (as many as the rest could need, never more, so that Python's generator
 * ends where random.shuffle leaves it) and calls again.  With iota = 1, order is first
 * set to 0, 1, ..., n-1.  PN_ERR_NULL, or PN_ERR_RANGE when *top >= n (or *top > 0
 * when n = 0) or n >= 2^32 (where Python draws more than one word per swap). */
int pn_shuffle(int64_t *order, size_t n, int iota, const unsigned char *words, size_t n_words,
               size_t *top);

/* The SIMD kernels' instructions in use: 2 = AVX-512 (and AVX2), 1 = AVX2, 0 = baseline.
 * Every level gives the same bits. */
int pn_simd_level(void);
/* Use at most `level` from now on, where the CPU allows more: a level below 2 turns the
 * AVX-512 copies of the row sums off (the tests compare the levels).  Returns the level
 * now in use (pn_simd_level). */
int pn_limit_simd(int level);

/* --- layer 1: the textbook, one routine per function of reference.py ---------- */
/* (model: the cost and the hidden activation; the seed's network is {PN_QUADRATIC, PN_SIGMOID}.) */

/* sigmoid(z): 1/(1+exp(-z)) for z >= 0, else e/(1+e) with e = exp(z). */
double pn_sigmoid(double z);

/* sigmoid_prime(z): s*(1.0-s) with s = pn_sigmoid(z). */
double pn_sigmoid_prime(double z);

/* weighted_sums: z[j] = (sum over k ascending with a[k] != 0 of w[j*n_in+k]*a[k], from 0.0) + b[j]. */
int pn_weighted_sums(int n_out, int n_in, const double *w, const double *a, const double *b, double *z);

/* quadratic_cost: *cost = 0.5 * (sum_j (a[j]-y[j])^2, j ascending from 0.0) (z unused). */
int pn_quadratic_cost(int n, const double *a, const double *y, const double *z, double *cost);

/* output_error: delta[j] = (a[j] - y[j]) * pn_sigmoid_prime(z[j]) for j < n. */
int pn_output_error(int n, const double *a, const double *y, const double *z, double *delta);

/* feedforward: out[sizes[L]] = output activations for input x[sizes[0]] (textbook layout params). */
int pn_feedforward(const int *sizes, int n_layers, const pn_model *model, const double *params, size_t n_params, const double *x, double *out);

/* backward_error: delta[k] = (sum_j w_next[j*n+k]*delta_next[j], j ascending from 0.0) * act'(z[k]) (activation: PN_SIGMOID...). */
int pn_backward_error(int n_next, int n, const double *w_next, const double *delta_next, const double *z, int activation, double *delta);

/* backprop: grad (textbook layout, n_params) = (nabla_w, nabla_b) of one sample (x, y), as reference.backprop. */
int pn_backprop(const int *sizes, int n_layers, const pn_model *model, const double *params, size_t n_params, const double *x, const double *y, double *grad);

/* update_mini_batch: one SGD step in place on m samples xs[m*sizes[0]], ys[m*sizes[L]] (textbook layout). */
int pn_update_mini_batch(const int *sizes, int n_layers, const pn_model *model, double *params, size_t n_params, const double *xs, const double *ys, int m, double lr);

/* --- chapter 3 --- */

/* softplus(z): (z > 0 ? z : 0.0) + log1p(exp(-|z|)). */
double pn_softplus(double z);

/* cross_entropy_cost: *cost = sum_j y[j]*softplus(-z[j]) + (1.0-y[j])*softplus(z[j]), j ascending from 0.0 (a unused). */
int pn_cross_entropy_cost(int n, const double *a, const double *y, const double *z, double *cost);

/* cross_entropy_error: delta[j] = a[j] - y[j] (the output error of the cross-entropy and log-likelihood costs; z unused). */
int pn_cross_entropy_error(int n, const double *a, const double *y, const double *z, double *delta);

/* softmax: m = max z; e[j] = exp(z[j] - m); a[j] = e[j] / (sum_j e[j], j ascending from 0.0). */
int pn_softmax(int n, const double *z, double *a);

/* log_likelihood_cost: *cost = sum_j y[j]*(lse - z[j]), lse = m + log(sum_k exp(z[k] - m)), m = max z (a unused). */
int pn_log_likelihood_cost(int n, const double *a, const double *y, const double *z, double *cost);

/* total_cost: *cost = (sum over the count samples of the cost)/count + 0.5*(l2/count)*sum w^2 + (l1/count)*sum |w|. */
int pn_total_cost(const int *sizes, int n_layers, const pn_model *model, const double *params, size_t n_params, const double *xs, const double *ys, int count, double l2, double l1, double *cost);

/* sgn(w): 1.0, -1.0, or 0.0 for w = 0 (and NaN). */
double pn_sgn(double w);

/* regularized_update: w = (1.0 - lr*l2/n)*w - (lr*l1/n)*sgn(w) - (lr/m)*sum dC/dw (every w), b = b - (lr/m)*sum dC/db. */
int pn_regularized_update(const int *sizes, int n_layers, const pn_model *model, double *params, size_t n_params, const double *xs, const double *ys, int m, double lr, double n, double l2, double l1);

/* momentum_update: v = mu*v - (lr*l2/n)*w - (lr*l1/n)*sgn(w) - (lr/m)*sum dC/dw, w = w + v; v_b = mu*v_b - (lr/m)*sum dC/db, b = b + v_b. */
int pn_momentum_update(const int *sizes, int n_layers, const pn_model *model, double *params, double *velocities, size_t n_params, const double *xs, const double *ys, int m, double lr, double n, double mu, double l2, double l1);

/* tanh(z) (libm) and tanh_prime(z) = 1.0 - t*t, t = tanh(z). */
double pn_tanh(double z);
double pn_tanh_prime(double z);

/* relu(z) = z > 0 ? z : 0.0; relu_prime(z) = z > 0 ? 1.0 : 0.0. */
double pn_relu(double z);
double pn_relu_prime(double z);

/* --- chapter 6: convolution and max-pooling (csrc/convolution.c) --- */
/* Maps are flat row-major doubles: a[c][y][x] at a[(c*h + y)*wd + x] for ch maps of h rows by wd columns.
 * A conv layer: fs filters w[f][c][i][j] at w[((f*ch + c)*k + i)*k + j] (k x k over ch maps), biases b[fs];
 * stride 1, no padding: fs output maps of oh = h-k+1 by ow = wd-k+1.  A pool layer: p x p windows, stride p
 * (p divides h and wd), ch output maps of h/p by wd/p.  Each sum from 0.0 in the order given, indices
 * ascending; skipped terms as in purenet/convolution.py.  PN_ERR_SIZES: a shape < 1 or too large (a map
 * over PN_MAX_SIZE units), a filter larger than its input, a pool that does not divide it. */

/* conv_sums: z[f][y][x] = (sum_c sum_i sum_j w[f][c][i][j]*a[c][y+i][x+j], terms with a != 0) + b[f]; a: maps (ch, h, wd). */
int pn_conv_sums(int fs, int ch, int h, int wd, int k, const double *w, const double *b, const double *a, double *z);

/* map_activations: a[u] = act(z[u]) for every unit u of ch maps h x wd (activation: PN_SIGMOID, PN_TANH, PN_RELU). */
int pn_map_activations(int ch, int h, int wd, const double *z, int activation, double *a);

/* max_pool: m[c][Y][X] = max of the window a[c][pY+u][pX+v] (u, then v ascending; the first maximum wins a tie,
 * the first nan wins over all), choices[c][Y][X] = its y*wd + x in map c. */
int pn_max_pool(int ch, int h, int wd, int p, const double *a, double *m, int *choices);

/* pool_backward: delta (maps ch, h, wd) = 0.0 but delta[c][choice] = delta_pooled[c][Y][X], choice = choices[c][Y][X]
 * (PN_ERR_INDEX when a choice is not a unit of its own window). */
int pn_pool_backward(int ch, int h, int wd, int p, const double *delta_pooled, const int *choices, double *delta);

/* conv_backward_error: s[c][y][x] = sum_f sum_i sum_j w[f][c][i][j]*delta[f][y-i][x-j] (0 <= y-i < oh, 0 <= x-j < ow,
 * terms with delta != 0); s: maps (ch, h, wd), delta: maps (fs, oh, ow). */
int pn_conv_backward_error(int fs, int ch, int h, int wd, int k, const double *w, const double *delta, double *s);

/* map_error: delta[u] = s[u] * act'(z[u]) for every unit u of ch maps h x wd. */
int pn_map_error(int ch, int h, int wd, const double *s, const double *z, int activation, double *delta);

/* conv_weight_gradient: nabla_w[f][c][i][j] = sum_y sum_x delta[f][y][x]*a[c][y+i][x+j] (terms with delta != 0 and a != 0). */
int pn_conv_weight_gradient(int fs, int ch, int h, int wd, int k, const double *delta, const double *a, double *nabla_w);

/* conv_bias_gradient: nabla_b[f] = sum_y sum_x delta[f][y][x], for delta: maps (fs, oh, ow). */
int pn_conv_bias_gradient(int fs, int oh, int ow, const double *delta, double *nabla_b);

/* --- layouts ------------------------------------------------------------------- */

/* Copy textbook-layout params into the fast layout (weights transposed, rows padded); no overlap. */
int pn_to_fast(const int *sizes, int n_layers, const double *textbook, size_t n_textbook, double *fast, size_t n_fast);

/* Copy fast-layout params back into the textbook layout; no overlap. */
int pn_from_fast(const int *sizes, int n_layers, const double *fast, size_t n_fast, double *textbook, size_t n_textbook);

/* --- layer 2: the fast path (fast layout params) ---------------------------------- */

/* For each batch b in order: one step (see pn_step) on samples indices[pos..pos+batch_sizes[b]-1] of data (fast layout;
 * velocities: the momentum velocities in the fast layout, n_params doubles, required when step->momentum > 0, else unused; threads 1 or 2, same bits;
 * with 2 the caller's thread works alone while the other's core is taken, see train.c). */
int pn_train_batches(const int *sizes, int n_layers, const pn_model *model, double *params, double *velocities, size_t n_params, const pn_data *data, const int64_t *indices, size_t n_indices, const int64_t *batch_sizes, size_t n_batches, const pn_step *step, int threads);

/* out[(i-start)*sizes[L] + j] = output j of sample i, start <= i < stop (batch feedforward; fast layout; threads 1 or 2). */
int pn_outputs(const int *sizes, int n_layers, const pn_model *model, const double *params, size_t n_params, const pn_data *data, size_t start, size_t stop, double *out, size_t out_len, int threads);

/* *cost = pn_total_cost over every sample of data (needs targets; fast layout; threads 1 or 2, same bits). */
int pn_cost(const int *sizes, int n_layers, const pn_model *model, const double *params, size_t n_params, const pn_data *data, double l2, double l1, double *cost, int threads);

/* --- layer 3: chapter 6 ----------------------------------------------------------- */
/* Layered networks: conv, pool and fully connected layers, with dropout, as purenet/deep.py
 * (the semantics: docs/maths.md).  One pn_layer per entry of sizes, the input first.
 * Parameters in the textbook layout: for each layer l = 1..L in order its weights, nested
 * row-major ([F][C][K][K] for conv, [n_out][n_in] for fully connected, none for pool),
 * then its biases ([F] or [n_out], none for pool); velocities likewise.  The calls keep
 * them in a scratch layout of their own for their duration and write them back at the end
 * (csrc/net.h).  PN_ERR_SIZES: layers that do not fit (a conv or pool after a fully
 * connected layer, an input that is not a square image before one, a filter larger than
 * its input, a pool that does not divide it, a layer over PN_MAX_SIZE units, the last
 * layer not fully connected). */
enum { PN_FULL = 0, PN_CONV = 1, PN_POOL = 2 };
/* One entry of sizes: PN_FULL: n neurons (the input layer is PN_FULL with n = inputs), k 0;
   PN_CONV: n filters of k x k; PN_POOL: k x k windows, n 0 (else PN_ERR_SIZES). */
typedef struct { int kind; int n; int k; } pn_layer;
/* Dropout of one training call (NULL: none): scale = 1/(1 - p) (finite, > 0); keep:
   n_indices * U bytes, U = the units of the fully connected hidden layers; sample-major (in
   the order of indices), then hidden layer ascending, then unit ascending; 1 = kept. */
typedef struct { double scale; const uint8_t *keep; size_t keep_len; } pn_dropout;
enum { PN_ERR_DROPOUT = 14 };  /* dropout invalid (scale not finite > 0, or keep_len != n_indices * U) */

/* Doubles of the parameters in the textbook layout; 0 when the layers are invalid. */
size_t pn_net_param_count(const pn_layer *layers, int n_layers);
/* pn_train_batches for a layered network, with dropout on the fully connected hidden layers
 * (threads 1 or 2, every SIMD level: the same bits). */
int pn_net_train_batches(const pn_layer *layers, int n_layers, const pn_model *model, double *params, double *velocities, size_t n_params, const pn_data *data, const int64_t *indices, size_t n_indices, const int64_t *batch_sizes, size_t n_batches, const pn_step *step, const pn_dropout *dropout, int threads);
/* out[(i-start)*n_out + j] = output j of sample i, start <= i < stop (no dropout). */
int pn_net_outputs(const pn_layer *layers, int n_layers, const pn_model *model, const double *params, size_t n_params, const pn_data *data, size_t start, size_t stop, double *out, size_t out_len, int threads);
/* *cost = the mean cost over every sample of data + 0.5*(l2/n)*sum w^2 + (l1/n)*sum |w| (all
 * weights in textbook order, no bias), as reference.total_cost (finite l2, l1 >= 0). */
int pn_net_cost(const pn_layer *layers, int n_layers, const pn_model *model, const double *params, size_t n_params, const pn_data *data, double l2, double l1, double *cost, int threads);

/* PN_CDEF_END */

#ifdef __cplusplus
}
#endif

#endif /* PURENET_H */
