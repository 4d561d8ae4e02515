/* Attention with dropout on its weights, a block of rows of weights at a time (valstudy.kernels.attention_native).
 *
 * For each matrix m (one image's head) of q, k, v in the channel layout (d, n):
 *   forward   P = softmax(alpha q^T k) row by row, D = P * mask, out = v D^T / keep; keeps each row's log-sum-exp.
 *   backward  recomputes P and D from q, k and the log-sum-exp, and with G = g^T v / keep (g = dL/dout):
 *             dv = g D / keep, dscores = D * G - P * rowsum(D * G), dq = alpha k dscores^T, dk = alpha q dscores.
 * The mask keeps entry (i, j) of matrix m when the top 16 bits of mask_hash(seed, m * n + i, j), read as an int16,
 * are >= threshold: a counter-based draw, the same in forward and backward, on any thread, and in the torch kernel
 * (dropout_mask.mask_bits computes the same hash). A block of rows stays in the L1 cache: the (n, n) weights
 * never go to memory, which is what the torch-operations kernel spends its time on. Rows go R = 8 at a time, so
 * that each load of k, v and each store into dk, dv serves eight rows.
 * Loops are written so that the compiler vectorises them (-O3 -fopenmp-simd; no -ffast-math, which would set
 * flush-to-zero for the whole process): exp is Cephes' expf polynomial, reductions are `omp simd` reductions.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN 0x9E3779B9u

static inline uint32_t fmix32(uint32_t h) {  /* MurmurHash3's finaliser */
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

/* The key of one row of weights (row = m * n + i) under the 64-bit seed (k0 = low, k1 = high 32 bits). */
static inline uint32_t row_key(uint64_t row, uint32_t k0, uint32_t k1) {
    return fmix32(fmix32((uint32_t)row ^ k0) ^ (uint32_t)(row >> 32) ^ k1);
}

#define R 8  /* rows of weights per block */

typedef float v8 __attribute__((vector_size(32), aligned(4)));  /* 8 floats, unaligned loads and stores */
typedef int32_t v8i __attribute__((vector_size(32), aligned(4)));
typedef uint32_t v8u __attribute__((vector_size(32), aligned(4)));

/* exp(x) for x <= 0 (softmax scores minus their row's maximum or log-sum-exp): Cephes' expf, relative error about
 * 1e-7. The scalar and the vector form compute the same polynomial. */
static inline float exp_neg(float x) {
    x = x < -87.0f ? -87.0f : x;
    const float t = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  /* round to nearest: 1.5 * 2^23 */
    const float r = (x - t * 0.693359375f) + t * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const int32_t bits = ((int32_t)t + 127) << 23;  /* 2^t */
    float two_t;
    memcpy(&two_t, &bits, sizeof two_t);
    return (p * r * r + r + 1.0f) * two_t;
}

static inline v8 vexp_neg(v8 x) {
    const v8 lo = (v8){0} - 87.0f;
    const v8i small = x < lo;
    x = (v8)(((v8i)x & ~small) | ((v8i)lo & small));
    const v8 t = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const v8 r = (x - t * 0.693359375f) + t * 2.12194440e-4f;
    v8 p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const v8i bits = (__builtin_convertvector(t, v8i) + 127) << 23;
    return (p * r * r + r + 1.0f) * (v8)bits;
}

/* 1 where entry j of the row with this key is kept (its bits, (int16)(fmix32(key + j * GOLDEN) >> 16), are
 * >= threshold), else 0: as all-ones / zero masks for eight entries, and as a float for one. */
static inline v8i vkept(uint32_t key, int64_t j, int16_t threshold) {
    const v8u lane = {0, 1, 2, 3, 4, 5, 6, 7};
    v8u h = ((v8u){0} + key) + (lane + (uint32_t)j) * GOLDEN;
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return ((v8i)(h >> 16) - 32768) >= threshold;
}

static inline float kept(uint32_t key, int64_t j, int16_t threshold) {
    return (int32_t)(fmix32(key + (uint32_t)j * GOLDEN) >> 16) - 32768 >= threshold ? 1.0f : 0.0f;
}


/* Rows i0 .. i0+rb-1 of alpha a^T b for (d, n) matrices a and b, into s (R, n); rows >= rb are zero. Eight columns at a
 * time in R accumulators (GCC's vector extension: AVX where the CPU has it), so each load of b serves R rows. */
static void block_scores(const float *restrict a, const float *restrict b, float alpha, int64_t i0, int rb, int64_t d,
                         int64_t n, float *restrict ac, float *restrict s) {
    for (int64_t c = 0; c < d; c++)
        for (int r = 0; r < R; r++) ac[c * R + r] = r < rb ? alpha * a[c * n + i0 + r] : 0.0f;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        v8 acc[R] = {{0}};
        for (int64_t c = 0; c < d; c++) {
            const v8 bc = *(const v8 *)(b + c * n + j);
            for (int r = 0; r < R; r++) acc[r] += ac[c * R + r] * bc;
        }
        for (int r = 0; r < R; r++) *(v8 *)(s + r * n + j) = acc[r];
    }
    for (; j < n; j++) {
        float acc[R] = {0};
        for (int64_t c = 0; c < d; c++)
            for (int r = 0; r < R; r++) acc[r] += ac[c * R + r] * b[c * n + j];
        for (int r = 0; r < R; r++) s[r * n + j] = acc[r];
    }
}

/* o[r] = sum_j x[r*n + j] * y[j] for the R rows of x */
static void block_dots(const float *restrict x, const float *restrict y, int64_t n, float *o) {
    v8 acc[R] = {{0}};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const v8 yj = *(const v8 *)(y + j);
        for (int r = 0; r < R; r++) acc[r] += *(const v8 *)(x + r * n + j) * yj;
    }
    for (int r = 0; r < R; r++) {
        float sum = 0.0f;
        for (int l = 0; l < 8; l++) sum += acc[r][l];
        for (int64_t t = j; t < n; t++) sum += x[r * n + t] * y[t];
        o[r] = sum;
    }
}

/* y[j] += sum_r x[r*n + j] * w[r] (w[r] = 0 for the rows past the block's end) */
static void block_update(const float *restrict x, const float *w, int64_t n, float *restrict y) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        v8 acc = *(v8 *)(y + j);
        for (int r = 0; r < R; r++) acc += *(const v8 *)(x + r * n + j) * w[r];
        *(v8 *)(y + j) = acc;
    }
    for (; j < n; j++)
        for (int r = 0; r < R; r++) y[j] += x[r * n + j] * w[r];
}

/* D = P * mask of one row (into dd) from its scores in s. The forward finds the row's log-sum-exp and writes it to
 * *lse (s is left holding exp(scores - max)); the backward reads it and leaves P in s. key: the row's mask key,
 * used when masked. Eight entries at a time, then one at a time. */
static void row_weights(float *restrict s, float *restrict dd, int masked, uint32_t key, int16_t threshold, int64_t n,
                        float *lse, int forward) {
    float shift, mult = 1.0f;
    int64_t j;
    if (forward) {
        float mx = s[0];
#pragma omp simd reduction(max : mx)
        for (j = 0; j < n; j++) mx = s[j] > mx ? s[j] : mx;
        shift = mx;
    } else {
        shift = *lse;
    }
    v8 acc = {0};
    float sum = 0.0f;
    for (j = 0; j + 8 <= n; j += 8) {
        const v8 e = vexp_neg(*(v8 *)(s + j) - shift);
        *(v8 *)(s + j) = e;
        acc += e;
    }
    for (; j < n; j++) {
        s[j] = exp_neg(s[j] - shift);
        sum += s[j];
    }
    if (forward) {
        for (int l = 0; l < 8; l++) sum += acc[l];
        mult = 1.0f / sum;
        *lse = shift + logf(sum);
    }
    for (j = 0; j + 8 <= n; j += 8) {
        v8 p = *(v8 *)(s + j) * mult;
        if (masked) p = (v8)((v8i)p & vkept(key, j, threshold));
        *(v8 *)(dd + j) = p;
    }
    for (; j < n; j++) dd[j] = s[j] * mult * (masked ? kept(key, j, threshold) : 1.0f);
}

/* Matrix m of (M, d, n) q, k, v: out (M, d, n), lse (M, n). alpha scales the scores (1/sqrt(d)); masked = 0: no
 * dropout. s: scratch of 2 R n + R d floats. */
static void forward_matrix(const float *q, const float *k, const float *v, float alpha, int masked, uint32_t k0,
                           uint32_t k1, int16_t threshold, float inv_keep, float *out, float *lse, int64_t m,
                           int64_t d, int64_t n, float *s) {
    float *dd = s + R * n, *ac = s + 2 * R * n, o[R];
    const float *qm = q + m * d * n, *km = k + m * d * n, *vm = v + m * d * n;
    float *om = out + m * d * n;
    for (int64_t i0 = 0; i0 < n; i0 += R) {
        const int rb = n - i0 < R ? (int)(n - i0) : R;
        block_scores(qm, km, alpha, i0, rb, d, n, ac, s);
        for (int r = 0; r < rb; r++)
            row_weights(s + r * n, dd + r * n, masked, row_key((uint64_t)(m * n + i0 + r), k0, k1),
                        threshold, n, lse + m * n + i0 + r, 1);
        for (int r = rb; r < R; r++) memset(dd + r * n, 0, (size_t)n * sizeof(float));
        for (int64_t c = 0; c < d; c++) {
            block_dots(dd, vm + c * n, n, o);
            for (int r = 0; r < rb; r++) om[c * n + i0 + r] = o[r] * inv_keep;
        }
    }
}

/* The gradients of matrix m's out, given g = dL/dout. s: scratch of 3 R n + R d floats. */
static void backward_matrix(const float *q, const float *k, const float *v, float alpha, int masked, uint32_t k0,
                            uint32_t k1, int16_t threshold, float inv_keep, const float *g, const float *lse,
                            float *dq, float *dk, float *dv, int64_t m, int64_t d, int64_t n, float *s) {
    float *dd = s + R * n, *gv = s + 2 * R * n, *ac = s + 3 * R * n, o[R], w[R];
    const int64_t off = m * d * n;
    const float *qm = q + off, *km = k + off, *vm = v + off, *gm = g + off;
    float *dqm = dq + off, *dkm = dk + off, *dvm = dv + off;
    memset(dkm, 0, (size_t)(d * n) * sizeof(float));
    memset(dvm, 0, (size_t)(d * n) * sizeof(float));
    for (int64_t i0 = 0; i0 < n; i0 += R) {
        const int rb = n - i0 < R ? (int)(n - i0) : R;
        block_scores(qm, km, alpha, i0, rb, d, n, ac, s);
        for (int r = 0; r < rb; r++) {
            float row_lse = lse[m * n + i0 + r];
            row_weights(s + r * n, dd + r * n, masked, row_key((uint64_t)(m * n + i0 + r), k0, k1),
                        threshold, n, &row_lse, 0);
        }
        for (int r = rb; r < R; r++) memset(dd + r * n, 0, (size_t)n * sizeof(float));
        block_scores(gm, vm, inv_keep, i0, rb, d, n, ac, gv);  /* G = dL/dD for the block's rows */
        for (int64_t c = 0; c < d; c++) {  /* dv += g D / keep */
            for (int r = 0; r < R; r++) w[r] = r < rb ? inv_keep * gm[c * n + i0 + r] : 0.0f;
            block_update(dd, w, n, dvm + c * n);
        }
        for (int r = 0; r < R; r++) {  /* dL/dscores = D * G - P * rowsum(D * G); zero past the block's end */
            float *gr = gv + r * n, *dr = dd + r * n, *pr = s + r * n, rsum = 0.0f;
#pragma omp simd reduction(+ : rsum)
            for (int64_t j = 0; j < n; j++) {
                gr[j] *= dr[j];
                rsum += gr[j];
            }
            if (r < rb) {
                for (int64_t j = 0; j < n; j++) gr[j] -= pr[j] * rsum;
            } else {
                memset(gr, 0, (size_t)n * sizeof(float));
            }
        }
        for (int64_t c = 0; c < d; c++) {
            block_dots(gv, km + c * n, n, o);  /* dq = alpha k dscores^T */
            for (int r = 0; r < rb; r++) dqm[c * n + i0 + r] = alpha * o[r];
            for (int r = 0; r < R; r++) w[r] = r < rb ? alpha * qm[c * n + i0 + r] : 0.0f;
            block_update(gv, w, n, dkm + c * n);  /* dk += alpha q dscores */
        }
    }
}

/* The M matrices of (M, d, n) q, k, v, split statically between `threads` OpenMP threads (each matrix on one
 * thread, so results do not depend on the thread count). The mask of entry (i, j) of matrix m comes from seed
 * (row_key, row_mask). Returns 0, or 1 when a thread could not allocate its scratch rows. */
int val_attention_forward(const float *q, const float *k, const float *v, float alpha, int masked, uint64_t seed,
                          int16_t threshold, float inv_keep, float *out, float *lse, int64_t M, int64_t d, int64_t n,
                          int threads) {
    int failed = 0;
#pragma omp parallel num_threads(threads) reduction(| : failed)
    {
        float *s = calloc((size_t)(2 * R * n + R * d), sizeof(float));
        failed = !s;
#pragma omp for schedule(static)
        for (int64_t m = 0; m < M; m++)
            if (!failed)
                forward_matrix(q, k, v, alpha, masked, (uint32_t)seed, (uint32_t)(seed >> 32), threshold, inv_keep,
                               out, lse, m, d, n, s);
        free(s);
    }
    return failed;
}

/* The gradients of val_attention_forward's out for the same matrices, given g = dL/dout. */
int val_attention_backward(const float *q, const float *k, const float *v, float alpha, int masked, uint64_t seed,
                           int16_t threshold, float inv_keep, const float *g, const float *lse, float *dq, float *dk,
                           float *dv, int64_t M, int64_t d, int64_t n, int threads) {
    int failed = 0;
#pragma omp parallel num_threads(threads) reduction(| : failed)
    {
        float *s = calloc((size_t)(3 * R * n + R * d), sizeof(float));
        failed = !s;
#pragma omp for schedule(static)
        for (int64_t m = 0; m < M; m++)
            if (!failed)
                backward_matrix(q, k, v, alpha, masked, (uint32_t)seed, (uint32_t)(seed >> 32), threshold, inv_keep,
                                g, lse, dq, dk, dv, m, d, n, s);
        free(s);
    }
    return failed;
}
