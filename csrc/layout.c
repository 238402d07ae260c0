/*
 * layout.c -- the two layouts of a network's parameters in one flat buffer of
 * doubles (see purenet.h), how many doubles each takes, where each layer starts
 * (layer_offsets, used by textbook.c and fastpath.c), and the copies between them.
 *
 *   textbook (textbook.c, reference.py's lists):  per layer w[j][k], then b[j];
 *   fast     (fastpath.c):  per layer wT[k][j] in rows of pad_row(n_out) doubles
 *            (the padding is 0.0 and never read), then b[j] padded the same way.
 */
#include "internal.h"

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

size_t pn_fast_param_count(const int *sizes, int n_layers)
{
    size_t total = 0, t;
    int l;
    if (check_sizes(sizes, n_layers) != PN_OK) return 0;
    for (l = 0; l + 1 < n_layers; l++) {
        size_t ld = pad_row(sizes[l + 1]);
        if (!mul_size((size_t)sizes[l] + 1, ld, &t)) return 0;
        if (t > SIZE_MAX - total) return 0;
        total += t;
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
        pos += (size_t)sizes[l] * row;
        b_off[l] = pos;
        pos += row;
    }
}

int pn_to_fast(const int *sizes, int n_layers, const double *textbook, size_t n_textbook,
               double *fast, size_t n_fast)
{
    int l, j, k;
    int rc = check_params(sizes, n_layers, textbook, n_textbook);
    if (rc == PN_OK) rc = check_fast_params(sizes, n_layers, fast, n_fast);
    if (rc != PN_OK) return rc;
    for (l = 0; l + 1 < n_layers; l++) {
        int n_in = sizes[l], n_out = sizes[l + 1], ld = (int)pad_row(n_out);
        const double *w = textbook, *b = w + (size_t)n_in * n_out;
        double *wT = fast, *bf = wT + (size_t)n_in * ld;
        for (k = 0; k < n_in; k++) {
            double *row = wT + (size_t)k * ld;
            for (j = 0; j < n_out; j++) row[j] = w[(size_t)j * n_in + k];
            for (; j < ld; j++) row[j] = 0.0;                  /* padding */
        }
        for (j = 0; j < n_out; j++) bf[j] = b[j];
        for (; j < ld; j++) bf[j] = 0.0;
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
        int n_in = sizes[l], n_out = sizes[l + 1], ld = (int)pad_row(n_out);
        const double *wT = fast, *bf = wT + (size_t)n_in * ld;
        double *w = textbook, *b = w + (size_t)n_in * n_out;
        for (j = 0; j < n_out; j++) {
            double *row = w + (size_t)j * n_in;
            for (k = 0; k < n_in; k++) row[k] = wT[(size_t)k * ld + j];
        }
        for (j = 0; j < n_out; j++) b[j] = bf[j];
        fast = bf + ld;
        textbook = b + n_out;
    }
    return PN_OK;
}
