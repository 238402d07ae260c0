/*
 * net_conv.c -- the conv kernels of a layered network (net.h has the layouts): a
 * sample's conv sums, its error moved back, its weight gradient across filters, and a
 * layer's gradient across maps summed over a batch's samples (in the step).
 *
 * The forward sums and the error moved back are built as scatters from a list of the
 * non-zero factors, in an order that gives each sum its terms in the textbook's order
 * (convolution.py):
 *   forward    z[f][y][x] = sum over c, i, j of w[f][c][i][j] * a[c][y+i][x+j]:
 *              the non-zero inputs a[c][yy][xx] in (c, yy, xx) order, each added
 *              to the outputs (yy - i, xx - j) it feeds, across f; for one output the
 *              terms come in (c, i, j) order, since (yy, xx) = (y + i, x + j);
 *   backward   s[c][y][x] = sum over f, i, j of w[f][c][i][j] * delta[f][y-i][x-j]:
 *              the non-zero errors filter by filter, each filter's positions
 *              DESCENDING, each added to the inputs (y' + i, x' + j) across c: for
 *              one input, i ascending is y' = y - i descending, and j likewise.
 * The weight gradient g[f][c][i][j] = sum over y, x of delta[f][y][x] * a[c][y+i][x+j]
 * keeps its sums in registers, a run of weights at a time over a whole list (chunk_sums):
 *   NET_OVER_C  a filter's kernel row (k cp weights) over its non-zero errors in (y, x)
 *               order, each times the inputs' run at (y + i, x .. x + k - 1), sample by
 *               sample added to the batch's sums (net_conv_filter_sums, in the step);
 *   NET_OVER_F  a weight's fp filters over the sample's non-zero inputs in (yy, xx)
 *               order, each times the errors' vector at (yy - i, xx - j).
 * Either way one weight's terms come in (y, x) order.  A term whose other factor is 0.0
 * adds w * 0.0 = +-0.0, which changes no sum (a sum from 0.0 is never -0.0), so the
 * vectors add it when the scalar factor is finite; with a non-finite one the scalar loops
 * skip those terms as the textbook does.
 * The vector kernels are compiled twice: for AVX-512 (the *_z copies, picked per call by
 * `wide`) and as PN_CLONES (AVX2 and the baseline); all give the same bits.
 */
#include "net.h"

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

/* The kernels below take nv, the vectors of a row of the layout they run across (fp or cp
 * over NET_LANES), as their last argument; NET_WIDTHS calls them with nv a constant 1..6
 * (each then compiles to straight-line vector code), else with nv as it is.  F and the
 * arguments are all given. */
#define NET_WIDTHS(nv, F, ...)                                                           \
    switch (nv) {                                                                        \
    case 1: F(__VA_ARGS__, 1); break;   case 2: F(__VA_ARGS__, 2); break;                \
    case 3: F(__VA_ARGS__, 3); break;   case 4: F(__VA_ARGS__, 4); break;                \
    case 5: F(__VA_ARGS__, 5); break;   case 6: F(__VA_ARGS__, 6); break;                \
    default: F(__VA_ARGS__, nv); break;                                                  \
    }

/* --- forward ------------------------------------------------------------------------ */

/* Z (maps oh x ow, stride fp = NET_LANES nv) = the conv sums of the non-zero inputs.  An
 * input (yy, xx) feeds, in kernel row i, the outputs (yy - i, xx - j1 .. xx - j0): a run
 * of positions ascending while j descends. */
PN_ALWAYS_INLINE void conv_sums_body(const net_layer *ly, const double *Wf, const int *pos,
                                     const double *val, const int *start, double *Z, int zw,
                                     size_t nv)
{
    size_t fp = NET_LANES * nv, k = (size_t)ly->k, ow = (size_t)ly->ow;
    int c, t, i, j, f, m, n;
    memset(Z, 0, sizeof(double) * (size_t)ly->oh * ow * fp);
    for (c = 0; c < ly->c; c++)
        for (t = start[c]; t < start[c + 1]; t++) {
            int yy = net_y(pos[t]), xx = net_x(pos[t]);
            net_reach r = reach_of(ly, yy, xx);
            double v = val[t];
            n = r.j1 - r.j0 + 1;
            for (i = r.i0; i <= r.i1; i++) {
                double *z = Z + ((size_t)(yy - i) * ow + (size_t)(xx - r.j1)) * fp;
                const double *w = Wf + (((size_t)c * k + (size_t)i) * k + (size_t)r.j1) * fp;
                if (!net_finite(v)) {                   /* real lanes only */
                    for (j = 0; j < n; j++)
                        for (f = 0; f < ly->f; f++)
                            z[(size_t)j * fp + f] += w[f - (ptrdiff_t)j * (ptrdiff_t)fp] * v;
                    continue;
                }
                for (m = 0; m < n; m++) row_axpy(z + (size_t)m * fp, w - (size_t)m * fp, v, nv, zw);
            }
        }
}

/* --- backward ------------------------------------------------------------------------ */

/* S (the input maps, stride cp = NET_LANES nv) = the errors moved back: an error at
 * (y, x) reaches, in kernel row i, the inputs (y + i, x .. x + k - 1), a run of k cp
 * doubles, through the run w[f][i][0..k-1][.] of Wc. */
PN_ALWAYS_INLINE void conv_back_body(const net_layer *ly, const double *Wc, const int *pos,
                                     const double *val, const int *start, double *S, int zw,
                                     size_t nv)
{
    size_t cp = NET_LANES * nv, k = (size_t)ly->k, w = (size_t)ly->w;
    int f, t, i, q, c;
    memset(S, 0, sizeof(double) * (size_t)ly->h * w * cp);
    for (f = 0; f < ly->f; f++)
        for (t = start[f + 1] - 1; t >= start[f]; t--) {          /* positions descending */
            size_t y = (size_t)net_y(pos[t]), x = (size_t)net_x(pos[t]);
            double d = val[t];
            for (i = 0; i < ly->k; i++) {
                double *s = S + ((y + (size_t)i) * w + x) * cp;
                const double *wr = Wc + (((size_t)f * k + (size_t)i) * k) * cp;
                if (!net_finite(d)) {
                    for (q = 0; q < ly->k; q++)
                        for (c = 0; c < ly->c; c++)
                            s[(size_t)q * cp + c] += wr[(size_t)q * cp + c] * d;
                    continue;
                }
                for (q = 0; q < ly->k; q++)
                    row_axpy(s + (size_t)q * cp, wr + (size_t)q * cp, d, nv, zw);
            }
        }
}

/* --- gradients ---------------------------------------------------------------------- */

/* NET_OVER_C: one filter's G[i][j][c] += delta * a[y+i][x+j][c] for its non-zero errors
 * t0..t1-1 (in kernel row i a run of k cp doubles of both). */
PN_ALWAYS_INLINE void grad_c_filter(const net_layer *ly, const double *A, const int *pos,
                                    const double *val, int t0, int t1, double *G, int zw, size_t nv)
{
    size_t cp = NET_LANES * nv, k = (size_t)ly->k, w = (size_t)ly->w;
    int t, i, q;
    for (t = t0; t < t1; t++) {                                   /* positions ascending */
        size_t y = (size_t)net_y(pos[t]), x = (size_t)net_x(pos[t]);
        double d = val[t];
        for (i = 0; i < ly->k; i++) {
            const double *a = A + ((y + (size_t)i) * w + x) * cp;
            double *g = G + (size_t)i * k * cp;
            if (!net_finite(d)) {                 /* inf * 0 is NaN: skip the zero inputs */
                for (q = 0; q < ly->k * (int)cp; q++)
                    if (q % (int)cp < ly->c && a[q] != 0.0) g[q] += d * a[q];
                continue;
            }
            for (q = 0; q < ly->k; q++) row_axpy(g + (size_t)q * cp, a + (size_t)q * cp, d, nv, zw);
        }
    }
}

/* The gradients keep their sums in registers: a chunk of ch vectors (ch <= NET_CHUNK,
 * a constant) of one kernel row's weights, summed over the whole list of the factors
 * that feed them (each sum from 0.0, positions ascending), then stored, or added to the
 * batch's sums (fold).  A chunk of 16 vectors: 16 of the 32 AVX-512 registers (a kernel
 * row of 5 filters over 20 maps is 15), or of 4 (8 of the 16 AVX2 registers). */
#define NET_CHUNK 16
#define NET_CHUNK_V4 4

/* out[r] (fold: out[r] + the sum) = sum over t of src_t[r] * s_t, r < NET_LANES ch, where
 * entry t of the list is at position (y, x) = pos[t] shifted by (dy, dx), src_t =
 * base + (y * w + x) * stride, s_t = val[t]; entries whose shifted position is outside
 * rows h x columns w are skipped when check. */
PN_ALWAYS_INLINE void chunk_sums(double *out, int fold, const double *base, size_t stride,
                                 size_t w, size_t h, int dy, int dx, int check, const int *pos,
                                 const double *val, int t0, int t1, int zw, int ch)
{
    int t;
#if PN_VEC
    int r;
    if (zw) {
        net_v8 acc[NET_CHUNK], zero = {0, 0, 0, 0, 0, 0, 0, 0};
        for (r = 0; r < ch; r++) acc[r] = zero;
        for (t = t0; t < t1; t++) {
            int y = net_y(pos[t]) + dy, x = net_x(pos[t]) + dx;
            const double *src = base + ((size_t)y * w + (size_t)x) * stride;
            double v = val[t];
            net_v8 vv = {v, v, v, v, v, v, v, v};
            if (check && (y < 0 || x < 0 || (size_t)y >= h || (size_t)x >= w)) continue;
            for (r = 0; r < ch; r++) {
                net_v8 a;
                memcpy(&a, src + NET_LANES * r, sizeof a);
                acc[r] += a * vv;
            }
        }
        for (r = 0; r < ch; r++) {
            net_v8 o = acc[r];
            if (fold) {
                memcpy(&o, out + NET_LANES * r, sizeof o);
                o = o + acc[r];
            }
            memcpy(out + NET_LANES * r, &o, sizeof o);
        }
        return;
    }
    {
        pn_v4 acc[2 * NET_CHUNK], zero = {0, 0, 0, 0};   /* (ch <= NET_CHUNK_V4 here) */
        for (r = 0; r < 2 * ch; r++) acc[r] = zero;
        for (t = t0; t < t1; t++) {
            int y = net_y(pos[t]) + dy, x = net_x(pos[t]) + dx;
            const double *src = base + ((size_t)y * w + (size_t)x) * stride;
            double v = val[t];
            pn_v4 vv = {v, v, v, v};
            if (check && (y < 0 || x < 0 || (size_t)y >= h || (size_t)x >= w)) continue;
            for (r = 0; r < 2 * ch; r++) {
                pn_v4 a;
                memcpy(&a, src + 4 * r, sizeof a);
                acc[r] += a * vv;
            }
        }
        for (r = 0; r < 2 * ch; r++) {
            pn_v4 o = acc[r];
            if (fold) {
                memcpy(&o, out + 4 * r, sizeof o);
                o = o + acc[r];
            }
            memcpy(out + 4 * r, &o, sizeof o);
        }
    }
#else
    int q;
    (void)zw;
    for (q = 0; q < NET_LANES * ch; q++) {
        double sum = 0.0;
        for (t = t0; t < t1; t++) {
            int y = net_y(pos[t]) + dy, x = net_x(pos[t]) + dx;
            if (check && (y < 0 || x < 0 || (size_t)y >= h || (size_t)x >= w)) continue;
            sum += base[((size_t)y * w + (size_t)x) * stride + (size_t)q] * val[t];
        }
        out[q] = fold ? out[q] + sum : sum;
    }
#endif
}

/* chunk_sums over a run of n vectors, in chunks of NET_CHUNK (AVX-512) or NET_CHUNK_V4,
 * each chunk's width a constant. */
PN_ALWAYS_INLINE void run_sums(double *out, int fold, const double *base, size_t stride,
                               size_t w, size_t h, int dy, int dx, int check, const int *pos,
                               const double *val, int t0, int t1, int zw, size_t n)
{
    size_t c0, most = zw ? NET_CHUNK : NET_CHUNK_V4;
    for (c0 = 0; c0 < n; c0 += most) {
        size_t ch = n - c0 < most ? n - c0 : most;
        double *o = out + NET_LANES * c0;
        const double *b = base + NET_LANES * c0;
        switch (ch) {
        case 1: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 1); break;
        case 2: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 2); break;
        case 3: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 3); break;
        case 4: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 4); break;
        case 5: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 5); break;
        case 6: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 6); break;
        case 7: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 7); break;
        case 8: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 8); break;
        case 9: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 9); break;
        case 10: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 10); break;
        case 11: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 11); break;
        case 12: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 12); break;
        case 13: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 13); break;
        case 14: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 14); break;
        case 15: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                           zw, 15); break;
        default: chunk_sums(o, fold, b, stride, w, h, dy, dx, check, pos, val, t0, t1,
                            zw, 16); break;
        }
    }
}

/* Whether val[t0..t1-1] are all finite (the register sums then need no test of the
 * other factor: it may be 0.0). */
static int all_finite(const double *val, int t0, int t1)
{
    int t, ok = 1;
    for (t = t0; t < t1; t++) ok &= net_finite(val[t]);
    return ok;
}

/* NET_OVER_F: G[c][i][j][f] += delta[yy-i][xx-j][f] * a for the non-zero inputs a, per
 * (c, i, j) a run of fp doubles summed over the inputs whose (yy - i, xx - j) is an output. */
PN_ALWAYS_INLINE void grad_f_body(const net_layer *ly, const double *D, const int *pos,
                                  const double *val, const int *start, double *G, int zw, size_t nv)
{
    size_t fp = NET_LANES * nv, k = (size_t)ly->k, ow = (size_t)ly->ow, oh = (size_t)ly->oh;
    int c, t, i, j, m, n, f;
    if (all_finite(val, start[0], start[ly->c])) {
        for (c = 0; c < ly->c; c++)
            for (i = 0; i < ly->k; i++)
                for (j = 0; j < ly->k; j++)
                    run_sums(G + (((size_t)c * k + (size_t)i) * k + (size_t)j) * fp, 0, D, fp, ow,
                             oh, -i, -j, 1, pos, val, start[c], start[c + 1], zw, nv);
        return;
    }
    for (c = 0; c < ly->c; c++)
        for (t = start[c]; t < start[c + 1]; t++) {               /* positions ascending */
            int yy = net_y(pos[t]), xx = net_x(pos[t]);
            net_reach r = reach_of(ly, yy, xx);
            double v = val[t];
            n = r.j1 - r.j0 + 1;
            for (i = r.i0; i <= r.i1; i++) {
                const double *d = D + ((size_t)(yy - i) * ow + (size_t)(xx - r.j0)) * fp;
                double *g = G + (((size_t)c * k + (size_t)i) * k + (size_t)r.j0) * fp;
                for (m = 0; m < n; m++) {
                    const double *dm = d - (size_t)m * fp;
                    double *gm = g + (size_t)m * fp;
                    if (net_finite(v)) row_axpy(gm, dm, v, nv, zw);
                    else for (f = 0; f < ly->f; f++) if (dm[f] != 0.0) gm[f] += dm[f] * v;
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
    NET_WIDTHS(ly->fp / NET_LANES, conv_sums_body, ly, Wf, pos, val, start, Z, 1)
}
NET_ZTARGET static void conv_back_z(const net_layer *ly, const double *Wc, const int *pos,
                                    const double *val, const int *start, double *S)
{
    NET_WIDTHS(ly->cp / NET_LANES, conv_back_body, ly, Wc, pos, val, start, S, 1)
}
NET_ZTARGET static void grad_f_z(const net_layer *ly, const double *D, const int *pos,
                                 const double *val, const int *start, double *G)
{
    NET_WIDTHS(ly->fp / NET_LANES, grad_f_body, ly, D, pos, val, start, G, 1)
}
#endif

PN_CLONES static void conv_sums_v(const net_layer *ly, const double *Wf, const int *pos,
                                  const double *val, const int *start, double *Z)
{
    NET_WIDTHS(ly->fp / NET_LANES, conv_sums_body, ly, Wf, pos, val, start, Z, 0)
}
PN_CLONES static void conv_back_v(const net_layer *ly, const double *Wc, const int *pos,
                                  const double *val, const int *start, double *S)
{
    NET_WIDTHS(ly->cp / NET_LANES, conv_back_body, ly, Wc, pos, val, start, S, 0)
}
PN_CLONES static void grad_f_v(const net_layer *ly, const double *D, const int *pos,
                               const double *val, const int *start, double *G)
{
    NET_WIDTHS(ly->fp / NET_LANES, grad_f_body, ly, D, pos, val, start, G, 0)
}

/* a = relu(z), z = Z + b, over whole rows (the padding: 0.0 + 0.0, and relu(0.0) = 0.0). */
PN_CLONES static void relu_map(double *Z, const double *b, size_t hw, size_t fp)
{
    size_t q, f;
    for (q = 0; q < hw; q++)
        for (f = 0; f < fp; f++) {
            double z = Z[q * fp + f] + b[f];
            Z[q * fp + f] = z > 0.0 ? z : 0.0;
        }
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
    if (activation == PN_RELU) {
        relu_map(out, b, hw, ly->fp);
        return;
    }
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

void net_conv_gradient(int wide, const net_layer *ly, const int *pos, const double *val,
                       const int *start, const double *delta, double *G)
{
    (void)wide;
#if PN_HAVE_WIDE
    if (wide) { grad_f_z(ly, delta, pos, val, start, G); return; }
#endif
    grad_f_v(ly, delta, pos, val, start, G);
}

/* net_conv_filter_sums: each sample's gradient of the filter, one kernel row's run at a
 * time in registers, added to the row of sums. */
PN_ALWAYS_INLINE void filter_sums_body(const net_layer *ly, int l, const net_batch *b, int m,
                                       int f, double *row, double *scratch, int zw, size_t nv)
{
    size_t cp = NET_LANES * nv, k = (size_t)ly->k, w = (size_t)ly->w, run = k * cp, q;
    size_t maps = (size_t)ly->h * w * cp;
    int s, i;
    for (s = 0; s < m; s++) {
        const int *pos = b->dp[l] + (size_t)s * ly->n_out;
        const double *val = b->dv[l] + (size_t)s * ly->n_out, *A = b->ma[l - 1] + (size_t)s * maps;
        const int *start = b->ds[l] + (size_t)s * ((size_t)ly->f + 1);
        int t0 = start[f], t1 = start[f + 1];
        if (t0 == t1) continue;                                   /* no error: adds 0.0 */
        if (!all_finite(val, t0, t1)) {                           /* the terms one by one */
            grad_c_filter(ly, A, pos, val, t0, t1, scratch, zw, nv);
            for (q = 0; q < k * run; q++) {
                row[q] = row[q] + scratch[q];
                scratch[q] = 0.0;
            }
            continue;
        }
        for (i = 0; i < ly->k; i++)
            run_sums(row + (size_t)i * run, 1, A + (size_t)i * w * cp, cp, w, 0, 0, 0, 0, pos, val,
                     t0, t1, zw, k * nv);
    }
}

#if PN_HAVE_WIDE
NET_ZTARGET static void filter_sums_z(const net_layer *ly, int l, const net_batch *b, int m,
                                      int f, double *row, double *scratch)
{
    filter_sums_body(ly, l, b, m, f, row, scratch, 1, ly->cp / NET_LANES);
}
#endif
PN_CLONES static void filter_sums_v(const net_layer *ly, int l, const net_batch *b, int m,
                                    int f, double *row, double *scratch)
{
    filter_sums_body(ly, l, b, m, f, row, scratch, 0, ly->cp / NET_LANES);
}

void net_conv_filter_sums(int wide, const net_layer *ly, int l, const net_batch *b, int m, int f,
                          double *row, double *scratch)
{
    (void)wide;
#if PN_HAVE_WIDE
    if (wide) { filter_sums_z(ly, l, b, m, f, row, scratch); return; }
#endif
    filter_sums_v(ly, l, b, m, f, row, scratch);
}

PN_CLONES static void bias_sums(const double *delta, size_t hw, size_t fp, double *gb)
{
    size_t q, f;
    memset(gb, 0, sizeof(double) * fp);
    for (q = 0; q < hw; q++)                        /* positions ascending, nothing skipped */
        for (f = 0; f < fp; f++) gb[f] += delta[q * fp + f];
}

void net_conv_bias_gradient(const net_layer *ly, const double *delta, double *gb)
{
    bias_sums(delta, (size_t)ly->oh * (size_t)ly->ow, ly->fp, gb);
}
