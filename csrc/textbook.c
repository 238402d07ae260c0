/*
 * textbook.c -- layer 1 of the C engine: the routines of purenet/reference.py,
 * routine by routine, in the same order, under the same names with a pn_ prefix,
 * doing the same IEEE operations in the same order (so the same bits).  Read it
 * next to reference.py: first the seed's network (chapters 1 and 2 of the book),
 * then chapter 3.
 *
 * Parameters are in the textbook layout (layout.c): for each layer l, the weights
 * w[j][k] (row j = neuron j of layer l+1, column k = neuron k of layer l), then
 * the biases b[j].  Every pn_ routine checks its arguments first (common.c); the
 * routines of one layer's vectors then call an unchecked twin of the same name
 * without the prefix, which the routines of the whole network use.  Where
 * reference.py passes the neuron (act) and the cost (cost) as functions, this file
 * passes a pn_model and picks the function with act_fn/act_prime and
 * cost_output/cost_fn/cost_delta.  Scratch memory is allocated at the end of the
 * file.  The fast path (fastpath.h) computes the same numbers, much faster, with
 * the weights transposed.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Scratch of one call (tb_alloc, tb_free: at the end): where each layer starts
 * in the parameters, the zs, activations and deltas of one sample, and for an
 * update the gradient sums of a mini-batch. */
typedef struct {
    size_t *w_off, *b_off;           /* layer l's w and b in the parameters */
    double **zs, **acts, **deltas;   /* zs[l], acts[l+1], deltas[l]: layer l+1 */
    double *mem;
    double *nabla;                   /* sum dC/dw, sum dC/db (textbook layout) */
    unsigned char *touched;          /* touched + t_off[l]: the inputs k of layer l */
    size_t *t_off;                   /*   that were non-zero in some sample */
} tb_work;

static int tb_alloc(tb_work *t, const int *sizes, int n_layers, size_t n_sums);
static void tb_free(tb_work *t);

/* Chapter 3's routines that the seed's path picks from (defined below). */
static double cross_entropy_cost(int n, const double *a, const double *y, const double *z);
static void cross_entropy_error(int n, const double *a, const double *y, const double *z,
                                double *delta);
static double log_likelihood_cost(int n, const double *a, const double *y, const double *z);

/* The checks of the routines of one layer's vectors: n in range, no NULL. */
static int check_vectors(int n, const void *p, const void *q, const void *r, const void *s)
{
    if (!p || !q || !r || !s) return PN_ERR_NULL;
    return n < 1 || n > PN_MAX_SIZE ? PN_ERR_SIZES : PN_OK;
}

/* --- the neuron ------------------------------------------------------------ */

/* sigma(z) = 1/(1 + e^-z), never overflowing: e^z/(1 + e^z) for z < 0. */
double pn_sigmoid(double z)
{
    double e;
    if (z >= 0.0) return 1.0 / (1.0 + exp(-z));
    e = exp(z);
    return e / (1.0 + e);
}

/* sigma'(z) = sigma(z) (1 - sigma(z)). */
double pn_sigmoid_prime(double z)
{
    double s = pn_sigmoid(z);
    return s * (1.0 - s);
}

/* The hidden layers' neuron (reference.py: act.fn, act.prime). */
double act_fn(int activation, double z)
{
    return activation == PN_TANH ? pn_tanh(z) : activation == PN_RELU ? pn_relu(z) : pn_sigmoid(z);
}

double act_prime(int activation, double z)
{
    return activation == PN_TANH ? pn_tanh_prime(z)
         : activation == PN_RELU ? pn_relu_prime(z) : pn_sigmoid_prime(z);
}

/* z_j = sum_k w_jk a_k + b_j for every neuron j of a layer (z = w a + b); the
 * terms with a_k == 0 are skipped (reference.nonzero). */
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

/* --- the output layer and the cost ------------------------------------------ */

/* a_j = sigma(z_j): the seed's output layer. */
static void sigmoids(int n, const double *z, double *a)
{
    int j;
    for (j = 0; j < n; j++) a[j] = pn_sigmoid(z[j]);
}

/* C = 1/2 |a - y|^2 = 1/2 sum_j (a_j - y_j)^2. */
static double quadratic_cost(int n, const double *a, const double *y, const double *z)
{
    double s = 0.0, d;
    int j;
    (void)z;
    for (j = 0; j < n; j++) {
        d = a[j] - y[j];
        s += d * d;
    }
    return 0.5 * s;
}

int pn_quadratic_cost(int n, const double *a, const double *y, const double *z, double *cost)
{
    int rc = check_vectors(n, a, y, z, cost);
    if (rc == PN_OK) *cost = quadratic_cost(n, a, y, z);
    return rc;
}

/* delta^L_j = (a^L_j - y_j) sigma'(z^L_j): dC/dz for C = 1/2 |a - y|^2 (chain rule). */
static void output_error(int n, const double *a, const double *y, const double *z, double *delta)
{
    int j;
    for (j = 0; j < n; j++)
        delta[j] = (a[j] - y[j]) * pn_sigmoid_prime(z[j]);
}

int pn_output_error(int n, const double *a, const double *y, const double *z, double *delta)
{
    int rc = check_vectors(n, a, y, z, delta);
    if (rc == PN_OK) output_error(n, a, y, z, delta);
    return rc;
}

/* The cost's output layer, cost and output error (reference.py: cost.output,
 * cost.fn, cost.delta). */
static void cost_output(int cost, int n, const double *z, double *a)
{
    if (cost == PN_LOG_LIKELIHOOD) softmax(n, z, a);
    else sigmoids(n, z, a);
}

double cost_fn(int cost, int n, const double *a, const double *y, const double *z)
{
    if (cost == PN_CROSS_ENTROPY) return cross_entropy_cost(n, a, y, z);
    if (cost == PN_LOG_LIKELIHOOD) return log_likelihood_cost(n, a, y, z);
    return quadratic_cost(n, a, y, z);
}

static void cost_delta(int cost, int n, const double *a, const double *y, const double *z,
                       double *delta)
{
    if (cost == PN_QUADRATIC) output_error(n, a, y, z, delta);
    else cross_entropy_error(n, a, y, z, delta);
}

/* --- forward --------------------------------------------------------------- */

/* a <- act(w a + b), layer after layer, keeping what backprop needs: t->zs[l] = z
 * of layer l+1 and t->acts[l] = a of layer l, for l >= 1 (layer 0's activations
 * are x itself).  The output layer is the cost's (sigmoid, or softmax). */
static void forward_pass(tb_work *t, const int *sizes, int n_layers, const pn_model *model,
                         const double *params, const double *x)
{
    int l, j, L = n_layers - 1;
    const double *a = x;
    for (l = 0; l < L; l++) {
        double *z = t->zs[l], *out = t->acts[l + 1];
        weighted_sums(sizes[l + 1], sizes[l], params + t->w_off[l], a, params + t->b_off[l], z);
        if (l == L - 1) cost_output(model->cost, sizes[L], z, out);
        else for (j = 0; j < sizes[l + 1]; j++) out[j] = act_fn(model->activation, z[j]);
        a = out;
    }
}

/* The network's output a^L for input x. */
int pn_feedforward(const int *sizes, int n_layers, const pn_model *model, const double *params,
                   size_t n_params, const double *x, double *out)
{
    tb_work t;
    int rc = check_params(sizes, n_layers, params, n_params);
    if (rc == PN_OK) rc = check_model(model);
    if (rc != PN_OK) return rc;
    if (!x || !out) return PN_ERR_NULL;
    if ((rc = tb_alloc(&t, sizes, n_layers, 0)) != PN_OK) return rc;
    forward_pass(&t, sizes, n_layers, model, params, x);
    memcpy(out, t.acts[n_layers - 1], sizeof(double) * (size_t)sizes[n_layers - 1]);
    tb_free(&t);
    return PN_OK;
}

/* --- backward -------------------------------------------------------------- */

/* delta^l_k = (sum_j w^{l+1}_jk delta^{l+1}_j) act'(z^l_k): the error moved back
 * through w^T. */
static void backward_error(int n_next, int n, const double *w_next, const double *delta_next,
                           const double *z, int activation, double *delta)
{
    int j, k;
    for (k = 0; k < n; k++) {
        double s = 0.0;
        for (j = 0; j < n_next; j++)       /* ((w^{l+1})^T delta^{l+1})_k, j ascending */
            s += w_next[(size_t)j * n + k] * delta_next[j];
        delta[k] = s * act_prime(activation, z[k]);
    }
}

int pn_backward_error(int n_next, int n, const double *w_next, const double *delta_next,
                      const double *z, int activation, double *delta)
{
    int rc = check_vectors(n, w_next, delta_next, z, delta);
    if (rc == PN_OK && (n_next < 1 || n_next > PN_MAX_SIZE)) rc = PN_ERR_SIZES;
    if (rc == PN_OK && (activation < PN_SIGMOID || activation > PN_RELU)) rc = PN_ERR_MODEL;
    if (rc == PN_OK) backward_error(n_next, n, w_next, delta_next, z, activation, delta);
    return rc;
}

/* All the errors delta of one sample (t->deltas), output layer first. */
static void backward_pass(tb_work *t, const int *sizes, int n_layers, const pn_model *model,
                          const double *params, const double *y)
{
    int L = n_layers - 1, l;
    cost_delta(model->cost, sizes[L], t->acts[L], y, t->zs[L - 1], t->deltas[L - 1]);
    for (l = L - 2; l >= 0; l--)
        backward_error(sizes[l + 2], sizes[l + 1], params + t->w_off[l + 1], t->deltas[l + 1],
                       t->zs[l], model->activation, t->deltas[l]);
}

/* Gradient of one sample's cost: grad (textbook layout) = dC/dw = delta a^T
 * (reference.weight_gradient) and dC/db = delta, for every layer. */
int pn_backprop(const int *sizes, int n_layers, const pn_model *model, const double *params,
                size_t n_params, const double *x, const double *y, double *grad)
{
    tb_work t;
    int l, j, k, L = n_layers - 1;
    int rc = check_params(sizes, n_layers, params, n_params);
    if (rc == PN_OK) rc = check_model(model);
    if (rc != PN_OK) return rc;
    if (!x || !y || !grad) return PN_ERR_NULL;
    if ((rc = tb_alloc(&t, sizes, n_layers, 0)) != PN_OK) return rc;
    forward_pass(&t, sizes, n_layers, model, params, x);
    backward_pass(&t, sizes, n_layers, model, params, y);
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

/* --- learning -------------------------------------------------------------- */

/* sum dC/db and sum dC/dw over the m samples (xs, ys) into t->nabla (from 0.0),
 * sample by sample in batch order, adding delta_j a_k for the non-zero a_k only
 * (the others add exactly 0); t->touched marks the inputs k that were non-zero. */
static void gradient_sums(tb_work *t, const int *sizes, int n_layers, const pn_model *model,
                          const double *params, const double *xs, const double *ys, int m)
{
    int L = n_layers - 1, l, j, k, s;
    for (s = 0; s < m; s++) {
        const double *x = xs + (size_t)s * sizes[0], *y = ys + (size_t)s * sizes[L];
        forward_pass(t, sizes, n_layers, model, params, x);
        backward_pass(t, sizes, n_layers, model, params, y);
        for (l = 0; l < L; l++) {
            const double *a = l == 0 ? x : t->acts[l], *delta = t->deltas[l];
            double *nb = t->nabla + t->b_off[l], *nw = t->nabla + t->w_off[l];
            unsigned char *tl = t->touched + t->t_off[l];
            for (k = 0; k < sizes[l]; k++) if (a[k] != 0.0) tl[k] = 1;
            for (j = 0; j < sizes[l + 1]; j++) {
                double d = delta[j], *row = nw + (size_t)j * sizes[l];
                nb[j] += d;                                     /* sum dC/db_j = sum delta_j */
                for (k = 0; k < sizes[l]; k++)
                    if (a[k] != 0.0) row[k] += d * a[k];        /* sum dC/dw_jk = sum delta_j a_k */
            }
        }
    }
}

/* What every update starts with: the checks, the scratch, the gradient sums. */
static int sums_of_batch(tb_work *t, const int *sizes, int n_layers, const pn_model *model,
                         const double *params, size_t n_params, const double *xs,
                         const double *ys, int m)
{
    int rc = check_params(sizes, n_layers, params, n_params);
    if (rc == PN_OK) rc = check_model(model);
    if (rc != PN_OK) return rc;
    if (!xs || !ys) return PN_ERR_NULL;
    if (m < 1) return PN_ERR_BATCH;
    if ((rc = tb_alloc(t, sizes, n_layers, n_params)) != PN_OK) return rc;
    gradient_sums(t, sizes, n_layers, model, params, xs, ys, m);
    return PN_OK;
}

/* One step of gradient descent on the m samples (xs, ys), in place:
 * w <- w - (eta/m) sum dC/dw and b <- b - (eta/m) sum dC/db, where the inputs k
 * that were 0 in every sample ("untouched") keep their weights as they are. */
int pn_update_mini_batch(const int *sizes, int n_layers, const pn_model *model, double *params,
                         size_t n_params, const double *xs, const double *ys, int m, double lr)
{
    tb_work t;
    double scale = lr / (double)m;                              /* eta/m */
    int L = n_layers - 1, l, j, k;
    int rc = sums_of_batch(&t, sizes, n_layers, model, params, n_params, xs, ys, m);
    if (rc != PN_OK) return rc;
    for (l = 0; l < L; l++) {
        double *w = params + t.w_off[l], *b = params + t.b_off[l];
        const double *nw = t.nabla + t.w_off[l], *nb = t.nabla + t.b_off[l];
        const unsigned char *tl = t.touched + t.t_off[l];
        for (j = 0; j < sizes[l + 1]; j++) {
            double *row = w + (size_t)j * sizes[l];
            const double *g = nw + (size_t)j * sizes[l];
            b[j] = b[j] - scale * nb[j];
            for (k = 0; k < sizes[l]; k++)
                if (tl[k]) row[k] = row[k] - scale * g[k];      /* untouched: w - (eta/m) 0 = w */
        }
    }
    tb_free(&t);
    return PN_OK;
}

/* ========================================================================= */
/* Chapter 3                                                                   */

/* --- the cross-entropy cost ------------------------------------------------- */

/* ln(1 + e^z), never overflowing: max(z, 0) + ln(1 + e^-|z|). */
double pn_softplus(double z)
{
    return (z > 0.0 ? z : 0.0) + log1p(exp(-fabs(z)));
}

/* C = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)], from z: -ln a = softplus(-z)
 * and -ln(1 - a) = softplus(z). */
static double cross_entropy_cost(int n, const double *a, const double *y, const double *z)
{
    double c = 0.0;
    int j;
    (void)a;
    for (j = 0; j < n; j++)
        c += y[j] * pn_softplus(-z[j]) + (1.0 - y[j]) * pn_softplus(z[j]);
    return c;
}

int pn_cross_entropy_cost(int n, const double *a, const double *y, const double *z, double *cost)
{
    int rc = check_vectors(n, a, y, z, cost);
    if (rc == PN_OK) *cost = cross_entropy_cost(n, a, y, z);
    return rc;
}

/* delta^L_j = a^L_j - y_j: the output error of the cross-entropy cost (sigma'
 * cancels out), and of the log-likelihood cost with a softmax output layer. */
static void cross_entropy_error(int n, const double *a, const double *y, const double *z,
                                double *delta)
{
    int j;
    (void)z;
    for (j = 0; j < n; j++) delta[j] = a[j] - y[j];
}

int pn_cross_entropy_error(int n, const double *a, const double *y, const double *z, double *delta)
{
    int rc = check_vectors(n, a, y, z, delta);
    if (rc == PN_OK) cross_entropy_error(n, a, y, z, delta);
    return rc;
}

/* --- softmax and the log-likelihood cost ------------------------------------- */

/* The largest z_j (the first of equals; as Python's max). */
static double max_of(int n, const double *z)
{
    double m = z[0];
    int j;
    for (j = 1; j < n; j++) if (z[j] > m) m = z[j];
    return m;
}

/* a_j = e^(z_j - max z) / sum_k e^(z_k - max z). */
void softmax(int n, const double *z, double *a)
{
    double m = max_of(n, z), s = 0.0;
    int j;
    for (j = 0; j < n; j++) a[j] = exp(z[j] - m);
    for (j = 0; j < n; j++) s += a[j];
    for (j = 0; j < n; j++) a[j] = a[j] / s;
}

int pn_softmax(int n, const double *z, double *a)
{
    int rc = check_vectors(n, z, a, z, a);
    if (rc == PN_OK) softmax(n, z, a);
    return rc;
}

/* C = -sum_j y_j ln a_j = sum_j y_j (lse(z) - z_j), lse(z) = max z + ln sum_k e^(z_k - max z). */
static double log_likelihood_cost(int n, const double *a, const double *y, const double *z)
{
    double m = max_of(n, z), s = 0.0, lse, c = 0.0;
    int j;
    (void)a;
    for (j = 0; j < n; j++) s += exp(z[j] - m);
    lse = m + log(s);
    for (j = 0; j < n; j++) c += y[j] * (lse - z[j]);
    return c;
}

int pn_log_likelihood_cost(int n, const double *a, const double *y, const double *z, double *cost)
{
    int rc = check_vectors(n, a, y, z, cost);
    if (rc == PN_OK) *cost = log_likelihood_cost(n, a, y, z);
    return rc;
}

/* The mean cost over count samples plus (l2/2n) sum w^2 + (l1/n) sum |w| (n = count). */
int pn_total_cost(const int *sizes, int n_layers, const pn_model *model, const double *params,
                  size_t n_params, const double *xs, const double *ys, int count, double l2,
                  double l1, double *cost)
{
    tb_work t;
    double total = 0.0, squares = 0.0, abs_sum = 0.0, n = (double)count;
    int L = n_layers - 1, l, s;
    size_t i;
    int rc = check_params(sizes, n_layers, params, n_params);
    if (rc == PN_OK) rc = check_model(model);
    if (rc != PN_OK) return rc;
    if (!xs || !ys || !cost) return PN_ERR_NULL;
    if (count < 1) return PN_ERR_BATCH;
    if ((rc = tb_alloc(&t, sizes, n_layers, 0)) != PN_OK) return rc;
    for (s = 0; s < count; s++) {
        forward_pass(&t, sizes, n_layers, model, params, xs + (size_t)s * sizes[0]);
        total += cost_fn(model->cost, sizes[L], t.acts[L], ys + (size_t)s * sizes[L], t.zs[L - 1]);
    }
    for (l = 0; l < L; l++)                     /* the weights, row by row */
        for (i = 0; i < (size_t)sizes[l] * sizes[l + 1]; i++) {
            double v = params[t.w_off[l] + i];
            squares += v * v;
            abs_sum += fabs(v);
        }
    *cost = total / n + 0.5 * (l2 / n) * squares + (l1 / n) * abs_sum;
    tb_free(&t);
    return PN_OK;
}

/* --- regularisation: L2 (weight decay) and L1 -------------------------------- */

/* The sign of w: 1, -1, or 0 for w = 0 (and NaN). */
double pn_sgn(double w)
{
    return w > 0.0 ? 1.0 : w < 0.0 ? -1.0 : 0.0;
}

/* One step on the regularised cost, in place (every weight moves):
 * w <- (1 - eta l2/n) w - (eta l1/n) sgn(w) - (eta/m) sum dC/dw,
 * b <- b - (eta/m) sum dC/db (biases are not regularised). */
int pn_regularized_update(const int *sizes, int n_layers, const pn_model *model, double *params,
                          size_t n_params, const double *xs, const double *ys, int m, double lr,
                          double n, double l2, double l1)
{
    tb_work t;
    double scale = lr / (double)m;                              /* eta/m */
    double keep = 1.0 - lr * l2 / n;                            /* 1 - eta l2/n */
    double shrink = lr * l1 / n;                                /* eta l1/n */
    int L = n_layers - 1, l, j, k;
    int rc = check_step(lr, n, l2, l1, 0.0, NULL);
    if (rc == PN_OK) rc = sums_of_batch(&t, sizes, n_layers, model, params, n_params, xs, ys, m);
    if (rc != PN_OK) return rc;
    for (l = 0; l < L; l++) {
        double *w = params + t.w_off[l], *b = params + t.b_off[l];
        const double *nw = t.nabla + t.w_off[l], *nb = t.nabla + t.b_off[l];
        for (j = 0; j < sizes[l + 1]; j++) {
            double *row = w + (size_t)j * sizes[l];
            const double *g = nw + (size_t)j * sizes[l];
            b[j] = b[j] - scale * nb[j];
            for (k = 0; k < sizes[l]; k++)
                row[k] = keep * row[k] - shrink * pn_sgn(row[k]) - scale * g[k];
        }
    }
    tb_free(&t);
    return PN_OK;
}

/* --- momentum ----------------------------------------------------------------- */

/* One step of momentum gradient descent, in place; velocities: like params, 0 at first:
 * v <- mu v - (eta l2/n) w - (eta l1/n) sgn(w) - (eta/m) sum dC/dw, then w <- w + v;
 * v_b <- mu v_b - (eta/m) sum dC/db, then b <- b + v_b. */
int pn_momentum_update(const int *sizes, int n_layers, const pn_model *model, double *params,
                       double *velocities, size_t n_params, const double *xs, const double *ys,
                       int m, double lr, double n, double mu, double l2, double l1)
{
    tb_work t;
    double scale = lr / (double)m;                              /* eta/m */
    double decay = lr * l2 / n;                                 /* eta l2/n */
    double shrink = lr * l1 / n;                                /* eta l1/n */
    int L = n_layers - 1, l, j, k;
    int rc = check_step(lr, n, l2, l1, mu, velocities);
    if (rc == PN_OK && !(mu > 0.0)) rc = PN_ERR_STEP;
    if (rc == PN_OK) rc = sums_of_batch(&t, sizes, n_layers, model, params, n_params, xs, ys, m);
    if (rc != PN_OK) return rc;
    for (l = 0; l < L; l++) {
        double *w = params + t.w_off[l], *b = params + t.b_off[l];
        double *vw = velocities + t.w_off[l], *vb = velocities + t.b_off[l];
        const double *nw = t.nabla + t.w_off[l], *nb = t.nabla + t.b_off[l];
        for (j = 0; j < sizes[l + 1]; j++) {
            double *row = w + (size_t)j * sizes[l], *v = vw + (size_t)j * sizes[l];
            const double *g = nw + (size_t)j * sizes[l];
            vb[j] = mu * vb[j] - scale * nb[j];
            b[j] = b[j] + vb[j];
            for (k = 0; k < sizes[l]; k++) {
                v[k] = mu * v[k] - decay * row[k] - shrink * pn_sgn(row[k]) - scale * g[k];
                row[k] = row[k] + v[k];
            }
        }
    }
    tb_free(&t);
    return PN_OK;
}

/* --- other neurons: tanh and ReLU ---------------------------------------------- */

/* tanh(z) = (e^z - e^-z)/(e^z + e^-z) (libm's, as math.tanh). */
double pn_tanh(double z)
{
    return tanh(z);
}

/* tanh'(z) = 1 - tanh^2(z). */
double pn_tanh_prime(double z)
{
    double t = tanh(z);
    return 1.0 - t * t;
}

/* The rectified linear unit: max(0, z). */
double pn_relu(double z)
{
    return z > 0.0 ? z : 0.0;
}

/* relu'(z) = 1 for z > 0, else 0. */
double pn_relu_prime(double z)
{
    return z > 0.0 ? 1.0 : 0.0;
}

/* --- scratch --------------------------------------------------------------- */

static void tb_free(tb_work *t)
{
    free(t->w_off); free(t->b_off); free(t->zs); free(t->acts); free(t->deltas); free(t->mem);
    free(t->nabla); free(t->touched); free(t->t_off);
}

/* n_sums > 0: also the gradient sums of n_sums parameters (zeroed) and the
 * touched inputs of every layer (none yet). */
static int tb_alloc(tb_work *t, const int *sizes, int n_layers, size_t n_sums)
{
    int L = n_layers - 1, l;
    size_t total = 0, pos = 0, inputs = 0;
    memset(t, 0, sizeof *t);
    for (l = 1; l < n_layers; l++) total += 3 * (size_t)sizes[l];
    for (l = 0; l < L; l++) inputs += (size_t)sizes[l];
    t->w_off = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    t->b_off = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    t->zs = (double **)malloc(sizeof(double *) * (size_t)L);
    t->acts = (double **)malloc(sizeof(double *) * (size_t)n_layers);
    t->deltas = (double **)malloc(sizeof(double *) * (size_t)L);
    t->mem = (double *)malloc(sizeof(double) * total);
    if (n_sums > 0) {
        t->nabla = (double *)calloc(n_sums, sizeof(double));
        t->touched = (unsigned char *)calloc(inputs, 1);
        t->t_off = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    }
    if (!t->w_off || !t->b_off || !t->zs || !t->acts || !t->deltas || !t->mem ||
        (n_sums > 0 && (!t->nabla || !t->touched || !t->t_off))) {
        tb_free(t);
        return PN_ERR_NOMEM;
    }
    layer_offsets(sizes, n_layers, 0, t->w_off, t->b_off);
    t->acts[0] = NULL;
    for (l = 0; l < L; l++) {
        size_t n = (size_t)sizes[l + 1];
        t->zs[l] = t->mem + pos; pos += n;
        t->acts[l + 1] = t->mem + pos; pos += n;
        t->deltas[l] = t->mem + pos; pos += n;
    }
    for (pos = 0, l = 0; n_sums > 0 && l < L; l++) { t->t_off[l] = pos; pos += (size_t)sizes[l]; }
    return PN_OK;
}
