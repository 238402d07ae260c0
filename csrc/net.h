/*
 * net.h -- layer 3, chapter 6: the fast path of layered networks (conv, pool and
 * fully connected layers, with dropout), what its files share.
 *
 *   net.c        the layers' shapes and checks, the scratch layout of the parameters
 *                and the copies to and from the textbook layout, the scratch memory,
 *                pn_net_outputs and pn_net_cost;
 *   net_train.c  pn_net_train_batches: the batches, on one thread or two, and the
 *                step of each batch (the gradient sums in sample order, the update);
 *   net_sample.c the conv and pool layers of one sample, forward and backward (the
 *                driver of the kernels of net_conv.c and net_pool.c), and its inputs;
 *   net_conv.c   the conv kernels of one sample, and a conv layer's gradient sums;
 *   net_pool.c   the pool kernels of one sample;
 *   net_full.c   the fully connected layers of a range of samples, layer by layer (their
 *                kernels, dropout, the output error), and the update of a row;
 *   net_team.c   the two threads: their meetings, and whether they work together.
 * A thread's samples of a batch (its slots s0..s1-1) go: each through the conv and pool
 * layers (net_maps_forward), all of them through the fully connected layers, forward
 * and back (net_full_forward, net_full_backward: a layer's weights once for all of
 * them), each back through the conv and pool layers (net_maps_backward).  What a sample
 * leaves for a later stage is kept per slot in net_batch.
 *
 * Every number is the one purenet/deep.py computes (the semantics are in
 * docs/maths.md and purenet/convolution.py): each sum from 0.0 in the textbook's
 * order, the same terms skipped.  The kernels work on vectors of NET_LANES doubles
 * across independent sums (filters f, channels c, neurons j), never inside a sum.
 *
 * Layouts (scratch, for the duration of a call):
 *   maps     a layer's maps as [y][x][c]: position p = y * W + x, then its channels,
 *            stride cp = c rounded up to NET_LANES (the padding lanes are 0.0);
 *   flat     a fully connected layer's vector, padded to NET_LANES (padding 0.0);
 *   conv     weights as Wf[c][i][j][f] (stride fp: the forward pass runs across f)
 *            and Wc[f][i][j][c] (stride cp: the error moved back, and the gradient of
 *            a layer with many input maps, run across c); the one the layer's
 *            gradient is summed in (net_layer.gform) is the master, the other a copy
 *            made after each step;
 *   full     WT[k][j] (rows of pad(n_out)), and no copy: the error moves back through it
 *            with the samples as the vector lanes (net_full.c).
 * A conv layer's copy is kept only when it is read (an error moved back into layer
 * l >= 1, or the forward pass of a conv layer whose master is Wc).
 *
 * Padding lanes are 0.0 everywhere and stay so: a vector loop runs whole vectors
 * only when its scalar factor is finite (0.0 times a finite number is 0.0, which
 * adds nothing); with an infinite or NaN factor a scalar loop over the real lanes
 * does the same terms.
 */
#ifndef PURENET_NET_H
#define PURENET_NET_H

#include "fastpath.h"

#include <string.h>

/* Doubles in one vector of the kernels (an AVX-512 register; two AVX2 ones). */
#define NET_LANES 8
static inline size_t net_pad(size_t n) { return (n + NET_LANES - 1) / NET_LANES * NET_LANES; }

/* The kernels' vectors: NET_LANES doubles (an AVX-512 register) in the copies compiled for
 * AVX-512, two of 4 (pn_v4, AVX2 registers) in the others (GCC moves wider vectors through
 * memory there), or plain loops with -DPN_NO_VECTOR.  row_axpy is every product of the
 * kernels. */
#if PN_VEC
typedef double net_v8 __attribute__((vector_size(8 * NET_LANES)));
#endif

/* y[q] += x[q] * a for q < NET_LANES * nv: one term each of NET_LANES * nv sums; z: the
 * caller is an AVX-512 copy (a constant, so that the other branch goes). */
PN_ALWAYS_INLINE void row_axpy(double *y, const double *x, double a, size_t nv, int z)
{
    size_t v;
#if PN_VEC
    if (z) {
        net_v8 va = {a, a, a, a, a, a, a, a};
        for (v = 0; v < nv; v++) {
            net_v8 vy, vx;
            memcpy(&vy, y + NET_LANES * v, sizeof vy);
            memcpy(&vx, x + NET_LANES * v, sizeof vx);
            vy += vx * va;
            memcpy(y + NET_LANES * v, &vy, sizeof vy);
        }
    } else {
        pn_v4 va = {a, a, a, a};
        for (v = 0; v < 2 * nv; v++) {
            pn_v4 vy, vx;
            memcpy(&vy, y + 4 * v, sizeof vy);
            memcpy(&vx, x + 4 * v, sizeof vx);
            vy += vx * va;
            memcpy(y + 4 * v, &vy, sizeof vy);
        }
    }
#else
    size_t q;
    (void)z;
    for (v = 0; v < nv; v++)
        for (q = NET_LANES * v; q < NET_LANES * (v + 1); q++) y[q] += x[q] * a;
#endif
}

/* act'(z) from a = act(z), bit for bit as reference.py's sigmoid_prime (s(1 - s)),
 * tanh_prime (1 - t^2) and relu_prime (1 where z > 0, exactly where a > 0). */
static inline double net_prime(int activation, double a)
{
    if (activation == PN_TANH) return 1.0 - a * a;
    if (activation == PN_RELU) return a > 0.0 ? 1.0 : 0.0;
    return a * (1.0 - a);
}

/* isfinite without <math.h>'s macros: x - x is 0 for finite x, NaN otherwise. */
static inline int net_finite(double x) { return x - x == 0.0; }

/* The layout a conv layer's weight gradient is summed in (see net_conv.c):
 * NET_OVER_F across its filters (few input maps), NET_OVER_C across its input maps. */
enum { NET_OVER_F = 0, NET_OVER_C = 1 };
/* Input maps from this many on: NET_OVER_C (a vector of them is then mostly full). */
#define NET_OVER_C_MIN NET_LANES

/* A position (y, x) packed in one int: y << NET_XBITS | x.  The first maps are the input,
 * a square of at most PN_MAX_SIZE = 2^24 units (net.c), so 4096 x 4096, and no later map
 * is larger: x, y < 2^12 < 2^NET_XBITS. */
#define NET_XBITS 16
static inline int net_y(int p) { return p >> NET_XBITS; }
static inline int net_x(int p) { return p & ((1 << NET_XBITS) - 1); }

/* One layer: l = 0 is the input (kind PN_FULL), 1..L the pn_layer entries. */
typedef struct {
    int kind;              /* PN_FULL, PN_CONV, PN_POOL */
    int c, h, w;           /* input: c maps of h x w (a vector of n: c = n, h = w = 1) */
    int f, oh, ow;         /* output: f maps of oh x ow (a vector of n: f = n, 1 x 1) */
    int k;                 /* conv: filter side; pool: window side; full: 0 */
    int maps;              /* the output is maps (conv, pool, or an input read as an image) */
    int hidden;            /* a fully connected hidden layer (act, dropout) */
    int drop_at;           /* such a layer: its first unit among a sample's keep bytes */
    int gform;             /* conv: NET_OVER_F or NET_OVER_C */
    size_t n_in, n_out;    /* units: c*h*w and f*oh*ow */
    size_t cp, fp;         /* maps: channel strides of the input and the output */
    size_t tw, tb, nw;     /* textbook: where the weights and biases start, weight count */
    size_t wm, bm, wx;     /* scratch: the master weights, the biases, the copy (or NET_NONE) */
    size_t rows, ld;       /* the master: rows of ld doubles */
    size_t groups;         /* ... in groups of rows a step splits between threads */
    int keep;              /* a conv or pool layer whose output a training batch keeps per
                              sample (all but a conv layer's followed by a pool layer: its
                              slope at the chosen units is the pool's output's) */
} net_layer;

#define NET_NONE ((size_t)-1)

/* A checked network: its layers and parameter counts. */
typedef struct {
    int L;
    net_layer *ly;         /* ly[0..L] */
    size_t n_text;         /* doubles in the textbook layout */
    size_t n_scr;          /* doubles in the scratch layout */
    int units;             /* U: units of the fully connected hidden layers */
    int first;             /* F: the first fully connected layer (1..L) */
    int activation, cost;
} net_plan;

/* The scratch of one thread for one sample at a time (a conv or pool layer's buffers
 * may be a slot's of the batch: net_sample.c's use_slot). */
typedef struct {
    double **act;          /* act[l]: a maps layer's output (l = 0: the input as an image) */
    double **delta;        /* delta[l]: a maps layer's errors */
    int64_t **choice;      /* choice[l]: a pool layer's chosen input of each output unit */
    int **in_p, **in_s;    /* conv layer l: its input's non-zero units (packed position,
                              start of each input map: in_s[l][c], in_s[l][C] = count) */
    double **in_v;
    int **d_p, **d_s;      /* conv layer l: its non-zero errors (packed position, start of
                              each filter's) */
    double **d_v;
    double *onehot;
    double *zrow, *erow;   /* scratch rows for activate() */
    int *nzi;              /* a full layer's non-zero inputs (net_full.c) */
    double *nzv;
    double *lanes;         /* a full layer's errors and their sums moved back, slots as
                              lanes (net_full_backward) */
    double **g;            /* conv layer l: this sample's weight gradient (master layout),
                              0.0 between samples */
    void *mem;
} net_sample;

/* What a batch's samples keep between stages and for its step, per slot, and the
 * gradient sums. */
typedef struct {
    int slots;             /* samples a batch holds */
    double **fx;           /* full layer l: slot s's inputs (after dropout), pad(n_in) each */
    double **pre;          /* full hidden layer l: slot s's a before dropout, fp each */
    double **fd;           /* full layer l: slot s's errors, fp each (training) */
    double *aL, *zL;       /* the output layer's a and z, fp(L) a slot */
    int64_t *idx;          /* outputs: the sample of each slot */
    double *sF;            /* training: the error moved back through the first full layer,
                              pad(n_in) a slot */
    double **ma;           /* training: a kept maps layer's output (net_layer.keep) */
    int64_t **ch;          /* training: a pool layer's choices */
    double **gb;           /* conv layer l: slot s's bias gradient, fp each */
    int **dp, **ds;        /* conv layer l across maps: slot s's non-zero errors, positions */
    double **dv;           /* (n_out each) and values, the start of each filter's (f + 1) */
    double **gs;           /* conv layer l across filters: weight gradients of the samples
                              of thread 1 */
    int gslots;
    double *nabla;         /* conv layers' weight gradient sums (across filters), at ly[l].wm */
    double *row;           /* per thread: a row of row_len doubles (the step's gradient rows) */
    size_t row_len;
    void *mem;
} net_batch;

/* --- net.c ---------------------------------------------------------------------- */

/* Check the layers (PN_ERR_NULL / PN_ERR_SIZES) and plan them; net_free_plan after. */
PN_HIDDEN int net_make_plan(net_plan *p, const pn_layer *layers, int n_layers);
PN_HIDDEN void net_free_plan(net_plan *p);
/* Textbook params into the scratch layout (masters and copies, padding 0.0), and back
 * (masters only); vel: 1 for velocities (masters only both ways). */
PN_HIDDEN void net_to_scratch(const net_plan *p, const double *text, double *scr, int vel);
PN_HIDDEN void net_from_scratch(const net_plan *p, const double *scr, double *text);
/* The copy of layer l's weights from its master, groups g0..g1-1 of it. */
PN_HIDDEN void net_copy_weights(const net_plan *p, int l, double *scr, size_t g0, size_t g1);
/* Scratch for samples (one thread) and for batches of `slots` samples. */
PN_HIDDEN int net_sample_alloc(net_sample *s, const net_plan *p);
PN_HIDDEN void net_sample_free(net_sample *s);
PN_HIDDEN int net_batch_alloc(net_batch *b, const net_plan *p, int slots, int gslots,
                              int threads, int train);
PN_HIDDEN void net_batch_free(net_batch *b);
/* 64-byte aligned, zeroed memory (NULL when out of memory or bytes overflowed). */
PN_HIDDEN void *net_zalloc(size_t bytes);

/* --- net_sample.c --------------------------------------------------------------- */

/* Slots s0..s1-1 (slot t: sample idx[t] of d) forward through the conv and pool layers,
 * layer by layer, their last maps flattened into the first full layer's inputs (or their
 * inputs there directly).  A layer's output that is not kept per slot (net_layer.keep) is
 * used at once: a conv layer's by its pool. */
PN_HIDDEN void net_maps_forward(const net_plan *p, const double *P, net_batch *b, net_sample *s,
                                int s0, int s1, const pn_data *d, const int64_t *idx, int wide);
/* Its error (b->sF) back through the conv and pool layers, and for each conv layer: its
 * bias gradient into b->gb[l], and its weight gradient: across filters into gdst[l] (0.0
 * before), or with gdst NULL added to sums[l] (the batch's sums, master layout); across
 * maps it is summed in the step, from the input maps and non-zero errors kept in b. */
PN_HIDDEN void net_maps_backward(const net_plan *p, const double *P, net_batch *b,
                                 net_sample *s, int slot, const pn_data *d, size_t i,
                                 double *const *gdst, double *const *sums, int wide);
/* The target of sample i: its row of ys, or the one-hot vector of its label. */
PN_HIDDEN const double *net_target(const net_plan *p, net_sample *s, const pn_data *d, size_t i);

/* --- net_full.c ----------------------------------------------------------------- */

/* A training call's dropout: the keep bytes of the batch's first sample (U a sample,
 * slots in order) and the scale, or keep == NULL. */
typedef struct { const uint8_t *keep; double scale; } net_drop;

/* Slots s0..s1-1 (their first full layer's inputs ready) through the full layers. */
PN_HIDDEN void net_full_forward(const net_plan *p, const double *P, net_batch *b, net_sample *s,
                                int s0, int s1, const net_drop *drop, int wide);
/* Their output errors (slot t is sample idx[t] of d) and their errors back through the full
 * layers, into b->fd and (F >= 2) b->sF. */
PN_HIDDEN void net_full_backward(const net_plan *p, const double *P, net_batch *b, net_sample *s,
                                 int s0, int s1, const pn_data *d, const int64_t *idx,
                                 const net_drop *drop, int wide);
/* The cost of slot t (sample i of d) after net_full_forward (reference.py: cost.fn). */
PN_HIDDEN double net_slot_cost(const net_plan *p, const net_batch *b, net_sample *s, int t,
                               const pn_data *d, size_t i);

/* --- net_conv.c ----------------------------------------------------------------- */

/* The non-zero units of maps a (layer ly's input: c maps, stride cp), map by map,
 * positions ascending; returns the count. */
PN_HIDDEN int net_maps_nonzero(const net_layer *ly, const double *a, int *pos, double *val,
                               int *start);
/* The non-zero errors of conv layer ly (maps f, stride fp), filter by filter. */
PN_HIDDEN int net_errors_nonzero(const net_layer *ly, const double *d, int *pos, double *val,
                                 int *start);
/* z = conv sums + b, a = act(z) into out (maps oh x ow, stride fp). */
PN_HIDDEN void net_conv_forward(int wide, const net_layer *ly, const double *Wf, const double *b,
                                const int *pos, const double *val, const int *start,
                                int activation, double *out, double *zrow, double *erow);
/* The error moved back through conv layer ly into s (its input maps). */
PN_HIDDEN void net_conv_backward(int wide, const net_layer *ly, const double *Wc, const int *pos,
                                 const double *val, const int *start, double *s);
/* This sample's weight gradient of conv layer ly (NET_OVER_F) into G (0.0 before): from
 * its input's non-zero units (pos, val, start) and its error maps delta. */
PN_HIDDEN void net_conv_gradient(int wide, const net_layer *ly, const int *pos, const double *val,
                                 const int *start, const double *delta, double *G);
/* Filter f's weight gradient of conv layer l (NET_OVER_C), summed over the samples 0..m-1
 * of batch b (their input maps b->ma[l - 1], errors b->dp, dv, ds), sample by sample, into row
 * (k k cp doubles, 0.0 before); scratch: as many doubles, 0.0 before and after. */
PN_HIDDEN void net_conv_filter_sums(int wide, const net_layer *ly, int l, const net_batch *b,
                                    int m, int f, double *row, double *scratch);
/* gb[f] = sum over positions of delta[p][f] (ascending, from 0.0). */
PN_HIDDEN void net_conv_bias_gradient(const net_layer *ly, const double *delta, double *gb);
/* --- net_pool.c ----------------------------------------------------------------- */

/* Max-pooling of maps a into m with the choices (an index into a for every lane). */
PN_HIDDEN void net_pool_forward(int wide, const net_layer *ly, const double *a, double *m,
                                int64_t *choice);
/* The error of a pool layer (delta_out) sent to the chosen units of s (its input maps),
 * 0.0 to the others; with m (the pool's output) times act'(m), the slope of the chosen
 * unit of a conv layer below (act'(a) from a = act(z): net_prime). */
PN_HIDDEN void net_pool_backward(const net_layer *ly, const double *delta_out,
                                 const int64_t *choice, const double *m, int activation,
                                 double *s);
/* 1 when some m[q], q < n, is NaN. */
PN_HIDDEN int net_any_nan(const double *m, size_t n);

/* --- net_team.c ----------------------------------------------------------------- */

/* How the main thread splits a batch: with the worker, alone (the worker asleep), or the
 * worker leaves. */
enum { NET_DUO = 0, NET_SOLO = 1, NET_STOP = 2 };

#if PN_THREADS
/* The two threads' meeting point and the main thread's posts (a split from a batch on),
 * and what the main thread measures to choose the split. */
typedef struct {
    long gen;              /* meetings so far */
    int arrived, sleepers;
    long posted, batch;    /* posts so far; the last one: split from batch on */
    int split;
    long long since, judged_at, alone;   /* main: the period's start; the last judgement;
                                            ns a sample of the last solo period (or 0) */
    long since_n, since_b, judged_n, judged_b;   /* ... and the samples, batches then */
    pthread_mutex_t mu;
    pthread_cond_t cv;
} net_team;

PN_HIDDEN long long net_now_ns(void);
/* 1 on success (0: no mutex or condition variable). */
PN_HIDDEN int net_team_init(net_team *t);
PN_HIDDEN void net_team_free(net_team *t);
/* Both threads are here; returns the nanoseconds this thread waited. */
PN_HIDDEN long long net_team_meet(net_team *t);
/* Main: the split from batch `batch` on.  Worker: the next post after *seen. */
PN_HIDDEN void net_team_post(net_team *t, int split, long batch);
PN_HIDDEN int net_team_next(net_team *t, long *seen, long *batch);
/* Main: the first split of a call, and the split after `batches` batches (`samples`
 * samples) done, having waited `late` ns at the last batch's meetings. */
PN_HIDDEN int net_team_first(net_team *t);
PN_HIDDEN int net_team_choose(net_team *t, int split, long long late, long batches, long samples);
#endif

/* The step's rows (net_full.c) ------------------------------------------------------ */

/* The step of n weights w (and velocities v) with gradient sums g (NULL: 0.0). */
PN_HIDDEN void net_step_row(const step_plan *sp, double *w, double *v, const double *g,
                            size_t n);
/* Row k of full layer ly's weight gradient over the m slots of b: g[j] = sum over s
 * (ascending) of fd[s][j] * fx[s][k] for the fx[s][k] != 0; returns 0 when no slot has
 * such an input (g untouched). */
PN_HIDDEN int net_full_grad_row(int wide, const net_layer *ly, int l, const net_batch *b, int m,
                                size_t k, double *g);
/* acc[q] += add[q], add[q] = 0.0 for q < n (the gradient of a sample into the sums). */
PN_HIDDEN void net_fold(int wide, double *acc, double *add, size_t n);

#endif /* PURENET_NET_H */
