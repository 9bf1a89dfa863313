/* Longest common subsequence: quadratic DP with reconstruction, Hirschberg's
 * linear-space algorithm, a bit-parallel length computation, longest common
 * substring, and a line-level diff built on LCS. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>

#define MAXL 300

static uint16_t L[MAXL + 1][MAXL + 1];

static int lcs_dp(const char *a, int n, const char *b, int m, char *out)
{
    for (int i = 0; i <= n; i++)
        L[i][0] = 0;
    for (int j = 0; j <= m; j++)
        L[0][j] = 0;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++) {
            if (a[i - 1] == b[j - 1])
                L[i][j] = (uint16_t)(L[i - 1][j - 1] + 1);
            else
                L[i][j] = L[i - 1][j] >= L[i][j - 1] ? L[i - 1][j] : L[i][j - 1];
        }
    int len = L[n][m], k = len, i = n, j = m;
    if (out) {
        out[len] = '\0';
        while (i > 0 && j > 0) {
            if (a[i - 1] == b[j - 1]) {
                out[--k] = a[i - 1];
                i--;
                j--;
            } else if (L[i - 1][j] >= L[i][j - 1]) {
                i--;
            } else {
                j--;
            }
        }
    }
    return len;
}

/* Last row of LCS lengths for a[0..n) vs b[0..m), optionally reversed. */
static void lcs_row(const char *a, int n, const char *b, int m, bool rev, int *row)
{
    int prev[MAXL + 1];
    for (int j = 0; j <= m; j++)
        prev[j] = row[j] = 0;
    for (int i = 1; i <= n; i++) {
        char ca = rev ? a[n - i] : a[i - 1];
        row[0] = 0;
        for (int j = 1; j <= m; j++) {
            char cb = rev ? b[m - j] : b[j - 1];
            if (ca == cb)
                row[j] = prev[j - 1] + 1;
            else
                row[j] = prev[j] > row[j - 1] ? prev[j] : row[j - 1];
        }
        memcpy(prev, row, (size_t)(m + 1) * sizeof(int));
    }
}

static int hirschberg(const char *a, int n, const char *b, int m, char *out)
{
    if (n == 0 || m == 0)
        return 0;
    if (n == 1) {
        for (int j = 0; j < m; j++)
            if (b[j] == a[0]) {
                out[0] = a[0];
                return 1;
            }
        return 0;
    }
    int mid = n / 2;
    int f[MAXL + 1], r[MAXL + 1];
    lcs_row(a, mid, b, m, false, f);
    lcs_row(a + mid, n - mid, b, m, true, r);
    int best = -1, split = 0;
    for (int j = 0; j <= m; j++) {
        int v = f[j] + r[m - j];
        if (v > best) {
            best = v;
            split = j;
        }
    }
    int k = hirschberg(a, mid, b, split, out);
    k += hirschberg(a + mid, n - mid, b + split, m - split, out + k);
    return k;
}

/* Hyyro/Allison-Dix bit-parallel LCS length; requires m <= 64. */
static int lcs_bitparallel(const char *a, int n, const char *b, int m)
{
    uint64_t peq[256];
    memset(peq, 0, sizeof peq);
    for (int j = 0; j < m; j++)
        peq[(unsigned char)b[j]] |= (uint64_t)1 << j;
    uint64_t v = ~(uint64_t)0;
    for (int i = 0; i < n; i++) {
        uint64_t u = v & peq[(unsigned char)a[i]];
        v = (v + u) | (v - u);
    }
    uint64_t mask = m == 64 ? ~(uint64_t)0 : (((uint64_t)1 << m) - 1u);
    uint64_t zeros = ~v & mask;
    int c = 0;
    while (zeros) {
        zeros &= zeros - 1u;
        c++;
    }
    return c;
}

static int longest_common_substring(const char *a, int n, const char *b, int m, int *pos)
{
    int prev[MAXL + 1], cur[MAXL + 1];
    int best = 0;
    *pos = 0;
    memset(prev, 0, sizeof prev);
    for (int i = 1; i <= n; i++) {
        cur[0] = 0;
        for (int j = 1; j <= m; j++) {
            cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : 0;
            if (cur[j] > best) {
                best = cur[j];
                *pos = i - best;
            }
        }
        memcpy(prev, cur, sizeof prev);
    }
    return best;
}

static bool is_subsequence(const char *s, int k, const char *t, int m)
{
    int j = 0;
    for (int i = 0; i < k; i++) {
        while (j < m && t[j] != s[i])
            j++;
        if (j == m)
            return false;
        j++;
    }
    return true;
}

/* Line diff: each "line" is mapped to a single char symbol and LCS is taken. */
static void line_diff(const char *const *x, int nx, const char *const *y, int ny)
{
    char sx[64], sy[64];
    const char *names[128];
    int nn = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *const *src = pass ? y : x;
        int cnt = pass ? ny : nx;
        char *dst = pass ? sy : sx;
        for (int i = 0; i < cnt; i++) {
            int id = -1;
            for (int k = 0; k < nn; k++)
                if (strcmp(names[k], src[i]) == 0)
                    id = k;
            if (id < 0) {
                id = nn;
                names[nn++] = src[i];
            }
            dst[i] = (char)('A' + id);
        }
    }
    lcs_dp(sx, nx, sy, ny, NULL);
    /* walk the table forward-friendly: rebuild in reverse then print */
    char ops[128];
    const char *txt[128];
    int no = 0, i = nx, j = ny;
    while (i > 0 || j > 0) {
        if (i > 0 && j > 0 && sx[i - 1] == sy[j - 1]) {
            ops[no] = ' ';
            txt[no++] = x[--i];
            j--;
        } else if (j > 0 && (i == 0 || L[i][j - 1] >= L[i - 1][j])) {
            ops[no] = '+';
            txt[no++] = y[--j];
        } else {
            ops[no] = '-';
            txt[no++] = x[--i];
        }
    }
    for (int k = no - 1; k >= 0; k--)
        printf("  %c %s\n", ops[k], txt[k]);
}

static uint32_t rs = 31337u;

static char rchar(int alpha)
{
    rs = rs * 1664525u + 1013904223u;
    return (char)('a' + (rs >> 16) % (uint32_t)alpha);
}

int main(void)
{
    static char a[MAXL + 1], b[MAXL + 1], o1[MAXL + 1], o2[MAXL + 1];
    static const char *pairs[][2] = { { "ABCBDAB", "BDCABA" }, { "AGGTAB", "GXTXAYB" },
                                      { "compiler", "complier" }, { "abc", "xyz" } };
    for (int p = 0; p < 4; p++) {
        const char *x = pairs[p][0], *y = pairs[p][1];
        int n = (int)strlen(x), m = (int)strlen(y);
        int l1 = lcs_dp(x, n, y, m, o1);
        int l2 = hirschberg(x, n, y, m, o2);
        o2[l2] = '\0';
        printf("%-9s %-9s lcs=%d dp=\"%s\" hirschberg=\"%s\" bitpar=%d\n", x, y, l1, o1, o2,
               lcs_bitparallel(x, n, y, m));
    }

    uint32_t agg = 0;
    bool ok = true;
    for (int t = 0; t < 12; t++) {
        int n = 50 + t * 20, m = 64 - t;
        int alpha = 2 + t % 6;
        for (int i = 0; i < n; i++)
            a[i] = rchar(alpha);
        for (int j = 0; j < m; j++)
            b[j] = rchar(alpha);
        a[n] = b[m] = '\0';
        int l1 = lcs_dp(a, n, b, m, o1);
        int l2 = hirschberg(a, n, b, m, o2);
        int l3 = lcs_bitparallel(a, n, b, m);
        int pos;
        int ls = longest_common_substring(a, n, b, m, &pos);
        if (l1 != l2 || l1 != l3 || !is_subsequence(o2, l2, a, n) || !is_subsequence(o2, l2, b, m) ||
            !is_subsequence(o1, l1, a, n) || !is_subsequence(o1, l1, b, m))
            ok = false;
        agg = agg * 31u + (uint32_t)(l1 * 100 + ls);
        if (t % 4 == 0)
            printf("random n=%3d m=%2d alpha=%d lcs=%d substr=%d at %d\n", n, m, alpha, l1, ls, pos);
    }
    printf("random checks: %s aggregate=%08x\n", ok ? "consistent" : "MISMATCH", (unsigned)agg);

    static const char *v1[] = { "int main(void)", "{", "  int x = 1;", "  int y = 2;", "  return x + y;", "}" };
    static const char *v2[] = { "int main(void)", "{", "  int x = 1;", "  int z = 3;", "  int y = 2;",
                                "  return x + y + z;", "}" };
    printf("diff:\n");
    line_diff(v1, 6, v2, 7);
    return 0;
}
