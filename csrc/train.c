/*
 * train.c -- pn_train_batches: many mini-batches in one call, on one thread or two.
 *
 * Per mini-batch b (fastpath.h's phases; every number is computed by the same
 * operations in the same order whatever the thread count or split):
 *   B  the forward sums of layer 1 (the big first weight layer), by panel of wT_0
 *      (internal.h: panel_split);
 *   C  join layer 1, the rest of the forward pass, all the errors, the steps of
 *      every weight layer but the first; and the gather of batch b+1's inputs
 *      (into the other set of fast_work.nz0, so no batch waits for its inputs);
 *   D  the step of the first weight layer, by panel.
 * One thread does it all.  With two, the main thread (the caller's) does panel 0
 * and C, the worker panel 1 and the gather: they meet after B (layer 1 complete)
 * and after C (errors and next inputs ready), where the main thread also decides
 * how the next D and B are split.  A worker that is late at a meeting (its core
 * taken by another process) costs the main thread its wait, so the main thread
 * then goes solo (does both panels and the gather, the worker asleep) for a while,
 * and then tries two threads again; how long it stays solo is set by the measured
 * time per batch together against solo (see PN_SOLO_MIN): on a busy machine two
 * threads cost about what one does, on a quiet one they stay together.  Batch
 * b+1's B uses only the panel its thread stepped in b's D, so D needs no meeting
 * after it.
 */
#include "fastpath.h"

#include <stdlib.h>
#include <string.h>
#if PN_THREADS
#include <time.h>
#endif

/* How the main thread splits a batch: with the worker, alone (the worker asleep),
 * or alone to the end (the worker leaves). */
enum split { DUO, SOLO, STOP };

typedef struct {
    fast_work *w;
    thread_work tw[PN_MAX_THREADS];
    double *params, *velocities;
    const pn_data *d;
    const int64_t *indices, *batch_sizes;
    size_t n_batches;
    size_t *starts;        /* starts[b]: batch b's first position in indices */
    const pn_step *step;
    struct meeting *mt;    /* with a worker: where the two threads meet, else NULL */
    long long since;       /* main: when the current split started, at batch since_b */
    long since_b;          /* (the first batch of a period together is not judged) */
    long long judged_at;   /* main: together, the last time and batch its speed was judged */
    long judged;
    long long alone;       /* main: the time per batch of the last solo period, or 0 */
} train_job;

/* Where the two threads meet: counts of batches, raised by one thread, waited for
 * by the other.  On the heap, freed by the last of the two threads to let go of it
 * (refs), so that a call that ends solo returns without waiting for its asleep
 * worker to wake up and leave (on a busy machine that took milliseconds). */
struct meeting {
    train_job *job;
    long main_b;           /* main: B of batches < main_b done (and so D of those before) */
    long work_b, work_c;   /* worker: B, and the gather of C, of batches < work_b, work_c */
    long go;               /* main: decisions made; the last says split go_split from go_batch's D */
    long go_batch, parked; /* parked: the worker sleeps since decision `parked` (SOLO) */
    enum split go_split;
    int sleepers, refs;
#if PN_THREADS
    pthread_mutex_t mu;
    pthread_cond_t cv;
#endif
};


/* Ask for the input row of sample i to be brought into the (L2) cache: used for
 * the next batch while this one is computed, since samples come in random order
 * from a dataset far larger than the caches. */
static void prefetch_input(const pn_data *d, int64_t i)
{
#if defined(__GNUC__) || defined(__clang__)
    size_t bytes = (size_t)d->n_in * (d->pixels ? 1 : sizeof(double)), o;
    const char *row = d->pixels ? (const char *)(d->pixels + (size_t)i * d->n_in)
                                : (const char *)(d->xs + (size_t)i * d->n_in);
    for (o = 0; o < bytes; o += PN_PAD * sizeof(double))       /* a cache line each */
        __builtin_prefetch(row + o, 0, 1);
    __builtin_prefetch(row + bytes - 1, 0, 1);
#else
    (void)d; (void)i;
#endif
}

/* Gather batch b's inputs into set b % 2, with their touched rows (csr0), and
 * prefetch batch b+1's rows; t: the gathering thread's scratch. */
static void gather_batch(train_job *j, thread_work *t, size_t b)
{
    size_t pos = j->starts[b];
    int m = (int)j->batch_sizes[b], s, view = (int)(b & 1);
    pn_csr *rows = &j->w->csr0[view];
    for (s = 0; s < m; s++) gather_input(j->w, j->d, (size_t)j->indices[pos + s], s, view);
#if PN_HAVE_WIDE
    if (j->w->form0 == CSR_PIXELS) {
        rows->nu = pixel_rows(rows->msk, m, j->w->n[0], rows->uk, rows->mk);
        rows->form = CSR_PIXELS;
    } else
#endif
        csr_build(j->w, t, rows, 0, view, m);
    if (b + 1 < j->n_batches) {                          /* the batch after: to the cache */
        int m2 = (int)j->batch_sizes[b + 1];
        for (s = 0; s < m2; s++) prefetch_input(j->d, j->indices[pos + (size_t)m + s]);
    }
}

/* Phase B of batch b on panels p0..p1-1 of wT_0. */
static void forward_panels(train_job *j, thread_work *t, size_t b, int p0, int p1)
{
    int p, c0, c1;
    for (p = p0; p < p1; p++) {
        panel_cols(0, j->w->n[1], p, &c0, &c1);
        forward_layer(j->w, t, j->params, 0, (int)(b & 1), (int)j->batch_sizes[b], c0, c1);
    }
}

/* Phase D of batch b on panels p0..p1-1 of wT_0. */
static void step_panels(train_job *j, thread_work *t, size_t b, int p0, int p1)
{
    int p, c0, c1, m = (int)j->batch_sizes[b];
    step_plan plan = plan_step(j->step, m);
    for (p = p0; p < p1; p++) {
        panel_cols(0, j->w->n[1], p, &c0, &c1);
        layer_step(j->w, t, j->params, j->velocities, 0, (int)(b & 1), m, &plan, c0, c1);
    }
}

/* Phase C of batch b but its gather: the main thread's part. */
static void errors_and_steps(train_job *j, size_t b)
{
    fast_work *w = j->w;
    thread_work *t = &j->tw[0];
    int m = (int)j->batch_sizes[b], l, L = w->L;
    step_plan plan = plan_step(j->step, m);
    join_apart(w, m);
    for (l = 1; l < L; l++) {
        compact_layer(w, l, m);
        forward_layer(w, t, j->params, l, 0, m, 0, w->n[l + 1]);
    }
    softmax_rows(w, m);
    output_errors(w, j->d, j->indices + j->starts[b], m);
    for (l = L - 1; l >= 1; l--) hidden_errors(w, t, j->params, l, m);
    for (l = 1; l < L; l++)
        layer_step(w, t, j->params, j->velocities, l, 0, m, &plan, 0, w->n[l + 1]);
}

#if PN_THREADS
/* A wait spins this long (a batch takes some microseconds), then sleeps, so that
 * a thread whose partner lost its core gives its own core away. */
#define PN_SPIN_NS 100000
/* Pauses before the first clock read of a wait (a wait that short is not timed)
 * and between two reads after (a read of CLOCK_MONOTONIC took 44 ns here, a pause
 * instruction some tens of cycles). */
#define PN_SPIN_PAUSES 64
/* A meeting the main thread waits longer for than a batch takes on one thread
 * (MNIST 784-100-10, batches of 10: about 33 us) would have been quicker alone:
 * the main thread goes solo for a while.  (With a busy process on the other core
 * a limit of 0.5 ms was too long: the waits were 0.2 ms a batch, and two threads
 * took 6 times as long as one.)  The first batch of a period together is not
 * judged: its wait includes the worker's wake-up (on the loaded machine of the last
 * review, 19-21 of 31-33 late meetings in a run were such first batches). */
#define PN_LATE_NS 50000
/* But once the call has a solo time per batch, a late meeting sends the main thread
 * solo only when the period together, its waits included, has been slower per batch:
 * on a quiet machine a wait of more than PN_LATE_NS came about every 24 ms (21 in a
 * run of 0.5 s), and a solo millisecond after each cost more than the waits did. */
/* How long solo lasts is set by what was measured: the time per batch of the last
 * period together (its waits and the worker's wake-up included) against that of
 * the last solo period of the call.  Together was slower: the next solo period is
 * twice as long (up to PN_SOLO_MAX); it was faster (one hiccup on a quiet machine):
 * back to PN_SOLO_MIN; no solo period yet in the call: as long as the last.  (Doubling
 * without that evidence, as an earlier version did, took two threads to 1 s solo
 * periods on a nearly quiet machine: 2 threads took 1.02 of one thread's time.)  A period together is also ended when, over its last PN_JUDGE_BATCHES
 * batches, it was slower than solo (many waits, each under PN_LATE_NS: both cores
 * shared with other processes).  The solo period's length is kept from call to
 * call (the machine stays busy or quiet; atomic, as calls may run at once), its
 * time per batch only within a call (train_job.alone: it depends on the network). */
#define PN_SOLO_MIN 1000000
#define PN_SOLO_MAX 1000000000
#define PN_JUDGE_BATCHES 256
static long long solo_ns = PN_SOLO_MIN, solo_until;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* *at = v, and wake the other thread if it sleeps. */
static void post(struct meeting *mt, long *at, long v)
{
    __atomic_store_n(at, v, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&mt->sleepers, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&mt->mu);
        pthread_cond_broadcast(&mt->cv);
        pthread_mutex_unlock(&mt->mu);
    }
}

/* Wait until *at >= v; returns the nanoseconds waited, 0 for a wait of at most
 * PN_SPIN_PAUSES pauses (a few microseconds, far below PN_LATE_NS: the usual wait on a
 * quiet machine, which then reads no clock). */
static long long wait_for(struct meeting *mt, const long *at, long v)
{
    long long t0;
    int i;
    for (i = 0; i < PN_SPIN_PAUSES; i++) {
        if (__atomic_load_n(at, __ATOMIC_ACQUIRE) >= v) return 0;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    t0 = now_ns();
    for (;;) {
        for (i = 0; i < PN_SPIN_PAUSES; i++) {
            if (__atomic_load_n(at, __ATOMIC_ACQUIRE) >= v) return now_ns() - t0;
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        if (now_ns() - t0 > PN_SPIN_NS) break;
    }
    pthread_mutex_lock(&mt->mu);
    __atomic_add_fetch(&mt->sleepers, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(at, __ATOMIC_SEQ_CST) < v) pthread_cond_wait(&mt->cv, &mt->mu);
    __atomic_sub_fetch(&mt->sleepers, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&mt->mu);
    return now_ns() - t0;
}

/* The main thread's decision after batch b's C: the split from b's D on. */
static void decide(struct meeting *mt, enum split s, long b)
{
    __atomic_store_n(&mt->go_split, s, __ATOMIC_RELAXED);
    __atomic_store_n(&mt->go_batch, b, __ATOMIC_RELAXED);
    post(mt, &mt->go, mt->go + 1);
}

/* A thread lets go of the meeting; the last one frees it. */
static void let_go(struct meeting *mt)
{
    if (__atomic_sub_fetch(&mt->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
    pthread_cond_destroy(&mt->cv);
    pthread_mutex_destroy(&mt->mu);
    free(mt);
}

/* The worker together with the main thread from batch b's D on, until a decision
 * other than DUO (returns 1) or the last batch (returns 0); *seen: decisions seen. */
static int worker_duo(train_job *j, struct meeting *mt, long b, long *seen)
{
    thread_work *t = &j->tw[1];
    if (b >= 0) step_panels(j, t, (size_t)b, 1, 2);
    for (b++; b < (long)j->n_batches; b++) {
        forward_panels(j, t, (size_t)b, 1, 2);
        post(mt, &mt->work_b, b + 1);
        wait_for(mt, &mt->main_b, b + 1);
        if ((size_t)b + 1 < j->n_batches) gather_batch(j, t, (size_t)b + 1);
        post(mt, &mt->work_c, b + 1);
        wait_for(mt, &mt->go, *seen + 1);
        *seen = __atomic_load_n(&mt->go, __ATOMIC_ACQUIRE);
        if (__atomic_load_n(&mt->go_split, __ATOMIC_RELAXED) != DUO) return 1;
        step_panels(j, t, (size_t)b, 1, 2);
    }
    return 0;
}

/* The worker: waits for a decision; DUO: panel 1 of D and B and the gathers from
 * that batch on, until the main thread decides otherwise; SOLO: says it is parked
 * (from then on it touches nothing but the meeting); STOP: leaves. */
static void *worker_main(void *arg)
{
    struct meeting *mt = (struct meeting *)arg;
    long seen = 0;
    for (;;) {
        enum split s;
        wait_for(mt, &mt->go, seen + 1);
        seen = __atomic_load_n(&mt->go, __ATOMIC_ACQUIRE);
        s = __atomic_load_n(&mt->go_split, __ATOMIC_RELAXED);
        if (s == STOP) break;
        if (s == DUO && !worker_duo(mt->job, mt, __atomic_load_n(&mt->go_batch, __ATOMIC_RELAXED),
                                    &seen))
            break;
        post(mt, &mt->parked, seen);
    }
    let_go(mt);
    return NULL;
}

/* The main thread's time per batch since `since` (at batch b0) until `now`, after batch b. */
static long long per_batch(long long now, long long since, long b0, size_t b)
{
    return (now - since) / ((long long)b + 1 - b0);
}

/* Go solo from batch b's D on, for a period set by the measured times (see above). */
static enum split go_solo(train_job *j, long long now, size_t b)
{
    long long duo = per_batch(now, j->since, j->since_b, b);
    long long solo = __atomic_load_n(&solo_ns, __ATOMIC_RELAXED);
    long long alone = j->alone;
    if (alone > 0)                  /* (no solo period yet in this call: as it was) */
        solo = duo < alone ? PN_SOLO_MIN : solo < PN_SOLO_MAX / 2 ? 2 * solo : PN_SOLO_MAX;
    __atomic_store_n(&solo_ns, solo, __ATOMIC_RELAXED);
    __atomic_store_n(&solo_until, now + solo, __ATOMIC_RELAXED);
    j->since = now;
    j->since_b = (long)b + 1;
    decide(j->mt, SOLO, (long)b);
    return SOLO;
}

/* The split from batch b's D on, after the main thread waited `late` ns for the
 * worker at b's meetings (see the top of this file). */
static enum split next_split(train_job *j, enum split s, long long late, size_t b)
{
    long long now;
    if (s == DUO) {
        if (late > PN_LATE_NS && (long)b != j->since_b) {
            now = now_ns();
            if (j->alone <= 0 || per_batch(now, j->since, j->since_b, b) > j->alone)
                return go_solo(j, now, b);
            __atomic_store_n(&solo_ns, PN_SOLO_MIN, __ATOMIC_RELAXED);   /* a hiccup */
        }
        if ((long)b + 1 - j->judged >= PN_JUDGE_BATCHES) {
            now = now_ns();
            if (j->alone > 0 && per_batch(now, j->judged_at, j->judged, b) > j->alone)
                return go_solo(j, now, b);
            j->judged_at = now;
            j->judged = (long)b + 1;
        }
        decide(j->mt, DUO, (long)b);
        return DUO;
    }
    now = now_ns();
    if (now < __atomic_load_n(&solo_until, __ATOMIC_RELAXED) ||
        __atomic_load_n(&j->mt->parked, __ATOMIC_ACQUIRE) != j->mt->go)
        return SOLO;
    if ((long)b + 1 > j->since_b) j->alone = per_batch(now, j->since, j->since_b, b);
    j->since = j->judged_at = now;
    j->since_b = j->judged = (long)b + 1;
    decide(j->mt, DUO, (long)b);
    return DUO;
}

/* The first decision: solo while the last call's solo time runs. */
static enum split first_split(train_job *j)
{
    j->since = j->judged_at = now_ns();
    return j->since < __atomic_load_n(&solo_until, __ATOMIC_RELAXED) ? SOLO : DUO;
}

/* The worker's start (j->mt), and its end: after DUO it steps its panel of the
 * last batch and leaves (joined); after SOLO it is parked, and is told to leave
 * but not waited for. */
static int start_worker(train_job *j, pthread_t *tid)
{
    struct meeting *mt = (struct meeting *)calloc(1, sizeof *mt);
    if (!mt) return 0;
    mt->job = j;
    mt->refs = 2;
    if (pthread_mutex_init(&mt->mu, NULL) == 0) {
        if (pthread_cond_init(&mt->cv, NULL) == 0) {
            if (pthread_create(tid, NULL, worker_main, mt) == 0) {
                j->mt = mt;
                return 1;
            }
            pthread_cond_destroy(&mt->cv);
        }
        pthread_mutex_destroy(&mt->mu);
    }
    free(mt);
    return 0;
}

static void end_worker(train_job *j, pthread_t tid, enum split s)
{
    if (s == DUO) {
        pthread_join(tid, NULL);
    } else {
        decide(j->mt, STOP, (long)j->n_batches);
        pthread_detach(tid);
    }
    let_go(j->mt);
}
#else
static void post(struct meeting *mt, long *at, long v) { (void)mt; (void)at; (void)v; }
static long long wait_for(struct meeting *mt, const long *at, long v)
{
    (void)mt; (void)at; (void)v;
    return 0;
}
static enum split next_split(train_job *j, enum split s, long long late, size_t b)
{
    (void)j; (void)late; (void)b;
    return s;
}
#endif

/* The main thread's batches; worker: the worker runs, and the split starts as s. */
static enum split main_batches(train_job *j, int worker, enum split s)
{
    thread_work *t = &j->tw[0];
    size_t b;
    gather_batch(j, t, 0);
#if PN_THREADS
    if (worker) decide(j->mt, s, -1);
#endif
    for (b = 0; b < j->n_batches; b++) {
        long long late = 0;
        forward_panels(j, t, b, 0, s == DUO ? 1 : 2);
        if (s == DUO) {
            post(j->mt, &j->mt->main_b, (long)b + 1);
            late += wait_for(j->mt, &j->mt->work_b, (long)b + 1);
        }
        errors_and_steps(j, b);
        if (s == DUO) late += wait_for(j->mt, &j->mt->work_c, (long)b + 1);
        else if (b + 1 < j->n_batches) gather_batch(j, t, b + 1);
        if (worker) s = next_split(j, s, late, b);
        step_panels(j, t, b, 0, s == DUO ? 1 : 2);
    }
    return s;
}

/* The batches on one thread, or two (threads == 2 and a worker could start). */
static void run_batches(train_job *j, int threads)
{
#if PN_THREADS
    pthread_t tid;
    if (threads == 2 && start_worker(j, &tid)) {
        end_worker(j, tid, main_batches(j, 1, first_split(j)));
        return;
    }
#endif
    (void)threads;
    main_batches(j, 0, SOLO);
}

int pn_train_batches(const int *sizes, int n_layers, const pn_model *model, double *params,
                     double *velocities, size_t n_params, const pn_data *data,
                     const int64_t *indices, size_t n_indices, const int64_t *batch_sizes,
                     size_t n_batches, const pn_step *step, int threads)
{
    fast_work w;
    train_job job;
    int m_max = 0, rc, p;
    size_t b;
    rc = check_fast_params(sizes, n_layers, params, n_params);
    if (rc == PN_OK) rc = check_model(model);
    if (rc == PN_OK && !step) rc = PN_ERR_NULL;
    if (rc == PN_OK)
        rc = check_step(step->lr, step->n, step->l2, step->l1, step->momentum, velocities);
    if (rc == PN_OK) rc = check_data(data, sizes, n_layers, 1);
    if (rc == PN_OK && (threads < 1 || threads > PN_MAX_THREADS)) rc = PN_ERR_THREADS;
    if (rc == PN_OK)
        rc = check_batches(data, indices, n_indices, batch_sizes, n_batches, sizes[n_layers - 1],
                           &m_max);
    if (rc != PN_OK || n_batches == 0) return rc;
    memset(&job, 0, sizeof job);
    job.w = &w; job.params = params; job.velocities = velocities; job.d = data;
    job.indices = indices; job.batch_sizes = batch_sizes; job.n_batches = n_batches;
    job.step = step;
    job.starts = (size_t *)malloc(sizeof(size_t) * n_batches);
    if (!job.starts) return PN_ERR_NOMEM;
    for (b = 0; b < n_batches; b++) job.starts[b] = b ? job.starts[b - 1] + (size_t)batch_sizes[b - 1] : 0;
    rc = fast_alloc(&w, sizes, n_layers, model, data, m_max, 1);
    if (rc == PN_OK) {
        for (p = 0; rc == PN_OK && p < threads; p++)
            rc = thread_alloc(&job.tw[p], sizes, n_layers, m_max);
        if (rc == PN_OK) run_batches(&job, threads);
        for (p = 0; p < threads; p++) thread_free(&job.tw[p]);
        fast_free(&w);
    }
    free(job.starts);
    return rc;
}
