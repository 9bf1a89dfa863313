/* Floyd-Warshall benchmark: all-pairs shortest paths with negative edge
 * weights (made cycle-safe via vertex potentials), path reconstruction,
 * negative-cycle detection, and bitset transitive closure (Warshall). */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#define N 72
#define INF 1000000000
#define WORDS ((N + 63) / 64)

static int32_t dist[N][N];
static int16_t nxt[N][N];
static int32_t base_w[N][N];
static int32_t potential[N];
static uint64_t reach[N][WORDS];

static uint32_t s = 99991u;

static uint32_t rnd(void)
{
    s = s * 1103515245u + 12345u;
    return (s >> 16) & 0x7FFFu;
}

static void gen_graph(int density_pct)
{
    for (int i = 0; i < N; i++)
        potential[i] = (int32_t)(rnd() % 40u);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            if (i == j)
                base_w[i][j] = 0;
            else if ((int)(rnd() % 100u) < density_pct)
                /* nonnegative weight shifted by potentials: may be negative,
                   but every cycle keeps its original nonnegative length */
                base_w[i][j] = (int32_t)(rnd() % 30u) + potential[i] - potential[j];
            else
                base_w[i][j] = INF;
        }
}

static void fw_init(void)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            dist[i][j] = base_w[i][j];
            nxt[i][j] = (int16_t)(base_w[i][j] < INF ? j : -1);
        }
}

static void floyd_warshall(void)
{
    for (int k = 0; k < N; k++)
        for (int i = 0; i < N; i++) {
            int32_t dik = dist[i][k];
            if (dik >= INF)
                continue;
            for (int j = 0; j < N; j++) {
                int32_t dkj = dist[k][j];
                if (dkj >= INF)
                    continue;
                int64_t cand = (int64_t)dik + dkj;
                if (cand < -INF)
                    cand = -INF; /* saturate when negative cycles exist */
                if (cand < dist[i][j]) {
                    dist[i][j] = (int32_t)cand;
                    nxt[i][j] = nxt[i][k];
                }
            }
        }
}

static int reconstruct(int u, int v, int *path, int maxlen)
{
    if (nxt[u][v] < 0)
        return 0;
    int len = 0;
    path[len++] = u;
    while (u != v && len < maxlen) {
        u = nxt[u][v];
        path[len++] = u;
    }
    return len;
}

static int32_t path_weight(const int *path, int len)
{
    int32_t w = 0;
    for (int i = 0; i + 1 < len; i++)
        w += base_w[path[i]][path[i + 1]];
    return w;
}

static int negative_cycle_vertices(void)
{
    int c = 0;
    for (int i = 0; i < N; i++)
        if (dist[i][i] < 0)
            c++;
    return c;
}

static void closure(void)
{
    memset(reach, 0, sizeof reach);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (base_w[i][j] < INF)
                reach[i][j / 64] |= (uint64_t)1 << (j % 64);
    for (int k = 0; k < N; k++)
        for (int i = 0; i < N; i++)
            if (reach[i][k / 64] >> (k % 64) & 1u)
                for (int w = 0; w < WORDS; w++)
                    reach[i][w] |= reach[k][w];
}

static int popcount64(uint64_t x)
{
    int c = 0;
    while (x) {
        x &= x - 1;
        c++;
    }
    return c;
}

static void report(const char *name)
{
    int64_t sum = 0;
    int reachable = 0, closure_pairs = 0, mismatch = 0;
    int32_t minv = INF, maxv = -INF;
    closure();
    for (int i = 0; i < N; i++) {
        for (int w = 0; w < WORDS; w++)
            closure_pairs += popcount64(reach[i][w]);
        for (int j = 0; j < N; j++) {
            bool r = dist[i][j] < INF;
            bool cr = (reach[i][j / 64] >> (j % 64)) & 1u;
            if (i != j && r != cr)
                mismatch++;
            if (r) {
                reachable++;
                sum += dist[i][j];
                if (dist[i][j] < minv)
                    minv = dist[i][j];
                if (dist[i][j] > maxv)
                    maxv = dist[i][j];
            }
        }
    }
    printf("%s: reachable=%d closure=%d mismatch=%d sum=%lld min=%d max=%d negcyc=%d\n", name,
           reachable, closure_pairs, mismatch, (long long)sum, (int)minv, (int)maxv,
           negative_cycle_vertices());
}

int main(void)
{
    static const int densities[] = {3, 8, 25};
    int path[N + 1];
    for (int d = 0; d < 3; d++) {
        gen_graph(densities[d]);
        fw_init();
        floyd_warshall();
        char name[32];
        snprintf(name, sizeof name, "density %2d%%", densities[d]);
        report(name);
        int checked = 0, bad = 0;
        for (int u = 0; u < N; u += 7)
            for (int v = 0; v < N; v += 5) {
                if (dist[u][v] >= INF)
                    continue;
                int len = reconstruct(u, v, path, N + 1);
                checked++;
                if (len == 0 || path_weight(path, len) != dist[u][v])
                    bad++;
            }
        printf("  paths checked=%d bad=%d\n", checked, bad);
        int len = reconstruct(0, N - 1, path, N + 1);
        printf("  path 0->%d:", N - 1);
        for (int i = 0; i < len; i++)
            printf(" %d", path[i]);
        printf(" (w=%d)\n", len ? (int)dist[0][N - 1] : -1);
    }
    /* inject a negative cycle 1->2->3->1 */
    gen_graph(8);
    base_w[1][2] = -10;
    base_w[2][3] = -10;
    base_w[3][1] = 5;
    fw_init();
    floyd_warshall();
    report("with negative cycle");
    return 0;
}
