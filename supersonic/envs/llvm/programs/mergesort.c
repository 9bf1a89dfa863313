/* Mergesort benchmark: top-down and bottom-up mergesort of integers, a stable
 * sort of keyed records, and inversion counting via merge; prints checksums. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#define N 5000
#define NREC 800

static uint64_t lcg_state = 0x853C49E6748FEA9Bull;

static uint32_t lcg_next(void)
{
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(lcg_state >> 33);
}

static void merge(int32_t *a, int32_t *tmp, size_t lo, size_t mid, size_t hi)
{
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi) {
        if (a[j] < a[i])
            tmp[k++] = a[j++];
        else
            tmp[k++] = a[i++];
    }
    while (i < mid)
        tmp[k++] = a[i++];
    while (j < hi)
        tmp[k++] = a[j++];
    memcpy(a + lo, tmp + lo, (hi - lo) * sizeof *a);
}

static void msort_topdown(int32_t *a, int32_t *tmp, size_t lo, size_t hi)
{
    if (hi - lo < 2)
        return;
    size_t mid = lo + (hi - lo) / 2;
    msort_topdown(a, tmp, lo, mid);
    msort_topdown(a, tmp, mid, hi);
    if (a[mid - 1] <= a[mid])
        return; /* already in order */
    merge(a, tmp, lo, mid, hi);
}

static void msort_bottomup(int32_t *a, int32_t *tmp, size_t n)
{
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n - width; lo += 2 * width) {
            size_t mid = lo + width;
            size_t hi = mid + width < n ? mid + width : n;
            merge(a, tmp, lo, mid, hi);
        }
    }
}

static uint64_t count_inversions(int32_t *a, int32_t *tmp, size_t lo, size_t hi)
{
    if (hi - lo < 2)
        return 0;
    size_t mid = lo + (hi - lo) / 2;
    uint64_t inv = count_inversions(a, tmp, lo, mid) + count_inversions(a, tmp, mid, hi);
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi) {
        if (a[j] < a[i]) {
            inv += mid - i;
            tmp[k++] = a[j++];
        } else {
            tmp[k++] = a[i++];
        }
    }
    while (i < mid)
        tmp[k++] = a[i++];
    while (j < hi)
        tmp[k++] = a[j++];
    memcpy(a + lo, tmp + lo, (hi - lo) * sizeof *a);
    return inv;
}

struct rec {
    uint8_t group;
    uint16_t seq;
    uint32_t payload;
};

static void rec_msort(struct rec *r, struct rec *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    rec_msort(r, tmp, h);
    rec_msort(r + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        if (r[j].group < r[i].group)
            tmp[k++] = r[j++];
        else
            tmp[k++] = r[i++];
    }
    while (i < h)
        tmp[k++] = r[i++];
    while (j < n)
        tmp[k++] = r[j++];
    memcpy(r, tmp, n * sizeof *r);
}

static bool is_stable_sorted(const struct rec *r, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (r[i - 1].group > r[i].group)
            return false;
        if (r[i - 1].group == r[i].group && r[i - 1].seq > r[i].seq)
            return false;
    }
    return true;
}

static uint64_t brute_inversions(const int32_t *a, size_t n)
{
    uint64_t c = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (a[i] > a[j])
                c++;
    return c;
}

static uint32_t hash_ints(const int32_t *a, size_t n)
{
    uint32_t h = 0x811C9DC5u;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)a[i];
        for (int b = 0; b < 4; b++) {
            h ^= (v >> (8 * b)) & 0xFFu;
            h *= 0x01000193u;
        }
    }
    return h;
}

static int32_t a1[N], a2[N], a3[N], tmpbuf[N];
static struct rec recs[NREC], rtmp[NREC];

int main(void)
{
    for (int trial = 0; trial < 3; trial++) {
        for (size_t i = 0; i < N; i++) {
            uint32_t r = lcg_next();
            if (trial == 0)
                a1[i] = (int32_t)(r % 200001u) - 100000;
            else if (trial == 1)
                a1[i] = (int32_t)(i / 3) + (int32_t)(r % 5u);
            else
                a1[i] = (int32_t)(N - i) * 2 + (int32_t)(r & 1u);
        }
        memcpy(a2, a1, sizeof a1);
        memcpy(a3, a1, sizeof a1);
        msort_topdown(a1, tmpbuf, 0, N);
        msort_bottomup(a2, tmpbuf, N);
        uint64_t inv = count_inversions(a3, tmpbuf, 0, N);
        printf("trial %d: equal=%d inversions=%llu min=%d max=%d hash=%08x\n", trial,
               memcmp(a1, a2, sizeof a1) == 0 && memcmp(a1, a3, sizeof a1) == 0,
               (unsigned long long)inv, (int)a1[0], (int)a1[N - 1],
               (unsigned)hash_ints(a1, N));
    }

    /* cross-check inversion counting on a small array */
    for (size_t i = 0; i < 300; i++)
        a1[i] = (int32_t)(lcg_next() % 1000u);
    uint64_t bf = brute_inversions(a1, 300);
    uint64_t fast = count_inversions(a1, tmpbuf, 0, 300);
    printf("inversion check: brute=%llu merge=%llu match=%d\n", (unsigned long long)bf,
           (unsigned long long)fast, bf == fast);

    for (size_t i = 0; i < NREC; i++) {
        recs[i].group = (uint8_t)(lcg_next() % 16u);
        recs[i].seq = (uint16_t)i;
        recs[i].payload = lcg_next();
    }
    rec_msort(recs, rtmp, NREC);
    uint32_t h = 0;
    unsigned counts[16] = {0};
    for (size_t i = 0; i < NREC; i++) {
        h = h * 33u + recs[i].payload;
        counts[recs[i].group]++;
    }
    printf("records: stable=%d hash=%08x groups:", is_stable_sorted(recs, NREC), (unsigned)h);
    for (int g = 0; g < 16; g++)
        printf(" %u", counts[g]);
    printf("\n");
    return 0;
}
