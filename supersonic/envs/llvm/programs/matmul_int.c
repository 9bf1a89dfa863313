/* Integer matrix multiplication benchmark: naive ijk, cache-friendly ikj,
 * tiled and transposed-B kernels on 64x64 matrices, plus modular matrix
 * exponentiation (Fibonacci / linear recurrences); prints checksums. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#define N 64
#define TILE 16
#define MODP 1000000007ull

typedef int32_t mat_t[N][N];

static uint32_t lcg = 42u;

static int32_t small_rand(void)
{
    lcg = lcg * 1103515245u + 12345u;
    return (int32_t)((lcg >> 16) % 17u) - 8;
}

static void mat_fill(mat_t m)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            m[i][j] = small_rand();
}

static void mul_ijk(mat_t a, mat_t b, mat_t c)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int32_t s = 0;
            for (int k = 0; k < N; k++)
                s += a[i][k] * b[k][j];
            c[i][j] = s;
        }
}

static void mul_ikj(mat_t a, mat_t b, mat_t c)
{
    memset(c, 0, sizeof(mat_t));
    for (int i = 0; i < N; i++)
        for (int k = 0; k < N; k++) {
            int32_t aik = a[i][k];
            for (int j = 0; j < N; j++)
                c[i][j] += aik * b[k][j];
        }
}

static void mul_tiled(mat_t a, mat_t b, mat_t c)
{
    memset(c, 0, sizeof(mat_t));
    for (int ii = 0; ii < N; ii += TILE)
        for (int kk = 0; kk < N; kk += TILE)
            for (int jj = 0; jj < N; jj += TILE)
                for (int i = ii; i < ii + TILE; i++)
                    for (int k = kk; k < kk + TILE; k++) {
                        int32_t aik = a[i][k];
                        for (int j = jj; j < jj + TILE; j++)
                            c[i][j] += aik * b[k][j];
                    }
}

static void transpose(mat_t src, mat_t dst)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            dst[j][i] = src[i][j];
}

static void mul_transposed(mat_t a, mat_t b, mat_t c, mat_t scratch)
{
    transpose(b, scratch);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int32_t s = 0;
            for (int k = 0; k < N; k++)
                s += a[i][k] * scratch[j][k];
            c[i][j] = s;
        }
}

static uint32_t mat_hash(mat_t m)
{
    uint32_t h = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            h = h * 0x9E3779B1u + (uint32_t)m[i][j];
    return h;
}

static int64_t mat_trace(mat_t m)
{
    int64_t t = 0;
    for (int i = 0; i < N; i++)
        t += m[i][i];
    return t;
}

/* small square matrices modulo MODP */
#define SM 4
typedef uint64_t smat[SM][SM];

static void smat_mul(smat a, smat b, smat out, int n)
{
    smat t;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            uint64_t s = 0;
            for (int k = 0; k < n; k++)
                s = (s + a[i][k] * b[k][j]) % MODP;
            t[i][j] = s;
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            out[i][j] = t[i][j];
}

static void smat_pow(smat base, uint64_t e, smat out, int n)
{
    smat b, r;
    memset(r, 0, sizeof r);
    for (int i = 0; i < n; i++) {
        r[i][i] = 1;
        for (int j = 0; j < n; j++)
            b[i][j] = base[i][j];
    }
    while (e) {
        if (e & 1u)
            smat_mul(r, b, r, n);
        smat_mul(b, b, b, n);
        e >>= 1;
    }
    memcpy(out, r, sizeof r);
}

static mat_t A, B, C1, C2, C3, C4, T;

int main(void)
{
    mat_fill(A);
    mat_fill(B);
    mul_ijk(A, B, C1);
    mul_ikj(A, B, C2);
    mul_tiled(A, B, C3);
    mul_transposed(A, B, C4, T);
    printf("A*B hash=%08x trace=%lld\n", (unsigned)mat_hash(C1), (long long)mat_trace(C1));
    printf("kernels agree: ikj=%d tiled=%d transposed=%d\n",
           memcmp(C1, C2, sizeof C1) == 0, memcmp(C1, C3, sizeof C1) == 0,
           memcmp(C1, C4, sizeof C1) == 0);

    /* (A*B)^T == B^T * A^T */
    mat_t *At = &C2, *Bt = &C3;
    transpose(A, *At);
    transpose(B, *Bt);
    mul_ikj(*Bt, *At, C4);
    transpose(C1, T);
    printf("transpose identity holds=%d\n", memcmp(T, C4, sizeof T) == 0);

    /* A*(B*A) vs (A*B)*A with values reduced to stay in range */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            C1[i][j] %= 100;
    mul_tiled(C1, A, C2);
    printf("(AB mod 100)*A hash=%08x trace=%lld\n", (unsigned)mat_hash(C2),
           (long long)mat_trace(C2));

    smat fib = {{1, 1, 0, 0}, {1, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}};
    smat r;
    static const uint64_t ns[] = {10, 50, 90, 1000, 1000000, 1000000000000ull};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        smat_pow(fib, ns[i], r, 2);
        printf("fib(%llu) mod p = %llu\n", (unsigned long long)ns[i], (unsigned long long)r[0][1]);
    }
    /* tribonacci-like recurrence t(n)=t(n-1)+2t(n-2)+3t(n-3)+t(n-4) */
    smat rec = {{1, 2, 3, 1}, {1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}};
    smat_pow(rec, 123456789ull, r, 4);
    uint64_t acc = 0;
    for (int i = 0; i < SM; i++)
        for (int j = 0; j < SM; j++)
            acc = (acc * 31u + r[i][j]) % MODP;
    printf("recurrence^123456789 digest = %llu\n", (unsigned long long)acc);
    return 0;
}
