/*
 * common.c -- the plumbing both layers share: the message of each error code
 * (pn_strerror), the checks of layer sizes and parameter buffers that every
 * entry point makes before it touches anything, and the check that parameters
 * are finite (pn_all_finite), and fit's shuffle (pn_shuffle).  The parameter
 * counts they compare with are in layout.c.
 */
#include "internal.h"

const char *pn_strerror(int code)
{
    switch (code) {
    case PN_OK: return "ok";
    case PN_ERR_NULL: return "a required buffer is NULL";
    case PN_ERR_SIZES: return "invalid layer sizes (need at least 2 layers, each of 1 to 16777216 neurons, at most 1024 layers), or map shapes that do not fit (a filter larger than its input, a pool that does not divide it)";
    case PN_ERR_PARAMS: return "parameter buffer length does not match the layer sizes";
    case PN_ERR_DATA: return "dataset is inconsistent with itself or with the network (lengths, input/target widths, missing inputs or targets)";
    case PN_ERR_INDEX: return "a sample index is out of range (or a pooling choice is not in its window)";
    case PN_ERR_BATCH: return "invalid batch sizes (each must be >= 1 and together they must cover the index list exactly)";
    case PN_ERR_LABEL: return "a label is not smaller than the number of output neurons";
    case PN_ERR_RANGE: return "invalid sample range or output buffer length";
    case PN_ERR_THREADS: return "invalid thread count (1 or 2)";
    case PN_ERR_NOMEM: return "out of memory for the C engine's scratch buffers";
    case PN_ERR_MODEL: return "unknown cost or activation (or no model given)";
    case PN_ERR_STEP: return "invalid step: need a finite lr > 0, n >= 1, l2 >= 0 and l1 >= 0, 0 <= momentum < 1, and velocities when momentum > 0";
    case PN_ERR_NONFINITE: return "a value is NaN or infinite";
    case PN_ERR_DROPOUT: return "invalid dropout: need a finite scale > 0 and one keep byte per sample and fully connected hidden unit";
    default: return "unknown purenet error code";
    }
}

int check_sizes(const int *sizes, int n_layers)
{
    int l;
    if (sizes == NULL) return PN_ERR_NULL;
    if (n_layers < 2 || n_layers > PN_MAX_LAYERS) return PN_ERR_SIZES;
    for (l = 0; l < n_layers; l++)
        if (sizes[l] < 1 || sizes[l] > PN_MAX_SIZE) return PN_ERR_SIZES;
    return PN_OK;
}

int check_params(const int *sizes, int n_layers, const double *params, size_t n_params)
{
    int rc = check_sizes(sizes, n_layers);
    if (rc != PN_OK) return rc;
    if (params == NULL) return PN_ERR_NULL;
    if (n_params != pn_param_count(sizes, n_layers)) return PN_ERR_PARAMS;
    return PN_OK;
}

int check_fast_params(const int *sizes, int n_layers, const double *params, size_t n_params)
{
    int rc = check_sizes(sizes, n_layers);
    if (rc != PN_OK) return rc;
    if (params == NULL) return PN_ERR_NULL;
    if (n_params != pn_fast_param_count(sizes, n_layers)) return PN_ERR_PARAMS;
    return PN_OK;
}

int check_model(const pn_model *model)
{
    if (model == NULL) return PN_ERR_MODEL;
    if (model->cost < PN_QUADRATIC || model->cost > PN_LOG_LIKELIHOOD) return PN_ERR_MODEL;
    if (model->activation < PN_SIGMOID || model->activation > PN_RELU) return PN_ERR_MODEL;
    return PN_OK;
}

/* isfinite without <math.h>'s macros: x - x is 0 for finite x, NaN otherwise. */
static int finite(double x) { return x - x == 0.0; }

int check_step(double lr, double n, double l2, double l1, double mu, const double *velocities)
{
    if (!(finite(lr) && lr > 0.0 && finite(n) && n >= 1.0 && finite(l2) && l2 >= 0.0 &&
          finite(l1) && l1 >= 0.0 && mu >= 0.0 && mu < 1.0))
        return PN_ERR_STEP;
    if (mu > 0.0 && velocities == NULL) return PN_ERR_STEP;
    return PN_OK;
}

int pn_all_finite(const double *values, size_t n)
{
    size_t i;
    if (values == NULL && n > 0) return PN_ERR_NULL;
    for (i = 0; i < n; i++)
        if (!finite(values[i])) return PN_ERR_NONFINITE;
    return PN_OK;
}

/* The number of bits of x (Python's int.bit_length). */
static int bit_length(size_t x)
{
    int k = 0;
    while (x) { k++; x >>= 1; }
    return k;
}

int pn_shuffle(int64_t *order, size_t n, int iota, const unsigned char *words, size_t n_words,
               size_t *top)
{
    size_t i, t;
    int k;
    if (top == NULL || (order == NULL && n > 0) || (words == NULL && n_words > 0))
        return PN_ERR_NULL;
    if (n > 0xFFFFFFFFu || (n > 0 ? *top >= n : *top != 0)) return PN_ERR_RANGE;
    if (iota) for (i = 0; i < n; i++) order[i] = (int64_t)i;
    i = *top;
    k = bit_length(i + 1);                        /* of i + 1, kept as i falls */
    for (t = 0; t < n_words && i > 0; t++) {
        const unsigned char *b = words + 4 * t;
        uint32_t w = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24;
        size_t j = w >> (32 - k);
        if (j <= i) {
            int64_t x = order[i];
            order[i] = order[j];
            order[j] = x;
            i--;
            if (i + 1 < (size_t)1 << (k - 1)) k--;
        }
    }
    *top = i;
    return PN_OK;
}

int check_batches(const pn_data *d, const int64_t *indices, size_t n_indices,
                  const int64_t *batch_sizes, size_t n_batches, size_t n_out, int *m_max)
{
    size_t b, pos = 0, i;
    int64_t mx = 0;
    if (n_batches > 0 && !batch_sizes) return PN_ERR_NULL;
    if (n_indices > 0 && !indices) return PN_ERR_NULL;
    for (b = 0; b < n_batches; b++) {
        int64_t m = batch_sizes[b];
        if (m < 1 || (uint64_t)m > (uint64_t)(n_indices - pos) || m > (int64_t)PN_MAX_SIZE)
            return PN_ERR_BATCH;
        pos += (size_t)m;
        if (m > mx) mx = m;
    }
    if (pos != n_indices) return PN_ERR_BATCH;
    for (i = 0; i < n_indices; i++) {
        int64_t k = indices[i];
        if (k < 0 || (uint64_t)k >= (uint64_t)d->n) return PN_ERR_INDEX;
        if (d->labels && d->labels[k] >= n_out) return PN_ERR_LABEL;
    }
    *m_max = (int)mx;
    return PN_OK;
}
