/*
 * convolution.c -- the textbook, chapter 6: the routines of purenet/convolution.py,
 * one by one, in the same order, under the same names with a pn_ prefix, doing
 * the same IEEE operations in the same order (so the same bits).  Read it next to
 * convolution.py.  It is written to be read: plain loops, no SIMD; a fast path
 * lives apart.
 *
 * Maps are flat row-major doubles: C maps of H rows by W columns (ch, h, wd),
 * a[c][y][x] at a[(c*h + y)*wd + x] (unit_at).  A conv layer has fs filters of
 * k x k over all ch input maps, w[f][c][i][j] at w[((f*ch + c)*k + i)*k + j]
 * (filter_row_at gives w[f][c][i][0]), and biases b[f]; stride 1, no padding, so
 * its output is fs maps of oh = h - k + 1 rows by ow = wd - k + 1 columns.  A P x P
 * pool layer (stride P; P divides h and wd) outputs ch maps of h/P by wd/P, and
 * records for each window its chosen unit as an index y*wd + x within its map.
 *
 * Every sum starts from 0.0 and adds its terms in the order its comment gives,
 * each index ascending; a term whose data factor (an input a, an error delta) is
 * exactly 0.0 is skipped where convolution.py skips it (with an inf or nan weight,
 * inf*0 is nan: skipping is not the same as adding w*0).
 *
 * Every pn_ routine checks its arguments first (check_maps, check_conv,
 * check_pool, check_activation) and returns PN_ERR_NULL, PN_ERR_SIZES (a shape
 * < 1, too large, a filter larger than its input, a pool that does not divide
 * it), PN_ERR_MODEL (an unknown activation) or PN_ERR_INDEX (a pooling choice
 * outside its window), having written nothing; then it calls its unchecked twin,
 * the same name without the prefix.
 */
#include "internal.h"

#include <math.h>

/* --- shapes ----------------------------------------------------------------- */

/* Where a[c][y][x] is in maps of h rows by wd columns. */
static size_t unit_at(int c, int y, int x, int h, int wd)
{
    return ((size_t)c * h + y) * wd + x;
}

/* Where w[f][c][i][0] is in filters of ch maps of k x k. */
static size_t filter_row_at(int f, int c, int i, int ch, int k)
{
    return (((size_t)f * ch + c) * k + i) * k;
}

/* ch maps of h x wd: each at least 1, a map's units indexable by an int (h*wd <=
 * PN_MAX_SIZE, so that a pooling choice y*wd + x is one), and ch*h*wd a size_t. */
static int check_maps(int ch, int h, int wd)
{
    size_t n;
    if (ch < 1 || h < 1 || wd < 1) return PN_ERR_SIZES;
    if (ch > PN_MAX_SIZE || h > PN_MAX_SIZE || wd > PN_MAX_SIZE) return PN_ERR_SIZES;
    if ((size_t)h * wd > PN_MAX_SIZE) return PN_ERR_SIZES;
    return mul_size((size_t)ch, (size_t)h * wd, &n) ? PN_OK : PN_ERR_SIZES;
}

/* fs filters of k x k over maps (ch, h, wd): the maps fit (check_maps), 1 <= fs <=
 * PN_MAX_SIZE, 1 <= k <= h and k <= wd (convolution.conv_output_shape), and the
 * fs*ch*k*k weights and fs*oh*ow outputs are counted in a size_t. */
static int check_conv(int fs, int ch, int h, int wd, int k)
{
    size_t n;
    int rc = check_maps(ch, h, wd);
    if (rc != PN_OK) return rc;
    if (fs < 1 || fs > PN_MAX_SIZE || k < 1 || k > h || k > wd) return PN_ERR_SIZES;
    if (!mul_size((size_t)fs, (size_t)ch, &n) || !mul_size(n, (size_t)k * k, &n))
        return PN_ERR_SIZES;
    return check_maps(fs, h - k + 1, wd - k + 1);
}

/* P x P windows over maps (ch, h, wd): the maps fit, p >= 1 divides h and wd
 * (convolution.pool_output_shape). */
static int check_pool(int ch, int h, int wd, int p)
{
    int rc = check_maps(ch, h, wd);
    if (rc != PN_OK) return rc;
    return p < 1 || h % p != 0 || wd % p != 0 ? PN_ERR_SIZES : PN_OK;
}

/* PN_SIGMOID, PN_TANH or PN_RELU (as pn_backward_error takes). */
static int check_activation(int activation)
{
    return activation < PN_SIGMOID || activation > PN_RELU ? PN_ERR_MODEL : PN_OK;
}

/* --- forward ------------------------------------------------------------------ */

/* z[f][y][x] = (sum_c sum_i sum_j w[f][c][i][j] a[c][y+i][x+j]) + b[f]: each sum
 * from 0.0, c, then i, then j ascending, skipping a term whose input
 * a[c][y+i][x+j] is exactly 0; the bias added last. */
static void conv_sums(int fs, int ch, int h, int wd, int k, const double *w, const double *b,
                      const double *a, double *z)
{
    int oh = h - k + 1, ow = wd - k + 1, f, y, x, c, i, j;
    for (f = 0; f < fs; f++)
        for (y = 0; y < oh; y++)
            for (x = 0; x < ow; x++) {
                double s = 0.0;
                for (c = 0; c < ch; c++)
                    for (i = 0; i < k; i++) {
                        const double *row = a + unit_at(c, y + i, x, h, wd);   /* a[c][y+i][x+.] */
                        const double *wrow = w + filter_row_at(f, c, i, ch, k); /* w[f][c][i][.] */
                        for (j = 0; j < k; j++)
                            if (row[j] != 0.0) s += wrow[j] * row[j];
                    }
                z[unit_at(f, y, x, oh, ow)] = s + b[f];
            }
}

int pn_conv_sums(int fs, int ch, int h, int wd, int k, const double *w, const double *b,
                 const double *a, double *z)
{
    int rc;
    if (!w || !b || !a || !z) return PN_ERR_NULL;
    if ((rc = check_conv(fs, ch, h, wd, k)) != PN_OK) return rc;
    conv_sums(fs, ch, h, wd, k, w, b, a, z);
    return PN_OK;
}

/* a[f][y][x] = act(z[f][y][x]) for every unit of every map (act_fn: the neuron of
 * activation). */
static void map_activations(int ch, int h, int wd, const double *z, int activation, double *a)
{
    size_t u, n = (size_t)ch * h * wd;
    for (u = 0; u < n; u++) a[u] = act_fn(activation, z[u]);
}

int pn_map_activations(int ch, int h, int wd, const double *z, int activation, double *a)
{
    int rc;
    if (!z || !a) return PN_ERR_NULL;
    if ((rc = check_maps(ch, h, wd)) != PN_OK) return rc;
    if ((rc = check_activation(activation)) != PN_OK) return rc;
    map_activations(ch, h, wd, z, activation, a);
    return PN_OK;
}

/* m[c][Y][X] = max of a[c][pY+u][pX+v] over 0 <= u, v < p, and choices[c][Y][X] =
 * its unit's index y*wd + x in map c.  The window is read row-major (u, then v
 * ascending) from its first unit, and only a strictly larger value, or a nan when
 * the best so far is not a nan, replaces the best: the first maximum wins a tie
 * (0.0 and -0.0 are equal), and the first nan wins over everything. */
static void max_pool(int ch, int h, int wd, int p, const double *a, double *m, int *choices)
{
    int ph = h / p, pw = wd / p, c, Y, X, u, v;
    for (c = 0; c < ch; c++) {
        const double *map = a + unit_at(c, 0, 0, h, wd);
        for (Y = 0; Y < ph; Y++)
            for (X = 0; X < pw; X++) {
                int at = p * Y * wd + p * X;                  /* (pY, pX) */
                double best = map[at];
                for (u = 0; u < p; u++)
                    for (v = 0; v < p; v++) {
                        int yx = (p * Y + u) * wd + p * X + v;
                        double value = map[yx];
                        if (value > best || (isnan(value) && !isnan(best))) {
                            best = value;
                            at = yx;
                        }
                    }
                m[unit_at(c, Y, X, ph, pw)] = best;
                choices[unit_at(c, Y, X, ph, pw)] = at;
            }
    }
}

int pn_max_pool(int ch, int h, int wd, int p, const double *a, double *m, int *choices)
{
    int rc;
    if (!a || !m || !choices) return PN_ERR_NULL;
    if ((rc = check_pool(ch, h, wd, p)) != PN_OK) return rc;
    max_pool(ch, h, wd, p, a, m, choices);
    return PN_OK;
}

/* --- backward ----------------------------------------------------------------- */

/* delta[c][y][x] = delta_pooled[c][Y][X] where y*wd + x is choices[c][Y][X], else
 * 0.0: the error into a pool layer's input maps (ch, h, wd) goes to each window's
 * chosen unit only. */
static void pool_backward(int ch, int h, int wd, int p, const double *delta_pooled,
                          const int *choices, double *delta)
{
    int ph = h / p, pw = wd / p, c, Y, X;
    size_t u, n = (size_t)ch * h * wd;
    for (u = 0; u < n; u++) delta[u] = 0.0;
    for (c = 0; c < ch; c++)
        for (Y = 0; Y < ph; Y++)
            for (X = 0; X < pw; X++) {
                size_t at = unit_at(c, Y, X, ph, pw);
                delta[unit_at(c, 0, 0, h, wd) + (size_t)choices[at]] = delta_pooled[at];
            }
}

/* Every choices[c][Y][X] is a unit y*wd + x of its own window: Y = y/p, X = x/p. */
static int check_choices(int ch, int h, int wd, int p, const int *choices)
{
    int ph = h / p, pw = wd / p, c, Y, X;
    for (c = 0; c < ch; c++)
        for (Y = 0; Y < ph; Y++)
            for (X = 0; X < pw; X++) {
                int yx = choices[unit_at(c, Y, X, ph, pw)];
                if (yx < 0 || yx >= h * wd || yx / wd / p != Y || yx % wd / p != X)
                    return PN_ERR_INDEX;
            }
    return PN_OK;
}

int pn_pool_backward(int ch, int h, int wd, int p, const double *delta_pooled,
                     const int *choices, double *delta)
{
    int rc;
    if (!delta_pooled || !choices || !delta) return PN_ERR_NULL;
    if ((rc = check_pool(ch, h, wd, p)) != PN_OK) return rc;
    if ((rc = check_choices(ch, h, wd, p, choices)) != PN_OK) return rc;
    pool_backward(ch, h, wd, p, delta_pooled, choices, delta);
    return PN_OK;
}

/* s[c][y][x] = sum_f sum_i sum_j w[f][c][i][j] delta[f][y-i][x-j] over the (f, i, j)
 * with 0 <= y-i < oh and 0 <= x-j < ow: a conv layer's error (fs maps oh x ow)
 * moved back to its input maps (ch, h, wd), before the factor act'(z) (map_error).
 * Each sum from 0.0, f, then i, then j ascending, skipping a term whose delta is
 * exactly 0. */
static void conv_backward_error(int fs, int ch, int h, int wd, int k, const double *w,
                                const double *delta, double *s)
{
    int oh = h - k + 1, ow = wd - k + 1, c, y, x, f, i, j;
    for (c = 0; c < ch; c++)
        for (y = 0; y < h; y++)
            for (x = 0; x < wd; x++) {
                int i0 = y - oh + 1 > 0 ? y - oh + 1 : 0, i1 = y + 1 < k ? y + 1 : k;
                int j0 = x - ow + 1 > 0 ? x - ow + 1 : 0, j1 = x + 1 < k ? x + 1 : k;
                double t = 0.0;
                for (f = 0; f < fs; f++)
                    for (i = i0; i < i1; i++) {                     /* 0 <= y-i < oh */
                        const double *wrow = w + filter_row_at(f, c, i, ch, k);
                        for (j = j0; j < j1; j++) {                 /* 0 <= x-j < ow */
                            double d = delta[unit_at(f, y - i, x - j, oh, ow)];
                            if (d != 0.0) t += wrow[j] * d;
                        }
                    }
                s[unit_at(c, y, x, h, wd)] = t;
            }
}

int pn_conv_backward_error(int fs, int ch, int h, int wd, int k, const double *w,
                           const double *delta, double *s)
{
    int rc;
    if (!w || !delta || !s) return PN_ERR_NULL;
    if ((rc = check_conv(fs, ch, h, wd, k)) != PN_OK) return rc;
    conv_backward_error(fs, ch, h, wd, k, w, delta, s);
    return PN_OK;
}

/* delta[c][y][x] = s[c][y][x] act'(z[c][y][x]) for every unit (act_prime: the slope
 * of the neuron of activation). */
static void map_error(int ch, int h, int wd, const double *s, const double *z, int activation,
                      double *delta)
{
    size_t u, n = (size_t)ch * h * wd;
    for (u = 0; u < n; u++) delta[u] = s[u] * act_prime(activation, z[u]);
}

int pn_map_error(int ch, int h, int wd, const double *s, const double *z, int activation,
                 double *delta)
{
    int rc;
    if (!s || !z || !delta) return PN_ERR_NULL;
    if ((rc = check_maps(ch, h, wd)) != PN_OK) return rc;
    if ((rc = check_activation(activation)) != PN_OK) return rc;
    map_error(ch, h, wd, s, z, activation, delta);
    return PN_OK;
}

/* dC/dw[f][c][i][j] = sum_y sum_x delta[f][y][x] a[c][y+i][x+j], for fs filters of
 * k x k over the input maps a (ch, h, wd) whose error is delta (fs maps oh x ow):
 * each sum from 0.0, y, then x ascending, skipping a term whose delta or input a
 * is exactly 0. */
static void conv_weight_gradient(int fs, int ch, int h, int wd, int k, const double *delta,
                                 const double *a, double *nabla_w)
{
    int oh = h - k + 1, ow = wd - k + 1, f, c, i, j, y, x;
    for (f = 0; f < fs; f++)
        for (c = 0; c < ch; c++)
            for (i = 0; i < k; i++)
                for (j = 0; j < k; j++) {
                    double s = 0.0;
                    for (y = 0; y < oh; y++) {
                        const double *drow = delta + unit_at(f, y, 0, oh, ow);
                        const double *arow = a + unit_at(c, y + i, j, h, wd);  /* a[c][y+i][j+.] */
                        for (x = 0; x < ow; x++)
                            if (drow[x] != 0.0 && arow[x] != 0.0) s += drow[x] * arow[x];
                    }
                    nabla_w[filter_row_at(f, c, i, ch, k) + j] = s;
                }
}

int pn_conv_weight_gradient(int fs, int ch, int h, int wd, int k, const double *delta,
                            const double *a, double *nabla_w)
{
    int rc;
    if (!delta || !a || !nabla_w) return PN_ERR_NULL;
    if ((rc = check_conv(fs, ch, h, wd, k)) != PN_OK) return rc;
    conv_weight_gradient(fs, ch, h, wd, k, delta, a, nabla_w);
    return PN_OK;
}

/* dC/db[f] = sum_y sum_x delta[f][y][x], for an error delta of fs maps oh x ow: a
 * filter's bias feeds every unit of its map.  Each sum from 0.0, y, then x
 * ascending (every term: a zero adds exactly 0). */
static void conv_bias_gradient(int fs, int oh, int ow, const double *delta, double *nabla_b)
{
    int f, y, x;
    for (f = 0; f < fs; f++) {
        double s = 0.0;
        for (y = 0; y < oh; y++)
            for (x = 0; x < ow; x++)
                s += delta[unit_at(f, y, x, oh, ow)];
        nabla_b[f] = s;
    }
}

int pn_conv_bias_gradient(int fs, int oh, int ow, const double *delta, double *nabla_b)
{
    int rc;
    if (!delta || !nabla_b) return PN_ERR_NULL;
    if ((rc = check_maps(fs, oh, ow)) != PN_OK) return rc;
    conv_bias_gradient(fs, oh, ow, delta, nabla_b);
    return PN_OK;
}
