/* String search benchmark: Knuth-Morris-Pratt, Boyer-Moore-Horspool, Z-array
 * and naive matching over a generated text; cross-checks match counts and
 * computes the shortest period of strings via the failure function. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#define TEXT_LEN 30000
#define MAXPAT 64

static char text[TEXT_LEN + 1];

static void gen_text(uint32_t seed, int alphabet)
{
    uint32_t s = seed;
    for (int i = 0; i < TEXT_LEN; i++) {
        s = s * 1664525u + 1013904223u;
        text[i] = (char)('a' + (int)((s >> 16) % (uint32_t)alphabet));
    }
    text[TEXT_LEN] = '\0';
}

static void kmp_failure(const char *p, int m, int *fail)
{
    fail[0] = 0;
    int k = 0;
    for (int i = 1; i < m; i++) {
        while (k > 0 && p[i] != p[k])
            k = fail[k - 1];
        if (p[i] == p[k])
            k++;
        fail[i] = k;
    }
}

static int kmp_count(const char *t, int n, const char *p, int m, uint32_t *poshash)
{
    int fail[MAXPAT];
    int count = 0, k = 0;
    kmp_failure(p, m, fail);
    for (int i = 0; i < n; i++) {
        while (k > 0 && t[i] != p[k])
            k = fail[k - 1];
        if (t[i] == p[k])
            k++;
        if (k == m) {
            count++;
            *poshash = *poshash * 131u + (uint32_t)(i - m + 1);
            k = fail[k - 1];
        }
    }
    return count;
}

static int horspool_count(const char *t, int n, const char *p, int m)
{
    int shift[256];
    int count = 0;
    for (int i = 0; i < 256; i++)
        shift[i] = m;
    for (int i = 0; i < m - 1; i++)
        shift[(unsigned char)p[i]] = m - 1 - i;
    int pos = 0;
    while (pos <= n - m) {
        int j = m - 1;
        while (j >= 0 && t[pos + j] == p[j])
            j--;
        if (j < 0)
            count++;
        pos += shift[(unsigned char)t[pos + m - 1]];
    }
    return count;
}

static int naive_count(const char *t, int n, const char *p, int m)
{
    int count = 0;
    for (int i = 0; i + m <= n; i++) {
        int j = 0;
        while (j < m && t[i + j] == p[j])
            j++;
        if (j == m)
            count++;
    }
    return count;
}

static char zbuf[MAXPAT + 1 + 2048];
static int zarr[MAXPAT + 1 + 2048];

static void z_array(const char *s, int n, int *z)
{
    int l = 0, r = 0;
    z[0] = n;
    for (int i = 1; i < n; i++) {
        z[i] = 0;
        if (i < r) {
            z[i] = r - i < z[i - l] ? r - i : z[i - l];
        }
        while (i + z[i] < n && s[z[i]] == s[i + z[i]])
            z[i]++;
        if (i + z[i] > r) {
            l = i;
            r = i + z[i];
        }
    }
}

/* count occurrences in the first 2048 characters with Z-algorithm */
static int z_count(const char *t, int n, const char *p, int m)
{
    if (n > 2048)
        n = 2048;
    memcpy(zbuf, p, (size_t)m);
    zbuf[m] = '#';
    memcpy(zbuf + m + 1, t, (size_t)n);
    int total = m + 1 + n;
    z_array(zbuf, total, zarr);
    int count = 0;
    for (int i = m + 1; i < total; i++)
        if (zarr[i] >= m)
            count++;
    return count;
}

static int shortest_period(const char *s)
{
    int fail[MAXPAT];
    int m = (int)strlen(s);
    kmp_failure(s, m, fail);
    int p = m - fail[m - 1];
    return (m % p == 0) ? p : m;
}

int main(void)
{
    static const char *patterns[] = {"ab", "abc", "aab", "abab", "bacab", "aaaa", "cabbage", "dd"};
    const int np = (int)(sizeof patterns / sizeof patterns[0]);
    for (int alpha = 2; alpha <= 4; alpha++) {
        gen_text(0xC0FFEEu + (uint32_t)alpha, alpha);
        uint32_t h = 0;
        int mism = 0, total = 0;
        for (int i = 0; i < np; i++) {
            int m = (int)strlen(patterns[i]);
            int a = kmp_count(text, TEXT_LEN, patterns[i], m, &h);
            int b = horspool_count(text, TEXT_LEN, patterns[i], m);
            int c = naive_count(text, TEXT_LEN, patterns[i], m);
            int zc = z_count(text, TEXT_LEN, patterns[i], m);
            int c2 = naive_count(text, 2048, patterns[i], m);
            if (a != b || b != c || zc != c2)
                mism++;
            total += a;
            printf("alpha=%d pat=%-8s kmp=%d z2048=%d\n", alpha, patterns[i], a, zc);
        }
        printf("alpha=%d total=%d mismatches=%d poshash=%08x\n", alpha, total, mism, (unsigned)h);
    }
    static const char *per[] = {"abcabcabc", "aaaa", "abcd", "abaaba", "xyxyxyxy", "abab a"};
    for (size_t i = 0; i < sizeof per / sizeof per[0]; i++)
        printf("period(\"%s\")=%d\n", per[i], shortest_period(per[i]));
    return 0;
}
