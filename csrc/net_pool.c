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

void net_pool_forward(const net_layer *ly, const double *a, double *m, int64_t *choice)
{
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
