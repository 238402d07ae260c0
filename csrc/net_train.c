/*
 * net_train.c -- pn_net_train_batches: the mini-batches of a layered network (net.h),
 * on one thread or two.
 *
 * A batch of m samples, per thread t of T (T = 1 or 2):
 *   1. samples: thread 0 takes samples 0..h-1, thread 1 samples h..m-1 (h = m with
 *      one thread, else ceil(m / 2)); each sample forward and backward, alone.  A
 *      conv layer's weight gradient of a sample is its own sum (conv_weight_gradient,
 *      from 0.0); thread 0 adds each of its samples' into the batch's sums at once,
 *      in sample order, thread 1 keeps each of its samples' apart (net_batch.gs).  A
 *      full layer's sample leaves its inputs and errors (net_batch.fx, fd);
 *   2. (both threads done) the step, split by groups of weight rows: each thread,
 *      for its rows, adds thread 1's samples' gradients to the sums in sample order,
 *      sums the full layers' gradient rows over the samples in order, updates the
 *      weights, and makes the copies of its rows (net.h); thread 0 also the biases.
 * Every sum thus has its terms in sample order and is made by one thread; no sum is
 * split between threads.  The threads meet twice a batch (net_meet).
 */
#include "net.h"

#include <stdlib.h>
#include <string.h>
#if PN_THREADS
#include <time.h>
#endif

/* The two threads' meeting point: arrivals count up; each meeting is one generation. */
typedef struct {
    int arrived;
    long gen;
    int sleepers;
#if PN_THREADS
    pthread_mutex_t mu;
    pthread_cond_t cv;
#endif
} net_meeting;

typedef struct {
    const net_plan *p;
    double *P, *V;         /* params and velocities, scratch layout */
    const pn_data *d;
    const int64_t *indices, *batch_sizes;
    size_t n_batches;
    const pn_step *step;
    const pn_dropout *drop;
    net_batch b;
    net_sample s[PN_MAX_THREADS];
    double **gd;           /* thread 1: where each conv layer's gradient of a sample goes */
    double **sums;         /* thread 0: the batch's sums of each conv layer's gradient */
    int threads, wide;
    net_meeting mt;
} net_job;

/* --- checks -------------------------------------------------------------------------- */

static int check_net_batches(const pn_data *d, const int64_t *indices, size_t n_indices,
                             const int64_t *batch_sizes, size_t n_batches, size_t n_out,
                             int *m_max)
{
    size_t b, pos = 0, i;
    int64_t mx = 0;
    if (n_batches > 0 && !batch_sizes) return PN_ERR_NULL;
    if (n_indices > 0 && !indices) return PN_ERR_NULL;
    for (b = 0; b < n_batches; b++) {
        int64_t m = batch_sizes[b];
        if (m < 1 || (uint64_t)m > (uint64_t)(n_indices - pos) || m > (int64_t)PN_MAX_SIZE)
            return PN_ERR_BATCH;
        pos += (size_t)m;
        if (m > mx) mx = m;
    }
    if (pos != n_indices) return PN_ERR_BATCH;
    for (i = 0; i < n_indices; i++) {
        int64_t k = indices[i];
        if (k < 0 || (uint64_t)k >= (uint64_t)d->n) return PN_ERR_INDEX;
        if (d->labels && d->labels[k] >= n_out) return PN_ERR_LABEL;
    }
    *m_max = (int)mx;
    return PN_OK;
}

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

/* --- the meeting ------------------------------------------------------------------------ */

#if PN_THREADS
/* A wait spins this long, then sleeps (its partner may have lost its core). */
#define NET_SPIN_NS 200000
/* Pauses between two clock reads while spinning. */
#define NET_SPIN_PAUSES 64

static long long net_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void net_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Both threads are here: the last to arrive starts the next generation. */
static void net_meet(net_meeting *m, int threads)
{
    long gen;
    long long t0;
    int i;
    if (threads < 2) return;
    gen = __atomic_load_n(&m->gen, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&m->arrived, 1, __ATOMIC_ACQ_REL) == threads) {
        __atomic_store_n(&m->arrived, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&m->gen, gen + 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&m->sleepers, __ATOMIC_SEQ_CST)) {
            pthread_mutex_lock(&m->mu);
            pthread_cond_broadcast(&m->cv);
            pthread_mutex_unlock(&m->mu);
        }
        return;
    }
    t0 = net_now_ns();
    do {
        for (i = 0; i < NET_SPIN_PAUSES; i++) {
            if (__atomic_load_n(&m->gen, __ATOMIC_ACQUIRE) != gen) return;
            net_pause();
        }
    } while (net_now_ns() - t0 < NET_SPIN_NS);
    pthread_mutex_lock(&m->mu);
    __atomic_add_fetch(&m->sleepers, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&m->gen, __ATOMIC_SEQ_CST) == gen) pthread_cond_wait(&m->cv, &m->mu);
    __atomic_sub_fetch(&m->sleepers, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&m->mu);
}
#else
static void net_meet(net_meeting *m, int threads)
{
    (void)m; (void)threads;
}
#endif

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

/* Rows k0..k1-1 of full layer l: each row's gradient over the m samples, its step, its copy. */
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
        net_copy_weights(j->p, l, j->P, k, k + 1);
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
    for (s = 0; s < n1; s++) net_fold(j->wide, nabla, j->b.gs[l] + (size_t)s * whole + g0 * per, len);
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

/* Thread t's share of the step of a batch of m samples, n1 of them thread 1's. */
static void step_share(net_job *j, int t, int m, int n1)
{
    const net_plan *p = j->p;
    step_plan sp = plan_step(j->step, m);
    int l;
    for (l = 1; l <= p->L; l++) {
        const net_layer *ly = &p->ly[l];
        size_t g0 = ly->groups * (size_t)t / (size_t)j->threads;
        size_t g1 = ly->groups * (size_t)(t + 1) / (size_t)j->threads;
        if (ly->kind == PN_FULL) full_rows_step(j, t, l, m, &sp, g0, g1);
        else if (ly->kind == PN_CONV && ly->gform == NET_OVER_C) filters_step(j, t, l, m, &sp, g0, g1);
        else if (ly->kind == PN_CONV) conv_rows_step(j, l, n1, &sp, g0, g1);
    }
    if (t == 0) biases_step(j, m, &sp);
}

/* --- the batches ------------------------------------------------------------------------- */

/* Thread t's part of every batch: its samples through the layers (net.h), then its
 * share of the step. */
static void run_thread(net_job *j, int t)
{
    const net_plan *p = j->p;
    net_sample *s = &j->s[t];
    size_t bi, pos = 0;
    int l;
    for (bi = 0; bi < j->n_batches; bi++) {
        int m = (int)j->batch_sizes[bi], h = j->threads == 2 ? (m + 1) / 2 : m, slot;
        int s0 = t == 0 ? 0 : h, s1 = t == 0 ? h : m;
        const int64_t *idx = j->indices + pos;
        net_drop dr, *drop = NULL;
        if (j->drop) {
            dr.keep = j->drop->keep + pos * (size_t)p->units;
            dr.scale = j->drop->scale;
            drop = &dr;
        }
        net_maps_forward(p, j->P, &j->b, s, s0, s1, j->d, idx, j->wide);
        net_full_forward(p, j->P, &j->b, s, s0, s1, drop, j->wide);
        net_full_backward(p, j->P, &j->b, s, s0, s1, j->d, idx, drop, j->wide);
        for (slot = s0; slot < s1; slot++) {
            for (l = 1; t == 1 && l <= p->L; l++)       /* thread 1: each sample apart */
                if (p->ly[l].kind == PN_CONV && p->ly[l].gform == NET_OVER_F)
                    j->gd[l] = j->b.gs[l] + (size_t)(slot - h) * p->ly[l].rows * p->ly[l].ld;
            net_maps_backward(p, j->P, &j->b, s, slot, j->d, (size_t)idx[slot],
                              t == 1 ? j->gd : NULL, t == 0 ? j->sums : NULL, j->wide);
        }
        net_meet(&j->mt, j->threads);
        step_share(j, t, m, m - h);
        net_meet(&j->mt, j->threads);
        pos += (size_t)m;
    }
}

#if PN_THREADS
static void *worker_main(void *arg)
{
    run_thread((net_job *)arg, 1);
    return NULL;
}
#endif

/* The batches on one thread, or on two when asked and a second thread starts. */
static void run_batches(net_job *j)
{
#if PN_THREADS
    pthread_t tid;
    if (j->threads == 2) {
        int ok = pthread_mutex_init(&j->mt.mu, NULL) == 0;
        if (ok && pthread_cond_init(&j->mt.cv, NULL) != 0) {
            pthread_mutex_destroy(&j->mt.mu);
            ok = 0;
        }
        if (ok && pthread_create(&tid, NULL, worker_main, j) == 0) {
            run_thread(j, 0);
            pthread_join(tid, NULL);
            pthread_cond_destroy(&j->mt.cv);
            pthread_mutex_destroy(&j->mt.mu);
            return;
        }
        if (ok) {
            pthread_cond_destroy(&j->mt.cv);
            pthread_mutex_destroy(&j->mt.mu);
        }
    }
#endif
    j->threads = 1;
    run_thread(j, 0);
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
    rc = check_net_batches(data, indices, n_indices, batch_sizes, n_batches,
                           p->ly[p->L].n_out, m_max);
    if (rc != PN_OK) return rc;
    return check_dropout(dropout, n_indices, p->units);
}

/* Scratch for the job; PN_OK or PN_ERR_NOMEM. */
static int job_alloc(net_job *j, int m_max)
{
    int t, rc;
    size_t n = (size_t)j->p->L + 1;
    j->P = (double *)net_zalloc(j->p->n_scr * sizeof(double));
    if (!j->P) return PN_ERR_NOMEM;
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
