/*
 * net_conv.c -- the conv and pool kernels of one sample (net.h has the layouts).
 *
 * Every conv sum is built as a scatter from a list of the non-zero factors, in an
 * order that gives each sum its terms in the textbook's order (convolution.py):
 *   forward    z[f][y][x] = sum over c, i, j of w[f][c][i][j] * a[c][y+i][x+j]:
 *              the non-zero inputs a[c][yy][xx] in (c, yy, xx) order, each added
 *              to the outputs (yy - i, xx - j) it feeds, across f; for one output the
 *              terms come in (c, i, j) order, since (yy, xx) = (y + i, x + j);
 *   backward   s[c][y][x] = sum over f, i, j of w[f][c][i][j] * delta[f][y-i][x-j]:
 *              the non-zero errors filter by filter, each filter's positions
 *              DESCENDING, each added to the inputs (y' + i, x' + j) across c: for
 *              one input, i ascending is y' = y - i descending, and j likewise;
 *   gradient   g[f][c][i][j] = sum over y, x of delta[f][y][x] * a[c][y+i][x+j]:
 *              NET_OVER_C: the non-zero errors in (y, x) order, each times the input
 *              maps' vector at (y + i, x + j), across c; NET_OVER_F: the non-zero
 *              inputs in (yy, xx) order, each times the errors' vector at
 *              (yy - i, xx - j), across f.  Either way one weight's terms come in
 *              (y, x) order.  A term whose other factor is 0.0 adds w * 0.0 = +-0.0,
 *              which changes no sum (a sum from 0.0 is never -0.0), so the vector
 *              adds it when the scalar factor is finite; a non-finite scalar takes
 *              the scalar loops, which skip those terms as the textbook does.
 * The vector kernels are compiled twice: for AVX-512 (the *_z copies, picked per
 * call by `wide`) and as PN_CLONES (AVX2 and the baseline); all give the same bits.
 */
#include "net.h"

#include <math.h>
#include <string.h>

/* --- the lists of non-zero units ------------------------------------------------------ */

int net_maps_nonzero(const net_layer *ly, const double *a, int *pos, double *val, int *start)
{
    int c, y, x, n = 0;
    for (c = 0; c < ly->c; c++) {
        start[c] = n;
        for (y = 0; y < ly->h; y++)
            for (x = 0; x < ly->w; x++) {
                double v = a[((size_t)y * (size_t)ly->w + (size_t)x) * ly->cp + (size_t)c];
                pos[n] = y << NET_XBITS | x;
                val[n] = v;
                n += v != 0.0;                  /* NaN counts as non-zero, as in Python */
            }
    }
    start[ly->c] = n;
    return n;
}

int net_errors_nonzero(const net_layer *ly, const double *d, int *pos, double *val, int *start)
{
    int f, y, x, n = 0;
    for (f = 0; f < ly->f; f++) {
        start[f] = n;
        for (y = 0; y < ly->oh; y++)
            for (x = 0; x < ly->ow; x++) {
                double v = d[((size_t)y * (size_t)ly->ow + (size_t)x) * ly->fp + (size_t)f];
                pos[n] = y << NET_XBITS | x;
                val[n] = v;
                n += v != 0.0;
            }
    }
    start[ly->f] = n;
    return n;
}

/* The outputs (yy - i, xx - j) an input at (yy, xx) feeds: i0 <= i <= i1, j0 <= j <= j1. */
typedef struct { int i0, i1, j0, j1; } net_reach;

static net_reach reach_of(const net_layer *ly, int yy, int xx)
{
    net_reach r;
    r.i0 = yy - ly->oh + 1 > 0 ? yy - ly->oh + 1 : 0;
    r.i1 = yy < ly->k - 1 ? yy : ly->k - 1;
    r.j0 = xx - ly->ow + 1 > 0 ? xx - ly->ow + 1 : 0;
    r.j1 = xx < ly->k - 1 ? xx : ly->k - 1;
    return r;
}

/* --- forward ------------------------------------------------------------------------ */

/* Z (maps oh x ow, stride fp) = the conv sums of the non-zero inputs. */
PN_ALWAYS_INLINE void conv_sums_body(const net_layer *ly, const double *Wf, const int *pos,
                                     const double *val, const int *start, double *Z)
{
    size_t fp = ly->fp, k = (size_t)ly->k, ow = (size_t)ly->ow, nv = fp / NET_LANES;
    int c, t, i, j, f;
    memset(Z, 0, sizeof(double) * (size_t)ly->oh * ow * fp);
    for (c = 0; c < ly->c; c++)
        for (t = start[c]; t < start[c + 1]; t++) {
            int yy = net_y(pos[t]), xx = net_x(pos[t]);
            net_reach r = reach_of(ly, yy, xx);
            double v = val[t];
            for (i = r.i0; i <= r.i1; i++) {
                double *zr = Z + ((size_t)(yy - i) * ow + (size_t)xx) * fp;   /* (yy - i, xx) */
                const double *wr = Wf + (((size_t)c * k + (size_t)i) * k) * fp;
                for (j = r.j0; j <= r.j1; j++) {
                    double *z = zr - (size_t)j * fp;
                    const double *w = wr + (size_t)j * fp;
                    if (net_finite(v)) row_axpy(z, w, v, nv);
                    else for (f = 0; f < ly->f; f++) z[f] += w[f] * v;
                }
            }
        }
}

/* --- backward ------------------------------------------------------------------------ */

/* S (the input maps, stride cp) = the errors moved back through the layer. */
PN_ALWAYS_INLINE void conv_back_body(const net_layer *ly, const double *Wc, const int *pos,
                                     const double *val, const int *start, double *S)
{
    size_t cp = ly->cp, k = (size_t)ly->k, w = (size_t)ly->w, nv = cp / NET_LANES;
    int f, t, i, j, c;
    memset(S, 0, sizeof(double) * (size_t)ly->h * w * cp);
    for (f = 0; f < ly->f; f++)
        for (t = start[f + 1] - 1; t >= start[f]; t--) {          /* positions descending */
            size_t y = (size_t)net_y(pos[t]), x = (size_t)net_x(pos[t]);
            double d = val[t];
            for (i = 0; i < ly->k; i++) {
                double *sr = S + ((y + (size_t)i) * w + x) * cp;
                const double *wr = Wc + (((size_t)f * k + (size_t)i) * k) * cp;
                for (j = 0; j < ly->k; j++) {
                    if (net_finite(d)) row_axpy(sr + (size_t)j * cp, wr + (size_t)j * cp, d, nv);
                    else for (c = 0; c < ly->c; c++) sr[(size_t)j * cp + c] += wr[(size_t)j * cp + c] * d;
                }
            }
        }
}

/* --- gradients ---------------------------------------------------------------------- */

/* NET_OVER_C: G[f][i][j][c] += delta * a[y+i][x+j][c] for the non-zero errors. */
PN_ALWAYS_INLINE void grad_c_body(const net_layer *ly, const double *A, const int *pos,
                                  const double *val, const int *start, double *G)
{
    size_t cp = ly->cp, k = (size_t)ly->k, w = (size_t)ly->w, nv = cp / NET_LANES;
    int f, t, i, j, c;
    for (f = 0; f < ly->f; f++)
        for (t = start[f]; t < start[f + 1]; t++) {               /* positions ascending */
            size_t y = (size_t)net_y(pos[t]), x = (size_t)net_x(pos[t]);
            double d = val[t];
            for (i = 0; i < ly->k; i++) {
                const double *ar = A + ((y + (size_t)i) * w + x) * cp;
                double *gr = G + (((size_t)f * k + (size_t)i) * k) * cp;
                for (j = 0; j < ly->k; j++) {
                    const double *a = ar + (size_t)j * cp;
                    double *g = gr + (size_t)j * cp;
                    if (net_finite(d)) row_axpy(g, a, d, nv);
                    else for (c = 0; c < ly->c; c++) if (a[c] != 0.0) g[c] += d * a[c];
                }
            }
        }
}

/* NET_OVER_F: G[c][i][j][f] += delta[yy-i][xx-j][f] * a for the non-zero inputs a. */
PN_ALWAYS_INLINE void grad_f_body(const net_layer *ly, const double *D, const int *pos,
                                  const double *val, const int *start, double *G)
{
    size_t fp = ly->fp, k = (size_t)ly->k, ow = (size_t)ly->ow, nv = fp / NET_LANES;
    int c, t, i, j, f;
    for (c = 0; c < ly->c; c++)
        for (t = start[c]; t < start[c + 1]; t++) {               /* positions ascending */
            int yy = net_y(pos[t]), xx = net_x(pos[t]);
            net_reach r = reach_of(ly, yy, xx);
            double v = val[t];
            for (i = r.i0; i <= r.i1; i++) {
                const double *dr = D + ((size_t)(yy - i) * ow + (size_t)xx) * fp;
                double *gr = G + (((size_t)c * k + (size_t)i) * k) * fp;
                for (j = r.j0; j <= r.j1; j++) {
                    const double *d = dr - (size_t)j * fp;
                    double *g = gr + (size_t)j * fp;
                    if (net_finite(v)) row_axpy(g, d, v, nv);
                    else for (f = 0; f < ly->f; f++) if (d[f] != 0.0) g[f] += d[f] * v;
                }
            }
        }
}

/* --- the copies of the kernels: AVX-512 (picked per call) and PN_CLONES ------------------ */

#if PN_HAVE_WIDE
#define NET_ZTARGET __attribute__((target("avx512f")))
NET_ZTARGET static void conv_sums_z(const net_layer *ly, const double *Wf, const int *pos,
                                    const double *val, const int *start, double *Z)
{
    conv_sums_body(ly, Wf, pos, val, start, Z);
}
NET_ZTARGET static void conv_back_z(const net_layer *ly, const double *Wc, const int *pos,
                                    const double *val, const int *start, double *S)
{
    conv_back_body(ly, Wc, pos, val, start, S);
}
NET_ZTARGET static void grad_c_z(const net_layer *ly, const double *A, const int *pos,
                                 const double *val, const int *start, double *G)
{
    grad_c_body(ly, A, pos, val, start, G);
}
NET_ZTARGET static void grad_f_z(const net_layer *ly, const double *D, const int *pos,
                                 const double *val, const int *start, double *G)
{
    grad_f_body(ly, D, pos, val, start, G);
}
#endif

PN_CLONES static void conv_sums_v(const net_layer *ly, const double *Wf, const int *pos,
                                  const double *val, const int *start, double *Z)
{
    conv_sums_body(ly, Wf, pos, val, start, Z);
}
PN_CLONES static void conv_back_v(const net_layer *ly, const double *Wc, const int *pos,
                                  const double *val, const int *start, double *S)
{
    conv_back_body(ly, Wc, pos, val, start, S);
}
PN_CLONES static void grad_c_v(const net_layer *ly, const double *A, const int *pos,
                               const double *val, const int *start, double *G)
{
    grad_c_body(ly, A, pos, val, start, G);
}
PN_CLONES static void grad_f_v(const net_layer *ly, const double *D, const int *pos,
                               const double *val, const int *start, double *G)
{
    grad_f_body(ly, D, pos, val, start, G);
}

void net_conv_forward(int wide, const net_layer *ly, const double *Wf, const double *b,
                      const int *pos, const double *val, const int *start, int activation,
                      double *out, double *zrow, double *erow)
{
    size_t q, hw = (size_t)ly->oh * (size_t)ly->ow, f;
#if PN_HAVE_WIDE
    if (wide) conv_sums_z(ly, Wf, pos, val, start, out);
    else
#endif
        conv_sums_v(ly, Wf, pos, val, start, out);
    (void)wide;
    for (q = 0; q < hw; q++) {                      /* z = sum + b, a = act(z); padding 0.0 */
        double *a = out + q * ly->fp;
        activate(activation, a, b, ly->f, a, zrow, erow);
        for (f = (size_t)ly->f; f < ly->fp; f++) a[f] = 0.0;
    }
}

void net_conv_backward(int wide, const net_layer *ly, const double *Wc, const int *pos,
                       const double *val, const int *start, double *s)
{
#if PN_HAVE_WIDE
    if (wide) { conv_back_z(ly, Wc, pos, val, start, s); return; }
#endif
    (void)wide;
    conv_back_v(ly, Wc, pos, val, start, s);
}

void net_conv_gradient(int wide, const net_layer *ly, const double *a, const int *in_pos,
                       const double *in_val, const int *in_start, const double *delta,
                       const int *d_pos, const double *d_val, const int *d_start, double *G)
{
    (void)wide;
#if PN_HAVE_WIDE
    if (wide) {
        if (ly->gform == NET_OVER_C) grad_c_z(ly, a, d_pos, d_val, d_start, G);
        else grad_f_z(ly, delta, in_pos, in_val, in_start, G);
        return;
    }
#endif
    if (ly->gform == NET_OVER_C) grad_c_v(ly, a, d_pos, d_val, d_start, G);
    else grad_f_v(ly, delta, in_pos, in_val, in_start, G);
}

void net_conv_bias_gradient(const net_layer *ly, const double *delta, double *gb)
{
    size_t q, f, hw = (size_t)ly->oh * (size_t)ly->ow;
    memset(gb, 0, sizeof(double) * ly->fp);
    for (q = 0; q < hw; q++)                        /* positions ascending, nothing skipped */
        for (f = 0; f < ly->fp; f++) gb[f] += delta[q * ly->fp + f];
}

/* --- pooling ----------------------------------------------------------------------- */

void net_pool_forward(const net_layer *ly, const double *a, double *m, int *choice)
{
    size_t P = (size_t)ly->k, w = (size_t)ly->w, cp = ly->cp, Y, X, u, v, c;
    for (Y = 0; Y < (size_t)ly->oh; Y++)
        for (X = 0; X < (size_t)ly->ow; X++) {
            size_t o = (Y * (size_t)ly->ow + X) * cp, first = (P * Y * w + P * X) * cp;
            double *best = m + o;
            int *at = choice + o;
            for (c = 0; c < (size_t)ly->c; c++) {
                best[c] = a[first + c];
                at[c] = (int)(first + c);
            }
            for (u = 0; u < P; u++)                 /* the window row-major; the first of */
                for (v = u == 0; v < P; v++) {      /* equals wins, and the first NaN */
                    size_t at0 = ((P * Y + u) * w + P * X + v) * cp;
                    for (c = 0; c < (size_t)ly->c; c++) {
                        double x = a[at0 + c], b = best[c];
                        int take = x > b || (x != x && b == b);
                        best[c] = take ? x : b;
                        at[c] = take ? (int)(at0 + c) : at[c];
                    }
                }
        }
}

void net_pool_backward(const net_layer *ly, const double *delta_out, const int *choice, double *s)
{
    size_t q, c, hw = (size_t)ly->oh * (size_t)ly->ow;
    memset(s, 0, sizeof(double) * (size_t)ly->h * (size_t)ly->w * ly->cp);
    for (q = 0; q < hw; q++)
        for (c = 0; c < (size_t)ly->c; c++) s[choice[q * ly->fp + c]] = delta_out[q * ly->fp + c];
}
