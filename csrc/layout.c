/*
 * layout.c -- the two layouts of a network's parameters in one flat buffer of
 * doubles (see purenet.h), how many doubles each takes, where each layer starts
 * (layer_offsets, used by textbook.c and the fast path), and the copies between them.
 *
 *   textbook (textbook.c, reference.py's lists):  per layer w[j][k], then b[j];
 *   fast     (the fast path):  per layer wT[k][j] in rows of pad_row(n_out) doubles
 *            (the padding is 0.0 and never read), then b[j] padded the same way;
 *            the first layer's wT in two column panels (internal.h: panel_split).
 */
#include "internal.h"

#include <string.h>

size_t pn_param_count(const int *sizes, int n_layers)
{
    size_t total = 0, t;
    int l;
    if (check_sizes(sizes, n_layers) != PN_OK) return 0;
    for (l = 0; l + 1 < n_layers; l++) {
        if (!mul_size((size_t)sizes[l], (size_t)sizes[l + 1], &t)) return 0;
        if (t > SIZE_MAX - total) return 0;
        total += t;
        if ((size_t)sizes[l + 1] > SIZE_MAX - total) return 0;
        total += (size_t)sizes[l + 1];
    }
    return total;
}

/* Where panel p of weight layer l (n_in x n_out) starts, from the start of the layer
 * (fast layout), and its row length *ld. */
static size_t panel_offset(int l, int n_in, int n_out, int p, size_t *ld)
{
    int c0, c1;
    panel_cols(l, n_out, 0, &c0, &c1);
    *ld = pad_row(p == 0 ? c1 : n_out - c1);
    return p == 0 || c1 == 0 ? 0 : (size_t)n_in * pad_row(c1) + PN_PANEL_GAP;
}

/* The doubles of weight layer l's wT in the fast layout, and where its biases start. */
static size_t fast_weights(int l, int n_in, int n_out)
{
    size_t ld, at = panel_offset(l, n_in, n_out, n_panels(l) - 1, &ld);
    return at + (size_t)n_in * ld;
}

size_t pn_fast_param_count(const int *sizes, int n_layers)
{
    size_t total = 0, t;
    int l;
    if (check_sizes(sizes, n_layers) != PN_OK) return 0;
    for (l = 0; l + 1 < n_layers; l++) {     /* <= (n_in + 1) * (pad_row(n_out) + 2 PN_PAD) + gap */
        size_t ld = pad_row(sizes[l + 1]) + 2 * PN_PAD;
        if (!mul_size((size_t)sizes[l] + 1, ld, &t) || t > SIZE_MAX - PN_PANEL_GAP) return 0;
        if (t + PN_PANEL_GAP > SIZE_MAX - total) return 0;
        total += fast_weights(l, sizes[l], sizes[l + 1]) + pad_row(sizes[l + 1]);
    }
    return total;
}

void layer_offsets(const int *sizes, int n_layers, int fast, size_t *w_off, size_t *b_off)
{
    size_t pos = 0;
    int l;
    for (l = 0; l + 1 < n_layers; l++) {
        size_t row = fast ? pad_row(sizes[l + 1]) : (size_t)sizes[l + 1];
        w_off[l] = pos;
        pos += fast ? fast_weights(l, sizes[l], sizes[l + 1]) : (size_t)sizes[l] * row;
        b_off[l] = pos;
        pos += row;
    }
}

size_t fast_column(int l, int n_in, int n_out, int j, size_t *ld)
{
    int c0, c1;
    panel_cols(l, n_out, 0, &c0, &c1);               /* c1: the first panel's width */
    return j < c1 ? panel_offset(l, n_in, n_out, 0, ld) + (size_t)j
                  : panel_offset(l, n_in, n_out, 1, ld) + (size_t)(j - c1);
}

/* Where wT[k][j] of weight layer l is, from the start of the layer (fast layout). */
static size_t fast_at(int l, int n_in, int n_out, int k, int j)
{
    size_t ld, at = fast_column(l, n_in, n_out, j, &ld);
    return at + (size_t)k * ld;
}

int pn_to_fast(const int *sizes, int n_layers, const double *textbook, size_t n_textbook,
               double *fast, size_t n_fast)
{
    int l, j, k;
    int rc = check_params(sizes, n_layers, textbook, n_textbook);
    if (rc == PN_OK) rc = check_fast_params(sizes, n_layers, fast, n_fast);
    if (rc != PN_OK) return rc;
    for (l = 0; l + 1 < n_layers; l++) {
        int n_in = sizes[l], n_out = sizes[l + 1];
        size_t nw = fast_weights(l, n_in, n_out), ld = pad_row(n_out);
        const double *w = textbook, *b = w + (size_t)n_in * n_out;
        double *bf = fast + nw;
        memset(fast, 0, sizeof(double) * (nw + ld));           /* padding and gap: 0.0 */
        for (j = 0; j < n_out; j++)
            for (k = 0; k < n_in; k++)
                fast[fast_at(l, n_in, n_out, k, j)] = w[(size_t)j * n_in + k];
        for (j = 0; j < n_out; j++) bf[j] = b[j];
        textbook = b + n_out;
        fast = bf + ld;
    }
    return PN_OK;
}

int pn_from_fast(const int *sizes, int n_layers, const double *fast, size_t n_fast,
                 double *textbook, size_t n_textbook)
{
    int l, j, k;
    int rc = check_fast_params(sizes, n_layers, fast, n_fast);
    if (rc == PN_OK) rc = check_params(sizes, n_layers, textbook, n_textbook);
    if (rc != PN_OK) return rc;
    for (l = 0; l + 1 < n_layers; l++) {
        int n_in = sizes[l], n_out = sizes[l + 1];
        const double *bf = fast + fast_weights(l, n_in, n_out);
        double *w = textbook, *b = w + (size_t)n_in * n_out;
        for (j = 0; j < n_out; j++)
            for (k = 0; k < n_in; k++)
                w[(size_t)j * n_in + k] = fast[fast_at(l, n_in, n_out, k, j)];
        for (j = 0; j < n_out; j++) b[j] = bf[j];
        fast = bf + pad_row(n_out);
        textbook = b + n_out;
    }
    return PN_OK;
}
