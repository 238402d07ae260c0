/*
 * net_sample.c -- one sample of a layered network (net.h), forward and backward,
 * layer by layer as purenet/deep.py does it: its inputs, the kernels of each layer
 * (net_conv.c, net_full.c), dropout, the output error, the errors moved back, and
 * each conv layer's gradients of the sample.
 */
#include "net.h"

#include <string.h>

/* act'(z) from a = act(z), bit for bit as reference.py's sigmoid_prime (s(1 - s)),
 * tanh_prime (1 - t^2) and relu_prime (1 where z > 0, exactly where a > 0). */
static double prime_of(int activation, double a)
{
    if (activation == PN_TANH) return 1.0 - a * a;
    if (activation == PN_RELU) return a > 0.0 ? 1.0 : 0.0;
    return a * (1.0 - a);
}

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

/* Slot `slot`'s row of a full layer's inputs or errors (rows of ld doubles). */
static double *slot_row(double *base, int slot, size_t ld)
{
    return base + (size_t)slot * ld;
}

/* Forward through full layer l: z = the sums + b; a hidden layer's a = act(z) (with
 * dropout: a kept unit a * scale, a dropped one 0.0) into the next layer's inputs; the
 * output layer's a = the cost's output function of z. */
static void full_forward(const net_plan *p, const double *P, net_batch *b, net_sample *s, int l,
                         int slot, const net_drop *drop, int wide)
{
    const net_layer *cur = &p->ly[l];
    double *x = slot_row(b->fx[l], slot, net_pad(cur->n_in));
    int n = (int)cur->n_out, j;
    if (p->ly[l - 1].maps && l > 1) flatten(&p->ly[l - 1], s->act[l - 1], x);
    if (l == p->L) {
        int kind = p->cost == PN_LOG_LIKELIHOOD ? PN_Z_ONLY : PN_SIGMOID;
        net_full_sums(wide, cur, P + cur->wm, x, s->aL, s->nzi, s->nzv);
        activate(kind, s->aL, P + cur->bm, n, s->aL, s->zL, s->erow);
        if (kind == PN_Z_ONLY) softmax(n, s->zL, s->aL);
        return;
    }
    {
        double *y = slot_row(b->fx[l + 1], slot, net_pad(cur->n_out));
        net_full_sums(wide, cur, P + cur->wm, x, s->zrow, s->nzi, s->nzv);
        if (!drop) {
            activate(p->activation, s->zrow, P + cur->bm, n, y, s->zrow, s->erow);
            return;
        }
        activate(p->activation, s->zrow, P + cur->bm, n, s->pre[l], s->zrow, s->erow);
        for (j = 0; j < n; j++)
            y[j] = drop->keep[cur->drop_at + j] ? s->pre[l][j] * drop->scale : 0.0;
    }
}

/* Training: a conv layer across maps keeps each sample's input maps and errors in the
 * batch (its gradient is summed in the step): the sample's buffers are the slot's. */
static void use_slot(const net_plan *p, net_batch *b, net_sample *s, int slot)
{
    int l;
    for (l = 1; l <= p->L; l++) {
        const net_layer *ly = &p->ly[l];
        if (!b->cx || !b->cx[l]) continue;
        s->act[l - 1] = b->cx[l] + (size_t)slot * (size_t)ly->h * (size_t)ly->w * ly->cp;
        s->d_p[l] = b->dp[l] + (size_t)slot * ly->n_out;
        s->d_v[l] = b->dv[l] + (size_t)slot * ly->n_out;
        s->d_s[l] = b->ds[l] + (size_t)slot * ((size_t)ly->f + 1);
    }
}

void net_forward(const net_plan *p, const double *P, net_batch *b, net_sample *s, int slot,
                 const pn_data *d, size_t i, const net_drop *drop, int wide)
{
    const net_layer *ly = p->ly;
    int l;
    use_slot(p, b, s, slot);
    if (ly[0].maps) load_input(d, i, ly[0].n_out, s->act[0], ly[0].fp);
    else load_input(d, i, ly[0].n_out, slot_row(b->fx[1], slot, net_pad(ly[1].n_in)), 1);
    for (l = 1; l <= p->L; l++) {
        const net_layer *cur = &ly[l];
        if (cur->kind == PN_CONV) {
            const double *Wf = P + (cur->gform == NET_OVER_F ? cur->wm : cur->wx);
            net_maps_nonzero(cur, s->act[l - 1], s->in_p[l], s->in_v[l], s->in_s[l]);
            net_conv_forward(wide, cur, Wf, P + cur->bm, s->in_p[l], s->in_v[l], s->in_s[l],
                             p->activation, s->act[l], s->zrow, s->erow);
        } else if (cur->kind == PN_POOL) {
            net_pool_forward(cur, s->act[l - 1], s->act[l], s->choice[l]);
        } else {
            full_forward(p, P, b, s, l, slot, drop, wide);
        }
    }
}

/* The target of sample i: its row of ys, or the one-hot vector of its label. */
static const double *target_of(const net_plan *p, net_sample *s, const pn_data *d, size_t i)
{
    size_t nL = p->ly[p->L].n_out, j;
    if (!d->labels) return d->ys + i * nL;
    for (j = 0; j < nL; j++) s->onehot[j] = j == d->labels[i] ? 1.0 : 0.0;
    return s->onehot;
}

double net_sample_cost(const net_plan *p, net_sample *s, const pn_data *d, size_t i)
{
    return cost_fn(p->cost, (int)p->ly[p->L].n_out, s->aL, target_of(p, s, d, i), s->zL);
}

/* The output error: (a - y) * a(1 - a) for the quadratic cost (a(1 - a) is
 * sigma'(z) bit for bit), else a - y. */
static void output_error(const net_plan *p, net_batch *b, net_sample *s, int slot,
                         const pn_data *d, size_t i)
{
    const net_layer *ly = &p->ly[p->L];
    const double *y = target_of(p, s, d, i), *a = s->aL;
    double *dl = slot_row(b->fd[p->L], slot, ly->fp);
    size_t j;
    for (j = 0; j < ly->n_out; j++)
        dl[j] = p->cost == PN_QUADRATIC ? (a[j] - y[j]) * (a[j] * (1.0 - a[j])) : a[j] - y[j];
}

/* The error s moved back through full layer l, as the error of layer l - 1 (cur): a
 * hidden full layer's s[k] * act'(z[k]) (with dropout: times scale when kept, 0.0
 * when dropped), a conv layer's the same as maps, a pool layer's s as maps. */
static void full_error_back(const net_plan *p, net_batch *b, net_sample *s, int l, int slot,
                            const net_drop *drop)
{
    const net_layer *cur = &p->ly[l - 1];
    const double *sv = s->s;
    int act = p->activation;
    size_t k, c, q, hw = (size_t)cur->oh * (size_t)cur->ow;
    if (!cur->maps) {
        double *dl = slot_row(b->fd[l - 1], slot, cur->fp);
        const double *a = drop ? s->pre[l - 1] : slot_row(b->fx[l], slot, net_pad(cur->n_out));
        for (k = 0; k < cur->n_out; k++) {
            double v = sv[k] * prime_of(act, a[k]);
            if (drop) v = drop->keep[cur->drop_at + (int)k] ? v * drop->scale : 0.0;
            dl[k] = v;
        }
        return;
    }
    for (c = 0; c < (size_t)cur->f; c++)
        for (q = 0; q < hw; q++) {
            size_t at = q * cur->fp + c;
            s->delta[l - 1][at] = cur->kind == PN_CONV
                                ? sv[c * hw + q] * prime_of(act, s->act[l - 1][at])
                                : sv[c * hw + q];
        }
}

/* The error of layer l - 1 (l >= 2) from the error of layer l. */
static void error_back(const net_plan *p, const double *P, net_batch *b, net_sample *s, int l,
                       int slot, const net_drop *drop, int wide)
{
    const net_layer *nxt = &p->ly[l], *cur = &p->ly[l - 1];
    if (nxt->kind == PN_FULL) {
        net_full_backward(wide, nxt, P + nxt->wx, slot_row(b->fd[l], slot, nxt->fp), s->s);
        full_error_back(p, b, s, l, slot, drop);
        return;
    }
    if (nxt->kind == PN_POOL) {                 /* a pool layer's own slope is 1 */
        net_pool_backward(nxt, s->delta[l], s->choice[l], s->act[l],
                          cur->kind == PN_CONV ? s->act[l - 1] : NULL, p->activation,
                          s->delta[l - 1]);
        return;
    }
    net_conv_backward(wide, nxt, P + (nxt->gform == NET_OVER_C ? nxt->wm : nxt->wx),
                      s->d_p[l], s->d_v[l], s->d_s[l], s->delta[l - 1]);
    if (cur->kind == PN_CONV)
        times_prime(p->activation, s->delta[l - 1], s->act[l - 1],
                    (int)((size_t)cur->oh * (size_t)cur->ow * cur->fp));
}

/* Conv layer l's gradients of this sample: the biases' into slot `slot` of b->gb[l]; the
 * weights' (across filters) into G, or with sums added to the batch's sums (G is then
 * scratch, 0.0 before and after); and its non-zero errors (across maps: for the step's
 * gradient; l >= 2: for the error moved back). */
static void conv_gradients(const net_plan *p, net_batch *b, net_sample *s, int l, int slot,
                           double *G, double *sums, int wide)
{
    const net_layer *cur = &p->ly[l];
    if (cur->gform == NET_OVER_C || l >= 2)
        net_errors_nonzero(cur, s->delta[l], s->d_p[l], s->d_v[l], s->d_s[l]);
    if (cur->gform == NET_OVER_F) {
        net_conv_gradient(wide, cur, s->in_p[l], s->in_v[l], s->in_s[l], s->delta[l], G);
        if (sums) net_fold(wide, sums, G, cur->rows * cur->ld);
    }
    net_conv_bias_gradient(cur, s->delta[l], slot_row(b->gb[l], slot, cur->fp));
}

void net_backward(const net_plan *p, const double *P, net_batch *b, net_sample *s, int slot,
                  const pn_data *d, size_t i, const net_drop *drop, double *const *gdst,
                  double *const *sums, int wide)
{
    int l;
    output_error(p, b, s, slot, d, i);
    for (l = p->L; l >= 1; l--) {
        if (p->ly[l].kind == PN_CONV)
            conv_gradients(p, b, s, l, slot, gdst ? gdst[l] : s->g[l], sums ? sums[l] : NULL,
                           wide);
        if (l >= 2) error_back(p, P, b, s, l, slot, drop, wide);
    }
}
