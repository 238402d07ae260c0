/*
 * kernels.c -- the fast path's inner loops other than the row sums (rowsum.c):
 *   - activate (the activation of a row) and times_prime (an error row times act');
 *   - decay_step and momentum_step (chapter 3's steps of a row of weights);
 *   - the SIMD level in use (pn_simd_level, pn_limit_simd);
 *   - the lists of the non-zero inputs of a sample (compact_*), and the touched
 *     rows of a pixel batch (pixel_rows).
 * With GCC on x86-64 Linux the functions marked PN_CLONES are compiled twice, for
 * AVX2 and for the baseline instruction set (PN_CLONES_WIDE: also for AVX-512),
 * and the CPU picks one at load time; compact_pixels_z and pixel_rows are AVX-512
 * copies the fast path picks per call (fast_work.wide).  All copies give the same
 * bits (no FMA: -ffp-contract=off).
 */
#include "internal.h"

#include <math.h>
#include <string.h>
#if PN_HAVE_WIDE
#include <immintrin.h>
#endif

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
    for (base = 0; base < n; base += PN_BLK) {
        int len = n - base < PN_BLK ? n - base : PN_BLK;
        uint64_t m = 0;
        blk[base / PN_BLK] = c;
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
    blk[(n + PN_BLK - 1) / PN_BLK] = c;
    return c;
}
#endif

#if PN_HAVE_WIDE
/* compact_pixels_nz with AVX-512, for a slot with room for n + PN_PIX_GROUP entries:
 * PN_PIX_GROUP pixels at a time, the indices of the non-zero ones packed (vpcompressd)
 * and stored whole (the entries after them are overwritten next), so the loop has no
 * branch that depends on the pixels; then the values, one table lookup each.  With
 * msk, also the mask of each group (bit i: pixel PN_PIX_GROUP q + i is not 0) into
 * msk[q], q < pix_groups(n). */
__attribute__((target("avx512f,popcnt")))
static int compact_pixels_z(const uint8_t *row, const double *table, int n, int *idx,
                            double *val, int *blk, uint16_t *msk)
{
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int c = 0, k, q;
    unsigned last = 0;
    for (k = 0; k + PN_PIX_GROUP <= n; k += PN_PIX_GROUP) {
        __m512i p = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(row + k)));
        __mmask16 m = _mm512_test_epi32_mask(p, p);
        if (k % PN_BLK == 0) blk[k / PN_BLK] = c;
        _mm512_storeu_si512(idx + c, _mm512_maskz_compress_epi32(
                                m, _mm512_add_epi32(lanes, _mm512_set1_epi32(k))));
        c += _mm_popcnt_u32(m);
        if (msk) msk[k / PN_PIX_GROUP] = m;
    }
    for (q = k; q < n; q++) {                             /* the last n % PN_PIX_GROUP pixels */
        if (q % PN_BLK == 0) blk[q / PN_BLK] = c;
        idx[c] = q;
        last |= (unsigned)(row[q] != 0) << (q - k);
        c += row[q] != 0;
    }
    if (msk && k < n) msk[k / PN_PIX_GROUP] = (uint16_t)last;
    blk[(n + PN_BLK - 1) / PN_BLK] = c;
    for (q = 0; q < c; q++) val[q] = table[row[idx[q]]];
    return c;
}

/* The pixel-row path's touched rows: see internal.h. */
__attribute__((target("avx512f,popcnt")))
int pixel_rows(const uint16_t *msk, int m, int n, int *uk, uint32_t *mk)
{
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int nq = (int)pix_groups(n), q, s, nu = 0;
    for (q = 0; q < nq; q++) {
        __m512i rows = _mm512_setzero_si512();
        __mmask16 any;
        for (s = 0; s < m; s++)                          /* bit s of row k: sample s touches it */
            rows = _mm512_mask_or_epi32(rows, msk[(size_t)s * nq + q], rows,
                                        _mm512_set1_epi32((int)(1u << s)));
        any = _mm512_test_epi32_mask(rows, rows);
        _mm512_storeu_si512(uk + nu, _mm512_maskz_compress_epi32(
                                any, _mm512_add_epi32(lanes, _mm512_set1_epi32(PN_PIX_GROUP * q))));
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
    (void)wide; (void)msk;
#if PN_SWAR
    return compact_pixels_nz(row, table, n, idx, val, blk);
#else
    return compact_pixels(row, table, n, idx, val, blk);
#endif
}

int table_zero_only_at_0(const double *table)
{
    int p;
    if (!(table[0] == 0.0)) return 0;
    for (p = 1; p < PN_PIXEL_VALUES; p++) if (table[p] == 0.0) return 0;
    return 1;
}
