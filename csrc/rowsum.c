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

/* The cases of a switch on a 4-wide block's width nv = 1..PN_MAX_VBLOCK (13):
 * case nv calls F(nv, ...), so that F, always inlined, has a constant width.  F
 * and its arguments are all given. */
#define PN_WIDTH_CASES(F, ...)                                                     \
    case 1: F(1, __VA_ARGS__); break;   case 2: F(2, __VA_ARGS__); break;         \
    case 3: F(3, __VA_ARGS__); break;   case 4: F(4, __VA_ARGS__); break;         \
    case 5: F(5, __VA_ARGS__); break;   case 6: F(6, __VA_ARGS__); break;         \
    case 7: F(7, __VA_ARGS__); break;   case 8: F(8, __VA_ARGS__); break;         \
    case 9: F(9, __VA_ARGS__); break;   case 10: F(10, __VA_ARGS__); break;       \
    case 11: F(11, __VA_ARGS__); break; case 12: F(12, __VA_ARGS__); break;       \
    case 13: F(13, __VA_ARGS__); break;

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
/* rs_v: a block of nv vectors of 4 columns (1 <= nv <= PN_MAX_VBLOCK), nv running
 * sums acc[0..nv-1].  Always inlined with nv a constant (rs_block's cases), so the
 * loops over i unroll and acc lives in registers. */
PN_ALWAYS_INLINE void rs_v(int nv, const double *base, size_t ld, const int *rows,
                           const double *xv, int n, double *out, int mode, double scale)
{
    const pn_v4 zero = {0.0, 0.0, 0.0, 0.0}, sc = {scale, scale, scale, scale};
    pn_v4 acc[PN_MAX_VBLOCK];
    int t, i;
    for (i = 0; i < nv; i++) {
        pn_v4 o = zero;
        if (mode == RS_ACC) memcpy(&o, out + 4 * i, sizeof o);
        acc[i] = o;
    }
    for (t = 0; t < n; t++) {
        const double *r = base + (size_t)rows[t] * ld, x = xv[t];
        const pn_v4 xx = {x, x, x, x};
        for (i = 0; i < nv; i++, r += 4) {   /* (r += 4: constant offsets, not 13 indices) */
            pn_v4 w;
            memcpy(&w, r, sizeof w);
            acc[i] += w * xx;
        }
    }
    for (i = 0; i < nv; i++) {
        pn_v4 o = acc[i];
        if (mode == RS_UPDATE) {
            memcpy(&o, out + 4 * i, sizeof o);
            o = o - sc * acc[i];
        }
        memcpy(out + 4 * i, &o, sizeof o);
    }
}
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

/* One block of a plan: a case for every kind plan_blocks makes, and no other (each
 * case an rs_v of constant width). */
PN_ALWAYS_INLINE void rs_block(int kind, const double *base, size_t ld, const int *rows,
                               const double *xv, int n, double *out, int mode, double scale)
{
    switch (kind) {
    case -2: rs_s2(base, ld, rows, xv, n, out, mode, scale); break;
    case -1: rs_s1(base, ld, rows, xv, n, out, mode, scale); break;
#if PN_VEC
    PN_WIDTH_CASES(rs_v, base, ld, rows, xv, n, out, mode, scale)
#endif
    }
}

/* One row sum per row u of a pn_csr-like list (see rowsum_rows), for one block of
 * `kind` columns (a constant after inlining, so the kernel is chosen once for all
 * the rows). */
PN_ALWAYS_INLINE void rs_rows(int kind, const double *base, size_t ld, const int *rows,
                              const double *xv, const int *start, const int *cnt,
                              const int *orow, int nu, double *out, size_t ldo, int mode,
                              double scale)
{
    int u;
    for (u = 0; u < nu; u++)
        rs_block(kind, base, ld, rows + start[u], xv + start[u], cnt[u],
                 out + (size_t)orow[u] * ldo, mode, scale);
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

/* The kernels rz_vNV and rzp_vNV (NV = 1..13) are written once, as macros that
 * define a function per width with NV running sums acc0..acc{NV-1} as separate
 * variables.  (Written instead as one function with an array acc[nv], inlined with
 * a constant nv, the AVX-512 kernels compiled to the same inner loops but took
 * 1.012-1.022 of the time, paired, 1 thread; the 4-wide rs_v above did not lose.)
 * Each macro uses only its arguments.  PN_ZREP(NV, M, ...): M(i, ...) for
 * i = 0..NV-1. */
#define PN_ZREP1(M, ...) M(0, __VA_ARGS__)
#define PN_ZREP2(M, ...) PN_ZREP1(M, __VA_ARGS__) M(1, __VA_ARGS__)
#define PN_ZREP3(M, ...) PN_ZREP2(M, __VA_ARGS__) M(2, __VA_ARGS__)
#define PN_ZREP4(M, ...) PN_ZREP3(M, __VA_ARGS__) M(3, __VA_ARGS__)
#define PN_ZREP5(M, ...) PN_ZREP4(M, __VA_ARGS__) M(4, __VA_ARGS__)
#define PN_ZREP6(M, ...) PN_ZREP5(M, __VA_ARGS__) M(5, __VA_ARGS__)
#define PN_ZREP7(M, ...) PN_ZREP6(M, __VA_ARGS__) M(6, __VA_ARGS__)
#define PN_ZREP8(M, ...) PN_ZREP7(M, __VA_ARGS__) M(7, __VA_ARGS__)
#define PN_ZREP9(M, ...) PN_ZREP8(M, __VA_ARGS__) M(8, __VA_ARGS__)
#define PN_ZREP10(M, ...) PN_ZREP9(M, __VA_ARGS__) M(9, __VA_ARGS__)
#define PN_ZREP11(M, ...) PN_ZREP10(M, __VA_ARGS__) M(10, __VA_ARGS__)
#define PN_ZREP12(M, ...) PN_ZREP11(M, __VA_ARGS__) M(11, __VA_ARGS__)
#define PN_ZREP13(M, ...) PN_ZREP12(M, __VA_ARGS__) M(12, __VA_ARGS__)
#define PN_ZREP(NV, M, ...) PN_ZREP##NV(M, __VA_ARGS__)

/* Vector i of NV of a block at p: whole, or (the last) masked to the lanes of tail. */
#define PN_ZLOAD(p, i, NV, tail) \
    ((i) + 1 < (NV) ? _mm512_loadu_pd(p) : _mm512_maskz_loadu_pd(tail, p))
#define PN_ZSTORE(p, v, i, NV, tail) \
    { if ((i) + 1 < (NV)) _mm512_storeu_pd(p, v); else _mm512_mask_storeu_pd(p, tail, v); }
/* The running sum acc##i: from 0.0, or (RS_ACC) from out. */
#define PN_ZDECL(i, acc, out, mode, NV, tail) \
    __m512d acc##i = _mm512_setzero_pd(); \
    if ((mode) == RS_ACC) acc##i = PN_ZLOAD((out) + 8 * (i), i, NV, tail);
/* acc##i += vector i of row r * xx (r read whole when padded). */
#define PN_ZSTEP(i, acc, r, xx, padded, NV, tail) \
    acc##i = _mm512_add_pd(acc##i, _mm512_mul_pd( \
        (padded) || (i) + 1 < (NV) ? _mm512_loadu_pd((r) + 8 * (i)) \
                                   : _mm512_maskz_loadu_pd(tail, (r) + 8 * (i)), xx));
/* out = acc##i, or (RS_UPDATE) out = out - sc * acc##i. */
#define PN_ZSAVE(i, acc, out, mode, sc, NV, tail) \
    if ((mode) == RS_UPDATE) { \
        __m512d o_ = _mm512_sub_pd(PN_ZLOAD((out) + 8 * (i), i, NV, tail), \
                                   _mm512_mul_pd(sc, acc##i)); \
        PN_ZSTORE((out) + 8 * (i), o_, i, NV, tail) \
    } else PN_ZSTORE((out) + 8 * (i), acc##i, i, NV, tail)

/* rz_vNV: a block of NV vectors of 8 columns, the last one masked to tail. */
#define PN_DEF_RZ(NV)                                                              \
    PN_ZTARGET PN_ALWAYS_INLINE void rz_v##NV(const double *base, size_t ld,        \
                                             const int *rows, const double *xv,     \
                                             int n, double *out, int mode,          \
                                             double scale, __mmask8 tail, int padded) \
    {                                                                              \
        const __m512d sc = _mm512_set1_pd(scale);                                  \
        int t;                                                                     \
        PN_ZREP(NV, PN_ZDECL, acc, out, mode, NV, tail)                            \
        for (t = 0; t < n; t++) {                                                  \
            const double *r = base + (size_t)rows[t] * ld;                         \
            const __m512d xx = _mm512_set1_pd(xv[t]);                              \
            PN_ZREP(NV, PN_ZSTEP, acc, r, xx, padded, NV, tail)                    \
        }                                                                          \
        PN_ZREP(NV, PN_ZSAVE, acc, out, mode, sc, NV, tail)                        \
    }
/* rzp_vNV: the same sum over the samples of one row k of the first layer given as
 * a mask (bit s: sample s's pixel k is not 0; s ascending, as in a pn_csr): the row
 * of sample s is base + s * ld and its input table[pix[s][k]]. */
#define PN_DEF_RZP(NV)                                                             \
    PN_ZTARGET PN_ALWAYS_INLINE void rzp_v##NV(const double *base, size_t ld,       \
                                              uint32_t mask,                        \
                                              const uint8_t *const *pix, size_t k,  \
                                              const double *table, double *out,     \
                                              int mode, double scale, __mmask8 tail) \
    {                                                                              \
        const __m512d sc = _mm512_set1_pd(scale);                                  \
        PN_ZREP(NV, PN_ZDECL, acc, out, mode, NV, tail)                            \
        for (; mask; mask &= mask - 1) {                                           \
            int s = __builtin_ctz(mask);                                           \
            const double *r = base + (size_t)s * ld;                               \
            const __m512d xx = _mm512_set1_pd(table[pix[s][k]]);                   \
            PN_ZREP(NV, PN_ZSTEP, acc, r, xx, 1, NV, tail)                         \
        }                                                                          \
        PN_ZREP(NV, PN_ZSAVE, acc, out, mode, sc, NV, tail)                        \
    }
/* rz_rows_vNV, rzp_rows_vNV: rz_vNV over the rows of a pn_csr-like list (see
 * rs_rows), rzp_vNV over the rows uk[u] of the pixel-row path (samples: the bits
 * of mk[u]); the kernel chosen once for all the rows. */
#define PN_DEF_RZ_ROWS(NV)                                                         \
    PN_ZTARGET PN_ALWAYS_INLINE void rz_rows_v##NV(                                \
        const double *base, size_t ld, const int *rows, const double *xv,          \
        const int *start, const int *cnt, const int *orow, int nu, double *out,    \
        size_t ldo, int mode, double scale, __mmask8 tail)                         \
    {                                                                              \
        int u;                                                                     \
        for (u = 0; u < nu; u++)                                                   \
            rz_v##NV(base, ld, rows + start[u], xv + start[u], cnt[u],             \
                     out + (size_t)orow[u] * ldo, mode, scale, tail, 1);           \
    }                                                                              \
    PN_ZTARGET PN_ALWAYS_INLINE void rzp_rows_v##NV(                               \
        const double *base, size_t ld, const int *uk, const uint32_t *mk, int nu,  \
        const uint8_t *const *pix, const double *table, double *out, size_t ldo,   \
        int mode, double scale, __mmask8 tail)                                     \
    {                                                                              \
        int u;                                                                     \
        for (u = 0; u < nu; u++)                                                   \
            rzp_v##NV(base, ld, mk[u], pix, (size_t)uk[u], table,                  \
                      out + (size_t)uk[u] * ldo, mode, scale, tail);               \
    }
#define PN_DEF_Z(NV) PN_DEF_RZ(NV) PN_DEF_RZP(NV) PN_DEF_RZ_ROWS(NV)
PN_DEF_Z(1) PN_DEF_Z(2) PN_DEF_Z(3) PN_DEF_Z(4) PN_DEF_Z(5) PN_DEF_Z(6) PN_DEF_Z(7)
PN_DEF_Z(8) PN_DEF_Z(9) PN_DEF_Z(10) PN_DEF_Z(11) PN_DEF_Z(12) PN_DEF_Z(13)

/* F(NV, ...) for a width nv = 1..13 known only at run time: a case per width, so
 * that F is rz_v1, rz_v2, ...  F and its arguments are all given. */
#define PN_ZCASES(F, ...)                                                          \
    case 1: F##1(__VA_ARGS__); break;   case 2: F##2(__VA_ARGS__); break;         \
    case 3: F##3(__VA_ARGS__); break;   case 4: F##4(__VA_ARGS__); break;         \
    case 5: F##5(__VA_ARGS__); break;   case 6: F##6(__VA_ARGS__); break;         \
    case 7: F##7(__VA_ARGS__); break;   case 8: F##8(__VA_ARGS__); break;         \
    case 9: F##9(__VA_ARGS__); break;   case 10: F##10(__VA_ARGS__); break;       \
    case 11: F##11(__VA_ARGS__); break; case 12: F##12(__VA_ARGS__); break;       \
    case 13: F##13(__VA_ARGS__); break;

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
PN_ZTARGET PN_ALWAYS_INLINE void rz_block(int kind, const double *base, size_t ld,
                                         const int *rows, const double *xv, int n,
                                         double *out, int mode, double scale, int padded)
{
    int nv = (kind + 7) / 8;
    __mmask8 tail = z_tail(kind, nv);
    switch (nv) {
    PN_ZCASES(rz_v, base, ld, rows, xv, n, out, mode, scale, tail, padded)
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
    int b;
    for (b = 0; b < nb; b++) {
        int nv = (kind[b] + 7) / 8;
        __mmask8 tail = z_tail(kind[b], nv);
        switch (nv) {
        PN_ZCASES(rz_rows_v, base + first[b], ld, rows, xv, start, cnt, orow, nu,
                  out + first[b], ldo, mode, scale, tail)
        }
    }
}

/* rowsum_rows_z for the rows of the first layer on the pixel-row path: row uk[u]
 * has the samples of the bits of mk[u] (see rzp_v*). */
PN_ZTARGET
void rowsum_pixel_rows(const double *base, size_t ld, const int *uk, const uint32_t *mk,
                       int nu, const uint8_t *const *pix, const double *table, double *out,
                       size_t ldo, int mode, double scale, int nb, const int *kind,
                       const int *first)
{
    int b;
    for (b = 0; b < nb; b++) {
        int nv = (kind[b] + 7) / 8;
        __mmask8 tail = z_tail(kind[b], nv);
        switch (nv) {
        PN_ZCASES(rzp_rows_v, base + first[b], ld, uk, mk, nu, pix, table, out + first[b],
                  ldo, mode, scale, tail)
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
    for (b = 0; b < nb; b++)
        for (c = 0; c < nch; c++)
            for (s = 0; s < ns; s++) {
                int t0 = cp[s * (nch + 1) + c], t1 = cp[s * (nch + 1) + c + 1];
                if (t1 > t0)
                    rz_block(kind[b], wT + first[b], ldw, idx[s] + t0, val[s] + t0, t1 - t0,
                             Z + (size_t)s * ldz + first[b], RS_ACC, 0.0, 1);
            }
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
    int b;
    for (b = 0; b < nb; b++)
        switch (kind[b]) {
        case -2: rs_rows(-2, base + first[b], ld, rows, xv, start, cnt, orow, nu, out + first[b],
                         ldo, mode, scale); break;
        case -1: rs_rows(-1, base + first[b], ld, rows, xv, start, cnt, orow, nu, out + first[b],
                         ldo, mode, scale); break;
#if PN_VEC
        PN_WIDTH_CASES(rs_rows, base + first[b], ld, rows, xv, start, cnt, orow, nu,
                       out + first[b], ldo, mode, scale)
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
    for (b = 0; b < nb; b++)
        for (c = 0; c < nch; c++)
            for (s = 0; s < ns; s++) {
                int t0 = cp[s * (nch + 1) + c], t1 = cp[s * (nch + 1) + c + 1];
                if (t1 > t0)
                    rs_block(kind[b], wT + first[b], ldw, idx[s] + t0, val[s] + t0, t1 - t0,
                             Z + (size_t)s * ldz + first[b], RS_ACC, 0.0);
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

