/*
 * fastpath.c -- layer 2 of the C engine: pn_train_batches (many mini-batches in
 * one call) and pn_outputs (a batch forward pass), on parameters in the fast
 * layout (layout.c: every weight matrix transposed, wT[k][j], the first one in two
 * column panels).  This file holds their scratch memory, the steps of a mini-batch
 * layer by layer, and the threads; the inner loops are in kernels.c.  The numbers are those of
 * textbook.c's pn_update_mini_batch and pn_feedforward, bit for bit.
 *
 * pn_train_batches, per mini-batch of m samples:
 *   - the non-zero inputs (k, x) of every sample are gathered into a list (pixels
 *     through the 256-entry table; zero pixels skipped 8 at a time, or 16 with
 *     AVX-512), and turned into the list of the first layer's touched rows (see
 *     below); this is done for batch b+1 while batch b is computed, and batch b+2's
 *     rows are prefetched;
 *   - forward, layer by layer, with the weights transposed (wT[k][j]):
 *     z[j] += wT[k][j] * x_k over the sample's non-zero k, vectorised across j with
 *     up to 13 x 4 (AVX2) or 13 x 8 (AVX-512) running sums in registers; the rows k
 *     are taken in chunks that stay in cache while every sample of the batch uses them;
 *   - the output errors, then the hidden errors (vectorised across neurons, over
 *     the next layer's weights turned back into rows once per batch);
 *   - per weight layer: the bias sums, and for every input k that is non-zero in
 *     some sample of the batch (the "touched" rows) the gradient row
 *     g[j] = sum over those samples (batch order) of delta[s][j] * x_s[k] with the
 *     update wT[k][j] -= (lr/m) * g[j] fused into it (each touched row is read and
 *     written once per mini-batch).  Untouched rows have a zero gradient and are
 *     left as they are, exactly like the reference.  The first layer's touched rows
 *     of a pixel batch of up to 32 samples come, with AVX-512, from the 16-pixel
 *     masks the gather makes anyway: a mask of samples per row, each input read
 *     back from its pixel (the pixel-row path), not a list sorted by row.  A later
 *     layer whose inputs are all non-zero (a sigmoid layer's, as a rule) is neither
 *     listed nor sorted: its forward pass reads the activations as they are, and its
 *     step is vectorised across its inputs (dense_inputs_step).
 * With L2 or L1 the decay of every weight comes first, in one loop per panel, and
 * with momentum every row takes its step.  With threads = 2 the first weight layer
 * is split by its output neurons, one panel each (see run_batches): every number
 * is computed by the same operations in the same order whatever the thread count.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if !defined(_WIN32) && !defined(PN_NO_THREADS)
#define PN_THREADS 1
#include <pthread.h>
#else
#define PN_THREADS 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PN_ATOMIC_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define PN_ATOMIC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define PN_ATOMIC_ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)
#define PN_HAVE_ATOMICS 1
#else
#define PN_HAVE_ATOMICS 0
#endif

/* ------------------------------------------------------------------------- */
/* Scratch memory                                                             */

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
 * non-zero), each with its samples in batch order: row uk[u] has the cnt[u]
 * samples es[start[u]...] with inputs ex[start[u]...].  On the pixel-row path
 * (fast_work.pix_rows, layer 0) row uk[u] has instead the samples of the bits of
 * mk[u], sample s with input table[pix[s][uk[u]]]; msk holds the gather's pixel
 * masks it is built from (internal.h: pixel_rows). */
typedef struct {
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
    size_t *w_off, *b_off; /* layer l's wT and b in the fast layout */
    size_t *ldw;           /* ldw[l]: row length of wT_l = lda[l+1] */
    size_t *lda;           /* lda[l]: row length of act[l] and delta[l] (n[l] padded to PN_PAD) */
    nz_lists nz0[2];       /* inputs of weight layer 0: two sets (batch b uses set b % 2,
                              so that the next batch can be gathered while this one is used) */
    pn_csr csr0[2];        /* the touched rows of weight layer 0 for the sets of nz0, built by
                              the thread that gathers them */
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
    int pix_nz;            /* pixels: table[p] != 0 exactly for p != 0 */
    int pix_rows;          /* the pixel-row path for layer 0 (see pn_csr): pixels with
                              pix_nz, AVX-512 in use, batches of up to 32 */
    const double *table;   /* the pixels' table (pn_data.table) */
    void *mem;
} fast_work;

/* Per-thread scratch. */
typedef struct {
    double *col, *z, *e, *nb, *g;
    int *kcnt;             /* per-row counters (n_max) */
    pn_csr csr;            /* the touched rows of a layer l >= 1 being updated */
    int *kind, *first;     /* column blocks of a rowsum */
    int wide;              /* the AVX-512 row sums (pn_simd_level() == 2 at the call) */
    int *cp;               /* chunk positions of the forward sums */
    const int **idx;       /* per-sample pointers into nz lists */
    const double **val;
    void *mem;
} thread_work;

/* Rows k per chunk of the forward sums: the weight block of a chunk (rows x the
 * widest column block) is 64 KiB, twice a 32 KiB L1 data cache, since a batch of
 * digits touches only some of a chunk's rows (MNIST, 784-100-10: 128 rows per
 * chunk took 0.985 of the time of 64, one thread, and 0.989 with two; 256: 0.99). */
#ifndef PN_CHUNK_BYTES
#define PN_CHUNK_BYTES 65536
#endif
static int chunk_rows(int wide, int n_out)
{
    int widest = n_out < plan_widest(wide) ? n_out : plan_widest(wide);
    int kc = PN_CHUNK_BYTES / (8 * (widest > 0 ? widest : 1));
    return kc < 8 ? 8 : kc;
}

static int max_size(const int *sizes, int n_layers)
{
    int l, mx = 0;
    for (l = 0; l < n_layers; l++) if (sizes[l] > mx) mx = sizes[l];
    return mx;
}

#define PN_ALIGN 64
static size_t round_up(size_t x) { return (x + PN_ALIGN - 1) / PN_ALIGN * PN_ALIGN; }

/* A bump allocator: a first pass with base == NULL only adds up the sizes. */
typedef struct { char *base; size_t used; int overflow; } bump;

static void *bump_take(bump *b, size_t count, size_t elem)
{
    size_t bytes;
    void *p;
    if (!mul_size(count, elem, &bytes) || bytes > SIZE_MAX - PN_ALIGN ||
        round_up(bytes) > SIZE_MAX - b->used) {
        b->overflow = 1;
        return NULL;
    }
    p = b->base ? b->base + b->used : NULL;
    b->used += round_up(bytes);
    return p;
}

/* The lists of one weight layer with `n` inputs (cap = m_max * n entries,
 * nblk = m_max * blk_count(n) chunk positions). */
static void bump_nz(bump *b, nz_lists *z, size_t cap, size_t nblk, int m_max)
{
    z->idx = (int *)bump_take(b, cap, sizeof(int));
    z->val = (double *)bump_take(b, cap, sizeof(double));
    z->cnt = (int *)bump_take(b, (size_t)m_max, sizeof(int));
    z->blk = (int *)bump_take(b, nblk, sizeof(int));
}

/* A pn_csr for up to `rows` rows and `entries` (sample, input) pairs; with m_max,
 * also room for the pixel-row path of m_max samples. */
static void bump_csr(bump *b, pn_csr *c, size_t rows, size_t entries, int m_max)
{
    c->uk = (int *)bump_take(b, rows + 16, sizeof(int));
    if (m_max) {
        c->mk = (uint32_t *)bump_take(b, rows + 16, sizeof(uint32_t));
        c->msk = (uint16_t *)bump_take(b, (size_t)m_max * ((rows + 15) / 16), sizeof(uint16_t));
        c->pix = (const uint8_t **)bump_take(b, (size_t)m_max, sizeof(uint8_t *));
    }
    c->start = (int *)bump_take(b, rows, sizeof(int));
    c->cnt = (int *)bump_take(b, rows, sizeof(int));
    c->es = (int *)bump_take(b, entries, sizeof(int));
    c->ex = (double *)bump_take(b, entries, sizeof(double));
}

static void *aligned_block(size_t bytes)
{
    void *p = NULL;
#if defined(_WIN32)
    p = malloc(bytes);
#else
    if (posix_memalign(&p, PN_ALIGN, bytes ? bytes : PN_ALIGN) != 0) p = NULL;
#endif
    return p;
}

static void fast_free(fast_work *w)
{
    free(w->w_off); free(w->b_off); free(w->ldw); free(w->lda); free(w->nz);
    free(w->act); free(w->delta); free(w->mem);
    memset(w, 0, sizeof *w);
}

/* The scratch of a call for batches of up to m_max samples (train: with w_rows). */
static int fast_alloc(fast_work *w, const int *sizes, int n_layers, const pn_model *model,
                      int m_max, int train)
{
    int L = n_layers - 1, l, pass, n_max = max_size(sizes, n_layers);
    memset(w, 0, sizeof *w);
    w->L = L; w->n = sizes; w->model = model;
    w->w_off = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    w->b_off = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    w->ldw = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    w->lda = (size_t *)malloc(sizeof(size_t) * (size_t)n_layers);
    w->nz = (nz_lists *)calloc((size_t)L, sizeof(nz_lists));
    w->act = (double **)calloc((size_t)n_layers, sizeof(double *));
    w->delta = (double **)calloc((size_t)n_layers, sizeof(double *));
    if (!w->w_off || !w->b_off || !w->ldw || !w->lda || !w->nz || !w->act || !w->delta) {
        fast_free(w);
        return PN_ERR_NOMEM;
    }
    layer_offsets(sizes, n_layers, 1, w->w_off, w->b_off);
    for (l = 0; l < n_layers; l++) w->lda[l] = pad_row(sizes[l]);
    for (l = 0; l < L; l++) w->ldw[l] = w->lda[l + 1];
    for (pass = 0; pass < 2; pass++) {
        bump b;
        size_t rows = 0;
        b.base = (char *)w->mem; b.used = 0; b.overflow = 0;
        for (l = 0; l < L; l++) {
            size_t cap, nblk;
            if (!mul_size((size_t)m_max, (size_t)sizes[l], &cap) ||
                !mul_size((size_t)m_max, (size_t)blk_count(sizes[l]), &nblk)) {
                fast_free(w);
                return PN_ERR_NOMEM;
            }
            if (l == 0) {
                bump_nz(&b, &w->nz0[0], cap + 16, nblk, m_max);   /* + 16: compact_pixels_fast */
                bump_nz(&b, &w->nz0[1], cap + 16, nblk, m_max);
                bump_csr(&b, &w->csr0[0], (size_t)sizes[0], cap, m_max);
                bump_csr(&b, &w->csr0[1], (size_t)sizes[0], cap, m_max);
            } else
                bump_nz(&b, &w->nz[l], cap, nblk, m_max);
        }
        for (l = 1; l <= L; l++) {
            size_t cap;
            if (!mul_size((size_t)m_max, w->lda[l], &cap)) { fast_free(w); return PN_ERR_NOMEM; }
            w->act[l] = (double *)bump_take(&b, cap, sizeof(double));
            w->delta[l] = (double *)bump_take(&b, cap, sizeof(double));
        }
        for (l = 1; train && l < L; l++) {
            size_t cap;
            if (!mul_size((size_t)sizes[l + 1], w->lda[l], &cap)) {
                fast_free(w);
                return PN_ERR_NOMEM;
            }
            if (cap > rows) rows = cap;
        }
        w->w_rows = (double *)bump_take(&b, rows, sizeof(double));
        if (train) {
            w->ld_apart = pad_row(sizes[1] - panel_split(sizes[1]));
            bump_take(&b, PN_PANEL_GAP, sizeof(double));
            w->apart = (double *)bump_take(&b, (size_t)m_max * w->ld_apart, sizeof(double));
            bump_take(&b, PN_PANEL_GAP, sizeof(double));
        }
        {
            size_t cap;
            if (!mul_size((size_t)m_max, w->lda[L], &cap)) { fast_free(w); return PN_ERR_NOMEM; }
            w->zL = (double *)bump_take(&b, cap, sizeof(double));
        }
        w->onehot = (double *)bump_take(&b, (size_t)sizes[L], sizeof(double));
        w->iota = (int *)bump_take(&b, (size_t)(n_max > m_max ? n_max : m_max), sizeof(int));
        w->ones = (double *)bump_take(&b, (size_t)m_max, sizeof(double));
        w->blk_iota = (int *)bump_take(&b, (size_t)blk_count(n_max), sizeof(int));
        if (b.overflow) { fast_free(w); return PN_ERR_NOMEM; }
        if (pass == 0) {
            w->mem = aligned_block(b.used);
            if (!w->mem) { fast_free(w); return PN_ERR_NOMEM; }
        }
    }
    for (l = 0; l < (n_max > m_max ? n_max : m_max); l++) w->iota[l] = l;
    for (l = 0; l < m_max; l++) w->ones[l] = 1.0;
    for (l = 0; l < blk_count(n_max); l++) w->blk_iota[l] = l * PN_BLK;
    for (l = 1; l <= L; l++)            /* padding columns stay 0.0 (kernels.c: padded) */
        memset(w->delta[l], 0, sizeof(double) * (size_t)m_max * w->lda[l]);
    return PN_OK;
}

static void thread_free(thread_work *t) { free(t->mem); memset(t, 0, sizeof *t); }

static int thread_alloc(thread_work *t, const int *sizes, int n_layers, int m_max)
{
    int pass, n_max = max_size(sizes, n_layers);
    size_t wide = (size_t)(n_max > m_max + 4 ? n_max : m_max + 4), cap, cpn;
    memset(t, 0, sizeof *t);
    if (!mul_size((size_t)m_max, (size_t)n_max, &cap)) return PN_ERR_NOMEM;
    if (!mul_size((size_t)m_max, (size_t)(n_max / 8 + 2), &cpn)) return PN_ERR_NOMEM;
    for (pass = 0; pass < 2; pass++) {
        bump b;
        b.base = (char *)t->mem; b.used = 0; b.overflow = 0;
        t->col = (double *)bump_take(&b, wide, sizeof(double));
        t->z = (double *)bump_take(&b, wide, sizeof(double));
        t->e = (double *)bump_take(&b, wide, sizeof(double));
        t->nb = (double *)bump_take(&b, wide, sizeof(double));
        t->g = (double *)bump_take(&b, wide, sizeof(double));
        t->kcnt = (int *)bump_take(&b, (size_t)n_max, sizeof(int));
        bump_csr(&b, &t->csr, (size_t)n_max, cap, 0);
        t->kind = (int *)bump_take(&b, wide, sizeof(int));
        t->first = (int *)bump_take(&b, wide, sizeof(int));
        t->cp = (int *)bump_take(&b, cpn, sizeof(int));
        t->idx = (const int **)bump_take(&b, (size_t)m_max, sizeof(int *));
        t->val = (const double **)bump_take(&b, (size_t)m_max, sizeof(double *));
        if (b.overflow) { thread_free(t); return PN_ERR_NOMEM; }
        if (pass == 0) {
            t->mem = aligned_block(b.used);
            if (!t->mem) return PN_ERR_NOMEM;
        }
    }
    t->wide = pn_simd_level() == 2;
    return PN_OK;
}

/* ------------------------------------------------------------------------- */
/* The inputs                                                                 */

/* Validate a dataset against the network; need_y: targets are required. */
static int check_data(const pn_data *d, const int *sizes, int n_layers, int need_y)
{
    size_t need;
    if (!d) return PN_ERR_NULL;
    if (d->n_in != sizes[0] || d->n_out != sizes[n_layers - 1]) return PN_ERR_DATA;
    if ((d->pixels == NULL) == (d->xs == NULL)) return PN_ERR_DATA;
    if (!mul_size(d->n, (size_t)d->n_in, &need)) return PN_ERR_DATA;
    if (d->pixels) {
        if (d->pixels_len != need || !d->table || d->table_len != 256) return PN_ERR_DATA;
    } else if (d->xs_len != need) return PN_ERR_DATA;
    if (need_y) {
        if ((d->labels == NULL) == (d->ys == NULL)) return PN_ERR_DATA;
        if (d->labels) {
            if (d->labels_len != d->n) return PN_ERR_DATA;
        } else {
            if (!mul_size(d->n, (size_t)d->n_out, &need) || d->ys_len != need) return PN_ERR_DATA;
        }
    }
    return PN_OK;
}

/* Ask for the input row of sample i to be brought into the (L2) cache: used for
 * the next batch while this one is computed, since samples come in random order
 * from a dataset far larger than the caches. */
static void prefetch_input(const pn_data *d, int64_t i)
{
#if defined(__GNUC__) || defined(__clang__)
    size_t bytes = (size_t)d->n_in * (d->pixels ? 1 : sizeof(double)), o;
    const char *row = d->pixels ? (const char *)(d->pixels + (size_t)i * d->n_in)
                                : (const char *)(d->xs + (size_t)i * d->n_in);
    for (o = 0; o < bytes; o += 64) __builtin_prefetch(row + o, 0, 1);
    __builtin_prefetch(row + bytes - 1, 0, 1);
#else
    (void)d; (void)i;
#endif
}

/* The non-zero inputs of weight layer l: set `view` for layer 0 (see fast_work). */
static nz_lists *nz_of(fast_work *w, int l, int view)
{
    return l == 0 ? &w->nz0[view] : &w->nz[l];
}
/* Sample s's entries of those lists. */
static int *nz_idx(fast_work *w, int l, int view, int s)
{
    const nz_lists *z = nz_of(w, l, view);
    return z->all ? w->iota : z->idx + (size_t)s * w->n[l];
}
static double *nz_val(fast_work *w, int l, int view, int s)
{
    const nz_lists *z = nz_of(w, l, view);
    return z->all ? w->act[l] + (size_t)s * w->lda[l] : z->val + (size_t)s * w->n[l];
}
static int *nz_blk(fast_work *w, int l, int view, int s)
{
    const nz_lists *z = nz_of(w, l, view);
    return z->all ? w->blk_iota : z->blk + (size_t)s * blk_count(w->n[l]);
}

/* Non-zero inputs of sample i into slot s of layer 0, set `view` (on the pixel-row
 * path, with the masks and the pixels' address in csr0[view]). */
static void gather_input(fast_work *w, int wide, const pn_data *d, size_t i, int s, int view)
{
    int n_in = w->n[0];
    int *idx = nz_idx(w, 0, view, s);
    double *val = nz_val(w, 0, view, s);
    int *blk = nz_blk(w, 0, view, s), c;
    pn_csr *rows = &w->csr0[view];
    if (w->pix_rows) {                  /* two calls: one with msk maybe NULL was 2% slower */
        rows->pix[s] = d->pixels + i * (size_t)n_in;
        c = compact_pixels_fast(wide, rows->pix[s], d->table, n_in, idx, val, blk,
                                rows->msk + (size_t)s * (size_t)((n_in + 15) / 16));
    } else if (d->pixels && w->pix_nz)
        c = compact_pixels_fast(wide, d->pixels + i * (size_t)n_in, d->table, n_in, idx, val, blk,
                                NULL);
    else if (d->pixels)
        c = compact_pixels(d->pixels + i * (size_t)n_in, d->table, n_in, idx, val, blk);
    else
        c = compact_dense(d->xs + i * (size_t)n_in, n_in, idx, val, blk);
    w->nz0[view].cnt[s] = c;
}

/* The non-zero activations of layer l (>= 1) of samples 0..m-1: the inputs of
 * weight layer l (nz[l], all = 1 when no activation is 0.0). */
static void compact_layer(fast_work *w, int l, int m)
{
    int s, n = w->n[l];
    nz_lists *z = &w->nz[l];
    z->all = 1;
    for (s = 0; s < m && z->all; s++) z->all = all_nonzero(w->act[l] + (size_t)s * w->lda[l], n);
    for (s = 0; s < m; s++)
        z->cnt[s] = z->all ? n : compact_dense(w->act[l] + (size_t)s * w->lda[l], n,
                                               nz_idx(w, l, 0, s), nz_val(w, l, 0, s),
                                               nz_blk(w, l, 0, s));
}

/* ------------------------------------------------------------------------- */
/* The steps of a mini-batch                                                  */

/* Where column c0 of row 0 of weight layer l's wT is (an offset into the fast
 * layout), and *ldw, the row length there.  Columns c0..c1-1 of every call below
 * lie in one panel (internal.h: panel_split). */
static size_t wT_at(fast_work *w, int l, int c0, size_t *ldw)
{
    return w->w_off[l] + fast_column(l, w->n[l], w->n[l + 1], c0, ldw);
}

/* Forward through weight layer l for samples s0..s1-1 and output neurons c0..c1-1:
 * act[l+1][s][j] = act(sum over the non-zero inputs k, ascending, of wT[k][j] * x_k
 * + b[j]).  The sums run in chunks of rows k (forward_sums).  In the output layer
 * the z are kept in zL, and with a softmax output act[L] is left to softmax_rows
 * (a softmax needs the whole row, which may be split between threads).  When
 * training, the second panel of layer 1 writes its activations apart (w->apart),
 * and join_apart copies them into act[1]: with two threads, thread 1 then writes no
 * cache line of act[1], which thread 0 reads whole (the hardware prefetchers also
 * fetch the lines next to those a core uses, and a line written by one core and
 * held by the other costs both a transfer). */
static void forward_layer(fast_work *w, thread_work *t, const double *params, int l, int view,
                          int s0, int s1, int c0, int c1)
{
    int n_in = w->n[l], nc = c1 - c0, ns = s1 - s0, s, c;
    int kc = chunk_rows(t->wide, nc) / PN_BLK * PN_BLK, nch;
    size_t ldw;
    const double *wT = params + wT_at(w, l, c0, &ldw), *b = params + w->b_off[l];
    const nz_lists *nz = nz_of(w, l, view);
    int apart = w->apart && l == 0 && c0 > 0;
    size_t ldz = apart ? w->ld_apart : w->lda[l + 1], ldL = w->lda[l + 1];
    double *A = apart ? w->apart + (size_t)s0 * ldz           /* sample s0's sums, column c0 */
                      : w->act[l + 1] + (size_t)s0 * ldz + c0;
    int last = l + 1 == w->L;
    int kind = !last ? w->model->activation
             : w->model->cost == PN_LOG_LIKELIHOOD ? PN_Z_ONLY : PN_SIGMOID;
    if (nc <= 0 || ns <= 0) return;
#if PN_HAVE_WIDE
    if (t->wide && nz->all && nc <= 16)
        dense_sums_narrow(wT, ldw, n_in, nz_val(w, l, view, s0), w->lda[l], ns, A, ldz, nc);
    else
#endif
    {
        if (kc < PN_BLK) kc = PN_BLK;
        nch = (n_in + kc - 1) / kc;
        for (s = 0; s < ns; s++) {                  /* chunk boundaries of each sample */
            const int *blk = nz_blk(w, l, view, s0 + s);
            int *cp = t->cp + (size_t)s * (nch + 1);
            t->idx[s] = nz_idx(w, l, view, s0 + s);
            t->val[s] = nz_val(w, l, view, s0 + s);
            for (c = 0; c < nch; c++) cp[c] = blk[c * (kc / PN_BLK)];
            cp[nch] = nz->cnt[s0 + s];
            memset(A + (size_t)s * ldz, 0, sizeof(double) * (size_t)nc);   /* sums from 0.0 */
        }
        forward_sums(t->wide, wT, ldw, nc, ns, t->idx, t->val, t->cp, nch, A, ldz,
                     t->kind, t->first);
    }
    for (s = 0; s < ns; s++) {                      /* in place: sum -> act(sum + b) */
        double *a = A + (size_t)s * ldz;
        double *z = last ? w->zL + (size_t)(s0 + s) * ldL + c0 : t->z;
        activate(kind, a, b + c0, nc, a, z, t->e);
    }
}

/* The activations forward_layer wrote apart, into act[1] (samples 0..m-1). */
static void join_apart(fast_work *w, int m)
{
    int s, c0, c1;
    panel_cols(0, w->n[1], 1, &c0, &c1);
    if (c0 == 0) return;                          /* one panel: written in place */
    for (s = 0; s < m; s++)
        memcpy(w->act[1] + (size_t)s * w->lda[1] + c0, w->apart + (size_t)s * w->ld_apart,
               sizeof(double) * (size_t)(c1 - c0));
}

/* With a softmax output layer: act[L][s] = softmax(zL[s]) for samples s0..s1-1. */
static void softmax_rows(fast_work *w, int s0, int s1)
{
    int s;
    size_t la = w->lda[w->L];
    if (w->model->cost != PN_LOG_LIKELIHOOD) return;
    for (s = s0; s < s1; s++)
        softmax(w->n[w->L], w->zL + (size_t)s * la, w->act[w->L] + (size_t)s * la);
}

/* The target of sample i: its row of ys, or the one-hot vector of its label. */
static const double *target(fast_work *w, const pn_data *d, size_t i)
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

/* Output errors of samples s0..s1-1 (their targets: rows of ys, or labels). */
static void output_errors(fast_work *w, const pn_data *d, const int64_t *idx, int s0, int s1)
{
    int L = w->L, nL = w->n[L], s, j, quadratic = w->model->cost == PN_QUADRATIC;
    size_t la = w->lda[L];
    for (s = s0; s < s1; s++) {
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

/* Errors of hidden layer l for samples s0..s1-1:
 * delta[s][k] = (sum_j w[j][k] * delta_next[s][j], j ascending) * act'(z[k]),
 * vectorised across k: a row sum over the rows j of w, the layer's wT turned back
 * into rows (w->w_rows, once per batch), as in the forward pass. */
static void hidden_errors(fast_work *w, thread_work *t, const double *params, int l, int s0,
                          int s1)
{
    int n_l = w->n[l], n_next = w->n[l + 1], k, j, s, nb;
    int activation = w->model->activation;
    size_t la = w->lda[l], ln = w->lda[l + 1], ldw = w->ldw[l];
    const double *wT = params + w->w_off[l];
    for (k = 0; k < n_l; k++)
        for (j = 0; j < n_next; j++) w->w_rows[(size_t)j * la + k] = wT[(size_t)k * ldw + j];
    nb = plan_blocks(t->wide, n_l, t->kind, t->first);
    for (s = s0; s < s1; s++) {
        double *dl = w->delta[l] + (size_t)s * la;
        const double *a = w->act[l] + (size_t)s * la;
        rowsum_planned(t->wide, w->w_rows, la, w->iota, w->delta[l + 1] + (size_t)s * ln, n_next,
                       dl, RS_SET, 0.0, nb, t->kind, t->first);
        times_prime(activation, dl, a, n_l);
    }
}

/* The constants of one mini-batch's step (see pn_step and textbook.c). */
typedef struct {
    enum { STEP_PLAIN, STEP_DECAY, STEP_MOMENTUM } rule;
    double scale;          /* eta/m */
    double keep;           /* 1 - eta l2/n   (STEP_DECAY) */
    double decay;          /* eta l2/n       (STEP_MOMENTUM) */
    double shrink;         /* eta l1/n */
    double mu;
} step_plan;

static step_plan plan_step(const pn_step *st, int m)
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
    nb = plan_blocks(t->wide, j1 - j0, t->kind, t->first);
    rowsum_planned(t->wide, w->delta[l + 1] + j0, w->lda[l + 1], w->iota, w->ones, m,
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
static void csr_build(fast_work *w, thread_work *t, pn_csr *c, int l, int view, int m)
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
    if (l == 0 && w->pix_rows) {
        rowsum_pixel_rows(dl, lda, c->uk + u0, c->mk + u0, u1 - u0, c->pix, w->table, out, ldo,
                          mode, scale, nb, t->kind, t->first);
        return;
    }
#endif
    rowsum_rows(t->wide, dl, lda, c->es, c->ex, c->start + u0, c->cnt + u0, c->uk + u0, u1 - u0,
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
    nb = plan_blocks(t->wide, c1 - c0, t->kind, t->first);
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
    nb = plan_blocks(t->wide, nc, t->kind, t->first);
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
    int nb = plan_blocks(t->wide, n_in, t->kind, t->first);
    size_t la = w->lda[l], ln = w->lda[l + 1], ldw = w->ldw[l];
    double *wT = params + w->w_off[l], *gT = w->w_rows;
    for (j = 0; j < n_out; j++) {
        for (s = 0; s < m; s++) t->col[s] = w->delta[l + 1][(size_t)s * ln + j];
        rowsum_planned(t->wide, w->act[l], la, w->iota, t->col, m, gT + (size_t)j * la, RS_SET,
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
static void layer_step(fast_work *w, thread_work *t, double *params, double *vel, int l,
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

/* ------------------------------------------------------------------------- */
/* The training loop and its threads                                          */

struct pn_barrier_s;

typedef struct {
    fast_work *w;
    thread_work tw[PN_MAX_THREADS];
    double *params, *velocities;
    const pn_data *d;
    const int64_t *indices;
    const int64_t *batch_sizes;
    size_t n_batches;
    const pn_step *step;
    int nthreads;
    struct pn_barrier_s *barrier;
} train_job;

static int check_batches(const pn_data *d, const int64_t *indices, size_t n_indices,
                         const int64_t *batch_sizes, size_t n_batches, int n_out, int *m_max)
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

/* A barrier for the threads of one call: spin briefly (a phase is some
 * microseconds), then sleep on a condition variable, so that a machine with
 * fewer free cores than threads slows down gracefully instead of spinning. */
typedef struct pn_barrier_s {
    int count;
    int sense;
    int n;
#if PN_THREADS
    pthread_mutex_t mu;
    pthread_cond_t cv;
#endif
} pn_barrier;

#if PN_THREADS && PN_HAVE_ATOMICS
#define PN_SPINS 4000
static void barrier_wait(pn_barrier *b, int *local_sense)
{
    int sense = !*local_sense, spins;
    *local_sense = sense;
    if (PN_ATOMIC_ADD(&b->count, 1) == b->n) {          /* the last one in opens it */
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        pthread_mutex_lock(&b->mu);
        PN_ATOMIC_STORE(&b->sense, sense);
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        return;
    }
    for (spins = 0; spins < PN_SPINS; spins++) {
        if (PN_ATOMIC_LOAD(&b->sense) == sense) return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    pthread_mutex_lock(&b->mu);
    while (PN_ATOMIC_LOAD(&b->sense) != sense) pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}
#define PN_CAN_THREAD 1
#else
#define PN_CAN_THREAD 0
#endif

static void sync_threads(train_job *j, int *sense)
{
#if PN_CAN_THREAD
    if (j->nthreads > 1) barrier_wait(j->barrier, sense);
#else
    (void)j; (void)sense;
#endif
}

/* Per-phase timers for docs/performance.md (bench/phase_times.py): a build with
 * -DPN_PHASE_TIMES adds up, per thread, the cycles (rdtsc) of each phase of
 * run_batches and prints them to stderr after every pn_train_batches call. */
#if defined(PN_PHASE_TIMES) && defined(__x86_64__)
#include <stdio.h>
#include <x86intrin.h>
static const char *const phase_name[] = {"B forward", "B barrier", "C forward+errors+steps",
                                         "C gather", "C barrier", "D step"};
static unsigned long long phase_ticks[PN_MAX_THREADS][6];
#define PN_PHASE_START unsigned long long phase_t = __rdtsc()
#define PN_PHASE(i) { unsigned long long n_ = __rdtsc(); \
                      phase_ticks[part][i] += n_ - phase_t; phase_t = n_; }
static void phase_report(int nthreads)
{
    int p, i;
    for (p = 0; p < nthreads; p++)
        for (i = 0; i < 6; i++) {
            fprintf(stderr, "pn_phase thread %d %s: %llu\n", p, phase_name[i], phase_ticks[p][i]);
            phase_ticks[p][i] = 0;
        }
}
#else
#define PN_PHASE_START
#define PN_PHASE(i)
#define phase_report(n) ((void)(n))
#endif

/* Gather batch b's inputs into set b % 2, with their touched rows (csr0), and
 * prefetch batch b+1's rows; t: the gathering thread's scratch. */
static void gather_batch(train_job *j, thread_work *t, size_t b, size_t pos)
{
    int m = (int)j->batch_sizes[b], s, view = (int)(b & 1);
    pn_csr *rows = &j->w->csr0[view];
    for (s = 0; s < m; s++) gather_input(j->w, t->wide, j->d, (size_t)j->indices[pos + s], s, view);
#if PN_HAVE_WIDE
    if (j->w->pix_rows) rows->nu = pixel_rows(rows->msk, m, j->w->n[0], rows->uk, rows->mk);
    else
#endif
        csr_build(j->w, t, rows, 0, view, m);
    if (b + 1 < j->n_batches) {                          /* the batch after: to the cache */
        int m2 = (int)j->batch_sizes[b + 1];
        for (s = 0; s < m2; s++) prefetch_input(j->d, j->indices[pos + (size_t)m + s]);
    }
}

/* Thread `part` of `parts` runs its share of every batch.  With 2 threads the
 * big first layer is split by its output neurons: each thread reads and writes
 * only its own panel of wT_0 (internal.h: panel_split), and the small rest of the
 * network stays on thread 0 (moving data between cores costs more than it saves
 * there).  Per batch b:
 *   B: every thread: the forward sums and activations of its neurons of layer 1,
 *      for all samples;
 *   -- barrier (layer 1 complete) --
 *   C: thread 0: layer 1's activations joined (join_apart), the rest of the
 *      forward pass (and a softmax output layer), all the errors, and the steps of
 *      every layer but the first (each after the errors that need its weights);
 *      the last thread (thread 0 when alone):
 *      gathering the inputs of batch b+1 and listing the rows of wT_0 they touch
 *      (csr0);
 *   -- barrier (errors and the next inputs ready) --
 *   D: every thread: the gradient step of its panel of wT_0 and its part of b_0
 *      (all touched rows, or every row with L2, L1 or momentum).
 * Every number is computed by the same operations in the same order as with one
 * thread.  Batch b+1's phase B uses only this thread's own columns of wT_0 and
 * b_0, and everything else waits for its first barrier, so phase D needs no
 * barrier after it. */
static void run_batches(train_job *j, int part, int *sense)
{
    fast_work *w = j->w;
    thread_work *t = &j->tw[part];
    const double *cparams = j->params;
    int parts = j->nthreads, L = w->L, l, p, c0, c1;
    int main_part = part == 0, gather_part = part == parts - 1;
    int p0 = part * 2 / parts, p1 = (part + 1) * 2 / parts;   /* this thread's panels of wT_0 */
    size_t b, pos = 0;
    PN_PHASE_START;
    if (gather_part) gather_batch(j, t, 0, 0);
    sync_threads(j, sense);
    PN_PHASE(3)
    for (b = 0; b < j->n_batches; b++) {
        int m = (int)j->batch_sizes[b], view = (int)(b & 1);
        const int64_t *idx = j->indices + pos;
        step_plan plan = plan_step(j->step, m);
        /* B */
        for (p = p0; p < p1; p++) {
            panel_cols(0, w->n[1], p, &c0, &c1);
            forward_layer(w, t, cparams, 0, view, 0, m, c0, c1);
        }
        PN_PHASE(0)
        sync_threads(j, sense);
        PN_PHASE(1)
        /* C */
        if (main_part) {
            join_apart(w, m);
            for (l = 1; l < L; l++) {
                compact_layer(w, l, m);
                forward_layer(w, t, cparams, l, 0, 0, m, 0, w->n[l + 1]);
            }
            softmax_rows(w, 0, m);
            output_errors(w, j->d, idx, 0, m);
            for (l = L - 1; l >= 1; l--) hidden_errors(w, t, cparams, l, 0, m);
            for (l = 1; l < L; l++)
                layer_step(w, t, j->params, j->velocities, l, 0, m, &plan, 0, w->n[l + 1]);
        }
        PN_PHASE(2)
        if (gather_part && b + 1 < j->n_batches) gather_batch(j, t, b + 1, pos + (size_t)m);
        PN_PHASE(3)
        sync_threads(j, sense);
        PN_PHASE(4)
        /* D */
        for (p = p0; p < p1; p++) {
            panel_cols(0, w->n[1], p, &c0, &c1);
            layer_step(w, t, j->params, j->velocities, 0, view, m, &plan, c0, c1);
        }
        PN_PHASE(5)
        pos += (size_t)m;
    }
}

typedef struct {
    train_job *job;
    int part;
    int sense;
} worker_arg;

#if PN_CAN_THREAD
static void *worker_main(void *p)
{
    worker_arg *a = (worker_arg *)p;
    run_batches(a->job, a->part, &a->sense);
    return NULL;
}
#endif

int pn_train_batches(const int *sizes, int n_layers, const pn_model *model, double *params,
                     double *velocities, size_t n_params, const pn_data *data,
                     const int64_t *indices, size_t n_indices, const int64_t *batch_sizes,
                     size_t n_batches, const pn_step *step, int threads)
{
    fast_work w;
    train_job job;
    pn_barrier barrier;
    int m_max = 0, rc, p, nthreads, sense0 = 0;
    rc = check_fast_params(sizes, n_layers, params, n_params);
    if (rc == PN_OK) rc = check_model(model);
    if (rc == PN_OK && !step) rc = PN_ERR_NULL;
    if (rc == PN_OK)
        rc = check_step(step->lr, step->n, step->l2, step->l1, step->momentum, velocities);
    if (rc != PN_OK) return rc;
    if ((rc = check_data(data, sizes, n_layers, 1)) != PN_OK) return rc;
    if (threads < 1 || threads > PN_MAX_THREADS) return PN_ERR_THREADS;
    rc = check_batches(data, indices, n_indices, batch_sizes, n_batches, sizes[n_layers - 1], &m_max);
    if (rc != PN_OK) return rc;
    if (n_batches == 0) return PN_OK;
    nthreads = PN_CAN_THREAD ? threads : 1;            /* the results are the same */
    if ((rc = fast_alloc(&w, sizes, n_layers, model, m_max, 1)) != PN_OK) return rc;
    w.pix_nz = data->pixels ? table_zero_only_at_0(data->table) : 0;
    w.pix_rows = PN_HAVE_WIDE && w.pix_nz && pn_simd_level() == 2 && m_max <= 32;
    w.table = data->table;
    memset(&job, 0, sizeof job);
    job.w = &w; job.params = params; job.velocities = velocities; job.d = data;
    job.indices = indices; job.batch_sizes = batch_sizes; job.n_batches = n_batches;
    job.step = step;
    for (p = 0; p < nthreads; p++)
        if ((rc = thread_alloc(&job.tw[p], sizes, n_layers, m_max)) != PN_OK) {
            while (p-- > 0) thread_free(&job.tw[p]);
            fast_free(&w);
            return rc;
        }
    job.nthreads = nthreads;
    barrier.count = 0; barrier.sense = 0; barrier.n = nthreads;
    job.barrier = &barrier;
#if PN_CAN_THREAD
    if (nthreads == 2) {                                /* one worker + this thread */
        pthread_t tid;
        worker_arg arg;
        int ok = pthread_mutex_init(&barrier.mu, NULL) == 0;
        if (ok && pthread_cond_init(&barrier.cv, NULL) != 0) {
            pthread_mutex_destroy(&barrier.mu);
            ok = 0;
        }
        arg.job = &job; arg.part = 1; arg.sense = 0;
        if (ok && pthread_create(&tid, NULL, worker_main, &arg) == 0) {
            run_batches(&job, 0, &sense0);
            pthread_join(tid, NULL);
        } else {                                        /* no worker: all on this thread */
            job.nthreads = 1;
            barrier.n = 1;
            run_batches(&job, 0, &sense0);
        }
        if (ok) {
            pthread_cond_destroy(&barrier.cv);
            pthread_mutex_destroy(&barrier.mu);
        }
    } else
#endif
        run_batches(&job, 0, &sense0);
    for (p = 0; p < nthreads; p++) thread_free(&job.tw[p]);
    fast_free(&w);
    phase_report(job.nthreads);
    return PN_OK;
}

/* ------------------------------------------------------------------------- */
/* Outputs                                                                    */

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

/* Feed samples start..stop-1 forward, 64 at a time, into out and costs. */
static void outputs_run(outputs_job *o)
{
    enum { CHUNK = 64 };
    fast_work w;
    thread_work t;
    size_t i;
    int L = o->n_layers - 1, nL = o->sizes[L], m_max, l, p, c0, c1;
    if (o->stop <= o->start) { o->rc = PN_OK; return; }
    m_max = o->stop - o->start < CHUNK ? (int)(o->stop - o->start) : CHUNK;
    if ((o->rc = fast_alloc(&w, o->sizes, o->n_layers, o->model, m_max, 0)) != PN_OK) return;
    if ((o->rc = thread_alloc(&t, o->sizes, o->n_layers, m_max)) != PN_OK) { fast_free(&w); return; }
    w.pix_nz = o->data->pixels ? table_zero_only_at_0(o->data->table) : 0;
    for (i = o->start; i < o->stop; i += (size_t)m_max) {
        int m = o->stop - i < (size_t)m_max ? (int)(o->stop - i) : m_max, s;
        for (s = 0; s < m; s++) gather_input(&w, t.wide, o->data, i + (size_t)s, s, 0);
        for (l = 0; l < L; l++) {
            if (l > 0) compact_layer(&w, l, m);
            for (p = 0; p < n_panels(l); p++) {
                panel_cols(l, o->sizes[l + 1], p, &c0, &c1);
                forward_layer(&w, &t, o->params, l, 0, 0, m, c0, c1);
            }
        }
        softmax_rows(&w, 0, m);
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

#if PN_CAN_THREAD
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
#if PN_CAN_THREAD
    if (threads == 2 && job->stop - job->start >= 256) {  /* each thread takes half the samples */
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

int pn_cost(const int *sizes, int n_layers, const pn_model *model, const double *params,
            size_t n_params, const pn_data *data, double l2, double l1, double *cost, int threads)
{
    outputs_job job;
    size_t *w_off, *b_off, i, k;
    double total = 0.0, squares = 0.0, abs_sum = 0.0, n, *costs;
    int L = n_layers - 1, l, j;
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
    w_off = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    b_off = (size_t *)malloc(sizeof(size_t) * (size_t)L);
    if (!costs || !w_off || !b_off) { free(costs); free(w_off); free(b_off); return PN_ERR_NOMEM; }
    memset(&job, 0, sizeof job);
    job.sizes = sizes; job.n_layers = n_layers; job.model = model; job.params = params;
    job.data = data; job.start = 0; job.stop = data->n; job.costs = costs;
    rc = run_outputs(&job, threads);
    if (rc == PN_OK) {
        for (i = 0; i < data->n; i++) total += costs[i];          /* samples in order */
        layer_offsets(sizes, n_layers, 1, w_off, b_off);
        for (l = 0; l < L; l++)                     /* the weights w[j][k], row by row */
            for (j = 0; j < sizes[l + 1]; j++) {
                size_t ld, at = w_off[l] + fast_column(l, sizes[l], sizes[l + 1], j, &ld);
                const double *col = params + at;                /* wT[k][j], k = 0.. */
                for (k = 0; k < (size_t)sizes[l]; k++) {
                    double v = col[k * ld];
                    squares += v * v;
                    abs_sum += fabs(v);
                }
            }
        n = (double)data->n;
        *cost = total / n + 0.5 * (l2 / n) * squares + (l1 / n) * abs_sum;
    }
    free(costs); free(w_off); free(b_off);
    return rc;
}
