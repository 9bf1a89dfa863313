/* Binary search benchmark: classic, lower/upper bound, branchless and
 * interpolation search over sorted tables, plus integer square root by
 * bisection and searching a rotated array; prints hit counts and checksums. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>

#define N 4096
#define QUERIES 20000

static uint32_t seed = 2463534242u;

static uint32_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return seed;
}

static int bsearch_classic(const int32_t *a, int n, int32_t key)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (a[mid] == key)
            return mid;
        if (a[mid] < key)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static int lower_bound(const int32_t *a, int n, int32_t key)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (a[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int upper_bound(const int32_t *a, int n, int32_t key)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (a[mid] <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int lower_bound_branchless(const int32_t *a, int n, int32_t key)
{
    const int32_t *base = a;
    int len = n;
    while (len > 1) {
        int half = len / 2;
        base = (base[half - 1] < key) ? base + half : base;
        len -= half;
    }
    int idx = (int)(base - a);
    if (n > 0 && a[idx] < key)
        idx++;
    return idx;
}

static int interpolation_search(const int32_t *a, int n, int32_t key)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi && key >= a[lo] && key <= a[hi]) {
        if (a[hi] == a[lo])
            return a[lo] == key ? lo : -1;
        int64_t num = (int64_t)(key - a[lo]) * (hi - lo);
        int pos = lo + (int)(num / (int64_t)(a[hi] - a[lo]));
        if (a[pos] == key)
            return pos;
        if (a[pos] < key)
            lo = pos + 1;
        else
            hi = pos - 1;
    }
    return -1;
}

static uint32_t isqrt_bisect(uint32_t x)
{
    uint32_t lo = 0, hi = 65536;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((uint64_t)mid * mid <= x)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static int rotated_search(const int32_t *a, int n, int32_t key)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (a[mid] == key)
            return mid;
        if (a[lo] <= a[mid]) {
            if (key >= a[lo] && key < a[mid])
                hi = mid - 1;
            else
                lo = mid + 1;
        } else {
            if (key > a[mid] && key <= a[hi])
                lo = mid + 1;
            else
                hi = mid - 1;
        }
    }
    return -1;
}

static int32_t table[N];
static int32_t dup_table[N];
static int32_t rotated[N];

int main(void)
{
    /* strictly increasing table with random gaps */
    int32_t v = -50000;
    for (int i = 0; i < N; i++) {
        v += 1 + (int32_t)(rnd() % 40u);
        table[i] = v;
    }
    /* non-decreasing table with many duplicates */
    for (int i = 0; i < N; i++)
        dup_table[i] = i / 7;

    int hits = 0, interp_hits = 0, mismatch = 0;
    uint32_t poscheck = 0;
    for (int q = 0; q < QUERIES; q++) {
        int32_t key = table[0] - 10 + (int32_t)(rnd() % (uint32_t)(table[N - 1] - table[0] + 20));
        int c = bsearch_classic(table, N, key);
        int ip = interpolation_search(table, N, key);
        int lb = lower_bound(table, N, key);
        int lbb = lower_bound_branchless(table, N, key);
        if (c >= 0)
            hits++;
        if (ip >= 0)
            interp_hits++;
        if (c != ip || lb != lbb || (c >= 0 && c != lb))
            mismatch++;
        poscheck = poscheck * 31u + (uint32_t)lb;
    }
    printf("unique table: last=%d hits=%d interp_hits=%d mismatches=%d poshash=%08x\n",
           (int)table[N - 1], hits, interp_hits, mismatch, (unsigned)poscheck);

    uint32_t rangesum = 0;
    int bad = 0;
    for (int32_t key = -2; key < N / 7 + 3; key++) {
        int lb = lower_bound(dup_table, N, key);
        int ub = upper_bound(dup_table, N, key);
        int lbb = lower_bound_branchless(dup_table, N, key);
        if (lb != lbb)
            bad++;
        rangesum += (uint32_t)(ub - lb) * (uint32_t)(key + 3);
    }
    printf("dup table: equal_range weighted sum=%u bad=%d\n", (unsigned)rangesum, bad);

    uint32_t sq = 0;
    int sqbad = 0;
    for (uint32_t x = 0; x < 200000u; x += 7u) {
        uint32_t r = isqrt_bisect(x);
        if (!((uint64_t)r * r <= x && (uint64_t)(r + 1) * (r + 1) > x))
            sqbad++;
        sq += r;
    }
    uint32_t big = isqrt_bisect(0xFFFFFFFFu);
    printf("isqrt: sum=%u bad=%d isqrt(max)=%u\n", (unsigned)sq, sqbad, (unsigned)big);

    for (int shift = 0; shift < N; shift += 1023) {
        for (int i = 0; i < N; i++)
            rotated[i] = table[(i + shift) % N];
        int found = 0, wrong = 0;
        for (int i = 0; i < N; i += 3) {
            int idx = rotated_search(rotated, N, table[i]);
            if (idx >= 0 && rotated[idx] == table[i])
                found++;
            else
                wrong++;
        }
        int miss = rotated_search(rotated, N, table[0] - 1);
        printf("rotated shift=%d found=%d wrong=%d missing_key=%d\n", shift, found, wrong, miss);
    }
    return 0;
}
