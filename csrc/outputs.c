/*
 * outputs.c -- the fast path's forward passes: pn_outputs (the output activations
 * of a range of samples) and pn_cost (pn_total_cost over a dataset), in batches of
 * PN_OUTPUTS_BATCH samples (fastpath.h: phases 1 and 2 only), split between two
 * threads by samples when asked.
 */
#include "fastpath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Samples fed forward together (the scratch is sized for a batch of them). */
#define PN_OUTPUTS_BATCH 64
/* Fewer samples than this run on one thread: a thread's start costs more than
 * half of them. */
#define PN_OUTPUTS_MIN_SPLIT 256

typedef struct {
    const int *sizes;
    int n_layers;
    const pn_model *model;
    const double *params;
    const pn_data *data;
    size_t start, stop;
    double *out;           /* the outputs, or NULL */
    double *costs;         /* the cost of each sample (reference.py: cost.fn), or NULL */
    int rc;
} outputs_job;

/* Feed samples start..stop-1 forward, PN_OUTPUTS_BATCH at a time, into out and costs. */
static void outputs_run(outputs_job *o)
{
    fast_work w;
    thread_work t;
    size_t i;
    int L = o->n_layers - 1, nL = o->sizes[L], m_max, l, p, c0, c1;
    if (o->stop <= o->start) { o->rc = PN_OK; return; }
    m_max = o->stop - o->start < PN_OUTPUTS_BATCH ? (int)(o->stop - o->start) : PN_OUTPUTS_BATCH;
    if ((o->rc = fast_alloc(&w, o->sizes, o->n_layers, o->model, o->data, m_max, 0)) != PN_OK) return;
    if ((o->rc = thread_alloc(&t, o->sizes, o->n_layers, m_max)) != PN_OK) { fast_free(&w); return; }
    for (i = o->start; i < o->stop; i += (size_t)m_max) {
        int m = o->stop - i < (size_t)m_max ? (int)(o->stop - i) : m_max, s;
        for (s = 0; s < m; s++) gather_input(&w, o->data, i + (size_t)s, s, 0);
        for (l = 0; l < L; l++) {
            if (l > 0) compact_layer(&w, l, m);
            for (p = 0; p < n_panels(l); p++) {
                panel_cols(l, o->sizes[l + 1], p, &c0, &c1);
                forward_layer(&w, &t, o->params, l, 0, m, c0, c1);
            }
        }
        softmax_rows(&w, m);
        for (s = 0; s < m; s++) {
            const double *a = w.act[L] + (size_t)s * w.lda[L], *z = w.zL + (size_t)s * w.lda[L];
            size_t at = i - o->start + (size_t)s;
            if (o->out) memcpy(o->out + at * nL, a, sizeof(double) * (size_t)nL);
            if (o->costs)
                o->costs[at] = cost_fn(o->model->cost, nL, a, target(&w, o->data, i + (size_t)s), z);
        }
    }
    thread_free(&t);
    fast_free(&w);
}

#if PN_THREADS
static void *outputs_main(void *p)
{
    outputs_run((outputs_job *)p);
    return NULL;
}
#endif

/* outputs_run on samples start..stop-1, split between two threads if asked
 * (each sample's numbers do not depend on which thread computes them). */
static int run_outputs(outputs_job *job, int threads)
{
    outputs_job jobs[2];
    jobs[0] = *job;
    jobs[0].rc = PN_OK;
#if PN_THREADS
    if (threads == 2 && job->stop - job->start >= PN_OUTPUTS_MIN_SPLIT) {   /* half each */
        size_t start = job->start, stop = job->stop, nL = (size_t)job->sizes[job->n_layers - 1];
        pthread_t tid;
        jobs[1] = jobs[0];
        jobs[0].stop = jobs[1].start = start + (stop - start) / 2;
        if (jobs[1].out) jobs[1].out += (jobs[1].start - start) * nL;
        if (jobs[1].costs) jobs[1].costs += jobs[1].start - start;
        if (pthread_create(&tid, NULL, outputs_main, &jobs[1]) == 0) {
            outputs_run(&jobs[0]);
            pthread_join(tid, NULL);
            return jobs[0].rc != PN_OK ? jobs[0].rc : jobs[1].rc;
        }
        jobs[0].stop = stop;                            /* no worker: do it all here */
    }
#else
    (void)threads;
#endif
    outputs_run(&jobs[0]);
    return jobs[0].rc;
}

int pn_outputs(const int *sizes, int n_layers, const pn_model *model, const double *params,
               size_t n_params, const pn_data *data, size_t start, size_t stop, double *out,
               size_t out_len, int threads)
{
    outputs_job job;
    size_t need;
    int rc = check_fast_params(sizes, n_layers, params, n_params);
    if (rc == PN_OK) rc = check_model(model);
    if (rc != PN_OK) return rc;
    if ((rc = check_data(data, sizes, n_layers, 0)) != PN_OK) return rc;
    if (threads < 1 || threads > PN_MAX_THREADS) return PN_ERR_THREADS;
    if (start > stop || stop > data->n) return PN_ERR_RANGE;
    if (!mul_size(stop - start, (size_t)sizes[n_layers - 1], &need) || out_len != need)
        return PN_ERR_RANGE;
    if (stop == start) return PN_OK;
    if (!out) return PN_ERR_NULL;
    memset(&job, 0, sizeof job);
    job.sizes = sizes; job.n_layers = n_layers; job.model = model; job.params = params;
    job.data = data; job.start = start; job.stop = stop; job.out = out;
    return run_outputs(&job, threads);
}

/* *squares = sum of w^2 and *abs_sum = sum of |w| over every weight, w[j][k] row by
 * row (textbook order), read from the fast layout; w_off: scratch of L offsets. */
static void weight_sums(const int *sizes, int n_layers, const double *params, size_t *w_off,
                        double *squares, double *abs_sum)
{
    size_t *b_off = w_off + (n_layers - 1), k;
    int l, j;
    layer_offsets(sizes, n_layers, 1, w_off, b_off);
    for (l = 0; l < n_layers - 1; l++)
        for (j = 0; j < sizes[l + 1]; j++) {
            size_t ld, at = w_off[l] + fast_column(l, sizes[l], sizes[l + 1], j, &ld);
            const double *col = params + at;                /* wT[k][j], k = 0.. */
            for (k = 0; k < (size_t)sizes[l]; k++) {
                double v = col[k * ld];
                *squares += v * v;
                *abs_sum += fabs(v);
            }
        }
}

int pn_cost(const int *sizes, int n_layers, const pn_model *model, const double *params,
            size_t n_params, const pn_data *data, double l2, double l1, double *cost, int threads)
{
    outputs_job job;
    size_t *offs, i;
    double total = 0.0, squares = 0.0, abs_sum = 0.0, n, *costs;
    int L = n_layers - 1;
    int rc = check_fast_params(sizes, n_layers, params, n_params);
    if (rc == PN_OK) rc = check_model(model);
    if (rc != PN_OK) return rc;
    if ((rc = check_data(data, sizes, n_layers, 1)) != PN_OK) return rc;
    if (threads < 1 || threads > PN_MAX_THREADS) return PN_ERR_THREADS;
    if (!cost) return PN_ERR_NULL;
    if (data->n == 0 || !(l2 >= 0.0 && l1 >= 0.0)) return PN_ERR_RANGE;
    for (i = 0; data->labels && i < data->n; i++)
        if (data->labels[i] >= sizes[L]) return PN_ERR_LABEL;
    costs = (double *)malloc(sizeof(double) * data->n);
    offs = (size_t *)malloc(sizeof(size_t) * 2 * (size_t)L);      /* w_off, b_off */
    if (!costs || !offs) { free(costs); free(offs); return PN_ERR_NOMEM; }
    memset(&job, 0, sizeof job);
    job.sizes = sizes; job.n_layers = n_layers; job.model = model; job.params = params;
    job.data = data; job.start = 0; job.stop = data->n; job.costs = costs;
    rc = run_outputs(&job, threads);
    if (rc == PN_OK) {
        for (i = 0; i < data->n; i++) total += costs[i];          /* samples in order */
        weight_sums(sizes, n_layers, params, offs, &squares, &abs_sum);
        n = (double)data->n;
        *cost = total / n + 0.5 * (l2 / n) * squares + (l1 / n) * abs_sum;
    }
    free(costs); free(offs);
    return rc;
}
