/*
 * internal.h -- what the C engine's source files share that is not public API.
 *
 * The engine (purenet.h is its public API) is these files:
 *   textbook.c  layer 1: the routines of purenet/reference.py, one by one, in
 *               the same order and under the same names (pn_ prefix);
 *   convolution.c  layer 1, chapter 6: the routines of purenet/convolution.py
 *               (conv sums, max-pooling, their errors and gradients), the same way;
 *   common.c    error messages, the argument checks of both layers, pn_all_finite
 *               (fit's divergence check) and pn_shuffle;
 *   layout.c    the two parameter layouts: their sizes, where each layer starts,
 *               and the copies between them (pn_to_fast, pn_from_fast);
 *   layer 2, the fast path (fastpath.h: its shared structs and how its phases fit):
 *   scratch.c   its scratch memory, and the gather of each batch's non-zero inputs;
 *   steps.c     the steps of a mini-batch: forward, errors, the weight steps;
 *   train.c     pn_train_batches: the training loop, on one thread or two;
 *   outputs.c   pn_outputs and pn_cost: batches fed forward;
 *   rowsum.c    the row sums every product goes through (4-wide and AVX-512);
 *   kernels.c   the other inner loops: activations, the steps of a row, the lists
 *               of non-zero inputs, and the SIMD level in use.
 *   layer 3, chapter 6's layered networks (conv, pool and fully connected layers,
 *   dropout): net.c, net_train.c, net_team.c, net_sample.c, net_conv.c, net_pool.c,
 *   net_full.c; net.h says what each holds.
 *
 * Every routine does the IEEE double operations of purenet/reference.py in the
 * same order, so results are identical bit for bit:
 *   - a sum starts from 0.0 and adds its terms in the reference's order (inputs k
 *     ascending; samples in batch order), never split into partial sums;
 *   - terms whose input a_k is exactly 0 are skipped, as the reference skips them;
 *   - sigma(z) = 1/(1+exp(-z)) for z >= 0, else e/(1+e) with e = exp(z) (libm exp);
 *   - sigma'(z) = s*(1.0-s), s = sigma(z) (== the activation a);
 *   - w = w - (lr/m) * sum.
 * SIMD is used only *across independent outputs* (j, or samples), never inside a
 * sum.  Compile with -ffp-contract=off (no fused multiply-add) and never with
 * -ffast-math: see build_ext.py.
 *
 * Build switches (all give the same bits): -DPN_NO_VECTOR (plain C instead of GCC
 * vector extensions), -DPN_NO_CLONES (no AVX2 or AVX-512 copy of the kernels), -DPN_NO_THREADS
 * (threads = 2 runs on one thread), -DPN_NO_SWAR (zero pixels skipped one by one, not
 * 8 at a time); .ci/fallbacks tests each.  pn_limit_simd(1) turns
 * the AVX-512 row sums off at run time, and the tests compare both levels.
 */
#ifndef PURENET_INTERNAL_H
#define PURENET_INTERNAL_H

#include "purenet.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------- */
/* Compiler support                                                           */

/* Functions shared between the engine's files but not part of its API: not
 * exported from the module, and called directly rather than through the PLT. */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__ELF__) || defined(__APPLE__))
#define PN_HIDDEN __attribute__((visibility("hidden")))
#else
#define PN_HIDDEN
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PN_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define PN_ALWAYS_INLINE static inline
#endif

/* GCC vector extensions: 4 doubles side by side (one AVX register). */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(PN_NO_VECTOR)
#define PN_VEC 1
typedef double pn_v4 __attribute__((vector_size(32)));
#else
#define PN_VEC 0
#endif

/* target_clones: one AVX2 and one baseline copy of the hot loops, picked at load
 * time (PN_CLONES_WIDE: also an AVX-512 copy, for the plain loops of the dense
 * update steps, which the compiler vectorises 8 doubles wide there).
 * -ffp-contract=off keeps FMA out of every copy, so all give the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && (__GNUC__ >= 6) && \
    defined(__x86_64__) && defined(__linux__) && !defined(PN_NO_CLONES)
#define PN_CLONES __attribute__((target_clones("avx2", "default")))
#define PN_CLONES_WIDE __attribute__((target_clones("avx512f", "avx2", "default")))
#define PN_HAVE_CLONES 1
#else
#define PN_CLONES
#define PN_CLONES_WIDE
#define PN_HAVE_CLONES 0
#endif

/* The AVX-512 row sums (rowsum.c), picked per call when the CPU has AVX-512F and
 * pn_limit_simd allows it; they need GCC's vector support and its target clones. */
#if PN_HAVE_CLONES && PN_VEC
#define PN_HAVE_WIDE 1
#else
#define PN_HAVE_WIDE 0
#endif

/* ------------------------------------------------------------------------- */
/* Sizes                                                                      */

/* *r = a * b; 0 if that overflows size_t. */
static inline int mul_size(size_t a, size_t b, size_t *r)
{
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *r = a * b;
    return 1;
}

/* Row length of layer l's transposed weights in the fast layout: sizes[l+1]
 * rounded up to a multiple of PN_PAD doubles, so that every row starts on a
 * 64-byte cache line (vector loads never straddle lines, and two threads that
 * own different column ranges never write to the same line). */
#define PN_PAD 8
static inline size_t pad_row(int n) { return ((size_t)n + PN_PAD - 1) / PN_PAD * PN_PAD; }

/* In the fast layout the first weight layer's wT is two column panels: columns
 * [0, split) and [split, n_out), split = panel_split(n_out) (whole cache lines, half
 * of them on each side), each in rows of pad_row(its width) doubles, PN_PANEL_GAP
 * doubles (4 KiB) apart (no gap when the first panel is empty: n_out <= PN_PAD).
 * With two threads each owns one panel, and no cache line, or hardware-prefetched
 * neighbour of one, holds weights of both. */
#define PN_PANEL_GAP 512
static inline int panel_split(int n_out) { return (n_out + PN_PAD - 1) / PN_PAD / 2 * PN_PAD; }
/* The panels of weight layer l, and panel p's columns [*c0, *c1). */
static inline int n_panels(int l) { return l == 0 ? 2 : 1; }
static inline void panel_cols(int l, int n_out, int p, int *c0, int *c1)
{
    int split = l == 0 ? panel_split(n_out) : n_out;
    *c0 = p == 0 ? 0 : split;
    *c1 = p == 0 ? split : n_out;
}

/* ------------------------------------------------------------------------- */
/* common.c: argument checks (each returns PN_OK or the PN_ERR_* code to return) */

/* sizes non-NULL, 2 <= n_layers <= PN_MAX_LAYERS, 1 <= sizes[l] <= PN_MAX_SIZE. */
PN_HIDDEN int check_sizes(const int *sizes, int n_layers);
/* check_sizes, params non-NULL, n_params == pn_param_count (textbook layout). */
PN_HIDDEN int check_params(const int *sizes, int n_layers, const double *params, size_t n_params);
/* The same for the fast layout (n_params == pn_fast_param_count). */
PN_HIDDEN int check_fast_params(const int *sizes, int n_layers, const double *params,
                                size_t n_params);
/* model non-NULL with a known cost and activation. */
PN_HIDDEN int check_model(const pn_model *model);
/* A valid step (see PN_ERR_STEP); velocities are needed when mu > 0. */
PN_HIDDEN int check_step(double lr, double n, double l2, double l1, double mu,
                         const double *velocities);
/* batch_sizes[0..n_batches-1] >= 1, summing to n_indices; every index < d->n, every label
 * of those samples < n_out; *m_max = the largest batch. */
PN_HIDDEN int check_batches(const pn_data *d, const int64_t *indices, size_t n_indices,
                            const int64_t *batch_sizes, size_t n_batches, size_t n_out,
                            int *m_max);

/* ------------------------------------------------------------------------- */
/* textbook.c: what the fast path and convolution.c take from the textbook   */

/* The hidden neuron act(z) and its slope act'(z) for activation PN_SIGMOID, PN_TANH
 * or PN_RELU (reference.py: act.fn, act.prime); anything else is taken as PN_SIGMOID. */
PN_HIDDEN double act_fn(int activation, double z);
PN_HIDDEN double act_prime(int activation, double z);

/* reference.softmax: a[j] = e^(z[j] - max z) / sum_k e^(z[k] - max z). */
PN_HIDDEN void softmax(int n, const double *z, double *a);
/* The cost of one sample (reference.py: cost.fn) for cost PN_QUADRATIC, ... */
PN_HIDDEN double cost_fn(int cost, int n, const double *a, const double *y, const double *z);

/* ------------------------------------------------------------------------- */
/* layout.c                                                                   */

/* w_off[l], b_off[l] (l < n_layers - 1): where layer l's weights and biases start
 * in a parameter buffer of the textbook layout (fast = 0) or of the fast layout
 * (fast = 1).  The sizes must have passed pn_param_count / pn_fast_param_count. */
PN_HIDDEN void layer_offsets(const int *sizes, int n_layers, int fast, size_t *w_off,
                             size_t *b_off);
/* In the fast layout: where wT[0][j] of weight layer l (n_in x n_out) is, from the start
 * of the layer, and the row length *ld of its panel (row k's is k * *ld further on). */
PN_HIDDEN size_t fast_column(int l, int n_in, int n_out, int j, size_t *ld);

/* ------------------------------------------------------------------------- */
/* rowsum.c and kernels.c                                                     */

/* Widest column block of a row sum, in vectors of 4 doubles: 13 x 4 running sums
 * (13 of the 16 AVX registers; rs_block in rowsum.c has a case for each width
 * 1..13, so this cannot be raised alone). */
#if PN_VEC
#define PN_MAX_VBLOCK 13
#else
#define PN_MAX_VBLOCK 0
#endif

/* Widest column block of the AVX-512 row sums, in vectors of 8 doubles: 13 running
 * sums of the 32 AVX-512 registers, as many as the 4-wide ones (rz_block in rowsum.c
 * has a case for each width 1..13, so this cannot be raised alone). */
#define PN_MAX_ZBLOCK 13

/* The kernels below that take `wide` run their AVX-512 copy when it is 1 (the
 * fast path sets it once per call: pn_simd_level() == 2), else the 4-wide one. */

/* What a row sum does with out (see rowsum_planned). */
enum { RS_SET = 0, RS_ACC = 1, RS_UPDATE = 2 };

/* Cut columns 0..nc-1 into column blocks: kind[b], first[b] for b < the returned
 * count (at most nc). */
PN_HIDDEN int plan_blocks(int wide, int nc, int *kind, int *first);
/* The most columns a block of a plan can have. */
PN_HIDDEN int plan_widest(int wide);

/* The row sums sum over t < n (ascending, from 0.0) of base[rows[t]*ld + c] * xv[t]
 * for the columns c of the nb blocks of a plan, into out[c] as mode says
 * (RS_SET: =, RS_ACC: the sum continued from out[c], RS_UPDATE: -= scale *). */
PN_HIDDEN void rowsum_planned(int wide, const double *base, size_t ld, const int *rows, const double *xv,
                              int n, double *out, int mode, double scale, int nb, const int *kind,
                              const int *first);

/* rowsum_planned for each u < nu: the sum over rows[start[u] ...] and xv[start[u] ...]
 * (cnt[u] terms) into out + orow[u] * ldo; the blocks' order is not the rows'
 * (each column is still its own sum). */
PN_HIDDEN void rowsum_rows(int wide, const double *base, size_t ld, const int *rows,
                           const double *xv, const int *start, const int *cnt, const int *orow,
                           int nu, double *out, size_t ldo, int mode, double scale, int nb,
                           const int *kind, const int *first);

/* The forward sums of ns samples of one layer, in chunks of weight rows (cp). */
PN_HIDDEN void forward_sums(int wide, const double *wT, size_t ldw, int n_out, int ns,
                            int const *const *idx, double const *const *val, const int *cp,
                            int nch, double *Z, size_t ldz, int *kind, int *first);

/* z[j] = sum[j] + b[j], a[j] = act(z[j]) for j < n, act = pn_sigmoid, pn_tanh or
 * pn_relu by activation, or no a at all for PN_Z_ONLY; e: scratch of n doubles. */
enum { PN_Z_ONLY = -1 };
PN_HIDDEN void activate(int activation, const double *sum, const double *b, int n, double *a,
                        double *z, double *e);

/* d[k] = d[k] * act'(z[k]) for k < n, from a = act(z) (hidden_errors). */
PN_HIDDEN void times_prime(int activation, double *d, const double *a, int n);

/* The decay of the regularised step (pn_regularized_update) on n weights:
 * w[j] = keep * w[j] - shrink * sgn(w[j]); the step then subtracts scale * g[j]. */
PN_HIDDEN void decay_step(double *w, size_t n, double keep, double shrink);

/* The momentum step of a row (pn_momentum_update), g == NULL for a zero gradient:
 * v[j] = mu * v[j] - decay * w[j] - shrink * sgn(w[j]) - scale * g[j], w[j] = w[j] + v[j]. */
PN_HIDDEN void momentum_step(double *w, double *v, const double *g, int n, double mu,
                             double decay, double shrink, double scale);

/* The lists of non-zero inputs (k ascending, with their values) that the fast
 * path works on.  Each also records blk[i] = the number of entries with
 * k < PN_BLK * i (i = 0..ceil(n/PN_BLK)): the forward pass cuts its chunks of
 * rows there.  Each returns the number of entries. */
#define PN_BLK 64
static inline int blk_count(int n) { return (n + PN_BLK - 1) / PN_BLK + 1; }

/* 1 when no entry of a[0..n-1] is 0.0 (compact_dense would list them all). */
PN_HIDDEN int all_nonzero(const double *a, int n);
/* The non-zero entries of a dense vector a[0..n-1]. */
PN_HIDDEN int compact_dense(const double *a, int n, int *idx, double *val, int *blk);
/* The non-zero inputs table[row[k]] of a row of n pixels (any table). */
PN_HIDDEN int compact_pixels(const uint8_t *row, const double *table, int n, int *idx,
                             double *val, int *blk);
/* The same when table_zero_only_at_0(table): zero pixels skipped 8 at a time. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && \
    (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) && !defined(PN_NO_SWAR)
#define PN_SWAR 1
PN_HIDDEN int compact_pixels_nz(const uint8_t *row, const double *table, int n, int *idx,
                                double *val, int *blk);
#else
#define PN_SWAR 0
#endif
/* The AVX-512 gather takes pixels 16 at a time (16 int32 lanes of a vector): a
 * 16-bit mask per group of 16 pixels, and the indices of the non-zero ones stored
 * 16 whole, up to PN_PIX_GROUP entries past a list's end. */
#define PN_PIX_GROUP 16
static inline size_t pix_groups(int n) { return ((size_t)n + PN_PIX_GROUP - 1) / PN_PIX_GROUP; }
/* The same, the fastest way there is (compact_pixels_nz, or with `wide` an AVX-512
 * copy: give it room for n + PN_PIX_GROUP entries).  With `wide` and msk != NULL,
 * it also stores the masks of the row's non-zero pixels (bit i of msk[q]: pixel
 * PN_PIX_GROUP * q + i), for pixel_rows. */
PN_HIDDEN int compact_pixels_fast(int wide, const uint8_t *row, const double *table, int n,
                                  int *idx, double *val, int *blk, uint16_t *msk);
/* 1 when table[p] != 0.0 exactly for p != 0 (then zero pixels are the zero inputs);
 * a table has one entry per value of a uint8 pixel. */
#define PN_PIXEL_VALUES 256
/* 1 when table[p] != 0.0 exactly for p != 0 (then zero pixels are the zero inputs). */
PN_HIDDEN int table_zero_only_at_0(const double *table);

#define PN_PIXROW_MAX_BATCH 32
#if PN_HAVE_WIDE
/* The pixel-row path of the first layer's step (AVX-512): a row's samples are the
 * bits of one uint32_t mask, so a batch has at most PN_PIXROW_MAX_BATCH samples.
 * pixel_rows: the rows k < n that m samples touch, from their compact_pixels_fast
 * masks (sample s's at msk + s * pix_groups(n)): row uk[u] (ascending) is touched
 * by the samples of the bits of mk[u].  Returns the count; uk and mk need room
 * for n + PN_PIX_GROUP entries.
 * rowsum_pixel_rows: rowsum_rows over those rows, where the terms of row uk[u] are
 * the samples s of mk[u] (ascending), with rows base + s * ld and inputs
 * table[pix[s][uk[u]]], into out + uk[u] * ldo. */
PN_HIDDEN int pixel_rows(const uint16_t *msk, int m, int n, int *uk, uint32_t *mk);

/* The forward sums of ns samples whose n inputs are all non-zero (sample s's at
 * x + s * ldx), for nc <= 16 outputs: Z[s * ldz + j] = sum over k ascending, from
 * 0.0, of wT[k * ldw + j] * x_s[k], the sums forward_sums makes, PN_NARROW_GROUP
 * samples at a time (one sample's sums, two vectors, would each wait on its adds).  The rows of
 * wT are whole vectors with 0.0 padding. */
#define PN_NARROW_MAX 16          /* nc: at most two vectors of 8 */
PN_HIDDEN void dense_sums_narrow(const double *wT, size_t ldw, int n, const double *x,
                                 size_t ldx, int ns, double *Z, size_t ldz, int nc);
PN_HIDDEN void rowsum_pixel_rows(const double *base, size_t ld, const int *uk,
                                 const uint32_t *mk, int nu, const uint8_t *const *pix,
                                 const double *table, double *out, size_t ldo, int mode,
                                 double scale, int nb, const int *kind, const int *first);
#endif

#endif /* PURENET_INTERNAL_H */
