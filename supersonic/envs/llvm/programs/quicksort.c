/* Quicksort benchmark: sorts pseudo-random integer arrays and records with
 * recursive (median-of-three, insertion-sort cutoff) and iterative quicksort,
 * then verifies order and prints checksums. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#define N 4000
#define NREC 600
#define CUTOFF 12

static uint32_t rng_state = 12345u;

static uint32_t next_rand(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

static void swap_int(int32_t *a, int32_t *b)
{
    int32_t t = *a;
    *a = *b;
    *b = t;
}

static void insertion_sort(int32_t *a, int lo, int hi)
{
    for (int i = lo + 1; i <= hi; i++) {
        int32_t v = a[i];
        int j = i - 1;
        while (j >= lo && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static int median_of_three(int32_t *a, int lo, int hi)
{
    int mid = lo + (hi - lo) / 2;
    if (a[mid] < a[lo])
        swap_int(&a[mid], &a[lo]);
    if (a[hi] < a[lo])
        swap_int(&a[hi], &a[lo]);
    if (a[hi] < a[mid])
        swap_int(&a[hi], &a[mid]);
    return mid;
}

static int hoare_partition(int32_t *a, int lo, int hi)
{
    int mid = median_of_three(a, lo, hi);
    int32_t pivot = a[mid];
    int i = lo - 1;
    int j = hi + 1;
    for (;;) {
        do {
            i++;
        } while (a[i] < pivot);
        do {
            j--;
        } while (a[j] > pivot);
        if (i >= j)
            return j;
        swap_int(&a[i], &a[j]);
    }
}

static unsigned long comparisons_depth;

static void quicksort_rec(int32_t *a, int lo, int hi, unsigned depth)
{
    while (hi - lo > CUTOFF) {
        if (depth > comparisons_depth)
            comparisons_depth = depth;
        int p = hoare_partition(a, lo, hi);
        /* recurse into smaller half, loop on larger */
        if (p - lo < hi - p) {
            quicksort_rec(a, lo, p, depth + 1);
            lo = p + 1;
        } else {
            quicksort_rec(a, p + 1, hi, depth + 1);
            hi = p;
        }
        depth++;
    }
    insertion_sort(a, lo, hi);
}

static int lomuto_partition(int32_t *a, int lo, int hi)
{
    int32_t pivot = a[hi];
    int i = lo;
    for (int j = lo; j < hi; j++) {
        if (a[j] < pivot) {
            swap_int(&a[i], &a[j]);
            i++;
        }
    }
    swap_int(&a[i], &a[hi]);
    return i;
}

static void quicksort_iter(int32_t *a, int n)
{
    int stack[128];
    int sp = 0;
    if (n < 2)
        return;
    stack[sp++] = 0;
    stack[sp++] = n - 1;
    while (sp > 0) {
        int hi = stack[--sp];
        int lo = stack[--sp];
        if (lo >= hi)
            continue;
        /* move middle element to the end as pivot to avoid worst cases */
        swap_int(&a[lo + (hi - lo) / 2], &a[hi]);
        int p = lomuto_partition(a, lo, hi);
        /* push larger part first so smaller is processed first */
        if (p - lo > hi - p) {
            stack[sp++] = lo;
            stack[sp++] = p - 1;
            stack[sp++] = p + 1;
            stack[sp++] = hi;
        } else {
            stack[sp++] = p + 1;
            stack[sp++] = hi;
            stack[sp++] = lo;
            stack[sp++] = p - 1;
        }
    }
}

struct record {
    uint16_t key;
    uint16_t id;
    char tag[6];
};

static int record_cmp(const struct record *x, const struct record *y)
{
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return 0;
}

static void quicksort_records(struct record *r, int lo, int hi)
{
    while (lo < hi) {
        struct record pivot = r[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (record_cmp(&r[i], &pivot) < 0)
                i++;
            while (record_cmp(&r[j], &pivot) > 0)
                j--;
            if (i <= j) {
                struct record t = r[i];
                r[i] = r[j];
                r[j] = t;
                i++;
                j--;
            }
        }
        if (j - lo < hi - i) {
            quicksort_records(r, lo, j);
            lo = i;
        } else {
            quicksort_records(r, i, hi);
            hi = j;
        }
    }
}

static bool is_sorted(const int32_t *a, int n)
{
    for (int i = 1; i < n; i++)
        if (a[i - 1] > a[i])
            return false;
    return true;
}

static uint32_t checksum(const int32_t *a, int n)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++) {
        h ^= (uint32_t)a[i];
        h *= 16777619u;
    }
    return h;
}

static void fill(int32_t *a, int n, int mode)
{
    for (int i = 0; i < n; i++) {
        switch (mode) {
        case 0: a[i] = (int32_t)(next_rand() % 100000u) - 50000; break;
        case 1: a[i] = i; break;
        case 2: a[i] = n - i; break;
        case 3: a[i] = (int32_t)(next_rand() % 7u); break;
        default: a[i] = (i % 2) ? i : -i; break;
        }
    }
}

static int32_t arr[N];
static int32_t arr2[N];
static struct record recs[NREC];

int main(void)
{
    static const char *names[] = {"random", "ascending", "descending", "few-unique", "zigzag"};
    for (int mode = 0; mode < 5; mode++) {
        fill(arr, N, mode);
        memcpy(arr2, arr, sizeof arr);
        comparisons_depth = 0;
        quicksort_rec(arr, 0, N - 1, 0);
        quicksort_iter(arr2, N);
        printf("%-10s rec sorted=%d iter sorted=%d same=%d min=%d max=%d depth=%lu sum=%08x\n",
               names[mode], is_sorted(arr, N), is_sorted(arr2, N),
               memcmp(arr, arr2, sizeof arr) == 0, (int)arr[0], (int)arr[N - 1],
               comparisons_depth, (unsigned)checksum(arr, N));
    }

    for (int i = 0; i < NREC; i++) {
        recs[i].key = (uint16_t)(next_rand() % 50u);
        recs[i].id = (uint16_t)i;
        for (int k = 0; k < 5; k++)
            recs[i].tag[k] = (char)('a' + next_rand() % 26u);
        recs[i].tag[5] = '\0';
    }
    quicksort_records(recs, 0, NREC - 1);
    bool ok = true;
    uint32_t h = 0;
    for (int i = 0; i < NREC; i++) {
        if (i > 0 && record_cmp(&recs[i - 1], &recs[i]) > 0)
            ok = false;
        h = h * 31u + recs[i].id;
        h ^= (uint32_t)(unsigned char)recs[i].tag[0];
    }
    printf("records sorted=%d hash=%08x first=%u:%s last=%u:%s\n", ok, (unsigned)h,
           (unsigned)recs[0].key, recs[0].tag, (unsigned)recs[NREC - 1].key, recs[NREC - 1].tag);
    return 0;
}
