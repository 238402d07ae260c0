/*
 * net_train.c -- pn_net_train_batches: the mini-batches of a layered network (net.h),
 * on one thread or two.
 *
 * A batch of m samples, split in two halves when two threads work together (net_team.c
 * chooses, batch by batch; one thread alone takes all of it, and gets the same bits):
 *   1. samples: thread 0 takes samples 0..h-1, thread 1 samples h..m-1 (alone: h = m,
 *      else h = ceil(m / 2)), through the layers (net.h).  A conv layer's weight gradient
 *      of a sample is its own sum (conv_weight_gradient, from 0.0): across filters,
 *      thread 0 adds each of its samples' into the batch's sums at once, in sample order,
 *      and thread 1 keeps each of its samples' apart (net_batch.gs); across maps, and for
 *      a full layer, a sample leaves what its gradient is made of (net_batch);
 *   2. (both threads done) the step, split by groups of weight rows: each thread, for its
 *      rows, adds thread 1's samples' gradients to the sums in sample order, or sums the
 *      gradient over the samples in order (full layers, conv layers across maps), updates
 *      the weights, and makes the copies of its rows; thread 0 also the biases.
 * Every sum thus has its terms in sample order and is made by one thread; no sum is split
 * between threads.  Together, the threads meet twice a batch.
 */
#include "net.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const net_plan *p;
    double *P, *V;         /* params and velocities, scratch layout */
    const pn_data *d;
    const int64_t *indices, *batch_sizes;
    size_t n_batches;
    size_t *starts;        /* starts[b]: batch b's first position in indices */
    const pn_step *step;
    const pn_dropout *drop;
    net_batch b;
    net_sample s[PN_MAX_THREADS];
    double **gd;           /* thread 1: where each conv layer's gradient of a sample goes */
    double **sums;         /* thread 0: the batch's sums of each conv layer's gradient */
    int threads, wide;
#if PN_THREADS
    net_team team;
#endif
} net_job;

/* --- checks -------------------------------------------------------------------------- */

/* A dropout: scale finite and > 0, keep bytes for every sample (n_indices * U). */
static int check_dropout(const pn_dropout *dr, size_t n_indices, int units)
{
    size_t need;
    if (!dr) return PN_OK;
    if (!(net_finite(dr->scale) && dr->scale > 0.0)) return PN_ERR_DROPOUT;
    if (!mul_size(n_indices, (size_t)units, &need) || dr->keep_len != need) return PN_ERR_DROPOUT;
    if (need > 0 && !dr->keep) return PN_ERR_NULL;
    return PN_OK;
}

/* --- the step of a batch ------------------------------------------------------------------ */

/* Biases: plain / L2 / L1 b = b - scale * nb, momentum vb = mu vb - scale * nb, b = b + vb
 * (biases are not regularised). */
static void bias_step(const step_plan *sp, double *b, double *vb, const double *nb, size_t n)
{
    size_t j;
    for (j = 0; j < n; j++) {
        if (sp->rule == STEP_MOMENTUM) {
            vb[j] = sp->mu * vb[j] - sp->scale * nb[j];
            b[j] = b[j] + vb[j];
        } else {
            b[j] = b[j] - sp->scale * nb[j];
        }
    }
}

/* Every layer's bias sums (sample order, from 0.0) and steps. */
static void biases_step(net_job *j, int m, const step_plan *sp)
{
    const net_plan *p = j->p;
    double *nb = j->b.row;
    int l, s;
    size_t q;
    for (l = 1; l <= p->L; l++) {
        const net_layer *ly = &p->ly[l];
        const double *rows = ly->kind == PN_FULL ? j->b.fd[l] : j->b.gb[l];
        if (ly->kind == PN_POOL) continue;
        memset(nb, 0, sizeof(double) * ly->fp);
        for (s = 0; s < m; s++)
            for (q = 0; q < (size_t)ly->f; q++) nb[q] += rows[(size_t)s * ly->fp + q];
        bias_step(sp, j->P + ly->bm, j->V ? j->V + ly->bm : NULL, nb, (size_t)ly->f);
    }
}

/* Rows k0..k1-1 of full layer l: each row's gradient over the m samples, its step. */
static void full_rows_step(net_job *j, int t, int l, int m, const step_plan *sp, size_t k0,
                           size_t k1)
{
    const net_layer *ly = &j->p->ly[l];
    double *g = j->b.row + (size_t)t * j->b.row_len;
    size_t k;
    for (k = k0; k < k1; k++) {
        size_t at = ly->wm + k * ly->ld;
        int any = net_full_grad_row(j->wide, ly, l, &j->b, m, k, g);
        if (!any && sp->rule == STEP_PLAIN) continue;      /* w - scale * 0.0 is w */
        net_step_row(sp, j->P + at, j->V ? j->V + at : NULL, any ? g : NULL, ly->ld);
    }
}

/* Groups g0..g1-1 of conv layer l: thread 1's samples' gradients into the sums (sample
 * order), the step, the sums back to 0.0, the copy. */
static void conv_rows_step(net_job *j, int l, int n1, const step_plan *sp, size_t g0, size_t g1)
{
    const net_layer *ly = &j->p->ly[l];
    size_t per = ly->rows / ly->groups * ly->ld, len = (g1 - g0) * per, at = ly->wm + g0 * per;
    size_t whole = ly->rows * ly->ld;
    double *nabla = j->b.nabla + at;
    int s;
    if (g1 <= g0) return;
    for (s = 0; s < n1; s++)
        net_fold(j->wide, nabla, j->b.gs[l] + (size_t)s * whole + g0 * per, len);
    net_step_row(sp, j->P + at, j->V ? j->V + at : NULL, nabla, len);
    memset(nabla, 0, sizeof(double) * len);
    net_copy_weights(j->p, l, j->P, g0, g1);
}

/* Filters g0..g1-1 of conv layer l across maps: each filter's gradient summed over the m
 * samples (net_conv_filter_sums), its step, its copy. */
static void filters_step(net_job *j, int t, int l, int m, const step_plan *sp, size_t g0,
                         size_t g1)
{
    const net_layer *ly = &j->p->ly[l];
    size_t per = ly->rows / ly->groups * ly->ld, f;
    double *row = j->b.row + (size_t)t * j->b.row_len, *scratch = row + per;
    for (f = g0; f < g1; f++) {
        size_t at = ly->wm + f * per;
        memset(row, 0, sizeof(double) * per);
        net_conv_filter_sums(j->wide, ly, l, &j->b, m, (int)f, row, scratch);
        net_step_row(sp, j->P + at, j->V ? j->V + at : NULL, row, per);
    }
    net_copy_weights(j->p, l, j->P, g0, g1);
}

/* Thread t's share (of nt) of the step of a batch of m samples, n1 of them thread 1's. */
static void step_share(net_job *j, int t, int nt, int m, int n1)
{
    const net_plan *p = j->p;
    step_plan sp = plan_step(j->step, m);
    int l;
    for (l = 1; l <= p->L; l++) {
        const net_layer *ly = &p->ly[l];
        size_t g0 = ly->groups * (size_t)t / (size_t)nt;
        size_t g1 = ly->groups * (size_t)(t + 1) / (size_t)nt;
        if (ly->kind == PN_FULL) full_rows_step(j, t, l, m, &sp, g0, g1);
        else if (ly->kind == PN_CONV && ly->gform == NET_OVER_C)
            filters_step(j, t, l, m, &sp, g0, g1);
        else if (ly->kind == PN_CONV)
            conv_rows_step(j, l, n1, &sp, g0, g1);
    }
    if (t == 0) biases_step(j, m, &sp);
}

/* --- the batches ------------------------------------------------------------------------- */

/* Thread t's samples s0..s1-1 of the batch at pos (h: thread 0's count) through the
 * layers (net.h). */
static void batch_samples(net_job *j, int t, size_t pos, int h, int s0, int s1)
{
    const net_plan *p = j->p;
    net_sample *s = &j->s[t];
    const int64_t *idx = j->indices + pos;
    net_drop dr, *drop = NULL;
    int l, slot;
    if (j->drop && p->units > 0) {              /* (no hidden full layer: nothing to drop) */
        dr.keep = j->drop->keep + pos * (size_t)p->units;
        dr.scale = j->drop->scale;
        drop = &dr;
    }
    net_maps_forward(p, j->P, &j->b, s, s0, s1, j->d, idx, j->wide);
    net_full_forward(p, j->P, &j->b, s, s0, s1, drop, j->wide);
    net_full_backward(p, j->P, &j->b, s, s0, s1, j->d, idx, drop, j->wide);
    for (slot = s0; slot < s1; slot++) {
        for (l = 1; t == 1 && l <= p->L; l++)           /* thread 1: each sample apart */
            if (p->ly[l].kind == PN_CONV && p->ly[l].gform == NET_OVER_F)
                j->gd[l] = j->b.gs[l] + (size_t)(slot - h) * p->ly[l].rows * p->ly[l].ld;
        net_maps_backward(p, j->P, &j->b, s, slot, j->d, (size_t)idx[slot],
                          t == 1 ? j->gd : NULL, t == 0 ? j->sums : NULL, j->wide);
    }
}

/* One thread alone: every batch. */
static void run_alone(net_job *j)
{
    size_t bi;
    for (bi = 0; bi < j->n_batches; bi++) {
        int m = (int)j->batch_sizes[bi];
        batch_samples(j, 0, j->starts[bi], m, 0, m);
        step_share(j, 0, 1, m, 0);
    }
}

#if PN_THREADS
/* Batch bi, thread t's half of it; returns the nanoseconds t waited at the meetings. */
static long long batch_duo(net_job *j, int t, size_t bi)
{
    int m = (int)j->batch_sizes[bi], h = (m + 1) / 2;
    long long late;
    batch_samples(j, t, j->starts[bi], h, t == 0 ? 0 : h, t == 0 ? h : m);
    late = net_team_meet(&j->team);
    step_share(j, t, 2, m, m - h);
    return late + net_team_meet(&j->team);
}

/* The worker: the batches the main thread posts as DUO, until it posts STOP. */
static void *worker_main(void *arg)
{
    net_job *j = (net_job *)arg;
    long seen = 0, bi;
    int split;
    while ((split = net_team_next(&j->team, &seen, &bi)) != NET_STOP)
        if (split == NET_DUO) batch_duo(j, 1, (size_t)bi);
    return NULL;
}

/* The main thread: each batch together or alone (net_team.c chooses), posting each
 * batch's split while the worker waits for one (after a DUO batch) or a change. */
static void run_team(net_job *j)
{
    size_t bi;
    long samples = 0;
    int split = net_team_first(&j->team), last = NET_SOLO;
    for (bi = 0; bi < j->n_batches; bi++) {
        int m = (int)j->batch_sizes[bi];
        long long late = 0;
        if (split == NET_DUO || last == NET_DUO) net_team_post(&j->team, split, (long)bi);
        if (split == NET_DUO) {
            late = batch_duo(j, 0, bi);
        } else {
            batch_samples(j, 0, j->starts[bi], m, 0, m);
            step_share(j, 0, 1, m, 0);
        }
        last = split;
        samples += m;
        split = net_team_choose(&j->team, split, late, (long)bi + 1, samples);
    }
    net_team_post(&j->team, NET_STOP, (long)j->n_batches);
}
#endif

/* The batches on one thread, or on two when asked and a second thread starts. */
static void run_batches(net_job *j)
{
#if PN_THREADS
    pthread_t tid;
    if (j->threads == 2 && net_team_init(&j->team)) {
        if (pthread_create(&tid, NULL, worker_main, j) == 0) {
            run_team(j);
            pthread_join(tid, NULL);
            net_team_free(&j->team);
            return;
        }
        net_team_free(&j->team);
    }
#endif
    run_alone(j);
}

/* The checks of a call, in the order of its arguments. */
static int check_call(const net_plan *p, const pn_model *model, const double *params,
                      const double *velocities, size_t n_params, const pn_data *data,
                      const int64_t *indices, size_t n_indices, const int64_t *batch_sizes,
                      size_t n_batches, const pn_step *step, const pn_dropout *dropout,
                      int threads, int *m_max)
{
    int sizes[2], rc = check_model(model);
    if (rc != PN_OK) return rc;
    if (!params) return PN_ERR_NULL;
    if (n_params != p->n_text) return PN_ERR_PARAMS;
    if (!step) return PN_ERR_NULL;
    rc = check_step(step->lr, step->n, step->l2, step->l1, step->momentum, velocities);
    if (rc != PN_OK) return rc;
    sizes[0] = (int)p->ly[0].n_out;
    sizes[1] = (int)p->ly[p->L].n_out;
    if ((rc = check_data(data, sizes, 2, 1)) != PN_OK) return rc;
    if (threads < 1 || threads > PN_MAX_THREADS) return PN_ERR_THREADS;
    rc = check_batches(data, indices, n_indices, batch_sizes, n_batches,
                           p->ly[p->L].n_out, m_max);
    if (rc != PN_OK) return rc;
    return check_dropout(dropout, n_indices, p->units);
}

/* Scratch for the job; PN_OK or PN_ERR_NOMEM. */
static int job_alloc(net_job *j, int m_max)
{
    int t, rc;
    size_t n = (size_t)j->p->L + 1;
    size_t b;
    j->starts = (size_t *)malloc(sizeof(size_t) * j->n_batches);
    j->P = (double *)net_zalloc(j->p->n_scr * sizeof(double));
    if (!j->P || !j->starts) return PN_ERR_NOMEM;
    for (b = 0; b < j->n_batches; b++)
        j->starts[b] = b ? j->starts[b - 1] + (size_t)j->batch_sizes[b - 1] : 0;
    if (j->step->momentum > 0.0 && !(j->V = (double *)net_zalloc(j->p->n_scr * sizeof(double))))
        return PN_ERR_NOMEM;
    rc = net_batch_alloc(&j->b, j->p, m_max, j->threads == 2 ? m_max / 2 : 0, j->threads, 1);
    for (t = 0; rc == PN_OK && t < j->threads; t++) rc = net_sample_alloc(&j->s[t], j->p);
    j->gd = (double **)calloc(n, sizeof(double *));
    j->sums = (double **)calloc(n, sizeof(double *));
    if (rc == PN_OK && (!j->gd || !j->sums)) rc = PN_ERR_NOMEM;
    for (t = 1; rc == PN_OK && t <= j->p->L; t++) j->sums[t] = j->b.nabla + j->p->ly[t].wm;
    return rc;
}

static void job_free(net_job *j)
{
    int t;
    for (t = 0; t < PN_MAX_THREADS; t++) net_sample_free(&j->s[t]);
    free(j->gd);
    free(j->sums);
    net_batch_free(&j->b);
    free(j->starts);
    free(j->P);
    free(j->V);
}

int pn_net_train_batches(const pn_layer *layers, int n_layers, const pn_model *model,
                         double *params, double *velocities, size_t n_params,
                         const pn_data *data, const int64_t *indices, size_t n_indices,
                         const int64_t *batch_sizes, size_t n_batches, const pn_step *step,
                         const pn_dropout *dropout, int threads)
{
    net_plan p;
    net_job j;
    int m_max = 0, rc = net_make_plan(&p, layers, n_layers);
    if (rc != PN_OK) return rc;
    rc = check_call(&p, model, params, velocities, n_params, data, indices, n_indices,
                    batch_sizes, n_batches, step, dropout, threads, &m_max);
    if (rc != PN_OK || n_batches == 0) { net_free_plan(&p); return rc; }
    p.activation = model->activation;
    p.cost = model->cost;
    memset(&j, 0, sizeof j);
    j.p = &p; j.d = data; j.indices = indices; j.batch_sizes = batch_sizes;
    j.n_batches = n_batches; j.step = step; j.drop = dropout; j.threads = threads;
    j.wide = pn_simd_level() == 2;
    rc = job_alloc(&j, m_max);
    if (rc == PN_OK) {
        net_to_scratch(&p, params, j.P, 0);
        if (j.V) net_to_scratch(&p, velocities, j.V, 1);
        run_batches(&j);
        net_from_scratch(&p, j.P, params);
        if (j.V) net_from_scratch(&p, j.V, velocities);
    }
    job_free(&j);
    net_free_plan(&p);
    return rc;
}
