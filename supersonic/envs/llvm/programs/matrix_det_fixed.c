/* Determinant benchmark: exact integer determinants via Bareiss elimination and
 * Laplace expansion, Q16.16 fixed-point Gaussian elimination with partial
 * pivoting, and a fixed-point Gauss-Jordan inverse with residual check. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#define MAXN 7
#define FX_SHIFT 16
#define FX_ONE ((int64_t)1 << FX_SHIFT)

typedef int64_t fx_t;

static uint32_t rs = 7u;

static int rand_range(int lo, int hi)
{
    rs = rs * 22695477u + 1u;
    return lo + (int)((rs >> 10) % (uint32_t)(hi - lo + 1));
}

static fx_t fx_from_int(int64_t v)
{
    return v * FX_ONE;
}

static fx_t fx_mul(fx_t a, fx_t b)
{
    return (a * b) / FX_ONE;
}

static fx_t fx_div(fx_t a, fx_t b)
{
    return (a * FX_ONE) / b;
}

static int64_t fx_round(fx_t a)
{
    if (a >= 0)
        return (a + FX_ONE / 2) / FX_ONE;
    return -((-a + FX_ONE / 2) / FX_ONE);
}

static int64_t det_bareiss(int64_t m[MAXN][MAXN], int n)
{
    int64_t a[MAXN][MAXN];
    int sign = 1;
    int64_t prev = 1;
    memcpy(a, m, sizeof a);
    for (int k = 0; k < n - 1; k++) {
        if (a[k][k] == 0) {
            int sw = -1;
            for (int r = k + 1; r < n; r++)
                if (a[r][k] != 0) {
                    sw = r;
                    break;
                }
            if (sw < 0)
                return 0;
            for (int c = 0; c < n; c++) {
                int64_t t = a[k][c];
                a[k][c] = a[sw][c];
                a[sw][c] = t;
            }
            sign = -sign;
        }
        for (int i = k + 1; i < n; i++)
            for (int j = k + 1; j < n; j++)
                a[i][j] = (a[i][j] * a[k][k] - a[i][k] * a[k][j]) / prev;
        prev = a[k][k];
    }
    return sign * a[n - 1][n - 1];
}

static int64_t det_laplace(int64_t m[MAXN][MAXN], int n)
{
    if (n == 1)
        return m[0][0];
    if (n == 2)
        return m[0][0] * m[1][1] - m[0][1] * m[1][0];
    int64_t sub[MAXN][MAXN];
    int64_t total = 0;
    for (int col = 0; col < n; col++) {
        for (int i = 1; i < n; i++) {
            int cj = 0;
            for (int j = 0; j < n; j++) {
                if (j == col)
                    continue;
                sub[i - 1][cj++] = m[i][j];
            }
        }
        int64_t minor = det_laplace(sub, n - 1);
        int64_t term = m[0][col] * minor;
        total += (col % 2 == 0) ? term : -term;
    }
    return total;
}

static fx_t det_fixed(int64_t m[MAXN][MAXN], int n)
{
    fx_t a[MAXN][MAXN];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            a[i][j] = fx_from_int(m[i][j]);
    fx_t det = FX_ONE;
    for (int k = 0; k < n; k++) {
        int piv = k;
        fx_t best = a[k][k] < 0 ? -a[k][k] : a[k][k];
        for (int r = k + 1; r < n; r++) {
            fx_t v = a[r][k] < 0 ? -a[r][k] : a[r][k];
            if (v > best) {
                best = v;
                piv = r;
            }
        }
        if (best == 0)
            return 0;
        if (piv != k) {
            for (int c = 0; c < n; c++) {
                fx_t t = a[k][c];
                a[k][c] = a[piv][c];
                a[piv][c] = t;
            }
            det = -det;
        }
        det = fx_mul(det, a[k][k]);
        for (int i = k + 1; i < n; i++) {
            fx_t f = fx_div(a[i][k], a[k][k]);
            for (int j = k; j < n; j++)
                a[i][j] -= fx_mul(f, a[k][j]);
        }
    }
    return det;
}

/* Gauss-Jordan inverse in fixed point; returns false if singular */
static bool inverse_fixed(int64_t m[MAXN][MAXN], int n, fx_t inv[MAXN][MAXN])
{
    fx_t a[MAXN][2 * MAXN];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 2 * n; j++)
            a[i][j] = j < n ? fx_from_int(m[i][j]) : (j - n == i ? FX_ONE : 0);
    for (int k = 0; k < n; k++) {
        int piv = k;
        for (int r = k + 1; r < n; r++) {
            fx_t v = a[r][k] < 0 ? -a[r][k] : a[r][k];
            fx_t b = a[piv][k] < 0 ? -a[piv][k] : a[piv][k];
            if (v > b)
                piv = r;
        }
        if (a[piv][k] == 0)
            return false;
        for (int c = 0; c < 2 * n; c++) {
            fx_t t = a[k][c];
            a[k][c] = a[piv][c];
            a[piv][c] = t;
        }
        fx_t p = a[k][k];
        for (int c = 0; c < 2 * n; c++)
            a[k][c] = fx_div(a[k][c], p);
        for (int i = 0; i < n; i++) {
            if (i == k)
                continue;
            fx_t f = a[i][k];
            for (int c = 0; c < 2 * n; c++)
                a[i][c] -= fx_mul(f, a[k][c]);
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            inv[i][j] = a[i][j + n];
    return true;
}

static fx_t residual(int64_t m[MAXN][MAXN], fx_t inv[MAXN][MAXN], int n)
{
    fx_t worst = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            fx_t s = 0;
            for (int k = 0; k < n; k++)
                s += m[i][k] * inv[k][j];
            fx_t e = s - (i == j ? FX_ONE : 0);
            if (e < 0)
                e = -e;
            if (e > worst)
                worst = e;
        }
    return worst;
}

static void print_fx(const char *label, fx_t v)
{
    const char *sign = v < 0 ? "-" : "";
    fx_t a = v < 0 ? -v : v;
    printf("%s%s%lld.%04lld", label, sign, (long long)(a / FX_ONE),
           (long long)((a % FX_ONE) * 10000 / FX_ONE));
}

int main(void)
{
    int64_t m[MAXN][MAXN];
    fx_t inv[MAXN][MAXN];
    int agree = 0, cases = 0;
    for (int n = 2; n <= 6; n++) {
        for (int rep = 0; rep < 3; rep++) {
            memset(m, 0, sizeof m);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    m[i][j] = rand_range(-6, 6);
            if (rep == 2) /* make it singular: row n-1 = row 0 + row 1 */
                for (int j = 0; j < n; j++)
                    m[n - 1][j] = m[0][j] + m[1][j];
            int64_t db = det_bareiss(m, n);
            int64_t dl = det_laplace(m, n);
            fx_t df = det_fixed(m, n);
            cases++;
            if (db == dl && fx_round(df) == db)
                agree++;
            printf("n=%d rep=%d bareiss=%lld laplace=%lld ", n, rep, (long long)db, (long long)dl);
            print_fx("fixed=", df);
            if (db != 0 && inverse_fixed(m, n, inv)) {
                fx_t r = residual(m, inv, n);
                printf(" inv_residual=%lld/65536", (long long)r);
            }
            printf("\n");
        }
    }
    /* Hilbert-like integer matrix scaled: H[i][j] = 2520/(i+j+1) */
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            m[i][j] = 2520 / (i + j + 1) / 60;
    printf("scaled hilbert det bareiss=%lld laplace=%lld\n", (long long)det_bareiss(m, 5),
           (long long)det_laplace(m, 5));
    printf("agreement %d/%d\n", agree, cases);
    return 0;
}
