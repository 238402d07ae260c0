/*
 * net_full.c -- the fully connected layers of a layered network (net.h) for a range of
 * samples (slots), layer by layer, so that a layer's weights are read once for all of
 * them; and the row operations of a batch's step.  Each sum in the textbook's order
 * (reference.py):
 *   forward    z[j] = sum over the non-zero x[k], k ascending, of w[j][k] * x[k]: across
 *              the neurons j, sample by sample;
 *   backward   s[k] = sum over j ascending of w[j][k] * delta[j], no term skipped: from
 *              the master WT[k][j] with the samples as the vector lanes (one sum a lane),
 *              a block of inputs k at a time;
 *   gradient   sum over the samples (batch order) of delta[j] * x[k], x[k] != 0: across j.
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

/* Inputs k side by side in the error moved back: a block of NET_BACK_K running sums. */
#define NET_BACK_K 8

/* sT[k * lanes + q] = sum over j < n_out (ascending) of WT[k][j] * dT[j * lanes + q] for
 * k < n_in and the lanes q (8 with zw, else 4): each lane one sample's sums. */
PN_ALWAYS_INLINE void back_lanes_body(const double *WT, size_t ld, int n_in, int n_out,
                                      const double *dT, double *sT, int zw)
{
    int k0, k, j, q;
#if PN_VEC
    if (zw) {
        for (k0 = 0; k0 < n_in; k0 += NET_BACK_K) {
            int nk = n_in - k0 < NET_BACK_K ? n_in - k0 : NET_BACK_K;
            net_v8 acc[NET_BACK_K], zero = {0, 0, 0, 0, 0, 0, 0, 0};
            for (q = 0; q < NET_BACK_K; q++) acc[q] = zero;
            for (j = 0; j < n_out; j++) {
                net_v8 d;
                memcpy(&d, dT + (size_t)j * NET_LANES, sizeof d);
                for (q = 0; q < NET_BACK_K; q++) {
                    double w = q < nk ? WT[(size_t)(k0 + q) * ld + (size_t)j] : 0.0;
                    net_v8 wv = {w, w, w, w, w, w, w, w};
                    acc[q] += wv * d;
                }
            }
            for (q = 0; q < nk; q++)
                memcpy(sT + (size_t)(k0 + q) * NET_LANES, &acc[q], sizeof acc[q]);
        }
        return;
    }
    for (k0 = 0; k0 < n_in; k0 += NET_BACK_K) {
        int nk = n_in - k0 < NET_BACK_K ? n_in - k0 : NET_BACK_K;
        pn_v4 acc[NET_BACK_K], zero = {0, 0, 0, 0};
        for (q = 0; q < NET_BACK_K; q++) acc[q] = zero;
        for (j = 0; j < n_out; j++) {
            pn_v4 d;
            memcpy(&d, dT + (size_t)j * 4, sizeof d);
            for (q = 0; q < NET_BACK_K; q++) {
                double w = q < nk ? WT[(size_t)(k0 + q) * ld + (size_t)j] : 0.0;
                pn_v4 wv = {w, w, w, w};
                acc[q] += wv * d;
            }
        }
        for (q = 0; q < nk; q++) memcpy(sT + (size_t)(k0 + q) * 4, &acc[q], sizeof acc[q]);
    }
#else
    (void)zw; (void)k0;
    for (k = 0; k < n_in; k++)
        for (q = 0; q < 4; q++) {
            double sum = 0.0;
            for (j = 0; j < n_out; j++)
                sum += WT[(size_t)k * ld + (size_t)j] * dT[(size_t)j * 4 + q];
            sT[(size_t)k * 4 + q] = sum;
        }
#endif
    (void)k;
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
NET_ZTARGET static void back_lanes_z(const double *WT, size_t ld, int n_in, int n_out,
                                     const double *dT, double *sT)
{
    back_lanes_body(WT, ld, n_in, n_out, dT, sT, 1);
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
PN_CLONES static void back_lanes_v(const double *WT, size_t ld, int n_in, int n_out,
                                   const double *dT, double *sT)
{
    back_lanes_body(WT, ld, n_in, n_out, dT, sT, 0);
}
PN_CLONES static int grad_row_v(const double *D, size_t ld, const double *X, size_t ldx, int m,
                                double *g, int n_out)
{
    return grad_row_body(D, ld, X, ldx, m, g, n_out, 0);
}

/* Z[j] = sum over the non-zero x[k], k ascending, of WT[k][j] * x[k], j < n_out (nzi,
 * nzv: scratch for n_in entries). */
static void full_sums(int wide, const net_layer *ly, const double *WT, const double *x,
                      double *Z, int *nzi, double *nzv)
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

/* The lanes of the error moved back: 8 in the AVX-512 copy, else 4. */
static int lanes_of(int wide)
{
    return PN_HAVE_WIDE && wide ? NET_LANES : 4;
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

/* --- the layers of a range of samples ------------------------------------------------ */

/* Full layer l forward for slots s0..s1-1: z = the sums + b; a hidden layer's a = act(z)
 * (b->pre), into the next layer's inputs as it is, or with dropout a kept unit's a * scale
 * and a dropped one's 0.0; the output layer's z and a (the cost's output function). */
static void layer_forward(const net_plan *p, const double *P, net_batch *b, net_sample *s, int l,
                          int s0, int s1, const net_drop *drop, int wide)
{
    const net_layer *ly = &p->ly[l];
    const double *bias = P + ly->bm;
    size_t ldx = net_pad(ly->n_in), fp = ly->fp, j;
    int n = (int)ly->n_out, t;
    for (t = s0; t < s1; t++) {
        const double *x = b->fx[l] + (size_t)t * ldx;
        if (l == p->L) {
            int kind = p->cost == PN_LOG_LIKELIHOOD ? PN_Z_ONLY : PN_SIGMOID;
            double *a = b->aL + (size_t)t * fp, *z = b->zL + (size_t)t * fp;
            full_sums(wide, ly, P + ly->wm, x, a, s->nzi, s->nzv);
            activate(kind, a, bias, n, a, z, s->erow);
            if (kind == PN_Z_ONLY) softmax(n, z, a);
        } else {
            double *a = b->pre[l] + (size_t)t * fp;
            double *y = b->fx[l + 1] + (size_t)t * net_pad(ly->n_out);
            const uint8_t *keep = NULL;
            if (drop) keep = drop->keep + (size_t)t * (size_t)p->units + (size_t)ly->drop_at;
            full_sums(wide, ly, P + ly->wm, x, a, s->nzi, s->nzv);
            activate(p->activation, a, bias, n, a, s->zrow, s->erow);
            for (j = 0; j < (size_t)n; j++)
                y[j] = !keep ? a[j] : keep[j] ? a[j] * drop->scale : 0.0;
        }
    }
}

void net_full_forward(const net_plan *p, const double *P, net_batch *b, net_sample *s, int s0,
                      int s1, const net_drop *drop, int wide)
{
    int l;
    for (l = p->first; l <= p->L; l++) layer_forward(p, P, b, s, l, s0, s1, drop, wide);
}

/* The output error of slot t (sample i): (a - y) * a(1 - a) for the quadratic cost
 * (a(1 - a) is sigma'(z) bit for bit), else a - y. */
static void output_error(const net_plan *p, net_batch *b, net_sample *s, int t,
                         const pn_data *d, size_t i)
{
    const net_layer *ly = &p->ly[p->L];
    const double *y = net_target(p, s, d, i), *a = b->aL + (size_t)t * ly->fp;
    double *dl = b->fd[p->L] + (size_t)t * ly->fp;
    size_t j;
    for (j = 0; j < ly->n_out; j++)
        dl[j] = p->cost == PN_QUADRATIC ? (a[j] - y[j]) * (a[j] * (1.0 - a[j])) : a[j] - y[j];
}

/* The errors of slots t0..t0+n-1 moved back through full layer l: the sums s of the lanes
 * (sT), then a hidden layer l - 1's errors s * act'(z) (with dropout: times scale when kept,
 * 0.0 when dropped), or for l = F the error into the maps below (b->sF). */
static void layer_backward(const net_plan *p, const double *P, net_batch *b, net_sample *s,
                           int l, int t0, int n, const net_drop *drop, int wide)
{
    const net_layer *ly = &p->ly[l], *cur = &p->ly[l - 1];
    int lanes = lanes_of(wide), q;
    size_t j, k, n_in = ly->n_in;
    double *dT = s->lanes, *sT = dT + ly->fp * (size_t)lanes;
    for (j = 0; j < ly->n_out; j++)
        for (q = 0; q < lanes; q++)
            dT[j * (size_t)lanes + (size_t)q] =
                q < n ? b->fd[l][(size_t)(t0 + q) * ly->fp + j] : 0.0;
    (void)wide;
#if PN_HAVE_WIDE
    if (wide) back_lanes_z(P + ly->wm, ly->ld, (int)n_in, (int)ly->n_out, dT, sT);
    else
#endif
        back_lanes_v(P + ly->wm, ly->ld, (int)n_in, (int)ly->n_out, dT, sT);
    for (q = 0; q < n; q++) {
        size_t t = (size_t)(t0 + q);
        if (l == p->first) {
            for (k = 0; k < n_in; k++)
                b->sF[t * net_pad(n_in) + k] = sT[k * (size_t)lanes + (size_t)q];
            continue;
        }
        for (k = 0; k < n_in; k++) {
            double v = sT[k * (size_t)lanes + (size_t)q] *
                       net_prime(p->activation, b->pre[l - 1][t * cur->fp + k]);
            if (drop)
                v = drop->keep[t * (size_t)p->units + (size_t)cur->drop_at + k] ? v * drop->scale
                                                                                 : 0.0;
            b->fd[l - 1][t * cur->fp + k] = v;
        }
    }
}

void net_full_backward(const net_plan *p, const double *P, net_batch *b, net_sample *s, int s0,
                       int s1, const pn_data *d, const int64_t *idx, const net_drop *drop, int wide)
{
    int l, t, lanes = lanes_of(wide);
    for (t = s0; t < s1; t++) output_error(p, b, s, t, d, (size_t)idx[t]);
    for (l = p->L; l >= p->first; l--) {
        if (l == 1) break;                      /* nothing moves into the input */
        for (t = s0; t < s1; t += lanes)
            layer_backward(p, P, b, s, l, t, s1 - t < lanes ? s1 - t : lanes, drop, wide);
    }
}

double net_slot_cost(const net_plan *p, const net_batch *b, net_sample *s, int t,
                     const pn_data *d, size_t i)
{
    size_t fp = p->ly[p->L].fp;
    return cost_fn(p->cost, (int)p->ly[p->L].n_out, b->aL + (size_t)t * fp,
                   net_target(p, s, d, i), b->zL + (size_t)t * fp);
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
