/*
 * rowsum.c -- the row sum, the one kernel every product of the fast path goes
 * through (rowsum_planned, rowsum_rows, forward_sums, rowsum_pixel_rows,
 * dense_sums_narrow; internal.h documents each), vectorised across its independent
 * columns, never inside a sum.  Two copies: 4 doubles to a vector (GCC vector
 * extensions, compiled for AVX2 and for the baseline through PN_CLONES), and 8 to
 * a vector (AVX-512 intrinsics, the *_z functions), which the fast path picks per
 * call (fast_work.wide).  Both do each column's multiplies and adds in the same
 * order (no FMA: -ffp-contract=off), so they give the same bits.
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
/* PN_N13(M): M(1) M(2) ... M(13), the block widths that have a kernel. */
#define PN_N13(M) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13)
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
PN_N13(PN_DEF_RZ)

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
PN_N13(PN_DEF_RZP)

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
    PN_N13(PN_RZ_CASE)
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
        PN_N13(PN_ROWS_Z)
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
        PN_N13(PN_PIXROWS_Z)
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

/* The PN_CLONES functions (_mv: multi-versioned) are static, and the fast path
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
    (void)wide;
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
    (void)wide;
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

