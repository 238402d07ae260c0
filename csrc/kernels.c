/*
 * kernels.c -- the inner loops of the fast path (fastpath.c calls them):
 *   - the row sum (rowsum_planned, rowsum_rows, forward_sums), the one kernel every
 *     product of the fast path goes through, vectorised across its independent
 *     columns;
 *   - activate (the activation of a row) and times_prime (an error row times act');
 *   - decay_step and momentum_step (chapter 3's steps of a row of weights);
 *   - the lists of the non-zero inputs of a sample (compact_*).
 * With GCC on x86-64 Linux the functions marked PN_CLONES are compiled twice, for
 * AVX2 and for the baseline instruction set (PN_CLONES_WIDE: also for AVX-512),
 * and the CPU picks one at load time.  The row sums also have an AVX-512 copy
 * (the rz_* and *_z functions), which the fast path picks per call when the CPU
 * has AVX-512F and pn_limit_simd allows it (pn_simd_level says which level is in
 * use).  All copies do the same operations in the same order (no FMA:
 * -ffp-contract=off), so they give the same bits.
 */
#include "internal.h"

#include <math.h>
#include <string.h>
#if PN_HAVE_WIDE
#include <immintrin.h>
#endif

/* rowsum: out[c] = sum over t = 0..n-1 of base[rows[t]*ld + c] * xv[t], for
 * c = 0..nc-1, each sum from 0.0 with t ascending.  This one kernel is every
 * product of the fast path:
 *   forward:   base = wT (rows k = non-zero inputs),   xv = the inputs x_k;
 *   gradient:  base = delta (rows s = samples with x_s[k] != 0), xv = x_s[k];
 *   backward:  base = w (rows j of the next layer's weights), xv = delta_next[s][j].
 * The columns c are independent sums, so they are computed side by side in
 * vector registers (blocks of up to PN_MAX_VBLOCK x 4 = 13 x 4 doubles); each sum
 * keeps its order.
 * mode RS_SET: out = sum;  RS_ACC: out = out + (the terms, added one by one to
 * the running value out, i.e. the sum continued);  RS_UPDATE: out = out - scale * sum
 * (out is then a weight row: the gradient step fused with the gradient sum). */

#if PN_VEC
/* rs_vNV: a block of NV vectors of 4 columns, NV running sums acc0..acc{NV-1}. */
#define PN_R1(M) M(0)
#define PN_R2(M) PN_R1(M) M(1)
#define PN_R3(M) PN_R2(M) M(2)
#define PN_R4(M) PN_R3(M) M(3)
#define PN_R5(M) PN_R4(M) M(4)
#define PN_R6(M) PN_R5(M) M(5)
#define PN_R7(M) PN_R6(M) M(6)
#define PN_R8(M) PN_R7(M) M(7)
#define PN_R9(M) PN_R8(M) M(8)
#define PN_R10(M) PN_R9(M) M(9)
#define PN_R11(M) PN_R10(M) M(10)
#define PN_R12(M) PN_R11(M) M(11)
#define PN_R13(M) PN_R12(M) M(12)
#define PN_R14(M) PN_R13(M) M(13)
#define PN_R15(M) PN_R14(M) M(14)
#define PN_R16(M) PN_R15(M) M(15)
/* PN_N13(M), PN_N16(M): M(1) M(2) ... the block widths that have a kernel. */
#define PN_N13(M) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13)
#define PN_N16(M) PN_N13(M) M(14) M(15) M(16)
#define PN_VDECL(i) pn_v4 acc##i = zero; \
    if (mode == RS_ACC) memcpy(&acc##i, out + 4 * (i), sizeof acc##i);
#define PN_VSTEP(i) { pn_v4 w_; memcpy(&w_, r + 4 * (i), sizeof w_); acc##i += w_ * xx; }
#define PN_VSAVE(i) if (mode == RS_UPDATE) { \
        pn_v4 o_; memcpy(&o_, out + 4 * (i), sizeof o_); o_ = o_ - sc * acc##i; \
        memcpy(out + 4 * (i), &o_, sizeof o_); \
    } else memcpy(out + 4 * (i), &acc##i, sizeof acc##i);
#define PN_DEF_RS(NV)                                                              \
    PN_ALWAYS_INLINE void rs_v##NV(const double *base, size_t ld, const int *rows,  \
                                   const double *xv, int n, double *out, int mode,  \
                                   double scale)                                    \
    {                                                                              \
        const pn_v4 zero = {0.0, 0.0, 0.0, 0.0}, sc = {scale, scale, scale, scale}; \
        int t;                                                                     \
        PN_R##NV(PN_VDECL)                                                         \
        for (t = 0; t < n; t++) {                                                  \
            const double *r = base + (size_t)rows[t] * ld;                         \
            const double x = xv[t];                                                \
            const pn_v4 xx = {x, x, x, x};                                         \
            PN_R##NV(PN_VSTEP)                                                     \
        }                                                                          \
        PN_R##NV(PN_VSAVE)                                                         \
    }
PN_N13(PN_DEF_RS)
#endif

/* rs_s2, rs_s1: a block of two columns, or of one, in scalar registers. */
PN_ALWAYS_INLINE void rs_s2(const double *base, size_t ld, const int *rows, const double *xv,
                            int n, double *out, int mode, double scale)
{
    double s0 = 0.0, s1 = 0.0;
    int t;
    if (mode == RS_ACC) { s0 = out[0]; s1 = out[1]; }
    for (t = 0; t < n; t++) {
        const double *r = base + (size_t)rows[t] * ld;
        s0 += r[0] * xv[t];
        s1 += r[1] * xv[t];
    }
    if (mode == RS_UPDATE) { out[0] = out[0] - scale * s0; out[1] = out[1] - scale * s1; }
    else { out[0] = s0; out[1] = s1; }
}

PN_ALWAYS_INLINE void rs_s1(const double *base, size_t ld, const int *rows, const double *xv,
                            int n, double *out, int mode, double scale)
{
    double s0 = mode == RS_ACC ? out[0] : 0.0;
    int t;
    for (t = 0; t < n; t++) s0 += base[(size_t)rows[t] * ld] * xv[t];
    if (mode == RS_UPDATE) out[0] = out[0] - scale * s0;
    else out[0] = s0;
}

/* How the columns 0..nc-1 are cut into blocks, for the 4-wide kernels: kinds
 * 1..PN_MAX_VBLOCK = that many vectors of 4 (balanced, so no block is much narrower
 * than the others), -2 = a scalar pair, -1 = a scalar column. */
static int plan_narrow(int nc, int *kind, int *first)
{
    int c = 0, nb = 0;
#if PN_VEC
    int nv = nc / 4;
    if (nv > 0) {
        int nblk = (nv + PN_MAX_VBLOCK - 1) / PN_MAX_VBLOCK, b;
        for (b = 0; b < nblk; b++) {
            int v = nv / nblk + (b < nv % nblk);
            kind[nb] = v; first[nb++] = c; c += 4 * v;
        }
    }
#endif
    for (; c + 2 <= nc; c += 2) { kind[nb] = -2; first[nb++] = c; }
    for (; c < nc; c++) { kind[nb] = -1; first[nb++] = c; }
    return nb;
}

/* One block of a plan: a case for every kind plan_blocks makes, and no other. */
#define PN_RS_CASE(NV) case NV: rs_v##NV(base, ld, rows, xv, n, out, mode, scale); break;
PN_ALWAYS_INLINE void rs_block(int kind, const double *base, size_t ld, const int *rows,
                               const double *xv, int n, double *out, int mode, double scale)
{
    switch (kind) {
    case -2: rs_s2(base, ld, rows, xv, n, out, mode, scale); break;
    case -1: rs_s1(base, ld, rows, xv, n, out, mode, scale); break;
#if PN_VEC
    PN_N13(PN_RS_CASE)
#endif
    }
}

/* One row sum per row u of a pn_csr-like list (see rowsum_rows), with the block's
 * kernel chosen once for all the rows: CALL(..., extra) is rs_* or rz_*. */
#define PN_ROWS(CALL, ...)                                                        \
    for (u = 0; u < nu; u++)                                                      \
        CALL(base + first[b], ld, rows + start[u], xv + start[u], cnt[u],        \
             out + (size_t)orow[u] * ldo + first[b], mode, scale, ##__VA_ARGS__)
#define PN_ROWS_V(NV) case NV: PN_ROWS(rs_v##NV); break;
#define PN_ROWS_Z(NV) case NV: PN_ROWS(rz_v##NV, tail, 1); break;

/* The loops of forward_sums (see forward_sums_mv), with BLOCK(kind, ...) the block
 * kernel of a copy and its extra arguments. */
#define PN_FORWARD_SUMS(BLOCK, ...)                                               \
    for (b = 0; b < nb; b++)                                                      \
        for (c = 0; c < nch; c++)                                                 \
            for (s = 0; s < ns; s++) {                                            \
                int t0 = cp[s * (nch + 1) + c], t1 = cp[s * (nch + 1) + c + 1];   \
                if (t1 > t0)                                                      \
                    BLOCK(kind[b], wT + first[b], ldw, idx[s] + t0, val[s] + t0,  \
                          t1 - t0, Z + (size_t)s * ldz + first[b], RS_ACC, 0.0,   \
                          ##__VA_ARGS__);                                         \
            }

#if PN_HAVE_WIDE
/* The same row sums 8 columns to a vector (AVX-512), for CPUs that have it: a block
 * of a wide plan is `kind` columns (1..8 * PN_MAX_ZBLOCK) in nv = ceil(kind / 8)
 * vectors, the last one masked to the block's last columns (masked lanes are
 * neither read nor written; with `padded`, the rows of base are read whole, their
 * padding included, since a row of the fast layout or of delta is a whole number of
 * vectors and its padding is 0.0).  Each column's sum is the same sequence of IEEE
 * multiplies and adds as in rs_v* and rs_s*. */
#define PN_ZTARGET __attribute__((target("avx512f")))
#define PN_ZLOAD(p, i) ((i) + 1 < nv ? _mm512_loadu_pd(p) : _mm512_maskz_loadu_pd(tail, p))
#define PN_ZSTORE(p, v, i) { if ((i) + 1 < nv) _mm512_storeu_pd(p, v); \
                             else _mm512_mask_storeu_pd(p, tail, v); }
#define PN_ZDECL(i) __m512d acc##i = zero; if (mode == RS_ACC) acc##i = PN_ZLOAD(out + 8 * (i), i);
#define PN_ZROW(p, i) (padded || (i) + 1 < nv ? _mm512_loadu_pd(p) : _mm512_maskz_loadu_pd(tail, p))
#define PN_ZSTEP(i) acc##i = _mm512_add_pd(acc##i, _mm512_mul_pd(PN_ZROW(r + 8 * (i), i), xx));
#define PN_ZSAVE(i) if (mode == RS_UPDATE) { \
        __m512d o_ = _mm512_sub_pd(PN_ZLOAD(out + 8 * (i), i), _mm512_mul_pd(sc, acc##i)); \
        PN_ZSTORE(out + 8 * (i), o_, i) \
    } else PN_ZSTORE(out + 8 * (i), acc##i, i)
#define PN_ZBEGIN(NV)                                                              \
    const __m512d zero = _mm512_setzero_pd(), sc = _mm512_set1_pd(scale);          \
    const int nv = NV;                                                             \
    PN_R##NV(PN_ZDECL)
#define PN_DEF_RZ(NV)                                                              \
    PN_ZTARGET PN_ALWAYS_INLINE void rz_v##NV(const double *base, size_t ld,        \
                                             const int *rows, const double *xv,     \
                                             int n, double *out, int mode,          \
                                             double scale, __mmask8 tail, int padded) \
    {                                                                              \
        int t;                                                                     \
        PN_ZBEGIN(NV)                                                              \
        for (t = 0; t < n; t++) {                                                  \
            const double *r = base + (size_t)rows[t] * ld;                         \
            const __m512d xx = _mm512_set1_pd(xv[t]);                              \
            PN_R##NV(PN_ZSTEP)                                                     \
        }                                                                          \
        PN_R##NV(PN_ZSAVE)                                                         \
    }
PN_N16(PN_DEF_RZ)

/* rzp_vNV: the same sum over the samples of one row k of the first layer given as
 * a mask (bit s: sample s's pixel k is not 0; s ascending, as in a pn_csr): the row
 * of sample s is base + s * ld and its input table[pix[s][k]]. */
#define PN_DEF_RZP(NV)                                                             \
    PN_ZTARGET PN_ALWAYS_INLINE void rzp_v##NV(const double *base, size_t ld,       \
                                              uint32_t mask,                        \
                                              const uint8_t *const *pix, size_t k,  \
                                              const double *table, double *out,     \
                                              int mode, double scale, __mmask8 tail, \
                                              int padded)                           \
    {                                                                              \
        PN_ZBEGIN(NV)                                                              \
        for (; mask; mask &= mask - 1) {                                           \
            int s_ = __builtin_ctz(mask);                                          \
            const double *r = base + (size_t)s_ * ld;                              \
            const __m512d xx = _mm512_set1_pd(table[pix[s_][k]]);                  \
            PN_R##NV(PN_ZSTEP)                                                     \
        }                                                                          \
        PN_R##NV(PN_ZSAVE)                                                         \
    }
PN_N16(PN_DEF_RZP)

/* The columns 0..nc-1 in blocks of at most PN_MAX_ZBLOCK vectors of 8, balanced;
 * only the last block may end in a partial vector. */
static int plan_wide(int nc, int *kind, int *first)
{
    int nv = (nc + 7) / 8, nblk = (nv + PN_MAX_ZBLOCK - 1) / PN_MAX_ZBLOCK, b, c = 0;
    for (b = 0; b < nblk; b++) {
        int v = nv / nblk + (b < nv % nblk);
        kind[b] = b + 1 < nblk ? 8 * v : nc - c;
        first[b] = c;
        c += 8 * v;
    }
    return nblk;
}

/* The last vector's lanes of a block of `kind` columns in nv = ceil(kind / 8) vectors. */
PN_ALWAYS_INLINE __mmask8 z_tail(int kind, int nv)
{
    return (__mmask8)((1u << (kind - 8 * (nv - 1))) - 1u);
}

/* One block of a wide plan: kind columns. */
#define PN_RZ_CASE(NV) case NV: rz_v##NV(base, ld, rows, xv, n, out, mode, scale, tail, padded); break;
PN_ZTARGET PN_ALWAYS_INLINE void rz_block(int kind, const double *base, size_t ld,
                                         const int *rows, const double *xv, int n,
                                         double *out, int mode, double scale, int padded)
{
    int nv = (kind + 7) / 8;
    __mmask8 tail = z_tail(kind, nv);
    switch (nv) {
    PN_N16(PN_RZ_CASE)
    }
}

PN_ZTARGET
static void rowsum_planned_z(const double *base, size_t ld, const int *rows, const double *xv,
                             int n, double *out, int mode, double scale, int nb,
                             const int *kind, const int *first)
{
    int b;
    for (b = 0; b < nb; b++)
        rz_block(kind[b], base + first[b], ld, rows, xv, n, out + first[b], mode, scale, 0);
}

PN_ZTARGET
static void rowsum_rows_z(const double *base, size_t ld, const int *rows, const double *xv,
                          const int *start, const int *cnt, const int *orow, int nu,
                          double *out, size_t ldo, int mode, double scale, int nb,
                          const int *kind, const int *first)
{
    int b, u;
    for (b = 0; b < nb; b++) {
        int nv = (kind[b] + 7) / 8;
        __mmask8 tail = z_tail(kind[b], nv);
        switch (nv) {
        PN_N16(PN_ROWS_Z)
        }
    }
}

/* rowsum_rows_z for the rows of the first layer on the pixel-row path: row uk[u]
 * has the samples of the bits of mk[u] (see rzp_v*). */
#define PN_PIXROWS_Z(NV) case NV:                                                  \
    for (u = 0; u < nu; u++)                                                       \
        rzp_v##NV(base + first[b], ld, mk[u], pix, (size_t)uk[u], table,           \
                  out + (size_t)uk[u] * ldo + first[b], mode, scale, tail, 1);     \
    break;
PN_ZTARGET
void rowsum_pixel_rows(const double *base, size_t ld, const int *uk, const uint32_t *mk,
                       int nu, const uint8_t *const *pix, const double *table, double *out,
                       size_t ldo, int mode, double scale, int nb, const int *kind,
                       const int *first)
{
    int b, u;
    for (b = 0; b < nb; b++) {
        int nv = (kind[b] + 7) / 8;
        __mmask8 tail = z_tail(kind[b], nv);
        switch (nv) {
        PN_N16(PN_PIXROWS_Z)
        }
    }
}

/* dense_sums_narrow: see internal.h.  One group of q samples (q, two: constants
 * after inlining), running sums in registers. */
PN_ZTARGET PN_ALWAYS_INLINE void narrow_group(const double *wT, size_t ldw, int n,
                                             const double *x, size_t ldx, double *Z,
                                             size_t ldz, __mmask8 t0, __mmask8 t1, int two,
                                             int q)
{
    __m512d a0[4], a1[4];
    int k, i;
    for (i = 0; i < q; i++) a0[i] = a1[i] = _mm512_setzero_pd();
    for (k = 0; k < n; k++) {
        const double *r = wT + (size_t)k * ldw;
        const __m512d w0 = _mm512_loadu_pd(r), w1 = two ? _mm512_loadu_pd(r + 8) : w0;
        for (i = 0; i < q; i++) {
            const __m512d xx = _mm512_set1_pd(x[(size_t)i * ldx + (size_t)k]);
            a0[i] = _mm512_add_pd(a0[i], _mm512_mul_pd(w0, xx));
            if (two) a1[i] = _mm512_add_pd(a1[i], _mm512_mul_pd(w1, xx));
        }
    }
    for (i = 0; i < q; i++) {
        _mm512_mask_storeu_pd(Z + (size_t)i * ldz, t0, a0[i]);
        if (two) _mm512_mask_storeu_pd(Z + (size_t)i * ldz + 8, t1, a1[i]);
    }
}

PN_ZTARGET
void dense_sums_narrow(const double *wT, size_t ldw, int n, const double *x, size_t ldx,
                       int ns, double *Z, size_t ldz, int nc)
{
    int two = nc > 8, s = 0;
    __mmask8 t0 = two ? (__mmask8)0xff : z_tail(nc, 1), t1 = two ? z_tail(nc, 2) : 0;
    for (; s + 4 <= ns; s += 4)                   /* two as a constant in each call */
        if (two)
            narrow_group(wT, ldw, n, x + (size_t)s * ldx, ldx, Z + (size_t)s * ldz, ldz, t0, t1,
                         1, 4);
        else
            narrow_group(wT, ldw, n, x + (size_t)s * ldx, ldx, Z + (size_t)s * ldz, ldz, t0, t1,
                         0, 4);
    for (; s < ns; s++)
        narrow_group(wT, ldw, n, x + (size_t)s * ldx, ldx, Z + (size_t)s * ldz, ldz, t0, t1,
                     two, 1);
}

PN_ZTARGET
static void forward_sums_z(const double *wT, size_t ldw, int ns, int const *const *idx,
                           double const *const *val, const int *cp, int nch, double *Z,
                           size_t ldz, int nb, const int *kind, const int *first)
{
    int b, c, s;
    PN_FORWARD_SUMS(rz_block, 1)
}
#endif

/* The PN_CLONES functions (_mv: multi-versioned) are static, and fastpath.c
 * calls them through the one-line functions after them: GCC exports the resolver
 * of a target_clones function that is not static, whatever its visibility. */

/* All columns of one rowsum, cut into the nb blocks of a plan_blocks plan. */
PN_CLONES
static void rowsum_planned_mv(const double *base, size_t ld, const int *rows,
                              const double *xv, int n, double *out, int mode, double scale,
                              int nb, const int *kind, const int *first)
{
    int b;
    for (b = 0; b < nb; b++)
        rs_block(kind[b], base + first[b], ld, rows, xv, n, out + first[b], mode, scale);
}

PN_CLONES
static void rowsum_rows_mv(const double *base, size_t ld, const int *rows, const double *xv,
                           const int *start, const int *cnt, const int *orow, int nu,
                           double *out, size_t ldo, int mode, double scale, int nb,
                           const int *kind, const int *first)
{
    int b, u;
    for (b = 0; b < nb; b++)
        switch (kind[b]) {
        case -2: PN_ROWS(rs_s2); break;
        case -1: PN_ROWS(rs_s1); break;
#if PN_VEC
        PN_N13(PN_ROWS_V)
#endif
        }
}

/* Forward sums of samples s = 0..ns-1 of one layer, Z[s*ldz + j] += sum over the
 * sample's non-zero inputs k (ascending) of wT[k*ldw + j] * x_k, for j < n_out.
 * The inputs are cut into chunks of rows k (cp[s*(nch+1) + c] = first entry of
 * chunk c of sample s) and for each column block every sample goes through chunk
 * c before any goes to chunk c+1: the weight rows of a chunk that the batch uses
 * stay in L1 while all its samples use them, instead of streaming the weights
 * from L2 once per sample.  Each sum still runs over k ascending.  kind, first:
 * scratch for the plan of column blocks. */
PN_CLONES
static void forward_sums_mv(const double *wT, size_t ldw, int ns, int const *const *idx,
                            double const *const *val, const int *cp, int nch, double *Z,
                            size_t ldz, int nb, const int *kind, const int *first)
{
    int b, c, s;
    PN_FORWARD_SUMS(rs_block)
}

/* z[j] = sum[j] + b[j] and a[j] = act(z[j]) for j < n (a may be sum; e: scratch
 * of n doubles): sigmoid with the operations of pn_sigmoid in three passes over
 * the row, tanh (libm), relu, or PN_Z_ONLY. */
PN_CLONES
static void activate_mv(int activation, const double *sum, const double *b, int n, double *a,
                        double *z, double *e)
{
    int j;
    for (j = 0; j < n; j++) z[j] = sum[j] + b[j];
    if (activation == PN_SIGMOID) {
        for (j = 0; j < n; j++) {
            double zj = z[j];
            e[j] = exp(zj >= 0.0 ? -zj : zj);         /* libm exp, as math.exp */
        }
        for (j = 0; j < n; j++)                       /* 1/(1+e^-z) or e^z/(1+e^z) */
            a[j] = (z[j] >= 0.0 ? 1.0 : e[j]) / (1.0 + e[j]);
    } else if (activation == PN_TANH) {
        for (j = 0; j < n; j++) a[j] = tanh(z[j]);    /* libm tanh, as math.tanh */
    } else if (activation == PN_RELU) {
        for (j = 0; j < n; j++) a[j] = z[j] > 0.0 ? z[j] : 0.0;
    }
}

/* d[k] = d[k] * act'(z[k]) for k < n, act' from a = act(z), bit for bit: sigmoid
 * a(1 - a), tanh 1 - a^2, relu 1 where a > 0 (exactly where z > 0); one loop per
 * activation, so that each vectorises. */
PN_CLONES
static void times_prime_mv(int activation, double *d, const double *a, int n)
{
    int k;
    if (activation == PN_TANH)
        for (k = 0; k < n; k++) d[k] = d[k] * (1.0 - a[k] * a[k]);
    else if (activation == PN_RELU)
        for (k = 0; k < n; k++) d[k] = d[k] * (a[k] > 0.0 ? 1.0 : 0.0);
    else
        for (k = 0; k < n; k++) d[k] = d[k] * (a[k] * (1.0 - a[k]));
}

/* The two update steps of chapter 3 touch every weight at every step, so they are
 * plain loops that the compiler vectorises as wide as the CPU allows (PN_CLONES_WIDE
 * adds an AVX-512 copy).  shrink * sgn(w) is written as two selects, which give the
 * same value as the product without a branch: shrink, -shrink (-0.0 when shrink is
 * 0.0, as 0.0 * -1.0 is), or +0.0 for w = 0 and NaN. */

/* w[j] = keep * w[j] - shrink * sgn(w[j]) for j < n (the decay of L2 and L1; the
 * gradient's part of the step comes after, as the reference's left-to-right
 * (keep * w - shrink * sgn(w)) - scale * g). */
PN_CLONES_WIDE
static void decay_step_mv(double *w, size_t n, double keep, double shrink)
{
    double neg = -shrink;
    size_t j;
    for (j = 0; j < n; j++) {
        double x = w[j], t = x > 0.0 ? shrink : 0.0;
        t = x < 0.0 ? neg : t;
        w[j] = keep * x - t;
    }
}

/* v[j] = mu * v[j] - decay * w[j] - shrink * sgn(w[j]) - scale * g[j], then
 * w[j] = w[j] + v[j], for j < n; g == NULL: without the last term (as above). */
PN_CLONES_WIDE
static void momentum_step_mv(double *w, double *v, const double *g, int n, double mu,
                             double decay, double shrink, double scale)
{
    double neg = -shrink;
    int j;
    for (j = 0; j < n; j++) {
        double x = w[j], t = x > 0.0 ? shrink : 0.0, vj;
        t = x < 0.0 ? neg : t;
        vj = mu * v[j] - decay * x - t;
        if (g) vj = vj - scale * g[j];
        v[j] = vj;
        w[j] = x + vj;
    }
}

int plan_blocks(int wide, int nc, int *kind, int *first)
{
#if PN_HAVE_WIDE
    if (wide) return plan_wide(nc, kind, first);
#endif
    (void)wide;
    return plan_narrow(nc, kind, first);
}

int plan_widest(int wide)
{
    return wide ? 8 * PN_MAX_ZBLOCK : 4 * PN_MAX_VBLOCK;
}

void rowsum_planned(int wide, const double *base, size_t ld, const int *rows, const double *xv,
                    int n, double *out, int mode, double scale, int nb, const int *kind,
                    const int *first)
{
#if PN_HAVE_WIDE
    if (wide) {
        rowsum_planned_z(base, ld, rows, xv, n, out, mode, scale, nb, kind, first);
        return;
    }
#endif
    rowsum_planned_mv(base, ld, rows, xv, n, out, mode, scale, nb, kind, first);
}

void rowsum_rows(int wide, const double *base, size_t ld, const int *rows, const double *xv,
                 const int *start, const int *cnt, const int *orow, int nu, double *out,
                 size_t ldo, int mode, double scale, int nb, const int *kind, const int *first)
{
#if PN_HAVE_WIDE
    if (wide) {
        rowsum_rows_z(base, ld, rows, xv, start, cnt, orow, nu, out, ldo, mode, scale, nb, kind,
                      first);
        return;
    }
#endif
    rowsum_rows_mv(base, ld, rows, xv, start, cnt, orow, nu, out, ldo, mode, scale, nb, kind,
                   first);
}

void forward_sums(int wide, const double *wT, size_t ldw, int n_out, int ns,
                  int const *const *idx, double const *const *val, const int *cp, int nch,
                  double *Z, size_t ldz, int *kind, int *first)
{
    int nb = plan_blocks(wide, n_out, kind, first);
#if PN_HAVE_WIDE
    if (wide) {
        forward_sums_z(wT, ldw, ns, idx, val, cp, nch, Z, ldz, nb, kind, first);
        return;
    }
#endif
    forward_sums_mv(wT, ldw, ns, idx, val, cp, nch, Z, ldz, nb, kind, first);
}

void activate(int activation, const double *sum, const double *b, int n, double *a, double *z,
              double *e)
{
    activate_mv(activation, sum, b, n, a, z, e);
}

void times_prime(int activation, double *d, const double *a, int n)
{
    times_prime_mv(activation, d, a, n);
}

void decay_step(double *w, size_t n, double keep, double shrink)
{
    decay_step_mv(w, n, keep, shrink);
}

void momentum_step(double *w, double *v, const double *g, int n, double mu, double decay,
                   double shrink, double scale)
{
    momentum_step_mv(w, v, g, n, mu, decay, shrink, scale);
}

/* The level the CPU supports, and the highest level the caller allows
 * (pn_limit_simd): read once per call of the fast path, which passes
 * `wide` (level 2: the AVX-512 row sums) down to every kernel it calls. */
static int simd_cpu(void)
{
#if PN_HAVE_CLONES
    __builtin_cpu_init();
#if PN_HAVE_WIDE
    if (__builtin_cpu_supports("avx512f")) return 2;
#endif
    return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

#if PN_HAVE_WIDE
static int simd_limit = 2;

int pn_simd_level(void)
{
    int cpu = simd_cpu(), limit = __atomic_load_n(&simd_limit, __ATOMIC_RELAXED);
    return cpu == 2 && limit < 2 ? 1 : cpu;
}

int pn_limit_simd(int level)
{
    __atomic_store_n(&simd_limit, level, __ATOMIC_RELAXED);
    return pn_simd_level();
}
#else
int pn_simd_level(void) { return simd_cpu(); }

int pn_limit_simd(int level)
{
    (void)level;
    return simd_cpu();
}
#endif

/* --- the non-zero inputs --------------------------------------------------- */

PN_CLONES
static int all_nonzero_mv(const double *a, int n)
{
    uint64_t zeros = 0, bits;
    int k;
    for (k = 0; k < n; k++) {                         /* on the bits: the loop vectorises */
        memcpy(&bits, a + k, sizeof bits);
        zeros += (bits << 1) == 0;                    /* +0.0 or -0.0 (NaN is non-zero) */
    }
    return zeros == 0;
}

int all_nonzero(const double *a, int n)
{
    return all_nonzero_mv(a, n);
}

int compact_dense(const double *a, int n, int *idx, double *val, int *blk)
{
    int c = 0, k, base;
    for (base = 0; base < n; base += PN_BLK) {
        int end = n - base < PN_BLK ? n : base + PN_BLK;
        blk[base / PN_BLK] = c;
        for (k = base; k < end; k++) {
            double x = a[k];
            idx[c] = k; val[c] = x;
            c += (x != 0.0);                          /* NaN counts as non-zero, as in Python */
        }
    }
    blk[(n + PN_BLK - 1) / PN_BLK] = c;
    return c;
}

int compact_pixels(const uint8_t *row, const double *table, int n, int *idx, double *val,
                   int *blk)
{
    int c = 0, k, base;
    for (base = 0; base < n; base += PN_BLK) {
        int end = n - base < PN_BLK ? n : base + PN_BLK;
        blk[base / PN_BLK] = c;
        for (k = base; k < end; k++) {
            double x = table[row[k]];
            idx[c] = k; val[c] = x;
            c += (x != 0.0);
        }
    }
    blk[(n + PN_BLK - 1) / PN_BLK] = c;
    return c;
}

#if PN_SWAR
/* For the usual table, where table[p] != 0 exactly when p != 0: per block of 64
 * pixels a bit mask of the non-zero bytes, built 8 bytes at a time, then one step
 * per non-zero pixel (a block is PN_BLK == 64 pixels: one bit each). */
#if PN_BLK != 64
#error "compact_pixels_nz needs PN_BLK == 64"
#endif
int compact_pixels_nz(const uint8_t *row, const double *table, int n, int *idx, double *val,
                      int *blk)
{
    int c = 0, base, q;
    for (base = 0; base < n; base += 64) {
        int len = n - base < 64 ? n - base : 64;
        uint64_t m = 0;
        blk[base / 64] = c;
        for (q = 0; q + 8 <= len; q += 8) {
            uint64_t w;
            memcpy(&w, row + base + q, 8);
            w |= w >> 4; w |= w >> 2; w |= w >> 1;
            w &= 0x0101010101010101ULL;                        /* bit 8i: byte i != 0 */
            m |= ((w * 0x0102040810204080ULL) >> 56) << q;      /* gathered into 8 bits */
        }
        for (; q < len; q++) m |= (uint64_t)(row[base + q] != 0) << q;
        while (m) {
            int k = base + __builtin_ctzll(m);
            idx[c] = k; val[c] = table[row[k]]; c++;
            m &= m - 1;
        }
    }
    blk[(n + 63) / 64] = c;
    return c;
}
#endif

#if PN_HAVE_WIDE
/* compact_pixels_nz with AVX-512, for a slot with room for n + 16 entries: 16 pixels
 * at a time, the indices of the non-zero ones packed (vpcompressd) and stored whole
 * (the 16 - count entries after them are overwritten next), so the loop has no
 * branch that depends on the pixels; then the values, one table lookup each.  With
 * msk, also the masks of each 16 pixels (bit i: pixel 16q + i is not 0) into
 * msk[q], q < ceil(n / 16). */
__attribute__((target("avx512f,popcnt")))
static int compact_pixels_z(const uint8_t *row, const double *table, int n, int *idx,
                            double *val, int *blk, uint16_t *msk)
{
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int c = 0, k, q;
    unsigned last = 0;
    for (k = 0; k + 16 <= n; k += 16) {
        __m512i p = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(row + k)));
        __mmask16 m = _mm512_test_epi32_mask(p, p);
        if (k % PN_BLK == 0) blk[k / PN_BLK] = c;
        _mm512_storeu_si512(idx + c, _mm512_maskz_compress_epi32(
                                m, _mm512_add_epi32(lanes, _mm512_set1_epi32(k))));
        c += _mm_popcnt_u32(m);
        if (msk) msk[k / 16] = m;
    }
    for (q = k; q < n; q++) {                             /* the last n % 16 pixels */
        if (q % PN_BLK == 0) blk[q / PN_BLK] = c;
        idx[c] = q;
        last |= (unsigned)(row[q] != 0) << (q - k);
        c += row[q] != 0;
    }
    if (msk && k < n) msk[k / 16] = (uint16_t)last;
    blk[(n + PN_BLK - 1) / PN_BLK] = c;
    for (q = 0; q < c; q++) val[q] = table[row[idx[q]]];
    return c;
}

/* The pixel-row path's touched rows: see internal.h. */
__attribute__((target("avx512f,popcnt")))
int pixel_rows(const uint16_t *msk, int m, int n, int *uk, uint32_t *mk)
{
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int nq = (n + 15) / 16, q, s, nu = 0;
    for (q = 0; q < nq; q++) {
        __m512i rows = _mm512_setzero_si512();
        __mmask16 any;
        for (s = 0; s < m; s++)                          /* bit s of row k: sample s touches it */
            rows = _mm512_mask_or_epi32(rows, msk[(size_t)s * nq + q], rows,
                                        _mm512_set1_epi32((int)(1u << s)));
        any = _mm512_test_epi32_mask(rows, rows);
        _mm512_storeu_si512(uk + nu, _mm512_maskz_compress_epi32(
                                any, _mm512_add_epi32(lanes, _mm512_set1_epi32(16 * q))));
        _mm512_storeu_si512(mk + nu, _mm512_maskz_compress_epi32(any, rows));
        nu += _mm_popcnt_u32(any);
    }
    return nu;
}
#endif

int compact_pixels_fast(int wide, const uint8_t *row, const double *table, int n, int *idx,
                        double *val, int *blk, uint16_t *msk)
{
#if PN_HAVE_WIDE
    if (wide) return compact_pixels_z(row, table, n, idx, val, blk, msk);
#endif
    (void)msk;
#if PN_SWAR
    return compact_pixels_nz(row, table, n, idx, val, blk);
#else
    (void)wide;
    return compact_pixels(row, table, n, idx, val, blk);
#endif
}

int table_zero_only_at_0(const double *table)
{
    int p;
    if (!(table[0] == 0.0)) return 0;
    for (p = 1; p < 256; p++) if (table[p] == 0.0) return 0;
    return 1;
}
