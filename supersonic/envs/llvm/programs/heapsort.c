/* Heapsort benchmark: in-place binary heapsort, a 4-ary heapsort and a
 * priority-queue based k-way merge over pseudo-random data, with checksums. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#define N 3000
#define KWAY 8
#define RUNLEN 200

static uint32_t xs_state = 0x9E3779B9u;

static uint32_t xorshift32(void)
{
    uint32_t x = xs_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    xs_state = x;
    return x;
}

static void sift_down(uint32_t *a, size_t start, size_t end)
{
    size_t root = start;
    while (2 * root + 1 <= end) {
        size_t child = 2 * root + 1;
        size_t sw = root;
        if (a[sw] < a[child])
            sw = child;
        if (child + 1 <= end && a[sw] < a[child + 1])
            sw = child + 1;
        if (sw == root)
            return;
        uint32_t t = a[root];
        a[root] = a[sw];
        a[sw] = t;
        root = sw;
    }
}

static void heapsort_binary(uint32_t *a, size_t n)
{
    if (n < 2)
        return;
    for (size_t s = (n - 2) / 2 + 1; s-- > 0;)
        sift_down(a, s, n - 1);
    for (size_t end = n - 1; end > 0; end--) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end - 1);
    }
}

static void sift_down4(uint32_t *a, size_t i, size_t n)
{
    uint32_t v = a[i];
    for (;;) {
        size_t first = 4 * i + 1;
        if (first >= n)
            break;
        size_t best = first;
        size_t lim = first + 4 < n ? first + 4 : n;
        for (size_t c = first + 1; c < lim; c++)
            if (a[c] > a[best])
                best = c;
        if (a[best] <= v)
            break;
        a[i] = a[best];
        i = best;
    }
    a[i] = v;
}

static void heapsort_4ary(uint32_t *a, size_t n)
{
    if (n < 2)
        return;
    for (size_t i = (n - 2) / 4 + 1; i-- > 0;)
        sift_down4(a, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down4(a, 0, end);
    }
}

/* min-heap of (value, source) pairs for k-way merging */
struct pq_item {
    uint32_t value;
    int src;
};

struct pqueue {
    struct pq_item items[KWAY];
    int size;
};

static bool pq_less(const struct pq_item *x, const struct pq_item *y)
{
    if (x->value != y->value)
        return x->value < y->value;
    return x->src < y->src;
}

static void pq_push(struct pqueue *q, struct pq_item it)
{
    int i = q->size++;
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!pq_less(&it, &q->items[parent]))
            break;
        q->items[i] = q->items[parent];
        i = parent;
    }
    q->items[i] = it;
}

static struct pq_item pq_pop(struct pqueue *q)
{
    struct pq_item top = q->items[0];
    struct pq_item last = q->items[--q->size];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1;
        if (l >= q->size)
            break;
        int m = l;
        if (l + 1 < q->size && pq_less(&q->items[l + 1], &q->items[l]))
            m = l + 1;
        if (!pq_less(&q->items[m], &last))
            break;
        q->items[i] = q->items[m];
        i = m;
    }
    if (q->size > 0)
        q->items[i] = last;
    return top;
}

static uint32_t runs[KWAY][RUNLEN];
static uint32_t merged[KWAY * RUNLEN];

static size_t kway_merge(void)
{
    struct pqueue q;
    int pos[KWAY];
    size_t out = 0;
    q.size = 0;
    for (int k = 0; k < KWAY; k++) {
        pos[k] = 0;
        struct pq_item it = {runs[k][0], k};
        pq_push(&q, it);
        pos[k] = 1;
    }
    while (q.size > 0) {
        struct pq_item it = pq_pop(&q);
        merged[out++] = it.value;
        if (pos[it.src] < RUNLEN) {
            struct pq_item nx = {runs[it.src][pos[it.src]], it.src};
            pos[it.src]++;
            pq_push(&q, nx);
        }
    }
    return out;
}

static bool sorted_u32(const uint32_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (a[i - 1] > a[i])
            return false;
    return true;
}

static uint32_t mix_sum(const uint32_t *a, size_t n)
{
    uint32_t h = 0;
    for (size_t i = 0; i < n; i++)
        h = (h ^ a[i]) * 0x01000193u + (uint32_t)i;
    return h;
}

static uint32_t data1[N], data2[N];

int main(void)
{
    for (int round = 0; round < 4; round++) {
        uint32_t mod = round == 0 ? 0xFFFFFFFFu : (round == 1 ? 1000u : (round == 2 ? 3u : 65536u));
        for (size_t i = 0; i < N; i++) {
            uint32_t r = xorshift32();
            data1[i] = mod == 0xFFFFFFFFu ? r : r % mod;
        }
        memcpy(data2, data1, sizeof data1);
        heapsort_binary(data1, N);
        heapsort_4ary(data2, N);
        printf("round %d: bin=%d quad=%d equal=%d min=%u median=%u max=%u hash=%08x\n",
               round, sorted_u32(data1, N), sorted_u32(data2, N),
               memcmp(data1, data2, sizeof data1) == 0, (unsigned)data1[0],
               (unsigned)data1[N / 2], (unsigned)data1[N - 1], (unsigned)mix_sum(data1, N));
    }

    for (int k = 0; k < KWAY; k++) {
        for (int i = 0; i < RUNLEN; i++)
            runs[k][i] = xorshift32() % 100000u;
        heapsort_4ary(runs[k], RUNLEN);
    }
    size_t total = kway_merge();
    printf("kway: total=%zu sorted=%d first=%u last=%u hash=%08x\n", total,
           sorted_u32(merged, total), (unsigned)merged[0], (unsigned)merged[total - 1],
           (unsigned)mix_sum(merged, total));

    /* top-10 smallest via partial heapsort on a copy */
    uint32_t small[10];
    memcpy(data2, data1, sizeof data1);
    for (size_t i = 0; i < N; i++)
        data2[i] = xorshift32() % 1000000u;
    heapsort_binary(data2, N);
    memcpy(small, data2, sizeof small);
    printf("smallest:");
    for (int i = 0; i < 10; i++)
        printf(" %u", (unsigned)small[i]);
    printf("\n");
    return 0;
}
