/*
 * net_full.c -- the fully connected kernels of a layered network (net.h), and the
 * row operations of a batch's step: across the neurons j (forward, gradient) or the
 * inputs k (the error moved back), each sum in the textbook's order (reference.py):
 *   forward    z[j] = sum over the non-zero x[k], k ascending, of w[j][k] * x[k];
 *   backward   s[k] = sum over j ascending of w[j][k] * delta[j], no term skipped;
 *   gradient   sum over the samples (batch order) of delta[j] * x[k], x[k] != 0.
 * As in net_conv.c, a vector runs whole (padding included) only with a finite scalar
 * factor, and the AVX-512 copies (*_z) are picked per call by `wide`.
 */
#include "net.h"

#include <string.h>

/* Z[j] += WT[k][j] * v for the n entries (k, v) of a list, j < ld (nv vectors). */
PN_ALWAYS_INLINE void sums_body(const double *WT, size_t ld, const int *idx, const double *val,
                                int n, double *Z, int n_out, int zw)
{
    size_t nv = ld / NET_LANES;
    int t, j;
    memset(Z, 0, sizeof(double) * ld);
    for (t = 0; t < n; t++) {
        const double *w = WT + (size_t)idx[t] * ld;
        double v = val[t];
        if (net_finite(v)) row_axpy(Z, w, v, nv, zw);
        else for (j = 0; j < n_out; j++) Z[j] += w[j] * v;
    }
}

/* s[k] = sum over j < n_out of W[j][k] * delta[j], k < ld (nv vectors), n_in real. */
PN_ALWAYS_INLINE void back_body(const double *W, size_t ld, const double *delta, int n_out,
                                double *s, int n_in, int zw)
{
    size_t nv = ld / NET_LANES;
    int j, k;
    memset(s, 0, sizeof(double) * ld);
    for (j = 0; j < n_out; j++) {
        const double *w = W + (size_t)j * ld;
        double d = delta[j];
        if (net_finite(d)) row_axpy(s, w, d, nv, zw);
        else for (k = 0; k < n_in; k++) s[k] += w[k] * d;
    }
}

/* g[j] = sum over the m rows s of D (row length ld) with x_s = X[s * ldx] != 0 of
 * D[s][j] * x_s; returns whether there was one. */
PN_ALWAYS_INLINE int grad_row_body(const double *D, size_t ld, const double *X, size_t ldx, int m,
                                   double *g, int n_out, int zw)
{
    size_t nv = ld / NET_LANES;
    int s, j, any = 0;
    memset(g, 0, sizeof(double) * ld);
    for (s = 0; s < m; s++) {
        double x = X[(size_t)s * ldx];
        const double *d = D + (size_t)s * ld;
        if (x == 0.0) continue;
        any = 1;
        if (net_finite(x)) row_axpy(g, d, x, nv, zw);
        else for (j = 0; j < n_out; j++) g[j] += d[j] * x;
    }
    return any;
}

#if PN_HAVE_WIDE
#define NET_ZTARGET __attribute__((target("avx512f")))
NET_ZTARGET static void sums_z(const double *WT, size_t ld, const int *idx, const double *val,
                               int n, double *Z, int n_out)
{
    sums_body(WT, ld, idx, val, n, Z, n_out, 1);
}
NET_ZTARGET static void back_z(const double *W, size_t ld, const double *delta, int n_out,
                               double *s, int n_in)
{
    back_body(W, ld, delta, n_out, s, n_in, 1);
}
NET_ZTARGET static int grad_row_z(const double *D, size_t ld, const double *X, size_t ldx, int m,
                                  double *g, int n_out)
{
    return grad_row_body(D, ld, X, ldx, m, g, n_out, 1);
}
#endif

PN_CLONES static void sums_v(const double *WT, size_t ld, const int *idx, const double *val,
                             int n, double *Z, int n_out)
{
    sums_body(WT, ld, idx, val, n, Z, n_out, 0);
}
PN_CLONES static void back_v(const double *W, size_t ld, const double *delta, int n_out,
                             double *s, int n_in)
{
    back_body(W, ld, delta, n_out, s, n_in, 0);
}
PN_CLONES static int grad_row_v(const double *D, size_t ld, const double *X, size_t ldx, int m,
                                double *g, int n_out)
{
    return grad_row_body(D, ld, X, ldx, m, g, n_out, 0);
}

void net_full_sums(int wide, const net_layer *ly, const double *WT, const double *x, double *Z,
                   int *nzi, double *nzv)
{
    int n = 0, k;
    for (k = 0; k < (int)ly->n_in; k++) {           /* the non-zero inputs, k ascending */
        nzi[n] = k;
        nzv[n] = x[k];
        n += x[k] != 0.0;
    }
    (void)wide;
#if PN_HAVE_WIDE
    if (wide) { sums_z(WT, ly->ld, nzi, nzv, n, Z, (int)ly->n_out); return; }
#endif
    sums_v(WT, ly->ld, nzi, nzv, n, Z, (int)ly->n_out);
}

void net_full_backward(int wide, const net_layer *ly, const double *W, const double *delta,
                       double *s)
{
    size_t ld = net_pad(ly->n_in);
    (void)wide;
#if PN_HAVE_WIDE
    if (wide) { back_z(W, ld, delta, (int)ly->n_out, s, (int)ly->n_in); return; }
#endif
    back_v(W, ld, delta, (int)ly->n_out, s, (int)ly->n_in);
}

int net_full_grad_row(int wide, const net_layer *ly, int l, const net_batch *b, int m, size_t k,
                      double *g)
{
    const double *X = b->fx[l] + k;
    size_t ldx = net_pad(ly->n_in);
    (void)wide;
#if PN_HAVE_WIDE
    if (wide) return grad_row_z(b->fd[l], ly->fp, X, ldx, m, g, (int)ly->n_out);
#endif
    return grad_row_v(b->fd[l], ly->fp, X, ldx, m, g, (int)ly->n_out);
}

/* --- a batch's step ------------------------------------------------------------------ */

/* The plain and the L2/L1 steps (reference.py: update_mini_batch, regularized_update):
 * w = w - scale * g, or w = (keep * w - shrink * sgn(w)) - scale * g, shrink * sgn(w) as
 * selects (kernels.c: decay_step); g == NULL: a zero gradient (w - scale * 0.0 is w). */
PN_CLONES_WIDE static void plain_or_decay(double *w, const double *g, size_t n, int decay,
                                          double keep, double shrink, double scale)
{
    double neg = -shrink;
    size_t j;
    if (decay) {
        for (j = 0; j < n; j++) {
            double x = w[j], t = x > 0.0 ? shrink : 0.0;
            t = x < 0.0 ? neg : t;
            w[j] = keep * x - t;
        }
    }
    if (g) for (j = 0; j < n; j++) w[j] = w[j] - scale * g[j];
}

void net_step_row(const step_plan *sp, double *w, double *v, const double *g, size_t n)
{
    size_t at;
    if (sp->rule != STEP_MOMENTUM) {
        plain_or_decay(w, g, n, sp->rule == STEP_DECAY, sp->keep, sp->shrink, sp->scale);
        return;
    }
    for (at = 0; at < n; at += PN_MAX_SIZE)         /* momentum_step takes an int count */
        momentum_step(w + at, v + at, g ? g + at : NULL,
                      (int)(n - at < PN_MAX_SIZE ? n - at : PN_MAX_SIZE), sp->mu, sp->decay,
                      sp->shrink, sp->scale);
}

PN_CLONES_WIDE static void fold_mv(double *acc, double *add, size_t n)
{
    size_t q;
    for (q = 0; q < n; q++) {
        acc[q] = acc[q] + add[q];
        add[q] = 0.0;
    }
}

void net_fold(int wide, double *acc, double *add, size_t n)
{
    (void)wide;
    fold_mv(acc, add, n);
}
