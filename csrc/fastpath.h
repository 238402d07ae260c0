/*
 * fastpath.h -- what the files of layer 2 (the fast path) share: its scratch
 * memory and the routines each file offers the others.
 *
 * The fast path trains on many mini-batches in one call (pn_train_batches,
 * train.c) and feeds batches forward (pn_outputs and pn_cost, outputs.c), on
 * parameters in the fast layout (layout.c).  Per mini-batch (textbook.c's
 * pn_update_mini_batch, bit for bit):
 *   1. gather  (scratch.c)  the non-zero inputs of every sample into lists, and
 *                           the rows of the first weight layer they touch;
 *   2. forward (steps.c)    layer by layer, z[j] = sum of wT[k][j] * x_k over the
 *                           non-zero k (kernels in rowsum.c), then act(z);
 *   3. errors  (steps.c)    the output errors, then the hidden errors backwards;
 *   4. steps   (steps.c)    per weight layer the bias step, then the weight step of
 *                           every touched row (a gradient row fused with its update).
 * train.c runs these phases on one or two threads; outputs.c runs 1 and 2.
 *
 * The special paths, each picked at run time, each giving the same bits as the
 * general one, and each kept for its measured gain (time with the path / time
 * without it, paired in one process, bench/paired_builds.py --cpu, MNIST 784-100-10,
 * batches of 10, 1 thread, AVX-512 machine; the "without" build forced the flag off):
 *   fast_work.wide     the AVX-512 row sums and gather (rowsum.c, kernels.c)  0.80
 *   fast_work.form0    CSR_PIXELS, the pixel-row step of the first layer
 *                      (batches <= PN_PIXROW_MAX_BATCH; needs wide and pix_nz)  0.91
 *   fast_work.pix_nz   zero pixels are the zero inputs, so they are skipped 8 or
 *                      16 at a time (a condition of the two paths above, and of
 *                      compact_pixels_nz; a table with another zero is rare)
 *   nz_lists.all       no input of a layer l >= 1 is 0 (sigmoid): its lists are
 *                      not written (and the two paths below)  0.92 with them
 *   dense_inputs_step  the step of such a layer, vectorised across its inputs  0.96
 *   dense_sums_narrow  the forward sums of such a layer with <= PN_NARROW_MAX
 *                      outputs (wide only)  0.988-0.990 (also 784-30-10)
 *   fast_work.apart    the second panel of layer 1 writes its activations apart
 *                      (2 threads; not measurable on the loaded machine of the last
 *                      review, kept from its first measurement)
 *   train.c's split    two threads together, or the main thread solo when the
 *                      worker's core is taken (train.c's header has the figures)
 *   outputs.c's split  two threads from PN_OUTPUTS_MIN_SPLIT samples on
 * The step rule (plain, L2/L1 decay, momentum) is not a path but the arithmetic:
 * plan_step picks it from the step's constants.
 */
#ifndef PURENET_FASTPATH_H
#define PURENET_FASTPATH_H

#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L   /* pthreads, clock_gettime, posix_memalign */
#endif

#include "internal.h"

/* Two threads (threads = 2) with POSIX threads and GCC's atomic builtins; else
 * threads = 2 runs on one thread (the same bits). */
#if !defined(_WIN32) && !defined(PN_NO_THREADS) && (defined(__GNUC__) || defined(__clang__))
#define PN_THREADS 1
#include <pthread.h>
#else
#define PN_THREADS 0
#endif

/* The lists of non-zero inputs of one weight layer, for up to m_max samples
 * (kernels.c's compact_* fill them): sample s has cnt[s] entries idx[s*n + t],
 * val[s*n + t] (k ascending, n = the layer's input count) and chunk positions
 * blk[s*blk_count(n) ...].  all = 1 (layers l >= 1): every input of every sample
 * of the batch is non-zero (a sigmoid layer, as a rule), and the lists are not
 * written: a sample's idx is w->iota, its val the activation row, its blk w->blk_iota. */
typedef struct {
    int *idx;
    double *val;
    int *cnt;
    int *blk;
    int all;
} nz_lists;

/* The rows of a weight layer that some sample of the batch touches (inputs
 * non-zero), each with its samples in batch order, in one of two forms:
 *   CSR_LISTS:   row uk[u] has the cnt[u] samples es[start[u]...] with inputs
 *                ex[start[u]...] (csr_build);
 *   CSR_PIXELS:  (the pixel-row path: the first layer, pixels, AVX-512, batches of
 *                up to PN_PIXROW_MAX_BATCH) row uk[u] has the samples of the bits of
 *                mk[u], sample s with input table[pix[s][uk[u]]]; msk holds the
 *                gather's pixel masks they come from (internal.h: pixel_rows). */
enum csr_form { CSR_LISTS, CSR_PIXELS };
typedef struct {
    enum csr_form form;
    int nu;
    int *uk, *start, *cnt, *es;
    double *ex;
    uint32_t *mk;
    uint16_t *msk;
    const uint8_t **pix;
} pn_csr;

/* Everything a call of the fast path needs, allocated once per call. */
typedef struct {
    int L;                 /* weight layers */
    const int *n;          /* sizes */
    const pn_model *model; /* the cost and the hidden activation */
    int wide;              /* the AVX-512 kernels: pn_simd_level() == 2, read once per call
                              (another thread's pn_limit_simd changes the next call only) */
    enum csr_form form0;   /* the form of the first layer's touched rows (pn_csr) */
    int pix_nz;            /* pixels: table[p] != 0 exactly for p != 0 */
    const double *table;   /* the pixels' table (pn_data.table) */
    size_t *w_off, *b_off; /* layer l's wT and b in the fast layout */
    size_t *ldw;           /* ldw[l]: row length of wT_l = lda[l+1] */
    size_t *lda;           /* lda[l]: row length of act[l] and delta[l] (n[l] padded to PN_PAD) */
    nz_lists nz0[2];       /* inputs of weight layer 0: two sets (batch b uses set b % 2,
                              so that the next batch can be gathered while this one is used) */
    pn_csr csr0[2];        /* the touched rows of weight layer 0 for the sets of nz0 */
    nz_lists *nz;          /* nz[l] (1 <= l < L): inputs of weight layer l (nz[0] unused) */
    double **act;          /* act[l] (1 <= l <= L): m x n[l] activations */
    double *apart;         /* training: layer 1's activations in the second panel of wT_0,
                              m x (n[1] - panel_split(n[1])), row length ld_apart, 4 KiB
                              from anything else (see forward_layer), or NULL */
    size_t ld_apart;
    double *zL;            /* m x n[L] weighted sums of the output layer (row length lda[L]) */
    double *onehot;        /* n[L] doubles: the target of a labelled sample */
    double **delta;        /* delta[l] (1 <= l <= L): m x n[l] errors */
    double *w_rows;        /* n[l+1] rows of n[l] (row length lda[l]) for a weight layer
                              l >= 1, room for the largest: hidden_errors' copy of the
                              weights, then dense_inputs_step's transposed gradient */
    int *iota;             /* 0, 1, 2, ... */
    double *ones;          /* m_max times 1.0 (bias_update) */
    int *blk_iota;         /* 0, PN_BLK, 2 PN_BLK, ...: the chunk positions of a list of all k */
    void *mem;
} fast_work;

/* Per-thread scratch. */
typedef struct {
    double *col, *z, *e, *nb, *g;
    int *kcnt;             /* per-row counters (n_max) */
    pn_csr csr;            /* the touched rows of a layer l >= 1 being updated */
    int *kind, *first;     /* column blocks of a rowsum */
    int *cp;               /* chunk positions of the forward sums */
    const int **idx;       /* per-sample pointers into nz lists */
    const double **val;
    void *mem;
} thread_work;

/* The constants of one mini-batch's step (see pn_step and textbook.c). */
typedef struct {
    enum { STEP_PLAIN, STEP_DECAY, STEP_MOMENTUM } rule;
    double scale;          /* eta/m */
    double keep;           /* 1 - eta l2/n   (STEP_DECAY) */
    double decay;          /* eta l2/n       (STEP_MOMENTUM) */
    double shrink;         /* eta l1/n */
    double mu;
} step_plan;

/* --- scratch.c: the scratch memory, and the inputs that fill it --------------- */

/* The scratch of a call for batches of up to m_max samples (train: for training);
 * the SIMD level is read here, once (w->wide).  PN_OK or PN_ERR_NOMEM. */
PN_HIDDEN int fast_alloc(fast_work *w, const int *sizes, int n_layers, const pn_model *model,
                         const pn_data *d, int m_max, int train);
PN_HIDDEN void fast_free(fast_work *w);
PN_HIDDEN int thread_alloc(thread_work *t, const int *sizes, int n_layers, int m_max);
PN_HIDDEN void thread_free(thread_work *t);
/* Validate a dataset against the network; need_y: targets are required. */
PN_HIDDEN int check_data(const pn_data *d, const int *sizes, int n_layers, int need_y);
/* Non-zero inputs of sample i into slot s of layer 0, set `view`. */
PN_HIDDEN void gather_input(fast_work *w, const pn_data *d, size_t i, int s, int view);
/* The non-zero activations of layer l >= 1 of samples 0..m-1 (nz[l]). */
PN_HIDDEN void compact_layer(fast_work *w, int l, int m);
/* The lists of weight layer l's inputs: set `view` for layer 0, and sample s's
 * entries of them. */
PN_HIDDEN nz_lists *nz_of(fast_work *w, int l, int view);
PN_HIDDEN int *nz_idx(fast_work *w, int l, int view, int s);
PN_HIDDEN double *nz_val(fast_work *w, int l, int view, int s);
PN_HIDDEN int *nz_blk(fast_work *w, int l, int view, int s);

/* --- steps.c: the steps of a mini-batch of m samples ------------------------- */

/* Forward through weight layer l, output neurons c0..c1-1, of every sample. */
PN_HIDDEN void forward_layer(fast_work *w, thread_work *t, const double *params, int l,
                             int view, int m, int c0, int c1);
/* The activations forward_layer wrote apart, into act[1]. */
PN_HIDDEN void join_apart(fast_work *w, int m);
/* With a softmax output layer: act[L][s] = softmax(zL[s]). */
PN_HIDDEN void softmax_rows(fast_work *w, int m);
/* The target of sample i: its row of ys, or the one-hot vector of its label. */
PN_HIDDEN const double *target(fast_work *w, const pn_data *d, size_t i);
/* The output errors of the samples idx[0..m-1]. */
PN_HIDDEN void output_errors(fast_work *w, const pn_data *d, const int64_t *idx, int m);
/* The errors of hidden layer l. */
PN_HIDDEN void hidden_errors(fast_work *w, thread_work *t, const double *params, int l, int m);
PN_HIDDEN step_plan plan_step(const pn_step *st, int m);
/* The touched rows of weight layer 0 for set `view` (CSR_LISTS form). */
PN_HIDDEN void csr_build(fast_work *w, thread_work *t, pn_csr *c, int l, int view, int m);
/* The step of weight layer l (biases and weights), columns c0..c1-1. */
PN_HIDDEN void layer_step(fast_work *w, thread_work *t, double *params, double *vel, int l,
                          int view, int m, const step_plan *p, int c0, int c1);

#endif /* PURENET_FASTPATH_H */
