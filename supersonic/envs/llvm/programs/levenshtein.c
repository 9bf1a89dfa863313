/* Edit distances: full-matrix Levenshtein with traceback to an edit script,
 * two-row Levenshtein, optimal-string-alignment (Damerau) distance and a banded
 * threshold check, applied to word pairs and generated strings. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>

#define MAXL 200

static int dp[MAXL + 1][MAXL + 1];

static int min3(int a, int b, int c)
{
    int m = a < b ? a : b;
    return m < c ? m : c;
}

static int lev_full(const char *s, const char *t)
{
    int n = (int)strlen(s), m = (int)strlen(t);
    for (int i = 0; i <= n; i++)
        dp[i][0] = i;
    for (int j = 0; j <= m; j++)
        dp[0][j] = j;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++) {
            int cost = s[i - 1] == t[j - 1] ? 0 : 1;
            dp[i][j] = min3(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + cost);
        }
    return dp[n][m];
}

/* Walk back through dp (filled by lev_full) building an edit script. */
static int traceback(const char *s, const char *t, char *script)
{
    int i = (int)strlen(s), j = (int)strlen(t);
    int len = 0;
    char rev[2 * MAXL + 2];
    while (i > 0 || j > 0) {
        if (i > 0 && j > 0 && s[i - 1] == t[j - 1] && dp[i][j] == dp[i - 1][j - 1]) {
            rev[len++] = '=';
            i--;
            j--;
        } else if (i > 0 && j > 0 && dp[i][j] == dp[i - 1][j - 1] + 1) {
            rev[len++] = 'S';
            i--;
            j--;
        } else if (i > 0 && dp[i][j] == dp[i - 1][j] + 1) {
            rev[len++] = 'D';
            i--;
        } else {
            rev[len++] = 'I';
            j--;
        }
    }
    for (int k = 0; k < len; k++)
        script[k] = rev[len - 1 - k];
    script[len] = '\0';
    return len;
}

static int lev_two_row(const char *s, const char *t)
{
    int prev[MAXL + 1], cur[MAXL + 1];
    int n = (int)strlen(s), m = (int)strlen(t);
    for (int j = 0; j <= m; j++)
        prev[j] = j;
    for (int i = 1; i <= n; i++) {
        cur[0] = i;
        for (int j = 1; j <= m; j++) {
            int cost = s[i - 1] != t[j - 1];
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
        }
        memcpy(prev, cur, (size_t)(m + 1) * sizeof(int));
    }
    return prev[m];
}

static int osa_distance(const char *s, const char *t)
{
    int n = (int)strlen(s), m = (int)strlen(t);
    for (int i = 0; i <= n; i++)
        dp[i][0] = i;
    for (int j = 0; j <= m; j++)
        dp[0][j] = j;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++) {
            int cost = s[i - 1] == t[j - 1] ? 0 : 1;
            int v = min3(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && s[i - 1] == t[j - 2] && s[i - 2] == t[j - 1] && dp[i - 2][j - 2] + 1 < v)
                v = dp[i - 2][j - 2] + 1;
            dp[i][j] = v;
        }
    return dp[n][m];
}

/* Returns distance if <= k, else k+1, computing only a diagonal band. */
static int lev_banded(const char *s, const char *t, int k)
{
    int n = (int)strlen(s), m = (int)strlen(t);
    int big = k + 1;
    if (n - m > k || m - n > k)
        return big;
    int prev[MAXL + 1], cur[MAXL + 1];
    for (int j = 0; j <= m; j++)
        prev[j] = j <= k ? j : big;
    for (int i = 1; i <= n; i++) {
        int lo = i - k > 1 ? i - k : 1;
        int hi = i + k < m ? i + k : m;
        for (int j = 0; j <= m; j++)
            cur[j] = big;
        if (i <= k)
            cur[0] = i;
        for (int j = lo; j <= hi; j++) {
            int cost = s[i - 1] != t[j - 1];
            int v = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            cur[j] = v > big ? big : v;
        }
        memcpy(prev, cur, (size_t)(m + 1) * sizeof(int));
    }
    return prev[m] > big ? big : prev[m];
}

static uint32_t rstate = 99991u;

static uint32_t rnext(void)
{
    rstate ^= rstate << 13;
    rstate ^= rstate >> 17;
    rstate ^= rstate << 5;
    return rstate;
}

/* Produce t as a mutated copy of s with about `edits` random edits. */
static void mutate(const char *s, char *t, int edits)
{
    char buf[MAXL + 1];
    strcpy(buf, s);
    for (int e = 0; e < edits; e++) {
        int len = (int)strlen(buf);
        uint32_t op = rnext() % 3u;
        int pos = len ? (int)(rnext() % (uint32_t)len) : 0;
        char c = (char)('a' + rnext() % 4u);
        if (op == 0 && len < MAXL - 1) {
            memmove(buf + pos + 1, buf + pos, (size_t)(len - pos + 1));
            buf[pos] = c;
        } else if (op == 1 && len > 0) {
            memmove(buf + pos, buf + pos + 1, (size_t)(len - pos));
        } else if (len > 0) {
            buf[pos] = c;
        }
    }
    strcpy(t, buf);
}

int main(void)
{
    static const char *pairs[][2] = {
        { "kitten", "sitting" }, { "flaw", "lawn" }, { "intention", "execution" },
        { "", "abc" }, { "ca", "abc" }, { "abcdef", "badcfe" }, { "optimization", "optimisation" },
        { "levenshtein", "frankenstein" }
    };
    char script[2 * MAXL + 2];
    for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
        const char *a = pairs[p][0], *b = pairs[p][1];
        int d = lev_full(a, b);
        traceback(a, b, script);
        int d2 = lev_two_row(a, b);
        int o = osa_distance(a, b);
        int bd = lev_banded(a, b, 3);
        printf("%-13s %-13s lev=%d two_row=%d osa=%d band3=%d script=%s\n", a, b, d, d2, o, bd, script);
    }

    char s[MAXL + 1], t[MAXL + 1];
    uint32_t agg = 0;
    int consistent = 1;
    for (int trial = 0; trial < 30; trial++) {
        int len = 20 + (int)(rnext() % 150u);
        for (int i = 0; i < len; i++)
            s[i] = (char)('a' + rnext() % 4u);
        s[len] = '\0';
        mutate(s, t, 1 + trial % 12);
        int d = lev_full(s, t);
        int sl = traceback(s, t, script);
        int edits = 0;
        for (int k = 0; k < sl; k++)
            edits += script[k] != '=';
        int d2 = lev_two_row(s, t);
        int o = osa_distance(s, t);
        int bd = lev_banded(s, t, 6);
        int expect_bd = d <= 6 ? d : 7;
        if (d != d2 || edits != d || o > d || bd != expect_bd)
            consistent = 0;
        agg = agg * 1000003u + (uint32_t)(d * 256 + o);
    }
    printf("random trials: aggregate=%08x consistent=%s\n", (unsigned)agg, consistent ? "yes" : "NO");
    return 0;
}
