/*
 * net_pool.c -- max-pooling in a layered network (net.h): the forward pass with its
 * choices, and the error sent back to the chosen units (with the slope of the conv layer
 * below when there is one).  Across the channels of a position, NET_LANES at a time.
 *
 * The window is read row-major, and a value replaces the best so far only when it is
 * larger, or a NaN where the best is not: the first maximum wins a tie, the first NaN
 * wins over all (convolution.max_pool).
 */
#include "net.h"

#include <string.h>
#if PN_HAVE_WIDE
#include <immintrin.h>
#endif

#if PN_VEC
/* Four lanes (an AVX2 register): GCC compiles the compares of wider vectors lane by lane
 * for AVX2. */
#define NET_POOL_LANES 4
typedef long long net_l4 __attribute__((vector_size(32)));

/* One window of P x P positions (row length w positions), channels q..q+3, from the
 * position at `first` of maps a (stride cp): the maximum into m, its index into at. */
PN_ALWAYS_INLINE void pool_lanes(const double *a, size_t first, size_t P, size_t w, size_t cp,
                                 double *m, int64_t *at)
{
    const net_l4 lanes = {0, 1, 2, 3};
    pn_v4 best;
    net_l4 from = lanes + (long long)first;
    size_t u, v;
    memcpy(&best, a + first, sizeof best);
    for (u = 0; u < P; u++)
        for (v = u == 0; v < P; v++) {
            size_t o = first + (u * w + v) * cp;
            pn_v4 x;
            net_l4 take;
            memcpy(&x, a + o, sizeof x);
            take = (x > best) | ((x != x) & (best == best));
            best = (pn_v4)(((net_l4)x & take) | ((net_l4)best & ~take));
            from = ((lanes + (long long)o) & take) | (from & ~take);
        }
    memcpy(m, &best, sizeof best);
    memcpy(at, &from, sizeof from);
}
#endif

PN_CLONES static void pool_forward_mv(const net_layer *ly, const double *a, double *m,
                                      int64_t *choice)
{
    size_t P = (size_t)ly->k, w = (size_t)ly->w, cp = ly->cp, Y, X, q;
    for (Y = 0; Y < (size_t)ly->oh; Y++)
        for (X = 0; X < (size_t)ly->ow; X++) {
            size_t o = (Y * (size_t)ly->ow + X) * cp, first = (P * Y * w + P * X) * cp;
#if PN_VEC
            for (q = 0; q < cp; q += NET_POOL_LANES)
                pool_lanes(a, first + q, P, w, cp, m + o + q, choice + o + q);
#else
            for (q = 0; q < cp; q += NET_LANES) {
                size_t c, u, v;
                for (c = q; c < q + NET_LANES; c++) {
                    double best = a[first + c];
                    int64_t at = (int64_t)(first + c);
                    for (u = 0; u < P; u++)
                        for (v = u == 0; v < P; v++) {
                            size_t i = first + (u * w + v) * cp + c;
                            double x = a[i];
                            if (x > best || (x != x && best == best)) { best = x; at = (int64_t)i; }
                        }
                    m[o + c] = best;
                    choice[o + c] = at;
                }
            }
#endif
        }
}

#if PN_HAVE_WIDE
/* pool_forward_mv with AVX-512 compares into masks, 8 lanes at a time: the same choices. */
__attribute__((target("avx512f"))) static void pool_forward_z(const net_layer *ly,
                                                              const double *a, double *m,
                                                              int64_t *choice)
{
    const __m512i lanes = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    size_t P = (size_t)ly->k, w = (size_t)ly->w, cp = ly->cp, Y, X, q, u, v;
    for (Y = 0; Y < (size_t)ly->oh; Y++)
        for (X = 0; X < (size_t)ly->ow; X++) {
            size_t o = (Y * (size_t)ly->ow + X) * cp, first = (P * Y * w + P * X) * cp;
            for (q = 0; q < cp; q += NET_LANES) {
                __m512d best = _mm512_loadu_pd(a + first + q);
                __m512i from = _mm512_add_epi64(lanes, _mm512_set1_epi64((long long)(first + q)));
                for (u = 0; u < P; u++)
                    for (v = u == 0; v < P; v++) {
                        size_t at = first + (u * w + v) * cp + q;
                        __m512d x = _mm512_loadu_pd(a + at);
                        __mmask8 take = _mm512_cmp_pd_mask(x, best, _CMP_GT_OQ) |
                                        (_mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q) &
                                         _mm512_cmp_pd_mask(best, best, _CMP_ORD_Q));
                        best = _mm512_mask_blend_pd(take, best, x);
                        from = _mm512_mask_blend_epi64(
                            take, from, _mm512_add_epi64(lanes, _mm512_set1_epi64((long long)at)));
                    }
                _mm512_storeu_pd(m + o + q, best);
                _mm512_storeu_si512(choice + o + q, from);
            }
        }
}
#endif

void net_pool_forward(int wide, const net_layer *ly, const double *a, double *m,
                      int64_t *choice)
{
#if PN_HAVE_WIDE
    if (wide) { pool_forward_z(ly, a, m, choice); return; }
#endif
    (void)wide;
    pool_forward_mv(ly, a, m, choice);
}

/* 1 when some m[q], q < n, is NaN. */
PN_CLONES static int any_nan_mv(const double *m, size_t n)
{
    size_t q;
    int nan = 0;
    for (q = 0; q < n; q++) nan |= m[q] != m[q];
    return nan;
}

int net_any_nan(const double *m, size_t n)
{
    return any_nan_mv(m, n);
}

void net_pool_backward(const net_layer *ly, const double *delta_out, const int64_t *choice,
                       const double *m, int activation, double *s)
{
    size_t q, c, hw = (size_t)ly->oh * (size_t)ly->ow;
    memset(s, 0, sizeof(double) * (size_t)ly->h * (size_t)ly->w * ly->cp);
    for (q = 0; q < hw; q++)
        for (c = 0; c < (size_t)ly->c; c++) {
            size_t o = q * ly->fp + c;
            s[choice[o]] = m ? delta_out[o] * net_prime(activation, m[o]) : delta_out[o];
        }
}
