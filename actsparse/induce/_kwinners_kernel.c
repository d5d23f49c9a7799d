/* k-winners-take-all selection for actsparse.induce.kwinners, loaded with ctypes.
 *
 * x is a contiguous float32 array of shape (outer, n, inner): each of the outer*inner groups
 * (n values, stride `inner`) keeps its k largest boosted scores x[o, j, i] * boost[j / div].
 * The mask (uint8, same shape as x) gets exactly k ones per group: every score above the k-th
 * largest, then the first ones equal to it, in index order. NaN counts as +inf (as in
 * torch.topk). wins[j / div] (int64, optional) is increased by the number of groups that unit
 * j won. The k-th largest score is found on order-preserving uint32 keys: by radix select
 * (histograms of 11, 11 and 10 bits; no data-dependent branches in the full passes) for large
 * groups, by quickselect for small ones. When `out` is not NULL it receives x where the mask
 * is 1 and 0 elsewhere (the layer's output, written in the same pass).
 *
 * Returns 0, or 1 when memory for the per-thread buffers could not be allocated.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* An order-preserving uint32 key: NaN counts as +inf, -0 as +0 (they compare equal). */
static inline uint32_t key_of(float v) {
    if (isnan(v)) v = INFINITY;
    v += 0.0f; /* -0 -> +0 */
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* keys[j] = key of unit j's score in the group at xg (stride inner); no division per value */
static void make_keys(const float *xg, int64_t n, int64_t inner, const float *boost, int64_t div,
                      uint32_t *keys) {
    if (boost == NULL) {
        for (int64_t j = 0; j < n; j++) keys[j] = key_of(xg[j * inner]);
        return;
    }
    for (int64_t u = 0, j = 0; j < n; u++) {
        const float b = boost[u];
        const int64_t end = j + div < n ? j + div : n;
        for (; j < end; j++) keys[j] = key_of(xg[j * inner] * b);
    }
}

static uint32_t select_nth_key(uint32_t *a, int64_t n, int64_t nth) {
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        uint32_t t;
        if (a[mid] < a[lo]) { t = a[mid]; a[mid] = a[lo]; a[lo] = t; }
        if (a[hi] < a[lo]) { t = a[hi]; a[hi] = a[lo]; a[lo] = t; }
        if (a[hi] < a[mid]) { t = a[hi]; a[hi] = a[mid]; a[mid] = t; }
        const uint32_t pivot = a[mid];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) { t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        }
        if (nth <= j) hi = j;
        else if (nth >= i) lo = i;
        else return a[nth]; /* between j and i everything equals the pivot */
    }
    return a[nth];
}

/* In the histogram h of `nb` buckets, the bucket holding the k-th largest (k >= 1); *k becomes
 * that element's rank from the top within the bucket. */
static uint32_t find_bucket(const int64_t *h, int64_t nb, int64_t *k) {
    int64_t b = nb - 1;
    while (b > 0 && h[b] < *k) { *k -= h[b]; b--; }
    return (uint32_t)b;
}

#define SMALL 256 /* groups up to this size use quickselect, larger ones radix select */

/* The key of the k-th largest of keys[0..n) (1 <= k <= n); tmp holds n keys of scratch.
 * *ties becomes how many keys equal to it are among the k largest, *equal how many keys
 * equal it in all. */
static uint32_t kth_largest(const uint32_t *keys, int64_t n, int64_t k, uint32_t *tmp,
                            int64_t *ties, int64_t *equal) {
    if (n <= SMALL) {
        memcpy(tmp, keys, sizeof(uint32_t) * (size_t)n);
        const uint32_t kth = select_nth_key(tmp, n, n - k);
        int64_t above = 0, same = 0;
        for (int64_t j = 0; j < n; j++) { above += keys[j] > kth; same += keys[j] == kth; }
        *ties = k - above;
        *equal = same;
        return kth;
    }
    /* radix select on 11 + 11 + 10 bits, from the top; the histograms break up the
       store-to-load chains of repeated buckets with two interleaved copies */
    int64_t h[2][2048];
    memset(h, 0, sizeof h);
    int64_t j = 0;
    for (; j + 1 < n; j += 2) { h[0][keys[j] >> 21]++; h[1][keys[j + 1] >> 21]++; }
    if (j < n) h[0][keys[j] >> 21]++;
    for (int b = 0; b < 2048; b++) h[0][b] += h[1][b];
    const uint32_t b1 = find_bucket(h[0], 2048, &k);
    int64_t m = 0;
    for (j = 0; j < n; j++) { tmp[m] = keys[j]; m += (keys[j] >> 21) == b1; }
    memset(h[0], 0, sizeof h[0]);
    for (j = 0; j < m; j++) h[0][(tmp[j] >> 10) & 0x7ffu]++;
    const uint32_t b2 = find_bucket(h[0], 2048, &k);
    int64_t m2 = 0;
    for (j = 0; j < m; j++) { tmp[m2] = tmp[j]; m2 += ((tmp[j] >> 10) & 0x7ffu) == b2; }
    memset(h[0], 0, sizeof(int64_t) * 1024);
    for (j = 0; j < m2; j++) h[0][tmp[j] & 0x3ffu]++;
    const uint32_t b3 = find_bucket(h[0], 1024, &k);
    *ties = k; /* the rank left within the bucket of keys equal to the k-th */
    *equal = h[0][b3];
    return (b1 << 21) | (b2 << 10) | b3;
}

int actsparse_kwinners(const float *x, int64_t outer, int64_t n, int64_t inner, int64_t k,
                       const float *boost, int64_t div, uint8_t *mask, float *out,
                       int64_t *wins, int64_t n_wins, int32_t threads) {
    const int64_t groups = outer * inner;
    int failed = 0;
    if (threads < 1) threads = 1;
#pragma omp parallel num_threads(threads) reduction(| : failed)
    {
        uint32_t *buf = (uint32_t *)malloc(sizeof(uint32_t) * 2 * (size_t)n);
        uint32_t *tmp = buf ? buf + n : NULL;
        int64_t *mine = wins ? (int64_t *)calloc((size_t)n_wins, sizeof(int64_t)) : NULL;
        if (buf == NULL || (wins && mine == NULL)) failed = 1;
#pragma omp for schedule(static)
        for (int64_t g = 0; g < groups; g++) {
            if (buf == NULL || (wins && mine == NULL)) continue;
            const int64_t o = g / inner, i = g % inner;
            const float *xg = x + o * n * inner + i;
            uint8_t *mg = mask + o * n * inner + i;
            float *og = out ? out + o * n * inner + i : NULL;
            make_keys(xg, n, inner, boost, div, buf);
            int64_t ties, equal;
            const uint32_t kth = kth_largest(buf, n, k, tmp, &ties, &equal);
            /* one pass per unit block: mask, output and wins. Usually every key equal to the
               k-th wins (no ties to break) and the loop has no carried dependency. */
            if (ties == equal) {
                for (int64_t u = 0, j = 0; j < n; u++) {
                    const int64_t end = j + div < n ? j + div : n;
                    int64_t c = 0;
                    for (; j < end; j++) {
                        const uint8_t on = buf[j] >= kth;
                        mg[j * inner] = on;
                        if (og) og[j * inner] = on ? xg[j * inner] : 0.0f;
                        c += on;
                    }
                    if (mine) mine[u] += c;
                }
                continue;
            }
            /* otherwise the first `ties` of the keys equal to the k-th win */
            for (int64_t u = 0, j = 0; j < n; u++) {
                const int64_t end = j + div < n ? j + div : n;
                int64_t c = 0;
                for (; j < end; j++) {
                    const uint32_t key = buf[j];
                    const int64_t tie = (key == kth) & (ties > 0);
                    const uint8_t on = (uint8_t)((key > kth) | tie);
                    ties -= tie;
                    mg[j * inner] = on;
                    if (og) og[j * inner] = on ? xg[j * inner] : 0.0f;
                    c += on;
                }
                if (mine) mine[u] += c;
            }
        }
        if (mine) {
#pragma omp critical
            for (int64_t u = 0; u < n_wins; u++) wins[u] += mine[u];
        }
        free(buf);
        free(mine);
    }
    return failed;
}

/* The backward of the selection: out = grad where mask, else 0 (n contiguous values). */
void actsparse_kwinners_backward(const float *grad, const uint8_t *mask, float *out, int64_t n,
                                 int32_t threads) {
    if (threads < 1 || n < (1 << 16)) threads = 1;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < n; i++) out[i] = mask[i] ? grad[i] : 0.0f;
}
