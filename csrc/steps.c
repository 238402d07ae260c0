/*
 * steps.c -- the steps of a mini-batch, layer by layer (fastpath.h: phases 2 to 4):
 * forward_layer, the output and hidden errors, and each weight layer's step
 * (layer_step: the bias step, then the weight step of the touched rows, or of every
 * row with L2, L1 or momentum).  Each works on a range of output neurons, so that
 * train.c can split the first layer between threads; the sums are rowsum.c's.
 */
#include "fastpath.h"

#include <string.h>

/* Rows k per chunk of the forward sums: the weight block of a chunk (rows x the
 * widest column block) is 64 KiB, twice a 32 KiB L1 data cache, since a batch of
 * digits touches only some of a chunk's rows (MNIST, 784-100-10: 128 rows per
 * chunk took 0.985 of the time of 64, one thread, and 0.989 with two; 256: 0.99). */
#define PN_CHUNK_BYTES 65536
static int chunk_rows(int wide, int n_out)
{
    int widest = n_out < plan_widest(wide) ? n_out : plan_widest(wide);
    int kc = PN_CHUNK_BYTES / (8 * (widest > 0 ? widest : 1));
    return kc < 8 ? 8 : kc;
}


/* The chunks of forward_sums for nc outputs of weight layer l, samples 0..m-1 of
 * set `view`: the samples' lists (t->idx, t->val) and where each chunk of rows
 * starts in them (t->cp, from their blk positions); returns the chunk count. */
static int chunk_plan(fast_work *w, thread_work *t, int l, int view, int m, int nc)
{
    int kc = chunk_rows(w->wide, nc) / PN_BLK * PN_BLK, nch, s, c;
    if (kc < PN_BLK) kc = PN_BLK;
    nch = (w->n[l] + kc - 1) / kc;
    for (s = 0; s < m; s++) {
        const int *blk = nz_blk(w, l, view, s);
        int *cp = t->cp + (size_t)s * (nch + 1);
        t->idx[s] = nz_idx(w, l, view, s);
        t->val[s] = nz_val(w, l, view, s);
        for (c = 0; c < nch; c++) cp[c] = blk[c * (kc / PN_BLK)];
        cp[nch] = nz_of(w, l, view)->cnt[s];
    }
    return nch;
}

/* Where column c0 of row 0 of weight layer l's wT is (an offset into the fast
 * layout), and *ldw, the row length there.  Columns c0..c1-1 of every call below
 * lie in one panel (internal.h: panel_split). */
static size_t wT_at(fast_work *w, int l, int c0, size_t *ldw)
{
    return w->w_off[l] + fast_column(l, w->n[l], w->n[l + 1], c0, ldw);
}

/* Forward through weight layer l for samples 0..m-1 and output neurons c0..c1-1:
 * act[l+1][s][j] = act(sum over the non-zero inputs k, ascending, of wT[k][j] * x_k
 * + b[j]).  The sums run in chunks of rows k (forward_sums).  In the output layer
 * the z are kept in zL, and with a softmax output act[L] is left to softmax_rows
 * (a softmax needs the whole row, which may be split between threads).  When
 * training, the second panel of layer 1 writes its activations apart (w->apart),
 * and join_apart copies them into act[1]: with two threads, thread 1 then writes no
 * cache line of act[1], which thread 0 reads whole (the hardware prefetchers also
 * fetch the lines next to those a core uses, and a line written by one core and
 * held by the other costs both a transfer). */
void forward_layer(fast_work *w, thread_work *t, const double *params, int l, int view, int m,
                   int c0, int c1)
{
    int nc = c1 - c0, s;
    size_t ldw;
    const double *wT = params + wT_at(w, l, c0, &ldw), *b = params + w->b_off[l];
    int apart = w->apart && l == 0 && c0 > 0;
    size_t ldz = apart ? w->ld_apart : w->lda[l + 1], ldL = w->lda[l + 1];
    double *A = apart ? w->apart : w->act[l + 1] + c0;        /* sample 0's sums, column c0 */
    int last = l + 1 == w->L;
    int kind = !last ? w->model->activation
             : w->model->cost == PN_LOG_LIKELIHOOD ? PN_Z_ONLY : PN_SIGMOID;
    if (nc <= 0) return;
#if PN_HAVE_WIDE
    if (w->wide && nz_of(w, l, view)->all && nc <= PN_NARROW_MAX)
        dense_sums_narrow(wT, ldw, w->n[l], nz_val(w, l, view, 0), w->lda[l], m, A, ldz, nc);
    else
#endif
    {
        int nch = chunk_plan(w, t, l, view, m, nc);
        for (s = 0; s < m; s++)                                     /* sums from 0.0 */
            memset(A + (size_t)s * ldz, 0, sizeof(double) * (size_t)nc);
        forward_sums(w->wide, wT, ldw, nc, m, t->idx, t->val, t->cp, nch, A, ldz,
                     t->kind, t->first);
    }
    for (s = 0; s < m; s++) {                       /* in place: sum -> act(sum + b) */
        double *a = A + (size_t)s * ldz;
        double *z = last ? w->zL + (size_t)s * ldL + c0 : t->z;
        activate(kind, a, b + c0, nc, a, z, t->e);
    }
}

/* The activations forward_layer wrote apart, into act[1] (samples 0..m-1). */
void join_apart(fast_work *w, int m)
{
    int s, c0, c1;
    panel_cols(0, w->n[1], 1, &c0, &c1);
    if (c0 == 0) return;                          /* one panel: written in place */
    for (s = 0; s < m; s++)
        memcpy(w->act[1] + (size_t)s * w->lda[1] + c0, w->apart + (size_t)s * w->ld_apart,
               sizeof(double) * (size_t)(c1 - c0));
}

/* With a softmax output layer: act[L][s] = softmax(zL[s]) for samples 0..m-1. */
void softmax_rows(fast_work *w, int m)
{
    int s;
    size_t la = w->lda[w->L];
    if (w->model->cost != PN_LOG_LIKELIHOOD) return;
    for (s = 0; s < m; s++)
        softmax(w->n[w->L], w->zL + (size_t)s * la, w->act[w->L] + (size_t)s * la);
}

/* The target of sample i: its row of ys, or the one-hot vector of its label. */
const double *target(fast_work *w, const pn_data *d, size_t i)
{
    int j, nL = w->n[w->L];
    if (!d->labels) return d->ys + i * (size_t)nL;
    for (j = 0; j < nL; j++) w->onehot[j] = j == d->labels[i] ? 1.0 : 0.0;
    return w->onehot;
}

/* The output error of one neuron: (a - y) * a(1 - a) for the quadratic cost
 * (a(1 - a) == sigma'(z) bit for bit), else a - y. */
static double output_error(int quadratic, double a, double y)
{
    return quadratic ? (a - y) * (a * (1.0 - a)) : a - y;
}

/* Output errors of samples 0..m-1, sample s = idx[s] (targets: rows of ys, or labels). */
void output_errors(fast_work *w, const pn_data *d, const int64_t *idx, int m)
{
    int L = w->L, nL = w->n[L], s, j, quadratic = w->model->cost == PN_QUADRATIC;
    size_t la = w->lda[L];
    for (s = 0; s < m; s++) {
        const double *a = w->act[L] + (size_t)s * la;
        double *dl = w->delta[L] + (size_t)s * la;
        if (d->labels) {                    /* the one-hot target: 0.0, then the label's 1.0 */
            for (j = 0; j < nL; j++) dl[j] = output_error(quadratic, a[j], 0.0);
            j = d->labels[idx[s]];
            dl[j] = output_error(quadratic, a[j], 1.0);
        } else {
            const double *y = d->ys + (size_t)idx[s] * nL;
            for (j = 0; j < nL; j++) dl[j] = output_error(quadratic, a[j], y[j]);
        }
    }
}

/* Errors of hidden layer l for samples 0..m-1:
 * delta[s][k] = (sum_j w[j][k] * delta_next[s][j], j ascending) * act'(z[k]),
 * vectorised across k: a row sum over the rows j of w, the layer's wT turned back
 * into rows (w->w_rows, once per batch), as in the forward pass. */
void hidden_errors(fast_work *w, thread_work *t, const double *params, int l, int m)
{
    int n_l = w->n[l], n_next = w->n[l + 1], k, j, s, nb;
    int activation = w->model->activation;
    size_t la = w->lda[l], ln = w->lda[l + 1], ldw = w->ldw[l];
    const double *wT = params + w->w_off[l];
    for (k = 0; k < n_l; k++)
        for (j = 0; j < n_next; j++) w->w_rows[(size_t)j * la + k] = wT[(size_t)k * ldw + j];
    nb = plan_blocks(w->wide, n_l, t->kind, t->first);
    for (s = 0; s < m; s++) {
        double *dl = w->delta[l] + (size_t)s * la;
        const double *a = w->act[l] + (size_t)s * la;
        rowsum_planned(w->wide, w->w_rows, la, w->iota, w->delta[l + 1] + (size_t)s * ln, n_next,
                       dl, RS_SET, 0.0, nb, t->kind, t->first);
        times_prime(activation, dl, a, n_l);
    }
}

step_plan plan_step(const pn_step *st, int m)
{
    step_plan p;
    p.rule = st->momentum > 0.0 ? STEP_MOMENTUM
           : st->l2 != 0.0 || st->l1 != 0.0 ? STEP_DECAY : STEP_PLAIN;
    p.scale = st->lr / (double)m;
    p.keep = 1.0 - st->lr * st->l2 / st->n;
    p.decay = st->lr * st->l2 / st->n;
    p.shrink = st->lr * st->l1 / st->n;
    p.mu = st->momentum;
    return p;
}

/* Bias step of layer l for outputs j0..j1-1 with g[j] = sum_s delta[s][j] (batch
 * order): b[j] -= scale * g[j], or with momentum v[j] = mu v[j] - scale * g[j],
 * b[j] += v[j].  g is a row sum of the errors with every x_s = 1.0 (delta * 1.0 is
 * delta, bit for bit), fused with the step as in csr_apply. */
static void bias_update(fast_work *w, thread_work *t, double *params, double *vel, int l, int m,
                        const step_plan *p, int j0, int j1)
{
    int j, nb, mode = p->rule == STEP_MOMENTUM ? RS_SET : RS_UPDATE;
    double *b = params + w->b_off[l];
    if (j1 <= j0) return;
    nb = plan_blocks(w->wide, j1 - j0, t->kind, t->first);
    rowsum_planned(w->wide, w->delta[l + 1] + j0, w->lda[l + 1], w->iota, w->ones, m,
                   mode == RS_SET ? t->nb : b + j0, mode, p->scale, nb, t->kind, t->first);
    if (mode == RS_UPDATE) return;
    for (j = j0; j < j1; j++) {
        double *v = vel + w->b_off[l] + j;
        *v = p->mu * *v - p->scale * t->nb[j - j0];
        b[j] = b[j] + *v;
    }
}

/* The touched rows of weight layer l (inputs non-zero in some sample of the
 * m), with their samples in batch order: a transposition of the samples' lists
 * of non-zero inputs (a counting sort by row).  The scan over the rows has no
 * branch (a row with no samples is written and then overwritten), since half the
 * rows of a batch of MNIST digits are touched, in no predictable pattern. */
void csr_build(fast_work *w, thread_work *t, pn_csr *c, int l, int view, int m)
{
    int s, q, k, nu = 0, pos = 0, n = w->n[l];
    const int *cnt = nz_of(w, l, view)->cnt;
    int *kcnt = t->kcnt;
    memset(kcnt, 0, sizeof(int) * (size_t)n);
    for (s = 0; s < m; s++) {                           /* samples per row */
        const int *ix = nz_idx(w, l, view, s);
        int nq = cnt[s];
        for (q = 0; q < nq; q++) kcnt[ix[q]]++;
    }
    for (k = 0; k < n; k++) {
        int rows = kcnt[k];
        c->uk[nu] = k; c->start[nu] = pos; c->cnt[nu] = rows;
        kcnt[k] = pos;                                  /* now: where its next sample goes */
        pos += rows;
        nu += rows != 0;
    }
    for (s = 0; s < m; s++) {                           /* in batch order */
        const int *ix = nz_idx(w, l, view, s);
        const double *vx = nz_val(w, l, view, s);
        int nq = cnt[s];
        for (q = 0; q < nq; q++) {
            int p = kcnt[ix[q]]++;
            c->es[p] = s; c->ex[p] = vx[q];
        }
    }
    c->nu = nu;
    c->form = CSR_LISTS;
}

/* The gradient rows of the touched rows u0..u1-1 of c (weight layer l), columns c0..
 * of the nb blocks planned in t: g[j] = sum over the row's samples s (batch order) of
 * delta[s][c0 + j] * x_s[k], into out + uk[u] * ldo as mode says (rowsum_rows). */
static void csr_sums(fast_work *w, thread_work *t, int l, const pn_csr *c, int u0, int u1,
                     int c0, int nb, double *out, size_t ldo, int mode, double scale)
{
    const double *dl = w->delta[l + 1] + c0;
    size_t lda = w->lda[l + 1];
#if PN_HAVE_WIDE
    if (c->form == CSR_PIXELS) {
        rowsum_pixel_rows(dl, lda, c->uk + u0, c->mk + u0, u1 - u0, c->pix, w->table, out, ldo,
                          mode, scale, nb, t->kind, t->first);
        return;
    }
#endif
    rowsum_rows(w->wide, dl, lda, c->es, c->ex, c->start + u0, c->cnt + u0, c->uk + u0, u1 - u0,
                out, ldo, mode, scale, nb, t->kind, t->first);
}

/* Weight step of layer l on the rows of c, columns c0..c1-1: for each touched row
 * k, g[j] = sum over its samples s (batch order) of delta[s][j] * x_s[k], fused with
 * the step wT[k][j] -= scale * g[j] (RS_UPDATE).  Untouched rows have a zero
 * gradient and are left as they are, as in the reference. */
static void csr_apply(fast_work *w, thread_work *t, double *params, int l, const pn_csr *c,
                      double scale, int c0, int c1)
{
    size_t ldw;
    double *wT = params + wT_at(w, l, c0, &ldw);
    int nb;
    if (c1 <= c0 || c->nu == 0) return;
    nb = plan_blocks(w->wide, c1 - c0, t->kind, t->first);
    csr_sums(w, t, l, c, 0, c->nu, c0, nb, wT, ldw, RS_UPDATE, scale);
}

/* Weight step of layer l, columns c0..c1-1 (a whole panel), when every weight moves.
 * With L2 or L1, w = (keep * w - shrink * sgn(w)) - scale * g is two passes with the
 * same roundings: the decay of the whole panel in one loop (its padding, 0.0, stays
 * 0.0), then the gradient step of the touched rows (csr_apply).  With momentum, every
 * row k ascending: its gradient row (the rowsum of csr_apply, into scratch) when it is
 * touched, a zero gradient when not, and the momentum step of the row. */
static void dense_step(fast_work *w, thread_work *t, double *params, double *vel, int l,
                       const pn_csr *c, const step_plan *p, int c0, int c1)
{
    size_t ldw, at0 = wT_at(w, l, c0, &ldw);
    int nc = c1 - c0, nb, u = 0, k;
    if (nc <= 0) return;
    if (p->rule == STEP_DECAY) {
        decay_step(params + at0, (size_t)w->n[l] * ldw, p->keep, p->shrink);
        csr_apply(w, t, params, l, c, p->scale, c0, c1);
        return;
    }
    nb = plan_blocks(w->wide, nc, t->kind, t->first);
    for (k = 0; k < w->n[l]; k++) {
        size_t at = at0 + (size_t)k * ldw;
        const double *g = NULL;
        if (u < c->nu && c->uk[u] == k) {
            csr_sums(w, t, l, c, u, u + 1, c0, nb, t->g, 0, RS_SET, 0.0);
            g = t->g;
            u++;
        }
        momentum_step(params + at, vel + at, g, nc, p->mu, p->decay, p->shrink, p->scale);
    }
}

/* The weight step of a layer l >= 1 whose inputs are all non-zero (nz[l].all: every
 * row is touched by every sample), vectorised across the inputs k instead of the
 * outputs j: gT[j][k] = sum over s (batch order) of act[s][k] * delta[s][j], the
 * products and sums of csr_apply (a product is the same either way round), then
 * w[k][j] = w[k][j] - scale * gT[j][k] (with L2 or L1 after the decay), or with
 * momentum each row's momentum step.  gT is w->w_rows. */
static void dense_inputs_step(fast_work *w, thread_work *t, double *params, double *vel, int l,
                              int m, const step_plan *p)
{
    int n_in = w->n[l], n_out = w->n[l + 1], j, k, s;
    int nb = plan_blocks(w->wide, n_in, t->kind, t->first);
    size_t la = w->lda[l], ln = w->lda[l + 1], ldw = w->ldw[l];
    double *wT = params + w->w_off[l], *gT = w->w_rows;
    for (j = 0; j < n_out; j++) {
        for (s = 0; s < m; s++) t->col[s] = w->delta[l + 1][(size_t)s * ln + j];
        rowsum_planned(w->wide, w->act[l], la, w->iota, t->col, m, gT + (size_t)j * la, RS_SET,
                       0.0, nb, t->kind, t->first);
    }
    if (p->rule == STEP_MOMENTUM) {
        for (k = 0; k < n_in; k++) {
            for (j = 0; j < n_out; j++) t->g[j] = gT[(size_t)j * la + k];
            momentum_step(wT + (size_t)k * ldw, vel + w->w_off[l] + (size_t)k * ldw, t->g, n_out,
                          p->mu, p->decay, p->shrink, p->scale);
        }
        return;
    }
    if (p->rule == STEP_DECAY) decay_step(wT, (size_t)n_in * ldw, p->keep, p->shrink);
    for (k = 0; k < n_in; k++)
        for (j = 0; j < n_out; j++)
            wT[(size_t)k * ldw + j] = wT[(size_t)k * ldw + j] - p->scale * gT[(size_t)j * la + k];
}

/* The step of weight layer l (biases and weights), columns c0..c1-1 (all of them
 * for l >= 1). */
void layer_step(fast_work *w, thread_work *t, double *params, double *vel, int l,
                       int view, int m, const step_plan *p, int c0, int c1)
{
    const pn_csr *c = l == 0 ? &w->csr0[view] : &t->csr;
    bias_update(w, t, params, vel, l, m, p, c0, c1);
    if (l > 0 && w->nz[l].all) {
        dense_inputs_step(w, t, params, vel, l, m, p);
        return;
    }
    if (l > 0) csr_build(w, t, &t->csr, l, 0, m);
    if (p->rule == STEP_PLAIN) csr_apply(w, t, params, l, c, p->scale, c0, c1);
    else dense_step(w, t, params, vel, l, c, p, c0, c1);
}
