/* Fused update of a layer's activation statistics: one pass over a float32 (N, U, S) tensor.
 *
 * Produces the same state as actsparse.measure.state.update_reference (integer fields exactly,
 * float sums up to rounding). Plain C99 + optional OpenMP; loaded with ctypes by
 * actsparse/measure/_fused.py, compiled by actsparse/_native.py.
 *
 * Work is split into items of (block of samples) x (tile of a sample's U*S entries). A block is
 * a multiple of the lcm of the union sizes, so every batch-union group lies inside one item.
 * Per-(sample, tile) partial sums are combined in a fixed order, so the result does not depend
 * on the number of threads. Nothing is written to the state before the last step, and the
 * function returns 1 without touching it if a sample's Hoyer value is NaN (not expected: NaN and
 * Inf are left out of the norms), so that the caller can defer to the reference.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <float.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Order of the state buffers in `out`: the order of state.REDUCTIONS. */
enum {
    O_COUNT, O_SAMPLES, O_ACTIVE, O_SUM, O_ABS_SUM, O_SQ_SUM, O_MIN, O_MAX, O_NAN, O_INF,
    O_HIST, O_SAMPLE_DENSITY_HIST, O_SAMPLE_HOYER_HIST, O_HOYER_SUM, O_TREVES_ROLLS_SUM,
    O_UNIT_ACTIVE, O_SPATIAL_ACTIVE, O_UNION_ACTIVE, O_UNION_SLOTS, O_N
};

#define SUBHISTS 8 /* interleaved histograms: runs of equal bins don't serialise on one counter */
#define MAX_UNION 64

typedef struct {
    const float *x;
    int64_t n, units, positions, per_sample;
    int64_t n_edges;                 /* histogram has n_edges + 1 bins */
    const float *edges;
    const int32_t *bin_lo;           /* per key (|x| bits >> shift): #edges <= smallest float of key */
    const float *bin_thr;            /* edges[bin_lo] if the key holds at most one edge, else NaN */
    int shift, simple;
    float threshold;                 /* active: !(|x| <= threshold) */
    int64_t n_union;
    const int64_t *union_sizes;
    int64_t order[MAX_UNION];        /* union indices by ascending size */
    int64_t parent[MAX_UNION];       /* union fed from this smaller one (-1: from each sample) */
    int64_t union_end[MAX_UNION];    /* samples in complete groups: (n / B) * B */
    int64_t block, tiles, tile_len;
} ctx_t;

typedef struct {
    int64_t *hist;        /* SUBHISTS x (n_edges + 1) */
    int64_t *unit;        /* units */
    int64_t *spatial;     /* positions (or NULL) */
    int64_t *union_count; /* n_union */
    uint8_t *act;         /* tile_len */
    uint8_t *masks;       /* n_union x tile_len */
    int64_t nan, inf;
    float lo, hi;
} tls_t;

static inline uint32_t float_bits(float v) {
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static inline float bits_float(uint32_t b) {
    float v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* Vectors of W floats (GCC/Clang vector extensions): 8 with AVX, else 4 (SSE2, NEON). */
#ifdef __AVX__
#define W 8
#else
#define W 4
#endif
typedef uint32_t vu32 __attribute__((vector_size(4 * W)));
typedef int32_t vi32 __attribute__((vector_size(4 * W)));
typedef float vf32 __attribute__((vector_size(4 * W)));
typedef double vf64 __attribute__((vector_size(8 * W)));
typedef uint64_t vu64 __attribute__((vector_size(8 * W)));
typedef uint8_t vu8 __attribute__((vector_size(W)));

/* True when every lane is zero: ReLU maps are mostly runs of zeros, which skip the work. */
static inline __attribute__((always_inline)) int all_zero(vu32 v) {
#ifdef __AVX__
    return _mm256_testz_si256((__m256i)v, (__m256i)v);
#endif
    uint64_t w[W / 2], o = 0;
    memcpy(w, &v, sizeof w);
    for (int k = 0; k < W / 2; k++) o |= w[k];
    return o == 0;
}

/* Lane-wise min and max; inputs are finite here (NaN and Inf were masked to 0). */
static inline __attribute__((always_inline)) vf32 min_f32(vf32 a, vf32 b) {
#ifdef __AVX__
    return (vf32)_mm256_min_ps((__m256)a, (__m256)b);
#else
    vi32 m = a < b;
    return (vf32)(((vi32)a & m) | ((vi32)b & ~m));
#endif
}

static inline __attribute__((always_inline)) vf32 max_f32(vf32 a, vf32 b) {
#ifdef __AVX__
    return (vf32)_mm256_max_ps((__m256)a, (__m256)b);
#else
    vi32 m = a > b;
    return (vf32)(((vi32)a & m) | ((vi32)b & ~m));
#endif
}

/* Loop A: the active mask and the per-(sample, tile) sums. The tests are on the bits of |x|:
 * for non-negative floats the order of the bits is the order of the values, and NaN lies above
 * Inf (0x7F800000). Active: !(|x| <= threshold); with threshold 0, x != 0; NaN is active. */
static void row_sums(const ctx_t *c, const float *xr, int64_t len, uint8_t *act, tls_t *t,
                     int64_t *cnt_out, double *l1_out, double *l2_out, double *sum_out) {
    const uint32_t thr = float_bits(c->threshold), inf_bits = 0x7F800000u;
    vf64 l1 = {0}, l2 = {0}, sm = {0};
    vi32 cnt = {0};
    vu32 nonfinite = {0};
    vf32 lo = {0}, hi = {0};
    lo += INFINITY;
    hi -= INFINITY;
    int64_t i = 0;
#ifdef __AVX2__
    /* The loop below in AVX2 intrinsics: the same lanes and operations, so the same sums, without
     * the spills compilers emit for 8-wide double vectors. */
    {
        const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF), ones = _mm256_set1_epi32(-1);
        const __m256i vthr = _mm256_set1_epi32((int32_t)thr), vinf = _mm256_set1_epi32(0x7F800000);
        const __m256d dmag = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFll));
        __m256d l1a = _mm256_setzero_pd(), l1b = l1a, l2a = l1a, l2b = l1a, sa = l1a, sb = l1a;
        __m256i vcnt = _mm256_setzero_si256(), vnf = vcnt;
        __m256 vlo = _mm256_set1_ps(INFINITY), vhi = _mm256_set1_ps(-INFINITY);
        for (; i + 8 <= len; i += 8) {
            __m256i bits = _mm256_loadu_si256((const __m256i *)(xr + i));
            __m256i ab = _mm256_and_si256(bits, magnitude);
            __m256i on = _mm256_cmpgt_epi32(ab, vthr); /* both non-negative: signed is fine */
            __m256i fin = _mm256_cmpgt_epi32(vinf, ab);
            __m256 f = _mm256_castsi256_ps(_mm256_and_si256(bits, fin));
            __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(on), _mm256_extracti128_si256(on, 1));
            _mm_storel_epi64((__m128i *)(act + i),
                             _mm_and_si128(_mm_packs_epi16(w16, w16), _mm_set1_epi8(1)));
            vcnt = _mm256_sub_epi32(vcnt, on);
            vnf = _mm256_or_si256(vnf, _mm256_xor_si256(fin, ones));
            __m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(f));
            __m256d d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1));
            sa = _mm256_add_pd(sa, d0);
            sb = _mm256_add_pd(sb, d1);
            l1a = _mm256_add_pd(l1a, _mm256_and_pd(d0, dmag));
            l1b = _mm256_add_pd(l1b, _mm256_and_pd(d1, dmag));
            l2a = _mm256_add_pd(l2a, _mm256_mul_pd(d0, d0));
            l2b = _mm256_add_pd(l2b, _mm256_mul_pd(d1, d1));
            vlo = _mm256_min_ps(f, vlo);
            vhi = _mm256_max_ps(f, vhi);
        }
        double tmp[8];
        _mm256_storeu_pd(tmp, l1a), _mm256_storeu_pd(tmp + 4, l1b), memcpy(&l1, tmp, sizeof l1);
        _mm256_storeu_pd(tmp, l2a), _mm256_storeu_pd(tmp + 4, l2b), memcpy(&l2, tmp, sizeof l2);
        _mm256_storeu_pd(tmp, sa), _mm256_storeu_pd(tmp + 4, sb), memcpy(&sm, tmp, sizeof sm);
        memcpy(&cnt, &vcnt, sizeof cnt);
        memcpy(&nonfinite, &vnf, sizeof nonfinite);
        memcpy(&lo, &vlo, sizeof lo);
        memcpy(&hi, &vhi, sizeof hi);
    }
#endif
    for (; i + W <= len; i += W) {
        vu32 bits;
        memcpy(&bits, xr + i, sizeof bits);
        vu32 ab = bits & 0x7FFFFFFFu;
        vi32 on = ab > thr;
        vu32 fin = (vu32)(ab < inf_bits);
        vf32 f = (vf32)(bits & fin); /* NaN, Inf: 0 in the norms, the sum, min and max */
        vu8 on8 = __builtin_convertvector(on & 1, vu8);
        memcpy(act + i, &on8, sizeof on8);
        cnt -= on;
        nonfinite |= ~fin; /* counted exactly below, only for rows that have any */
        /* one widening to double serves all three sums (squares are exact in double) */
        vf64 fd = __builtin_convertvector(f, vf64);
        sm += fd;
        l1 += (vf64)((vu64)fd & 0x7FFFFFFFFFFFFFFFull);
        l2 += fd * fd;
        lo = min_f32(f, lo);
        hi = max_f32(f, hi);
    }
    double s1 = 0, s2 = 0, s3 = 0;
    int64_t sc = 0;
    float mn = INFINITY, mx = -INFINITY;
    for (int k = 0; k < W; k++) {
        s1 += l1[k];
        s2 += l2[k];
        s3 += sm[k];
        sc += cnt[k];
        mn = lo[k] < mn ? lo[k] : mn;
        mx = hi[k] > mx ? hi[k] : mx;
    }
    if (!all_zero(nonfinite)) {
        for (int64_t j = 0; j < i; j++) {
            uint32_t ab = float_bits(xr[j]) & 0x7FFFFFFFu;
            t->nan += ab > inf_bits;
            t->inf += ab == inf_bits;
        }
    }
    for (; i < len; i++) {
        uint32_t bits = float_bits(xr[i]);
        uint32_t ab = bits & 0x7FFFFFFFu;
        float am = bits_float(ab < inf_bits ? ab : 0u);
        float f = bits_float(ab < inf_bits ? bits : 0u);
        act[i] = ab > thr;
        sc += ab > thr;
        t->nan += ab > inf_bits;
        t->inf += ab == inf_bits;
        s1 += (double)am;
        s2 += (double)am * (double)am;
        s3 += (double)f;
        mn = f < mn ? f : mn;
        mx = f > mx ? f : mx;
    }
    t->lo = mn < t->lo ? mn : t->lo;
    t->hi = mx > t->hi ? mx : t->hi;
    *cnt_out = sc;
    *l1_out = s1;
    *l2_out = s2;
    *sum_out = s3;
}

/* Loop B: the |x| histogram, bin = #edges <= |x| (torch.bucketize(right=True)). NaN keys all map
 * to bin n_edges with a NaN threshold; the caller subtracts the NaN count from that bin. */
static void row_hist(const ctx_t *c, const float *xr, int64_t len, int64_t *hist) {
    const int32_t *lo = c->bin_lo;
    const float *thr = c->bin_thr;
    const int shift = c->shift;
    const int64_t nb = c->n_edges + 1;
    if (c->simple) {
        const int64_t zero_bin = lo[0] + (0.0f >= thr[0]);
        int64_t i = 0, zeros = 0;
#ifdef __AVX512F__
        /* Zeros are counted in bulk; the nonzero entries are packed into a small buffer and
         * only they are looked up, so a 90%-zero ReLU map costs a tenth of a dense one. */
        uint32_t packed[256 + 16];
        int n_packed = 0;
        const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF);
        for (; i + 16 <= len; i += 16) {
            __m512i v = _mm512_and_si512(_mm512_loadu_si512(xr + i), magnitude);
            __mmask16 m = _mm512_test_epi32_mask(v, v);
            int nz = __builtin_popcount((unsigned)m);
            zeros += 16 - nz;
            _mm512_storeu_si512(packed + n_packed, _mm512_maskz_compress_epi32(m, v));
            n_packed += nz;
            if (n_packed >= 256) {
                for (int j = 0; j < n_packed; j++) {
                    uint32_t b = packed[j], key = b >> shift;
                    hist[(j % SUBHISTS) * nb + lo[key] + (bits_float(b) >= thr[key])]++;
                }
                n_packed = 0;
            }
        }
        for (int j = 0; j < n_packed; j++) {
            uint32_t b = packed[j], key = b >> shift;
            hist[(j % SUBHISTS) * nb + lo[key] + (bits_float(b) >= thr[key])]++;
        }
#else
        /* Only the nonzero lanes are looked up (a bit mask of them, walked lowest bit first);
         * successive lookups go to successive sub-histograms, so no chain on one counter. */
        unsigned j = 0;
        for (; i + W <= len; i += W) {
            vu32 bits;
            memcpy(&bits, xr + i, sizeof bits);
            bits &= 0x7FFFFFFFu;
            if (all_zero(bits)) {
                zeros += W;
                continue;
            }
            unsigned m = 0;
#ifdef __AVX2__
            m = (unsigned)_mm256_movemask_ps((__m256)_mm256_cmpgt_epi32((__m256i)bits,
                                                                        _mm256_setzero_si256()));
#else
            for (int k = 0; k < W; k++) m |= (unsigned)(bits[k] != 0) << k;
#endif
            zeros += W - __builtin_popcount(m);
            for (; m; m &= m - 1, j++) {
                uint32_t b = bits[__builtin_ctz(m)], key = b >> shift;
                hist[(j % SUBHISTS) * nb + lo[key] + (bits_float(b) >= thr[key])]++;
            }
        }
#endif
        hist[zero_bin] += zeros;
        for (; i < len; i++) {
            uint32_t b = float_bits(xr[i]) & 0x7FFFFFFFu;
            uint32_t key = b >> shift;
            hist[lo[key] + (bits_float(b) >= thr[key])]++;
        }
    } else {
        const float *edges = c->edges;
        const int64_t ne = c->n_edges;
        for (int64_t i = 0; i < len; i++) {
            uint32_t b = float_bits(xr[i]) & 0x7FFFFFFFu;
            float a = bits_float(b);
            int64_t bin = lo[b >> shift];
            while (bin < ne && edges[bin] <= a) bin++;
            hist[bin]++;
        }
    }
}

/* Loop C: per-unit and per-position counts, and the batch unions, from the active mask. */
static void row_counts(const ctx_t *c, int64_t s, int64_t e0, int64_t len, tls_t *t) {
    const uint8_t *act = t->act;
    const int64_t S = c->positions;
    if (S == 1) {
        int64_t *unit = t->unit + e0;
        for (int64_t i = 0; i < len; i++) unit[i] += act[i];
    } else {
        int64_t e = e0, i = 0;
        while (i < len) {
            int64_t u = e / S, p0 = e % S;
            int64_t m = S - p0 < len - i ? S - p0 : len - i;
            int64_t sum = 0;
            for (int64_t j = 0; j < m; j++) sum += act[i + j];
            t->unit[u] += sum;
            if (t->spatial) {
                int64_t *sp = t->spatial + p0;
                for (int64_t j = 0; j < m; j++) sp[j] += act[i + j];
            }
            i += m;
            e += m;
        }
    }
    for (int64_t oi = 0; oi < c->n_union; oi++) {
        int64_t u = c->order[oi];
        int64_t B = c->union_sizes[u];
        if (B <= 1 || s >= c->union_end[u]) continue;
        uint8_t *mask = t->masks + u * c->tile_len;
        if (c->parent[u] < 0)
            for (int64_t i = 0; i < len; i++) mask[i] |= act[i];
        if ((s + 1) % B != 0) continue;
        int64_t pop = 0;
        for (int64_t i = 0; i < len; i++) pop += mask[i];
        t->union_count[u] += pop;
        for (int64_t k = 0; k < c->n_union; k++) { /* feed the larger unions built from this one */
            if (c->parent[k] != u || s >= c->union_end[k]) continue;
            uint8_t *big = t->masks + k * c->tile_len;
            for (int64_t i = 0; i < len; i++) big[i] |= mask[i];
        }
        memset(mask, 0, (size_t)len);
    }
}

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        int64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* Split the work into about 32 items: blocks of samples (multiples of the lcm of the union
 * sizes) x tiles of at least 4096 entries. */
static void plan(ctx_t *c) {
    int64_t n = c->n, ps = c->per_sample;
    int64_t k = 1; /* lcm of the union sizes that have a group, capped at n */
    for (int64_t i = 0; i < c->n_union; i++) {
        int64_t B = c->union_sizes[i];
        if (B <= 1 || B > n) continue;
        int64_t l = k / gcd64(k, B) * B;
        if (l > n) {
            k = n;
            break;
        }
        k = l;
    }
    const int64_t want = 32; /* items; fixed, so that the rounding does not depend on threads */
    int64_t per_item = n * ps / want;
    if (per_item < 16384) per_item = 16384;
    int64_t block = per_item / ps / k * k;
    if (block < k) block = k;
    int64_t blocks = (n + block - 1) / block;
    int64_t tiles = 1;
    if (blocks < want) {
        int64_t max_tiles = (ps + 4095) / 4096;
        tiles = (want + blocks - 1) / blocks;
        if (tiles > max_tiles) tiles = max_tiles;
        if (tiles < 1) tiles = 1;
    }
    int64_t tile_len = (ps + tiles - 1) / tiles;
    tile_len = (tile_len + 63) / 64 * 64;
    c->block = block;
    c->tile_len = tile_len;
    c->tiles = (ps + tile_len - 1) / tile_len;
}

/* Returns 0 on success, 1 if the caller must use the reference path, -1 if out of memory. */
int actsparse_update_stats(
    const float *x, int64_t n, int64_t units, int64_t positions,
    const float *edges, int64_t n_edges, const int32_t *bin_lo, const float *bin_thr,
    int32_t shift, int32_t simple, int32_t use_threshold, float threshold,
    const int64_t *union_sizes, int64_t n_union, int64_t sample_bins, int32_t threads,
    void **out) {
    if (n <= 0 || units <= 0 || positions <= 0 || n_union > MAX_UNION || sample_bins < 1) return 1;
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.x = x;
    c.n = n;
    c.units = units;
    c.positions = positions;
    c.per_sample = units * positions;
    c.edges = edges;
    c.n_edges = n_edges;
    c.bin_lo = bin_lo;
    c.bin_thr = bin_thr;
    c.shift = shift;
    c.simple = simple;
    c.threshold = use_threshold ? threshold : 0.0f;
    c.n_union = n_union;
    c.union_sizes = union_sizes;
    for (int64_t i = 0; i < n_union; i++) {
        int64_t B = union_sizes[i];
        c.order[i] = i;
        c.union_end[i] = B >= 1 ? n / B * B : 0;
        c.parent[i] = -1;
        for (int64_t j = 0; j < n_union; j++) { /* the largest proper divisor among the sizes */
            int64_t b = union_sizes[j];
            if (b > 1 && b < B && B % b == 0 && (c.parent[i] < 0 || b > union_sizes[c.parent[i]]))
                c.parent[i] = j;
        }
    }
    for (int64_t i = 1; i < n_union; i++) /* insertion sort by size */
        for (int64_t j = i; j > 0 && union_sizes[c.order[j]] < union_sizes[c.order[j - 1]]; j--) {
            int64_t tmp = c.order[j];
            c.order[j] = c.order[j - 1];
            c.order[j - 1] = tmp;
        }
    if (threads < 1) threads = 1;
#ifndef _OPENMP
    threads = 1;
#endif
    plan(&c);
    const int64_t ps = c.per_sample, tiles = c.tiles, nb = n_edges + 1;
    const int64_t blocks = (n + c.block - 1) / c.block, items = blocks * tiles;
    if (items < threads) threads = (int)items;
    if (n * ps / (1 << 18) < threads) threads = (int)(n * ps / (1 << 18)) + 1; /* small: fewer */
    const int want_spatial = out[O_SPATIAL_ACTIVE] != NULL && positions > 1;

    int64_t *p_cnt = malloc(sizeof(int64_t) * n * tiles);
    double *p_l1 = malloc(sizeof(double) * n * tiles);
    double *p_l2 = malloc(sizeof(double) * n * tiles);
    double *p_sum = malloc(sizeof(double) * n * tiles);
    tls_t *tls = calloc((size_t)threads, sizeof(tls_t));
    int failed = !p_cnt || !p_l1 || !p_l2 || !p_sum || !tls;
    for (int i = 0; !failed && i < threads; i++) {
        tls[i].hist = calloc((size_t)(SUBHISTS * nb), sizeof(int64_t));
        tls[i].unit = calloc((size_t)units, sizeof(int64_t));
        tls[i].spatial = want_spatial ? calloc((size_t)positions, sizeof(int64_t)) : NULL;
        tls[i].union_count = calloc((size_t)(n_union + 1), sizeof(int64_t));
        tls[i].act = malloc((size_t)c.tile_len);
        tls[i].masks = calloc((size_t)((n_union + 1) * c.tile_len), 1);
        tls[i].lo = INFINITY;
        tls[i].hi = -INFINITY;
        failed = !tls[i].hist || !tls[i].unit || (want_spatial && !tls[i].spatial) ||
                 !tls[i].union_count || !tls[i].act || !tls[i].masks;
    }
    int status = failed ? -1 : 0;

    if (!failed) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (int64_t item = 0; item < items; item++) {
#ifdef _OPENMP
            tls_t *t = &tls[omp_get_thread_num()];
#else
            tls_t *t = &tls[0];
#endif
            int64_t b = item / tiles, tile = item % tiles;
            int64_t s0 = b * c.block, s1 = s0 + c.block < n ? s0 + c.block : n;
            int64_t e0 = tile * c.tile_len;
            int64_t len = e0 + c.tile_len < ps ? c.tile_len : ps - e0;
            for (int64_t s = s0; s < s1; s++) {
                const float *xr = x + s * ps + e0;
                int64_t nan_before = t->nan;
                int64_t k = s * tiles + tile;
                row_sums(&c, xr, len, t->act, t, &p_cnt[k], &p_l1[k], &p_l2[k], &p_sum[k]);
                row_hist(&c, xr, len, t->hist);
                t->hist[n_edges] -= t->nan - nan_before; /* NaN went to the overflow bin */
                row_counts(&c, s, e0, len, t);
            }
        }

        /* Per sample, in order: density, Hoyer and Treves-Rolls. */
        int64_t *dens_hist = calloc((size_t)sample_bins, sizeof(int64_t));
        int64_t *hoyer_hist = calloc((size_t)sample_bins, sizeof(int64_t));
        double abs_sum = 0, sq_sum = 0, sum = 0, hoyer_sum = 0, tr_sum = 0;
        int64_t active = 0;
        const double root = sqrt((double)ps), psd = (double)ps;
        if (!dens_hist || !hoyer_hist) status = -1;
        for (int64_t s = 0; status == 0 && s < n; s++) {
            int64_t cnt = 0;
            double l1 = 0, l2sq = 0, sm = 0;
            for (int64_t tile = 0; tile < tiles; tile++) {
                cnt += p_cnt[s * tiles + tile];
                l1 += p_l1[s * tiles + tile];
                l2sq += p_l2[s * tiles + tile];
                sm += p_sum[s * tiles + tile];
            }
            active += cnt;
            abs_sum += l1;
            sq_sum += l2sq;
            sum += sm;
            double d = (double)cnt / psd;
            int64_t di = (int64_t)(d * (double)sample_bins);
            dens_hist[di < sample_bins - 1 ? di : sample_bins - 1]++;
            double h = 1.0;
            if (ps >= 2) {
                double l2 = sqrt(l2sq);
                double ratio = l2 > 0 ? l1 / (l2 > DBL_MIN ? l2 : DBL_MIN) : 1.0;
                h = (root - ratio) / (root - 1.0);
                if (isnan(h)) {
                    status = 1; /* let the reference decide what a NaN means */
                    break;
                }
                h = h < 0.0 ? 0.0 : h > 1.0 ? 1.0 : h;
            }
            int64_t hi = (int64_t)(h * (double)sample_bins);
            hoyer_hist[hi < sample_bins - 1 ? hi : sample_bins - 1]++;
            hoyer_sum += h;
            /* (l1/n)^2 / (l2sq/n) as (l1/sqrt(l2sq))^2 / n: scale invariant for tiny values */
            if (l2sq > 0) {
                double r = l1 / sqrt(l2sq);
                tr_sum += r * r / psd;
            }
        }

        if (status == 0) { /* commit */
            int64_t nan = 0, inf = 0;
            float lo = INFINITY, hi = -INFINITY;
            int64_t *hist = out[O_HIST], *unit = out[O_UNIT_ACTIVE], *sp = out[O_SPATIAL_ACTIVE];
            int64_t *ua = out[O_UNION_ACTIVE], *us = out[O_UNION_SLOTS];
            for (int i = 0; i < threads; i++) {
                tls_t *t = &tls[i];
                nan += t->nan;
                inf += t->inf;
                lo = t->lo < lo ? t->lo : lo;
                hi = t->hi > hi ? t->hi : hi;
                for (int k = 0; k < SUBHISTS; k++)
                    for (int64_t j = 0; j < nb; j++) hist[j] += t->hist[k * nb + j];
                for (int64_t j = 0; j < units; j++) unit[j] += t->unit[j];
                if (want_spatial)
                    for (int64_t j = 0; j < positions; j++) sp[j] += t->spatial[j];
                for (int64_t j = 0; j < n_union; j++) ua[j] += t->union_count[j];
            }
            for (int64_t j = 0; j < n_union; j++) {
                int64_t B = union_sizes[j];
                if (B < 1 || n / B == 0) continue;
                if (B == 1) ua[j] += active;
                us[j] += n / B * ps;
            }
            for (int64_t j = 0; j < sample_bins; j++) {
                ((int64_t *)out[O_SAMPLE_DENSITY_HIST])[j] += dens_hist[j];
                ((int64_t *)out[O_SAMPLE_HOYER_HIST])[j] += hoyer_hist[j];
            }
            *(int64_t *)out[O_COUNT] += n * ps;
            *(int64_t *)out[O_SAMPLES] += n;
            *(int64_t *)out[O_ACTIVE] += active;
            *(int64_t *)out[O_NAN] += nan;
            *(int64_t *)out[O_INF] += inf;
            *(double *)out[O_SUM] += sum;
            *(double *)out[O_ABS_SUM] += abs_sum;
            *(double *)out[O_SQ_SUM] += sq_sum;
            *(double *)out[O_HOYER_SUM] += hoyer_sum;
            *(double *)out[O_TREVES_ROLLS_SUM] += tr_sum;
            double *mn = out[O_MIN], *mx = out[O_MAX];
            if ((double)lo < *mn) *mn = (double)lo;
            if ((double)hi > *mx) *mx = (double)hi;
        }
        free(dens_hist);
        free(hoyer_hist);
    }
    for (int i = 0; tls && i < threads; i++) {
        free(tls[i].hist);
        free(tls[i].unit);
        free(tls[i].spatial);
        free(tls[i].union_count);
        free(tls[i].act);
        free(tls[i].masks);
    }
    free(tls);
    free(p_cnt);
    free(p_l1);
    free(p_l2);
    free(p_sum);
    return status;
}
