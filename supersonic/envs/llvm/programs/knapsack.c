/* Knapsack problems: 0/1 knapsack by 2-D DP with item reconstruction and by
 * 1-D DP, exhaustive branch-and-bound cross-check, unbounded and bounded
 * (binary-split) variants, and subset-sum reachability counts. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>

#define MAXN 64
#define MAXW 1000

typedef struct {
    int w, v, count;
} item_t;

static int table[MAXN + 1][MAXW + 1];
static int best_bb;
static uint64_t bb_nodes;

static uint32_t st = 7777u;

static int rnd_range(int lo, int hi)
{
    st ^= st << 13;
    st ^= st >> 17;
    st ^= st << 5;
    return lo + (int)(st % (uint32_t)(hi - lo + 1));
}

static int knap_2d(const item_t *it, int n, int cap, bool *take)
{
    for (int w = 0; w <= cap; w++)
        table[0][w] = 0;
    for (int i = 1; i <= n; i++) {
        for (int w = 0; w <= cap; w++) {
            int best = table[i - 1][w];
            if (it[i - 1].w <= w) {
                int alt = table[i - 1][w - it[i - 1].w] + it[i - 1].v;
                if (alt > best)
                    best = alt;
            }
            table[i][w] = best;
        }
    }
    int w = cap;
    for (int i = n; i >= 1; i--) {
        take[i - 1] = table[i][w] != table[i - 1][w];
        if (take[i - 1])
            w -= it[i - 1].w;
    }
    return table[n][cap];
}

static int knap_1d(const item_t *it, int n, int cap)
{
    int dp[MAXW + 1];
    memset(dp, 0, sizeof dp);
    for (int i = 0; i < n; i++)
        for (int w = cap; w >= it[i].w; w--)
            if (dp[w - it[i].w] + it[i].v > dp[w])
                dp[w] = dp[w - it[i].w] + it[i].v;
    return dp[cap];
}

/* Items must be sorted by value density (descending) for the bound. */
static int frac_bound(const item_t *it, int n, int i, int cap, int val)
{
    /* upper bound: greedy fill, last item fractional (rounded up, integer math) */
    for (; i < n; i++) {
        if (it[i].w <= cap) {
            cap -= it[i].w;
            val += it[i].v;
        } else {
            return val + (it[i].v * cap + it[i].w - 1) / it[i].w;
        }
    }
    return val;
}

static void bb(const item_t *it, int n, int i, int cap, int val)
{
    bb_nodes++;
    if (val > best_bb)
        best_bb = val;
    if (i == n || frac_bound(it, n, i, cap, val) <= best_bb)
        return;
    if (it[i].w <= cap)
        bb(it, n, i + 1, cap - it[i].w, val + it[i].v);
    bb(it, n, i + 1, cap, val);
}

static void sort_by_density(item_t *it, int n)
{
    for (int i = 1; i < n; i++) {
        item_t x = it[i];
        int j = i;
        /* compare v/w descending via cross multiplication */
        while (j > 0 && it[j - 1].v * x.w < x.v * it[j - 1].w) {
            it[j] = it[j - 1];
            j--;
        }
        it[j] = x;
    }
}

static int knap_unbounded(const item_t *it, int n, int cap)
{
    int dp[MAXW + 1];
    memset(dp, 0, sizeof dp);
    for (int w = 1; w <= cap; w++)
        for (int i = 0; i < n; i++)
            if (it[i].w <= w && dp[w - it[i].w] + it[i].v > dp[w])
                dp[w] = dp[w - it[i].w] + it[i].v;
    return dp[cap];
}

static int knap_bounded(const item_t *it, int n, int cap)
{
    item_t split[MAXN * 8];
    int m = 0;
    for (int i = 0; i < n; i++) {
        int left = it[i].count;
        for (int k = 1; left > 0; k *= 2) {
            int take = k < left ? k : left;
            split[m].w = it[i].w * take;
            split[m].v = it[i].v * take;
            split[m].count = 1;
            m++;
            left -= take;
        }
    }
    return knap_1d(split, m, cap);
}

static int subset_sums(const item_t *it, int n, int cap)
{
    static bool reach[MAXW + 1];
    memset(reach, 0, sizeof reach);
    reach[0] = true;
    for (int i = 0; i < n; i++)
        for (int w = cap; w >= it[i].w; w--)
            if (reach[w - it[i].w])
                reach[w] = true;
    int count = 0;
    for (int w = 0; w <= cap; w++)
        count += reach[w];
    return count;
}

int main(void)
{
    item_t items[MAXN];
    bool take[MAXN];
    static const int ns[] = { 10, 25, 40, 60 };
    static const int caps[] = { 60, 250, 500, 1000 };
    for (int t = 0; t < 4; t++) {
        int n = ns[t], cap = caps[t];
        for (int i = 0; i < n; i++) {
            items[i].w = rnd_range(3, 60);
            items[i].v = items[i].w + rnd_range(-2, 30);
            items[i].count = rnd_range(1, 5);
        }
        int v2 = knap_2d(items, n, cap, take);
        int v1 = knap_1d(items, n, cap);
        int tw = 0, tv = 0, nt = 0;
        uint32_t mask_hash = 0;
        for (int i = 0; i < n; i++)
            if (take[i]) {
                tw += items[i].w;
                tv += items[i].v;
                nt++;
                mask_hash = mask_hash * 2654435761u + (uint32_t)i;
            }
        item_t sorted[MAXN];
        memcpy(sorted, items, sizeof(item_t) * (size_t)n);
        sort_by_density(sorted, n);
        best_bb = 0;
        bb_nodes = 0;
        bb(sorted, n, 0, cap, 0);
        printf("n=%2d cap=%4d best=%5d 1d=%5d bb=%5d bb_nodes=%7llu taken=%2d weight=%4d value=%5d sel=%08x\n",
               n, cap, v2, v1, best_bb, (unsigned long long)bb_nodes, nt, tw, tv, (unsigned)mask_hash);
        printf("      unbounded=%5d bounded=%5d subset_sums=%4d\n", knap_unbounded(items, n, cap),
               knap_bounded(items, n, cap), subset_sums(items, n, cap));
    }
    return 0;
}
