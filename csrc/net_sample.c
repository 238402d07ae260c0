/*
 * net_sample.c -- one sample through the conv and pool layers of a layered network
 * (net.h), forward and backward, as purenet/deep.py does it: its inputs, the kernels of
 * each layer (net_conv.c, net_pool.c), the errors moved back, and each conv layer's
 * gradients of the sample.  The fully connected layers are net_full.c's.
 *
 * In a training batch a sample's buffers that a later stage reads are its slot's in
 * net_batch (use_slot): a kept layer's output (net_layer.keep), a pool layer's choices, a
 * conv layer's non-zero errors when its gradient is summed in the step.  A conv layer
 * followed by a pool layer is not kept: the slope of its chosen units is taken from the
 * pool's output (the chosen unit's value), and in the one case where that is not enough
 * (a NaN among them, and a neuron whose slope at NaN is NaN) its output is computed again.
 */
#include "net.h"

#include <string.h>

/* Sample i's inputs into x[k * stride], k < n (pixels through the table, or doubles). */
static void load_input(const pn_data *d, size_t i, size_t n, double *x, size_t stride)
{
    size_t k;
    if (d->pixels) {
        const uint8_t *row = d->pixels + i * n;
        for (k = 0; k < n; k++) x[k * stride] = d->table[row[k]];
    } else {
        const double *row = d->xs + i * n;
        for (k = 0; k < n; k++) x[k * stride] = row[k];
    }
}

/* Maps a (layer ly's output) as one vector x, [map][row][column] order. */
static void flatten(const net_layer *ly, const double *a, double *x)
{
    size_t hw = (size_t)ly->oh * (size_t)ly->ow, c, q;
    for (c = 0; c < (size_t)ly->f; c++)
        for (q = 0; q < hw; q++) x[c * hw + q] = a[q * ly->fp + c];
}

/* Training: the sample's buffers that outlive its stage are slot `slot`'s. */
static void use_slot(const net_plan *p, net_batch *b, net_sample *s, int slot)
{
    int l;
    for (l = 1; l < p->first; l++) {
        const net_layer *ly = &p->ly[l];
        size_t maps = (size_t)ly->oh * (size_t)ly->ow * ly->fp;
        if (b->ma[l]) s->act[l] = b->ma[l] + (size_t)slot * maps;
        if (b->ch[l]) s->choice[l] = b->ch[l] + (size_t)slot * maps;
        if (!b->dp[l]) continue;
        s->d_p[l] = b->dp[l] + (size_t)slot * ly->n_out;
        s->d_v[l] = b->dv[l] + (size_t)slot * ly->n_out;
        s->d_s[l] = b->ds[l] + (size_t)slot * ((size_t)ly->f + 1);
    }
}

/* The input of pool layer 1 (sample i) as maps in act[0]. */
static void input_maps(const net_plan *p, net_sample *s, const pn_data *d, size_t i)
{
    load_input(d, i, p->ly[0].n_out, s->act[0], p->ly[0].fp);
}

/* The non-zero inputs of conv layer 1 (sample i, one map), straight from the sample's
 * row of pixels or doubles (net_maps_nonzero's list of the same map). */
static void input_list(const net_plan *p, net_sample *s, const pn_data *d, size_t i)
{
    int y, x, n = 0, side = p->ly[0].oh, *pos = s->in_p[1];
    double *val = s->in_v[1];
    for (y = 0; y < side; y++)
        for (x = 0; x < side; x++) {
            size_t k = (size_t)y * (size_t)side + (size_t)x;
            double v = d->pixels ? d->table[d->pixels[i * p->ly[0].n_out + k]]
                                 : d->xs[i * p->ly[0].n_out + k];
            pos[n] = y << NET_XBITS | x;
            val[n] = v;
            n += v != 0.0;                      /* NaN counts as non-zero, as in Python */
        }
    s->in_s[1][0] = 0;
    s->in_s[1][1] = n;
}

/* Conv layer l forward (sample i): its input's non-zero units, then act[l] = act(z). */
static void conv_forward(const net_plan *p, const double *P, net_sample *s, int l,
                         const pn_data *d, size_t i, int wide)
{
    const net_layer *cur = &p->ly[l];
    const double *Wf = P + (cur->gform == NET_OVER_F ? cur->wm : cur->wx);
    if (l == 1) input_list(p, s, d, i);
    else net_maps_nonzero(cur, s->act[l - 1], s->in_p[l], s->in_v[l], s->in_s[l]);
    net_conv_forward(wide, cur, Wf, P + cur->bm, s->in_p[l], s->in_v[l], s->in_s[l],
                     p->activation, s->act[l], s->zrow, s->erow);
}

void net_maps_forward(const net_plan *p, const double *P, net_batch *b, net_sample *s, int s0,
                      int s1, const pn_data *d, const int64_t *idx, int wide)
{
    int l, t, F = p->first;
    for (t = s0; t < s1 && F == 1; t++)         /* the input is the first full layer's */
        load_input(d, (size_t)idx[t], p->ly[0].n_out,
                   b->fx[1] + (size_t)t * net_pad(p->ly[1].n_in), 1);
    for (l = 1; l < F; l++) {                   /* layer by layer, a conv and its pool at once */
        int pair = p->ly[l].kind == PN_CONV && p->ly[l + 1].kind == PN_POOL;
        for (t = s0; t < s1; t++) {
            use_slot(p, b, s, t);
            if (p->ly[l].kind == PN_CONV) {
                conv_forward(p, P, s, l, d, (size_t)idx[t], wide);
            } else {
                if (l == 1) input_maps(p, s, d, (size_t)idx[t]);
                net_pool_forward(wide, &p->ly[l], s->act[l - 1], s->act[l], s->choice[l]);
            }
            if (pair)
                net_pool_forward(wide, &p->ly[l + 1], s->act[l], s->act[l + 1], s->choice[l + 1]);
            if (l + pair == F - 1)
                flatten(&p->ly[F - 1], s->act[F - 1],
                        b->fx[F] + (size_t)t * net_pad(p->ly[F].n_in));
        }
        l += pair;
    }
}

/* The error of layer F - 1 from the error moved back through the first full layer (sv, in
 * [map][row][column] order): s * act'(a) for a conv layer, s for a pool layer. */
static void unflatten_error(const net_plan *p, net_sample *s, const double *sv)
{
    int l = p->first - 1;
    const net_layer *cur = &p->ly[l];
    size_t hw = (size_t)cur->oh * (size_t)cur->ow, c, q;
    for (c = 0; c < (size_t)cur->f; c++)
        for (q = 0; q < hw; q++) {
            size_t at = q * cur->fp + c;
            s->delta[l][at] = cur->kind == PN_CONV
                            ? sv[c * hw + q] * net_prime(p->activation, s->act[l][at])
                            : sv[c * hw + q];
        }
}

/* The error of conv layer l (followed by pool layer l + 1) from the pool's: at each
 * chosen unit the pool's error times act'(its value, the pool's output), elsewhere
 * 0.0 * act'(a), which is +0.0 unless a is NaN (then the pool's output is NaN too, and
 * the conv layer's output is computed again for the slope of every unit). */
static void pool_error_back(const net_plan *p, const double *P, net_sample *s, int l,
                            const pn_data *d, size_t i, int wide)
{
    const net_layer *pool = &p->ly[l + 1], *cur = &p->ly[l];
    size_t n = (size_t)pool->oh * (size_t)pool->ow * pool->fp;
    if (p->activation == PN_RELU || !net_any_nan(s->act[l + 1], n)) {
        net_pool_backward(pool, s->delta[l + 1], s->choice[l + 1], s->act[l + 1], p->activation,
                          s->delta[l]);
        return;
    }
    conv_forward(p, P, s, l, d, i, wide);
    net_pool_backward(pool, s->delta[l + 1], s->choice[l + 1], NULL, p->activation, s->delta[l]);
    times_prime(p->activation, s->delta[l], s->act[l],
                (int)((size_t)cur->oh * (size_t)cur->ow * cur->fp));
}

/* The error of layer l - 1 (l >= 2) from the error of conv or pool layer l. */
static void error_back(const net_plan *p, const double *P, net_sample *s, int l,
                       const pn_data *d, size_t i, int wide)
{
    const net_layer *nxt = &p->ly[l], *cur = &p->ly[l - 1];
    if (nxt->kind == PN_POOL && cur->kind == PN_CONV) {
        pool_error_back(p, P, s, l - 1, d, i, wide);
    } else if (nxt->kind == PN_POOL) {          /* a pool layer's own slope is 1 */
        net_pool_backward(nxt, s->delta[l], s->choice[l], NULL, p->activation, s->delta[l - 1]);
    } else {
        net_conv_backward(wide, nxt, P + (nxt->gform == NET_OVER_C ? nxt->wm : nxt->wx),
                          s->d_p[l], s->d_v[l], s->d_s[l], s->delta[l - 1]);
        if (cur->kind == PN_CONV)
            times_prime(p->activation, s->delta[l - 1], s->act[l - 1],
                        (int)((size_t)cur->oh * (size_t)cur->ow * cur->fp));
    }
}

/* Conv layer l's gradients of this sample: the biases' into slot `slot` of b->gb[l]; the
 * weights' (across filters) into G, or with sums added to the batch's sums (G is then
 * scratch, 0.0 before and after), from its input's non-zero units (found again: the
 * input is kept, or is the sample's); and its non-zero errors (across maps: for the
 * step's gradient; l >= 2: for the error moved back). */
static void conv_gradients(const net_plan *p, net_batch *b, net_sample *s, int l, int slot,
                           const pn_data *d, size_t i, double *G, double *sums, int wide)
{
    const net_layer *cur = &p->ly[l];
    if (cur->gform == NET_OVER_C || l >= 2)
        net_errors_nonzero(cur, s->delta[l], s->d_p[l], s->d_v[l], s->d_s[l]);
    if (cur->gform == NET_OVER_F) {
        if (l == 1) input_list(p, s, d, i);
        else net_maps_nonzero(cur, s->act[l - 1], s->in_p[l], s->in_v[l], s->in_s[l]);
        net_conv_gradient(wide, cur, s->in_p[l], s->in_v[l], s->in_s[l], s->delta[l], G);
        if (sums) net_fold(wide, sums, G, cur->rows * cur->ld);
    }
    net_conv_bias_gradient(cur, s->delta[l], b->gb[l] + (size_t)slot * cur->fp);
}

void net_maps_backward(const net_plan *p, const double *P, net_batch *b, net_sample *s,
                       int slot, const pn_data *d, size_t i, double *const *gdst,
                       double *const *sums, int wide)
{
    int l, F = p->first;
    if (F == 1) return;
    use_slot(p, b, s, slot);
    unflatten_error(p, s, b->sF + (size_t)slot * net_pad(p->ly[F].n_in));
    for (l = F - 1; l >= 1; l--) {
        if (p->ly[l].kind == PN_CONV)
            conv_gradients(p, b, s, l, slot, d, i, gdst ? gdst[l] : s->g[l],
                           sums ? sums[l] : NULL, wide);
        if (l >= 2) error_back(p, P, s, l, d, i, wide);
    }
}

const double *net_target(const net_plan *p, net_sample *s, const pn_data *d, size_t i)
{
    size_t nL = p->ly[p->L].n_out, j;
    if (!d->labels) return d->ys + i * nL;
    for (j = 0; j < nL; j++) s->onehot[j] = j == d->labels[i] ? 1.0 : 0.0;
    return s->onehot;
}
