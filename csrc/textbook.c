/*
 * textbook.c -- layer 1 of the C engine: the routines of purenet/reference.py,
 * routine by routine, in the same order, under the same names with a pn_ prefix,
 * doing the same IEEE operations in the same order (so the same bits).  Read it
 * next to reference.py.
 *
 * Parameters are in the textbook layout (layout.c): for each layer l, the weights
 * w[j][k] (row j = neuron j of layer l+1, column k = neuron k of layer l), then
 * the biases b[j].  Every pn_ routine checks its arguments first (common.c);
 * the three of one layer (weighted_sums, output_error, backward_error) then call
 * an unchecked twin, which the routines of the whole network use.  Their scratch
 * memory is allocated at the end of this file.  The fast path (fastpath.c)
 * computes the same numbers, much faster, with the weights transposed.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Scratch of one call (tb_alloc, tb_free: at the end): where each layer starts
 * in the parameters, and the zs, activations and deltas of one sample. */
typedef struct {
    size_t *w_off, *b_off;           /* layer l's w and b in the parameters */
    double **zs, **acts, **deltas;   /* zs[l], acts[l+1], deltas[l]: layer l+1 */
    double *mem;
} tb_work;

static int tb_alloc(tb_work *t, const int *sizes, int n_layers);
static void tb_free(tb_work *t);

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

/* --- forward --------------------------------------------------------------- */

/* The network's output a^L for input x: a <- sigma(w a + b), layer after layer. */
int pn_feedforward(const int *sizes, int n_layers, const double *params, size_t n_params,
                   const double *x, double *out)
{
    tb_work t;
    const double *a = x;
    int l, j;
    int rc = check_params(sizes, n_layers, params, n_params);
    if (rc != PN_OK) return rc;
    if (!x || !out) return PN_ERR_NULL;
    if ((rc = tb_alloc(&t, sizes, n_layers)) != PN_OK) return rc;
    for (l = 0; l + 1 < n_layers; l++) {
        weighted_sums(sizes[l + 1], sizes[l], params + t.w_off[l], a, params + t.b_off[l], t.zs[l]);
        for (j = 0; j < sizes[l + 1]; j++) t.acts[l + 1][j] = pn_sigmoid(t.zs[l][j]);
        a = t.acts[l + 1];
    }
    memcpy(out, a, sizeof(double) * (size_t)sizes[n_layers - 1]);
    tb_free(&t);
    return PN_OK;
}

/* Like feedforward, but keep what backprop needs: t->zs[l] = z of layer l+1 and
 * t->acts[l] = a of layer l, for l >= 1 (layer 0's activations are x itself). */
static void forward_pass(tb_work *t, const int *sizes, int n_layers, const double *params,
                         const double *x)
{
    int l, j;
    const double *a = x;
    for (l = 0; l + 1 < n_layers; l++) {
        weighted_sums(sizes[l + 1], sizes[l], params + t->w_off[l], a, params + t->b_off[l],
                      t->zs[l]);
        for (j = 0; j < sizes[l + 1]; j++) t->acts[l + 1][j] = pn_sigmoid(t->zs[l][j]);
        a = t->acts[l + 1];
    }
}

/* --- backward -------------------------------------------------------------- */

/* delta^L_j = (a^L_j - y_j) sigma'(z^L_j): dC/dz for C = 1/2 |a - y|^2 (chain rule). */
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

/* delta^l_k = (sum_j w^{l+1}_jk delta^{l+1}_j) sigma'(z^l_k): the error moved back
 * through w^T. */
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

/* All the errors delta of one sample (t->deltas), output layer first. */
static void backward_pass(tb_work *t, const int *sizes, int n_layers, const double *params,
                          const double *y)
{
    int L = n_layers - 1, l;
    output_error(sizes[L], t->acts[L], y, t->zs[L - 1], t->deltas[L - 1]);
    for (l = L - 2; l >= 0; l--)
        backward_error(sizes[l + 2], sizes[l + 1], params + t->w_off[l + 1], t->deltas[l + 1],
                       t->zs[l], t->deltas[l]);
}

/* Gradient of one sample's cost: grad (textbook layout) = dC/dw = delta a^T
 * (reference.weight_gradient) and dC/db = delta, for every layer. */
int pn_backprop(const int *sizes, int n_layers, const double *params, size_t n_params,
                const double *x, const double *y, double *grad)
{
    tb_work t;
    int l, j, k, L = n_layers - 1;
    int rc = check_params(sizes, n_layers, params, n_params);
    if (rc != PN_OK) return rc;
    if (!x || !y || !grad) return PN_ERR_NULL;
    if ((rc = tb_alloc(&t, sizes, n_layers)) != PN_OK) return rc;
    forward_pass(&t, sizes, n_layers, params, x);
    backward_pass(&t, sizes, n_layers, params, y);
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

/* One step of gradient descent on the m samples (xs, ys), in place: the
 * gradients are summed sample by sample (in batch order), adding delta_j a_k for
 * the non-zero a_k only (the others add exactly 0), then
 * w <- w - (eta/m) sum dC/dw and b <- b - (eta/m) sum dC/db, where the inputs k
 * that were 0 in every sample ("untouched") keep their weights as they are. */
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
    nabla = (double *)calloc(n_params, sizeof(double));     /* sum dC/dw, sum dC/db */
    t_off = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    for (l = 0; l < L; l++) tpos += (size_t)sizes[l];
    touched = (unsigned char *)calloc(tpos, 1);             /* touched + t_off[l]: layer l's k */
    if (!nabla || !t_off || !touched) {
        free(nabla); free(t_off); free(touched); tb_free(&t);
        return PN_ERR_NOMEM;
    }
    for (tpos = 0, l = 0; l < L; l++) { t_off[l] = tpos; tpos += (size_t)sizes[l]; }
    for (s = 0; s < m; s++) {
        const double *x = xs + (size_t)s * sizes[0], *y = ys + (size_t)s * sizes[L];
        forward_pass(&t, sizes, n_layers, params, x);
        backward_pass(&t, sizes, n_layers, params, y);
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
                if (tl[k]) row[k] = row[k] - scale * g[k];      /* untouched: w - (eta/m) 0 = w */
        }
    }
    free(nabla); free(t_off); free(touched); tb_free(&t);
    return PN_OK;
}

/* --- scratch --------------------------------------------------------------- */

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
    layer_offsets(sizes, n_layers, 0, t->w_off, t->b_off);
    t->acts[0] = NULL;
    for (l = 0; l < L; l++) {
        size_t n = (size_t)sizes[l + 1];
        t->zs[l] = t->mem + pos; pos += n;
        t->acts[l + 1] = t->mem + pos; pos += n;
        t->deltas[l] = t->mem + pos; pos += n;
    }
    return PN_OK;
}
