/*
 * net.c -- layered networks (net.h): the layers' shapes and their checks, the
 * scratch layout of the parameters and the copies to and from the textbook layout,
 * the scratch memory of a call, and the forward-only calls pn_net_outputs and
 * pn_net_cost (samples split between two threads when asked).
 */
#include "net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --- shapes ------------------------------------------------------------------------ */

/* *r = a * b * c, 0 on overflow. */
static int mul3(size_t a, size_t b, size_t c, size_t *r)
{
    size_t t;
    return mul_size(a, b, &t) && mul_size(t, c, r);
}

/* *total += add, 0 on overflow. */
static int add_to(size_t *total, size_t add)
{
    if (add > SIZE_MAX - *total) return 0;
    *total += add;
    return 1;
}

/* The input layer: a vector of n, or (when layer 1 is conv or pool) one r x r map. */
static int plan_input(net_layer *in, const pn_layer *e, const pn_layer *next)
{
    int r = 0;
    if (e->kind != PN_FULL || e->k != 0 || e->n < 1 || e->n > PN_MAX_SIZE) return PN_ERR_SIZES;
    in->kind = PN_FULL;
    in->n_out = (size_t)e->n;
    if (next->kind == PN_FULL) {
        in->f = e->n; in->oh = in->ow = 1;
        in->fp = net_pad((size_t)e->n);
        return PN_OK;
    }
    while ((long long)(r + 1) * (r + 1) <= e->n) r++;
    if ((long long)r * r != e->n) return PN_ERR_SIZES;          /* not a square image */
    in->f = 1; in->oh = in->ow = r; in->maps = 1;
    in->fp = NET_LANES;
    return PN_OK;
}

/* Layer `cur` from its entry e and the layer before it: its shapes (PN_ERR_SIZES when
 * they do not fit). */
static int plan_shape(net_layer *cur, const net_layer *prev, const pn_layer *e)
{
    size_t units;
    cur->kind = e->kind;
    cur->c = prev->f; cur->h = prev->oh; cur->w = prev->ow;
    cur->cp = prev->fp;
    cur->n_in = prev->n_out;
    if (e->kind == PN_FULL) {
        if (e->k != 0 || e->n < 1 || e->n > PN_MAX_SIZE) return PN_ERR_SIZES;
        cur->f = e->n; cur->oh = cur->ow = 1;
        cur->fp = net_pad((size_t)e->n);
        cur->n_out = (size_t)e->n;
        return PN_OK;
    }
    if (!prev->maps || e->k < 1) return PN_ERR_SIZES;           /* after a vector */
    cur->maps = 1;
    cur->k = e->k;
    if (e->kind == PN_CONV) {
        if (e->n < 1 || e->n > PN_MAX_SIZE || e->k > cur->h || e->k > cur->w) return PN_ERR_SIZES;
        cur->f = e->n; cur->oh = cur->h - e->k + 1; cur->ow = cur->w - e->k + 1;
    } else if (e->kind == PN_POOL) {
        if (e->n != 0 || cur->h % e->k != 0 || cur->w % e->k != 0) return PN_ERR_SIZES;
        cur->f = cur->c; cur->oh = cur->h / e->k; cur->ow = cur->w / e->k;
    } else {
        return PN_ERR_SIZES;
    }
    cur->fp = net_pad((size_t)cur->f);
    if (!mul3((size_t)cur->f, (size_t)cur->oh, (size_t)cur->ow, &units) || units > PN_MAX_SIZE)
        return PN_ERR_SIZES;
    cur->n_out = units;
    return PN_OK;
}

/* Layer l's parameters: textbook counts and offsets, scratch offsets (after *scr);
 * 0 on overflow. */
static int plan_params(net_layer *ly, int l, size_t *text, size_t *scr)
{
    size_t kk = (size_t)ly->k * (size_t)ly->k, copy = 0, nb;
    ly->wx = NET_NONE;
    ly->tw = *text;
    if (ly->kind == PN_POOL) { ly->tb = ly->wm = ly->bm = *scr; return 1; }
    if (ly->kind == PN_FULL) {
        if (!mul_size(ly->n_out, ly->n_in, &ly->nw)) return 0;
        ly->rows = ly->groups = ly->n_in;
        ly->ld = ly->fp;
    } else {
        ly->gform = ly->c >= NET_OVER_C_MIN ? NET_OVER_C : NET_OVER_F;
        if (!mul3((size_t)ly->f, (size_t)ly->c, kk, &ly->nw)) return 0;
        ly->groups = ly->gform == NET_OVER_C ? (size_t)ly->f : (size_t)ly->c;
        ly->rows = ly->groups * kk;
        ly->ld = ly->gform == NET_OVER_C ? ly->cp : ly->fp;
        if ((l >= 2 || ly->gform == NET_OVER_C) &&
            !mul3((size_t)(ly->gform == NET_OVER_C ? ly->c : ly->f), kk,
                  ly->gform == NET_OVER_C ? ly->fp : ly->cp, &copy))
            return 0;
    }
    nb = ly->kind == PN_FULL ? ly->n_out : (size_t)ly->f;
    if (!add_to(text, ly->nw)) return 0;
    ly->tb = *text;
    if (!add_to(text, nb)) return 0;
    ly->wm = *scr;
    if (!mul_size(ly->rows, ly->ld, &nb) || !add_to(scr, nb)) return 0;
    ly->bm = *scr;
    if (!add_to(scr, ly->fp)) return 0;
    if (copy) {
        ly->wx = *scr;
        if (!add_to(scr, copy)) return 0;
    }
    return 1;
}

int net_make_plan(net_plan *p, const pn_layer *layers, int n_layers)
{
    int l, rc, L = n_layers - 1;
    size_t text = 0, scr = 0, units = 0;
    memset(p, 0, sizeof *p);
    if (!layers) return PN_ERR_NULL;
    if (n_layers < 2 || n_layers > PN_MAX_LAYERS) return PN_ERR_SIZES;
    if (layers[L].kind != PN_FULL) return PN_ERR_SIZES;
    p->ly = (net_layer *)calloc((size_t)n_layers, sizeof(net_layer));
    if (!p->ly) return PN_ERR_NOMEM;
    p->L = L;
    rc = plan_input(&p->ly[0], &layers[0], &layers[1]);
    for (l = 1; rc == PN_OK && l <= L; l++) {
        net_layer *cur = &p->ly[l];
        rc = plan_shape(cur, &p->ly[l - 1], &layers[l]);
        if (rc == PN_OK && !plan_params(cur, l, &text, &scr)) rc = PN_ERR_SIZES;
        if (rc == PN_OK && cur->kind == PN_FULL && l < L) {
            cur->hidden = 1;
            cur->drop_at = (int)units;
            units += cur->n_out;
            if (units > PN_MAX_SIZE) rc = PN_ERR_SIZES;
        }
    }
    if (rc != PN_OK) { net_free_plan(p); return rc; }
    p->n_text = text; p->n_scr = scr; p->units = (int)units;
    for (p->first = 1; p->ly[p->first].kind != PN_FULL; p->first++)
        p->ly[p->first].keep = !(p->ly[p->first].kind == PN_CONV &&
                                 p->ly[p->first + 1].kind == PN_POOL);
    return PN_OK;
}

void net_free_plan(net_plan *p)
{
    free(p->ly);
    memset(p, 0, sizeof *p);
}

size_t pn_net_param_count(const pn_layer *layers, int n_layers)
{
    net_plan p;
    size_t n;
    if (net_make_plan(&p, layers, n_layers) != PN_OK) return 0;
    n = p.n_text;
    net_free_plan(&p);
    return n;
}

/* --- the scratch layout ------------------------------------------------------------ */

/* Where weight w[f][c][i][j] of conv layer ly is in Wf and in Wc (from their start). */
static size_t at_wf(const net_layer *ly, size_t f, size_t c, size_t i, size_t j)
{
    return ((c * (size_t)ly->k + i) * (size_t)ly->k + j) * ly->fp + f;
}
static size_t at_wc(const net_layer *ly, size_t f, size_t c, size_t i, size_t j)
{
    return ((f * (size_t)ly->k + i) * (size_t)ly->k + j) * ly->cp + c;
}

/* The scratch offsets (from the layer's masters and copy) of textbook weight t
 * (t < ly->nw) of layer ly. */
static void weight_at(const net_layer *ly, size_t t, size_t *master, size_t *copy)
{
    if (ly->kind == PN_FULL) {
        size_t j = t / ly->n_in, k = t % ly->n_in;
        *master = k * ly->ld + j;
        *copy = NET_NONE;
    } else {
        size_t kk = (size_t)ly->k * (size_t)ly->k, fc = t / kk, ij = t % kk;
        size_t f = fc / (size_t)ly->c, c = fc % (size_t)ly->c, i = ij / (size_t)ly->k,
               j = ij % (size_t)ly->k;
        size_t wf = at_wf(ly, f, c, i, j), wc = at_wc(ly, f, c, i, j);
        *master = ly->gform == NET_OVER_C ? wc : wf;
        *copy = ly->gform == NET_OVER_C ? wf : wc;
    }
}

void net_to_scratch(const net_plan *p, const double *text, double *scr, int vel)
{
    int l;
    size_t t, m, c;
    for (l = 1; l <= p->L; l++) {
        const net_layer *ly = &p->ly[l];
        if (ly->kind == PN_POOL) continue;
        for (t = 0; t < ly->nw; t++) {
            weight_at(ly, t, &m, &c);
            scr[ly->wm + m] = text[ly->tw + t];
            if (!vel && ly->wx != NET_NONE) scr[ly->wx + c] = text[ly->tw + t];
        }
        for (t = 0; t < (size_t)ly->f; t++) scr[ly->bm + t] = text[ly->tb + t];
    }
}

void net_from_scratch(const net_plan *p, const double *scr, double *text)
{
    int l;
    size_t t, m, c;
    for (l = 1; l <= p->L; l++) {
        const net_layer *ly = &p->ly[l];
        if (ly->kind == PN_POOL) continue;
        for (t = 0; t < ly->nw; t++) {
            weight_at(ly, t, &m, &c);
            text[ly->tw + t] = scr[ly->wm + m];
        }
        for (t = 0; t < (size_t)ly->f; t++) text[ly->tb + t] = scr[ly->bm + t];
    }
}

void net_copy_weights(const net_plan *p, int l, double *scr, size_t g0, size_t g1)
{
    const net_layer *ly = &p->ly[l];
    const double *M = scr + ly->wm;
    double *X = scr + ly->wx;
    size_t g, a, i, j, k = (size_t)ly->k;
    if (ly->wx == NET_NONE) return;
    for (g = g0; g < g1; g++)                       /* a group: filter f (Wc) or map c (Wf) */
        for (a = 0; a < (ly->gform == NET_OVER_C ? (size_t)ly->c : (size_t)ly->f); a++)
            for (i = 0; i < k; i++)
                for (j = 0; j < k; j++) {
                    if (ly->gform == NET_OVER_C)
                        X[at_wf(ly, g, a, i, j)] = M[at_wc(ly, g, a, i, j)];
                    else
                        X[at_wc(ly, a, g, i, j)] = M[at_wf(ly, a, g, i, j)];
                }
}

/* --- scratch memory ------------------------------------------------------------------ */

/* Every buffer starts on a 64-byte line. */
#define NET_ALIGN 64

void *net_zalloc(size_t bytes)
{
    void *p = NULL;
    if (bytes > SIZE_MAX - NET_ALIGN) return NULL;
    bytes = (bytes + NET_ALIGN - 1) / NET_ALIGN * NET_ALIGN;
#if defined(_WIN32)
    p = malloc(bytes ? bytes : NET_ALIGN);
#else
    if (posix_memalign(&p, NET_ALIGN, bytes ? bytes : NET_ALIGN) != 0) p = NULL;
#endif
    if (p) memset(p, 0, bytes);
    return p;
}

/* A bump allocator over one block: a first pass (base NULL) adds up the sizes. */
typedef struct { char *base; size_t used; int overflow; } net_bump;

static void *take(net_bump *b, size_t count, size_t elem)
{
    size_t bytes;
    void *p;
    if (!mul_size(count, elem, &bytes) || bytes > SIZE_MAX - NET_ALIGN) {
        b->overflow = 1;
        return NULL;
    }
    bytes = (bytes + NET_ALIGN - 1) / NET_ALIGN * NET_ALIGN;
    if (bytes > SIZE_MAX - b->used) { b->overflow = 1; return NULL; }
    p = b->base ? b->base + b->used : NULL;
    b->used += bytes;
    return p;
}

static size_t times(net_bump *b, size_t a, size_t c)
{
    size_t r;
    if (mul_size(a, c, &r)) return r;
    b->overflow = 1;
    return 0;
}

/* The pointer arrays of a net_sample (L + 1 each), one calloc. */
enum { NS_ACT, NS_DELTA, NS_INV, NS_DV, NS_G, NS_DOUBLES };
enum { NS_INP, NS_INS, NS_DP, NS_DS, NS_INTS };

static void bump_sample(net_bump *b, net_sample *s, const net_plan *p)
{
    int l;
    size_t widest = 0, lanes = 0;
    for (l = 0; l <= p->L; l++) {
        const net_layer *ly = &p->ly[l];
        size_t maps = times(b, (size_t)ly->oh * (size_t)ly->ow, ly->fp);
        if (ly->fp > widest) widest = ly->fp;
        if (ly->maps) s->act[l] = (double *)take(b, maps, sizeof(double));
        if (l == 0) continue;
        if (ly->kind == PN_FULL && (net_pad(ly->n_in) + ly->fp) * NET_LANES > lanes)
            lanes = (net_pad(ly->n_in) + ly->fp) * NET_LANES;
        if (ly->kind == PN_FULL && net_pad(ly->n_in) > widest) widest = net_pad(ly->n_in);
        if (ly->maps) s->delta[l] = (double *)take(b, maps, sizeof(double));
        if (ly->kind == PN_POOL) s->choice[l] = (int64_t *)take(b, maps, sizeof(int64_t));
        if (ly->kind == PN_CONV) {
            s->in_p[l] = (int *)take(b, ly->n_in, sizeof(int));
            s->in_v[l] = (double *)take(b, ly->n_in, sizeof(double));
            s->in_s[l] = (int *)take(b, (size_t)ly->c + 1, sizeof(int));
            s->d_p[l] = (int *)take(b, ly->n_out, sizeof(int));
            s->d_v[l] = (double *)take(b, ly->n_out, sizeof(double));
            s->d_s[l] = (int *)take(b, (size_t)ly->f + 1, sizeof(int));
            s->g[l] = (double *)take(b, times(b, ly->rows, ly->ld), sizeof(double));
        }
    }
    s->onehot = (double *)take(b, p->ly[p->L].fp, sizeof(double));
    s->zrow = (double *)take(b, widest, sizeof(double));
    s->erow = (double *)take(b, widest, sizeof(double));
    s->nzi = (int *)take(b, widest, sizeof(int));
    s->nzv = (double *)take(b, widest, sizeof(double));
    s->lanes = (double *)take(b, lanes, sizeof(double));
}

int net_sample_alloc(net_sample *s, const net_plan *p)
{
    size_t n = (size_t)p->L + 1;
    double **d;
    int **iv;
    net_bump b = {NULL, 0, 0};
    memset(s, 0, sizeof *s);
    d = (double **)calloc(n * NS_DOUBLES, sizeof(double *));
    iv = (int **)calloc(n * NS_INTS, sizeof(int *));
    s->choice = (int64_t **)calloc(n, sizeof(int64_t *));
    if (!d || !iv || !s->choice) { free(d); free(iv); free(s->choice); return PN_ERR_NOMEM; }
    s->act = d + NS_ACT * n; s->delta = d + NS_DELTA * n;
    s->in_v = d + NS_INV * n; s->d_v = d + NS_DV * n; s->g = d + NS_G * n;
    s->in_p = iv + NS_INP * n; s->in_s = iv + NS_INS * n;
    s->d_p = iv + NS_DP * n; s->d_s = iv + NS_DS * n;
    bump_sample(&b, s, p);
    if (!b.overflow) s->mem = net_zalloc(b.used);
    if (!s->mem) { net_sample_free(s); return PN_ERR_NOMEM; }
    b.base = (char *)s->mem; b.used = 0;
    bump_sample(&b, s, p);
    return PN_OK;
}

void net_sample_free(net_sample *s)
{
    free(s->act);                 /* the first of the pointer arrays */
    free(s->in_p);
    free(s->choice);
    free(s->mem);
    memset(s, 0, sizeof *s);
}

static void bump_batch(net_bump *b, net_batch *B, const net_plan *p, int threads, int train)
{
    int l;
    size_t widest = 0, slots = (size_t)B->slots, maps, filter;
    for (l = 1; l <= p->L; l++) {
        const net_layer *ly = &p->ly[l];
        maps = times(b, (size_t)ly->oh * (size_t)ly->ow, ly->fp);
        if (ly->fp > widest) widest = ly->fp;
        if (ly->kind == PN_FULL) {
            B->fx[l] = (double *)take(b, times(b, slots, net_pad(ly->n_in)), sizeof(double));
            if (ly->hidden) B->pre[l] = (double *)take(b, times(b, slots, ly->fp), sizeof(double));
            if (train) B->fd[l] = (double *)take(b, times(b, slots, ly->fp), sizeof(double));
            if (train && l == p->first && l >= 2)
                B->sF = (double *)take(b, times(b, slots, net_pad(ly->n_in)), sizeof(double));
            continue;
        }
        if (!train) continue;
        if (ly->keep) B->ma[l] = (double *)take(b, times(b, slots, maps), sizeof(double));
        if (ly->kind == PN_POOL)
            B->ch[l] = (int64_t *)take(b, times(b, slots, maps), sizeof(int64_t));
        if (ly->kind != PN_CONV) continue;
        B->gb[l] = (double *)take(b, times(b, slots, ly->fp), sizeof(double));
        if (ly->gform == NET_OVER_F) {
            B->gs[l] = (double *)take(b, times(b, (size_t)B->gslots, times(b, ly->rows, ly->ld)),
                                      sizeof(double));
            continue;
        }
        B->dp[l] = (int *)take(b, times(b, slots, ly->n_out), sizeof(int));
        B->dv[l] = (double *)take(b, times(b, slots, ly->n_out), sizeof(double));
        B->ds[l] = (int *)take(b, times(b, slots, (size_t)ly->f + 1), sizeof(int));
        filter = 2 * ly->rows / ly->groups * ly->ld;   /* a filter's sums and its scratch */
        if (filter > widest) widest = filter;
    }
    B->aL = (double *)take(b, times(b, slots, p->ly[p->L].fp), sizeof(double));
    B->idx = (int64_t *)take(b, slots, sizeof(int64_t));
    B->zL = (double *)take(b, times(b, slots, p->ly[p->L].fp), sizeof(double));
    B->row_len = widest;
    if (train) {
        B->nabla = (double *)take(b, p->n_scr, sizeof(double));
        B->row = (double *)take(b, times(b, (size_t)threads, widest), sizeof(double));
    }
}

int net_batch_alloc(net_batch *B, const net_plan *p, int slots, int gslots, int threads, int train)
{
    size_t n = (size_t)p->L + 1;
    double **d;
    net_bump b = {NULL, 0, 0};
    memset(B, 0, sizeof *B);
    d = (double **)calloc(n * 7, sizeof(double *));
    B->dp = (int **)calloc(n * 2, sizeof(int *));
    B->ch = (int64_t **)calloc(n, sizeof(int64_t *));
    if (!d || !B->dp || !B->ch) { free(d); free(B->dp); free(B->ch); return PN_ERR_NOMEM; }
    B->fx = d; B->fd = d + n; B->gb = d + 2 * n; B->gs = d + 3 * n; B->ma = d + 4 * n;
    B->dv = d + 5 * n; B->pre = d + 6 * n; B->ds = B->dp + n;
    B->slots = slots; B->gslots = gslots;
    bump_batch(&b, B, p, threads, train);
    if (!b.overflow) B->mem = net_zalloc(b.used);
    if (!B->mem) { net_batch_free(B); return PN_ERR_NOMEM; }
    b.base = (char *)B->mem; b.used = 0;
    bump_batch(&b, B, p, threads, train);
    return PN_OK;
}

void net_batch_free(net_batch *B)
{
    free(B->fx);
    free(B->dp);
    free(B->ch);
    free(B->mem);
    memset(B, 0, sizeof *B);
}

/* --- pn_net_outputs and pn_net_cost ------------------------------------------------- */

/* Fewer samples than this run on one thread (a thread's start costs more). */
#define NET_OUTPUTS_MIN_SPLIT 64

typedef struct {
    const net_plan *p;
    const double *P;       /* scratch params */
    const pn_data *d;
    size_t start, stop;
    double *out;           /* outputs of samples start.., or NULL */
    double *costs;         /* costs of samples start.., or NULL */
    int wide, rc;
} net_out_job;

/* Samples fed forward together (through the full layers, one layer for all of them). */
#define NET_OUT_SLOTS 16

static void outputs_run(net_out_job *o)
{
    net_batch b;
    net_sample s;
    size_t i, nL = o->p->ly[o->p->L].n_out, fp = o->p->ly[o->p->L].fp;
    int t, m;
    o->rc = net_batch_alloc(&b, o->p, NET_OUT_SLOTS, 0, 1, 0);
    if (o->rc != PN_OK) return;
    o->rc = net_sample_alloc(&s, o->p);
    if (o->rc != PN_OK) { net_batch_free(&b); return; }
    for (i = o->start; i < o->stop; i += (size_t)m) {
        m = o->stop - i < NET_OUT_SLOTS ? (int)(o->stop - i) : NET_OUT_SLOTS;
        for (t = 0; t < m; t++) {               /* (no maps kept per slot: one at a time) */
            b.idx[t] = (int64_t)(i + (size_t)t);
            net_maps_forward(o->p, o->P, &b, &s, t, t + 1, o->d, b.idx, o->wide);
        }
        net_full_forward(o->p, o->P, &b, &s, 0, m, NULL, o->wide);
        for (t = 0; t < m; t++) {
            size_t at = i - o->start + (size_t)t;
            if (o->out) memcpy(o->out + at * nL, b.aL + (size_t)t * fp, sizeof(double) * nL);
            if (o->costs) o->costs[at] = net_slot_cost(o->p, &b, &s, t, o->d, i + (size_t)t);
        }
    }
    net_sample_free(&s);
    net_batch_free(&b);
}

#if PN_THREADS
static void *outputs_main(void *arg)
{
    outputs_run((net_out_job *)arg);
    return NULL;
}
#endif

/* outputs_run over the job's samples, half on a second thread when asked. */
static int run_outputs(net_out_job *job, int threads)
{
    net_out_job half = *job;
#if PN_THREADS
    pthread_t tid;
    size_t nL = job->p->ly[job->p->L].n_out;
    if (threads == 2 && job->stop - job->start >= NET_OUTPUTS_MIN_SPLIT) {
        half.start = job->start + (job->stop - job->start) / 2;
        if (half.out) half.out += (half.start - job->start) * nL;
        if (half.costs) half.costs += half.start - job->start;
        job->stop = half.start;
        if (pthread_create(&tid, NULL, outputs_main, &half) == 0) {
            outputs_run(job);
            pthread_join(tid, NULL);
            return job->rc != PN_OK ? job->rc : half.rc;
        }
        job->stop = half.stop;                  /* no second thread: all on this one */
    }
#else
    (void)threads;
#endif
    (void)half;
    outputs_run(job);
    return job->rc;
}

/* The checks both calls make, the plan, and the parameters in the scratch layout. */
static int net_forward_setup(net_plan *p, double **P, const pn_layer *layers, int n_layers,
                             const pn_model *model, const double *params, size_t n_params,
                             const pn_data *data, int need_y, int threads)
{
    int rc = net_make_plan(p, layers, n_layers), sizes[2];
    *P = NULL;
    if (rc != PN_OK) return rc;
    sizes[0] = (int)p->ly[0].n_out;
    sizes[1] = (int)p->ly[p->L].n_out;
    if ((rc = check_model(model)) == PN_OK) {
        p->activation = model->activation;
        p->cost = model->cost;
        if (!params) rc = PN_ERR_NULL;
        else if (n_params != p->n_text) rc = PN_ERR_PARAMS;
        else if ((rc = check_data(data, sizes, 2, need_y)) == PN_OK &&
                 (threads < 1 || threads > PN_MAX_THREADS))
            rc = PN_ERR_THREADS;
    }
    if (rc == PN_OK && !(*P = (double *)net_zalloc(p->n_scr * sizeof(double)))) rc = PN_ERR_NOMEM;
    if (rc != PN_OK) { net_free_plan(p); return rc; }
    net_to_scratch(p, params, *P, 0);
    return PN_OK;
}

int pn_net_outputs(const pn_layer *layers, int n_layers, const pn_model *model,
                   const double *params, size_t n_params, const pn_data *data, size_t start,
                   size_t stop, double *out, size_t out_len, int threads)
{
    net_plan p;
    net_out_job job;
    double *P;
    size_t need;
    int rc = net_forward_setup(&p, &P, layers, n_layers, model, params, n_params, data, 0,
                               threads);
    if (rc != PN_OK) return rc;
    if (start > stop || stop > data->n || !mul_size(stop - start, p.ly[p.L].n_out, &need) ||
        out_len != need)
        rc = PN_ERR_RANGE;
    else if (!out && need > 0)
        rc = PN_ERR_NULL;
    if (rc == PN_OK && stop > start) {
        memset(&job, 0, sizeof job);
        job.p = &p; job.P = P; job.d = data; job.start = start; job.stop = stop; job.out = out;
        job.wide = pn_simd_level() == 2;
        rc = run_outputs(&job, threads);
    }
    free(P);
    net_free_plan(&p);
    return rc;
}

/* Sum of w^2 and of |w| over every weight, in the textbook order. */
static void weight_sums(const net_plan *p, const double *params, double *squares, double *abs_sum)
{
    int l;
    size_t t;
    for (l = 1; l <= p->L; l++)
        for (t = 0; t < p->ly[l].nw; t++) {
            double v = params[p->ly[l].tw + t];
            *squares += v * v;
            *abs_sum += fabs(v);
        }
}

int pn_net_cost(const pn_layer *layers, int n_layers, const pn_model *model,
                const double *params, size_t n_params, const pn_data *data, double l2, double l1,
                double *cost, int threads)
{
    net_plan p;
    net_out_job job;
    double *P, *costs = NULL, total = 0.0, squares = 0.0, abs_sum = 0.0, n;
    size_t i;
    int rc = net_forward_setup(&p, &P, layers, n_layers, model, params, n_params, data, 1,
                               threads);
    if (rc != PN_OK) return rc;
    if (!cost) rc = PN_ERR_NULL;
    else if (data->n == 0 || !(l2 >= 0.0 && l1 >= 0.0 && l2 - l2 == 0.0 && l1 - l1 == 0.0))
        rc = PN_ERR_RANGE;
    for (i = 0; rc == PN_OK && data->labels && i < data->n; i++)
        if (data->labels[i] >= p.ly[p.L].n_out) rc = PN_ERR_LABEL;
    if (rc == PN_OK && !(costs = (double *)malloc(sizeof(double) * data->n))) rc = PN_ERR_NOMEM;
    if (rc == PN_OK) {
        memset(&job, 0, sizeof job);
        job.p = &p; job.P = P; job.d = data; job.start = 0; job.stop = data->n; job.costs = costs;
        job.wide = pn_simd_level() == 2;
        rc = run_outputs(&job, threads);
    }
    if (rc == PN_OK) {
        for (i = 0; i < data->n; i++) total += costs[i];            /* samples in order */
        weight_sums(&p, params, &squares, &abs_sum);
        n = (double)data->n;
        *cost = total / n + 0.5 * (l2 / n) * squares + (l1 / n) * abs_sum;
    }
    free(costs);
    free(P);
    net_free_plan(&p);
    return rc;
}
