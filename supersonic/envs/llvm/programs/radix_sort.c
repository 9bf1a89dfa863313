/* Radix sorting: LSD byte-wise radix sort of unsigned and signed 32-bit keys,
 * stable key/value radix sort, and MSD radix sort of short strings; results
 * are verified against order/stability checks and summarised by checksums. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>

#define N 5000
#define NSTR 1200
#define STRLEN 8

static uint32_t keys[N], tmp[N];
static int32_t skeys[N];
static uint32_t vals[N], tmpv[N];
static char strs[NSTR][STRLEN + 1];
static int sidx[NSTR], stmp[NSTR];

static uint64_t sm_state = 0x0123456789ABCDEFull;

static uint32_t splitmix(void)
{
    uint64_t z = (sm_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 16);
}

static void lsd_radix_u32(uint32_t *a, uint32_t *buf, uint32_t *va, uint32_t *vbuf, int n)
{
    uint32_t *src = a, *dst = buf, *vsrc = va, *vdst = vbuf;
    for (int shift = 0; shift < 32; shift += 8) {
        uint32_t count[257];
        memset(count, 0, sizeof count);
        for (int i = 0; i < n; i++)
            count[((src[i] >> shift) & 0xFFu) + 1]++;
        if (count[((src[0] >> shift) & 0xFFu) + 1] == (uint32_t)n)
            continue; /* all keys share this digit */
        for (int d = 0; d < 256; d++)
            count[d + 1] += count[d];
        for (int i = 0; i < n; i++) {
            uint32_t d = (src[i] >> shift) & 0xFFu;
            uint32_t at = count[d]++;
            dst[at] = src[i];
            if (vsrc)
                vdst[at] = vsrc[i];
        }
        uint32_t *t = src; src = dst; dst = t;
        if (vsrc) {
            t = vsrc; vsrc = vdst; vdst = t;
        }
    }
    if (src != a) {
        memcpy(a, src, (size_t)n * sizeof *a);
        if (va)
            memcpy(va, vsrc, (size_t)n * sizeof *va);
    }
}

static void radix_i32(int32_t *a, int n)
{
    /* map to unsigned order by flipping the sign bit */
    for (int i = 0; i < n; i++)
        keys[i] = (uint32_t)a[i] ^ 0x80000000u;
    lsd_radix_u32(keys, tmp, NULL, NULL, n);
    for (int i = 0; i < n; i++) {
        uint32_t u = keys[i] ^ 0x80000000u;
        a[i] = u >= 0x80000000u ? -(int32_t)(~u) - 1 : (int32_t)u;
    }
}

static int char_at(int s, int d)
{
    return d < STRLEN && strs[s][d] ? (unsigned char)strs[s][d] + 1 : 0;
}

static void msd_radix(int *idx, int *aux, int lo, int hi, int d)
{
    if (hi - lo <= 1 || d > STRLEN)
        return;
    if (hi - lo < 12) { /* insertion sort for small buckets */
        for (int i = lo + 1; i < hi; i++) {
            int v = idx[i], j = i;
            while (j > lo && strcmp(strs[idx[j - 1]] + d, strs[v] + d) > 0) {
                idx[j] = idx[j - 1];
                j--;
            }
            idx[j] = v;
        }
        return;
    }
    int count[259];
    memset(count, 0, sizeof count);
    for (int i = lo; i < hi; i++)
        count[char_at(idx[i], d) + 2]++;
    for (int r = 0; r < 258; r++)
        count[r + 1] += count[r];
    for (int i = lo; i < hi; i++)
        aux[count[char_at(idx[i], d) + 1]++] = idx[i];
    for (int i = lo; i < hi; i++)
        idx[i] = aux[i - lo];
    for (int r = 1; r < 257; r++)
        msd_radix(idx, aux, lo + count[r], lo + count[r + 1], d + 1);
}

static bool sorted_u32(const uint32_t *a, int n)
{
    for (int i = 1; i < n; i++)
        if (a[i - 1] > a[i])
            return false;
    return true;
}

static uint32_t hash_u32(const uint32_t *a, int n)
{
    uint32_t h = 0;
    for (int i = 0; i < n; i++)
        h = (h ^ a[i]) * 0x01000193u + (uint32_t)i;
    return h;
}

int main(void)
{
    /* 1: plain unsigned keys, several distributions */
    for (int dist = 0; dist < 3; dist++) {
        for (int i = 0; i < N; i++) {
            uint32_t r = splitmix();
            keys[i] = dist == 0 ? r : dist == 1 ? (r & 0xFFFu) : (r % 97u) * 0x01010101u;
        }
        uint32_t presum = 0;
        for (int i = 0; i < N; i++)
            presum += keys[i];
        lsd_radix_u32(keys, tmp, NULL, NULL, N);
        uint32_t postsum = 0;
        for (int i = 0; i < N; i++)
            postsum += keys[i];
        printf("u32 dist %d: sorted=%d sum_ok=%d min=%08x med=%08x max=%08x hash=%08x\n", dist,
               sorted_u32(keys, N), presum == postsum, (unsigned)keys[0], (unsigned)keys[N / 2],
               (unsigned)keys[N - 1], (unsigned)hash_u32(keys, N));
    }

    /* 2: stability with key/value pairs */
    for (int i = 0; i < N; i++) {
        keys[i] = splitmix() % 50u;
        vals[i] = (uint32_t)i;
    }
    lsd_radix_u32(keys, tmp, vals, tmpv, N);
    bool stable = true;
    for (int i = 1; i < N; i++)
        if (keys[i - 1] == keys[i] && vals[i - 1] > vals[i])
            stable = false;
    printf("kv: sorted=%d stable=%d first_vals=%u,%u,%u hash=%08x\n", sorted_u32(keys, N), stable,
           (unsigned)vals[0], (unsigned)vals[1], (unsigned)vals[2], (unsigned)hash_u32(vals, N));

    /* 3: signed keys */
    for (int i = 0; i < N; i++) {
        uint32_t r = splitmix();
        skeys[i] = (int32_t)(r % 2000001u) - 1000000;
        if (i % 1000 == 0)
            skeys[i] = i % 2000 == 0 ? INT32_MIN : INT32_MAX;
    }
    radix_i32(skeys, N);
    bool sok = true;
    int64_t ssum = 0;
    for (int i = 0; i < N; i++) {
        if (i && skeys[i - 1] > skeys[i])
            sok = false;
        ssum += skeys[i];
    }
    printf("i32: sorted=%d min=%d max=%d med=%d sum=%lld\n", sok, skeys[0], skeys[N - 1], skeys[N / 2],
           (long long)ssum);

    /* 4: strings */
    for (int s = 0; s < NSTR; s++) {
        int len = 1 + (int)(splitmix() % STRLEN);
        for (int k = 0; k < len; k++)
            strs[s][k] = (char)('a' + splitmix() % 6u);
        strs[s][len] = '\0';
        sidx[s] = s;
    }
    msd_radix(sidx, stmp, 0, NSTR, 0);
    bool strok = true;
    uint32_t sh = 0;
    for (int s = 0; s < NSTR; s++) {
        if (s && strcmp(strs[sidx[s - 1]], strs[sidx[s]]) > 0)
            strok = false;
        for (const char *p = strs[sidx[s]]; *p; p++)
            sh = sh * 31u + (uint8_t)*p;
    }
    printf("strings: sorted=%d first=%s last=%s mid=%s hash=%08x\n", strok, strs[sidx[0]],
           strs[sidx[NSTR - 1]], strs[sidx[NSTR / 2]], (unsigned)sh);
    return 0;
}
