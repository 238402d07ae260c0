/*
 * scratch.c -- the fast path's scratch memory (fastpath.h: fast_work, allocated once
 * per call, and thread_work, once per thread), and the inputs that fill it: the
 * dataset's check, the gather of each sample's non-zero inputs into lists
 * (phase 1 of a mini-batch), and the lists of a hidden layer's non-zero
 * activations (compact_layer, in phase 2).
 */
#include "fastpath.h"

#include <stdlib.h>
#include <string.h>

static int max_size(const int *sizes, int n_layers)
{
    int l, mx = 0;
    for (l = 0; l < n_layers; l++) if (sizes[l] > mx) mx = sizes[l];
    return mx;
}

/* Every buffer starts on a 64-byte cache line (no two threads' buffers share one). */
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

/* a * c, or 0 with b->overflow set when that overflows. */
static size_t bump_times(bump *b, size_t a, size_t c)
{
    size_t r;
    if (mul_size(a, c, &r)) return r;
    b->overflow = 1;
    return 0;
}

/* The lists of one weight layer with n inputs, for m_max samples, and `extra`
 * entries of room after them. */
static void bump_nz(bump *b, nz_lists *z, int n, int m_max, size_t extra)
{
    size_t cap = bump_times(b, (size_t)m_max, (size_t)n) + extra;
    z->idx = (int *)bump_take(b, cap, sizeof(int));
    z->val = (double *)bump_take(b, cap, sizeof(double));
    z->cnt = (int *)bump_take(b, (size_t)m_max, sizeof(int));
    z->blk = (int *)bump_take(b, bump_times(b, (size_t)m_max, (size_t)blk_count(n)), sizeof(int));
}

/* A pn_csr (CSR_LISTS) of a layer with n inputs for m_max samples; pixels: also
 * room for the CSR_PIXELS form, whose pixel_rows stores PN_PIX_GROUP entries whole. */
static void bump_csr(bump *b, pn_csr *c, int n, int m_max, int pixels)
{
    size_t entries = bump_times(b, (size_t)m_max, (size_t)n);
    c->form = CSR_LISTS;
    c->uk = (int *)bump_take(b, (size_t)n + PN_PIX_GROUP, sizeof(int));
    if (pixels) {
        c->mk = (uint32_t *)bump_take(b, (size_t)n + PN_PIX_GROUP, sizeof(uint32_t));
        c->msk = (uint16_t *)bump_take(b, bump_times(b, (size_t)m_max, pix_groups(n)),
                                       sizeof(uint16_t));
        c->pix = (const uint8_t **)bump_take(b, (size_t)m_max, sizeof(uint8_t *));
    }
    c->start = (int *)bump_take(b, (size_t)n, sizeof(int));
    c->cnt = (int *)bump_take(b, (size_t)n, sizeof(int));
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

/* The buffers of a fast_work in one block (b->base == NULL: only its size). */
static void bump_fast(bump *b, fast_work *w, int m_max, int train)
{
    int L = w->L, l, n_max = max_size(w->n, L + 1);
    size_t rows = 0;
    bump_nz(b, &w->nz0[0], w->n[0], m_max, PN_PIX_GROUP);   /* compact_pixels_fast */
    bump_nz(b, &w->nz0[1], w->n[0], m_max, PN_PIX_GROUP);
    bump_csr(b, &w->csr0[0], w->n[0], m_max, 1);
    bump_csr(b, &w->csr0[1], w->n[0], m_max, 1);
    for (l = 1; l < L; l++) bump_nz(b, &w->nz[l], w->n[l], m_max, 0);
    for (l = 1; l <= L; l++) {
        w->act[l] = (double *)bump_take(b, bump_times(b, (size_t)m_max, w->lda[l]), sizeof(double));
        w->delta[l] = (double *)bump_take(b, bump_times(b, (size_t)m_max, w->lda[l]), sizeof(double));
    }
    for (l = 1; train && l < L; l++) {
        size_t cap = bump_times(b, (size_t)w->n[l + 1], w->lda[l]);
        if (cap > rows) rows = cap;
    }
    w->w_rows = (double *)bump_take(b, rows, sizeof(double));
    if (train) {
        w->ld_apart = pad_row(w->n[1] - panel_split(w->n[1]));
        bump_take(b, PN_PANEL_GAP, sizeof(double));
        w->apart = (double *)bump_take(b, bump_times(b, (size_t)m_max, w->ld_apart), sizeof(double));
        bump_take(b, PN_PANEL_GAP, sizeof(double));
    }
    w->zL = (double *)bump_take(b, bump_times(b, (size_t)m_max, w->lda[L]), sizeof(double));
    w->onehot = (double *)bump_take(b, (size_t)w->n[L], sizeof(double));
    w->iota = (int *)bump_take(b, (size_t)(n_max > m_max ? n_max : m_max), sizeof(int));
    w->ones = (double *)bump_take(b, (size_t)m_max, sizeof(double));
    w->blk_iota = (int *)bump_take(b, (size_t)blk_count(n_max), sizeof(int));
}

void fast_free(fast_work *w)
{
    free(w->w_off); free(w->b_off); free(w->ldw); free(w->lda); free(w->nz);
    free(w->act); free(w->delta); free(w->mem);
    memset(w, 0, sizeof *w);
}

/* The constants of the scratch: iota, ones, blk_iota, and delta's padding (0.0,
 * which rowsum.c's `padded` loads read). */
static void fast_fill(fast_work *w, int m_max)
{
    int i, n_max = max_size(w->n, w->L + 1);
    for (i = 0; i < (n_max > m_max ? n_max : m_max); i++) w->iota[i] = i;
    for (i = 0; i < m_max; i++) w->ones[i] = 1.0;
    for (i = 0; i < blk_count(n_max); i++) w->blk_iota[i] = i * PN_BLK;
    for (i = 1; i <= w->L; i++)
        memset(w->delta[i], 0, sizeof(double) * (size_t)m_max * w->lda[i]);
}

int fast_alloc(fast_work *w, const int *sizes, int n_layers, const pn_model *model,
               const pn_data *d, int m_max, int train)
{
    int L = n_layers - 1, l;
    bump b = {NULL, 0, 0};
    memset(w, 0, sizeof *w);
    w->L = L; w->n = sizes; w->model = model;
    w->wide = pn_simd_level() == 2;                      /* once: see fast_work */
    w->pix_nz = d->pixels ? table_zero_only_at_0(d->table) : 0;
    w->form0 = PN_HAVE_WIDE && w->wide && w->pix_nz && m_max <= PN_PIXROW_MAX_BATCH
             ? CSR_PIXELS : CSR_LISTS;
    w->table = d->table;
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
    bump_fast(&b, w, m_max, train);
    if (!b.overflow) w->mem = aligned_block(b.used);
    if (!w->mem) { fast_free(w); return PN_ERR_NOMEM; }
    b.base = (char *)w->mem; b.used = 0;
    bump_fast(&b, w, m_max, train);
    fast_fill(w, m_max);
    return PN_OK;
}

void thread_free(thread_work *t) { free(t->mem); memset(t, 0, sizeof *t); }

/* The buffers of a thread_work in one block (b->base == NULL: only its size). */
static void bump_thread(bump *b, thread_work *t, int n_max, int m_max)
{
    size_t row = (size_t)(n_max > m_max ? n_max : m_max);    /* a row of neurons or samples */
    t->col = (double *)bump_take(b, row, sizeof(double));
    t->z = (double *)bump_take(b, row, sizeof(double));
    t->e = (double *)bump_take(b, row, sizeof(double));
    t->nb = (double *)bump_take(b, row, sizeof(double));
    t->g = (double *)bump_take(b, row, sizeof(double));
    t->kcnt = (int *)bump_take(b, (size_t)n_max, sizeof(int));
    bump_csr(b, &t->csr, n_max, m_max, 0);
    t->kind = (int *)bump_take(b, row, sizeof(int));
    t->first = (int *)bump_take(b, row, sizeof(int));
    t->cp = (int *)bump_take(b, bump_times(b, (size_t)m_max, (size_t)blk_count(n_max)),
                             sizeof(int));                  /* steps.c: forward_layer */
    t->idx = (const int **)bump_take(b, (size_t)m_max, sizeof(int *));
    t->val = (const double **)bump_take(b, (size_t)m_max, sizeof(double *));
}

int thread_alloc(thread_work *t, const int *sizes, int n_layers, int m_max)
{
    int n_max = max_size(sizes, n_layers);
    bump b = {NULL, 0, 0};
    memset(t, 0, sizeof *t);
    bump_thread(&b, t, n_max, m_max);
    if (!b.overflow) t->mem = aligned_block(b.used);
    if (!t->mem) return PN_ERR_NOMEM;
    b.base = (char *)t->mem; b.used = 0;
    bump_thread(&b, t, n_max, m_max);
    return PN_OK;
}

/* ------------------------------------------------------------------------- */
/* The inputs                                                                 */

/* Validate a dataset against the network; need_y: targets are required. */
int check_data(const pn_data *d, const int *sizes, int n_layers, int need_y)
{
    size_t need;
    if (!d) return PN_ERR_NULL;
    if (d->n_in != sizes[0] || d->n_out != sizes[n_layers - 1]) return PN_ERR_DATA;
    if ((d->pixels == NULL) == (d->xs == NULL)) return PN_ERR_DATA;
    if (!mul_size(d->n, (size_t)d->n_in, &need)) return PN_ERR_DATA;
    if (d->pixels) {
        if (d->pixels_len != need || !d->table || d->table_len != PN_PIXEL_VALUES) return PN_ERR_DATA;
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

/* The non-zero inputs of weight layer l: set `view` for layer 0 (see fast_work). */
nz_lists *nz_of(fast_work *w, int l, int view)
{
    return l == 0 ? &w->nz0[view] : &w->nz[l];
}
/* Sample s's entries of those lists. */
int *nz_idx(fast_work *w, int l, int view, int s)
{
    const nz_lists *z = nz_of(w, l, view);
    return z->all ? w->iota : z->idx + (size_t)s * w->n[l];
}
double *nz_val(fast_work *w, int l, int view, int s)
{
    const nz_lists *z = nz_of(w, l, view);
    return z->all ? w->act[l] + (size_t)s * w->lda[l] : z->val + (size_t)s * w->n[l];
}
int *nz_blk(fast_work *w, int l, int view, int s)
{
    const nz_lists *z = nz_of(w, l, view);
    return z->all ? w->blk_iota : z->blk + (size_t)s * blk_count(w->n[l]);
}

/* Non-zero inputs of sample i into slot s of layer 0, set `view` (in the CSR_PIXELS
 * form, with the masks and the pixels' address in csr0[view]). */
void gather_input(fast_work *w, const pn_data *d, size_t i, int s, int view)
{
    int n_in = w->n[0];
    int *idx = nz_idx(w, 0, view, s);
    double *val = nz_val(w, 0, view, s);
    int *blk = nz_blk(w, 0, view, s), c;
    pn_csr *rows = &w->csr0[view];
    if (w->form0 == CSR_PIXELS) {        /* two calls: one with msk maybe NULL was 2% slower */
        rows->pix[s] = d->pixels + i * (size_t)n_in;
        c = compact_pixels_fast(w->wide, rows->pix[s], d->table, n_in, idx, val, blk,
                                rows->msk + (size_t)s * pix_groups(n_in));
    } else if (d->pixels && w->pix_nz)
        c = compact_pixels_fast(w->wide, d->pixels + i * (size_t)n_in, d->table, n_in, idx, val,
                                blk, NULL);
    else if (d->pixels)
        c = compact_pixels(d->pixels + i * (size_t)n_in, d->table, n_in, idx, val, blk);
    else
        c = compact_dense(d->xs + i * (size_t)n_in, n_in, idx, val, blk);
    w->nz0[view].cnt[s] = c;
}

/* The non-zero activations of layer l (>= 1) of samples 0..m-1: the inputs of
 * weight layer l (nz[l], all = 1 when no activation is 0.0). */
void compact_layer(fast_work *w, int l, int m)
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
