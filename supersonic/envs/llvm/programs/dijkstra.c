/* Dijkstra shortest paths benchmark: builds a random weighted digraph in CSR
 * form, runs heap-based and O(V^2) Dijkstra from several sources, cross-checks
 * them with Bellman-Ford, and prints distance checksums and a sample path. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include <limits.h>

#define NV 400
#define NE 3200
#define INF UINT32_MAX

struct edge {
    uint16_t from, to;
    uint16_t w;
};

static struct edge edges[NE];
static uint32_t row_start[NV + 1];
static uint16_t adj_to[NE];
static uint16_t adj_w[NE];

static uint32_t seed = 0xDEADBEEFu;

static uint32_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return seed;
}

static void build_graph(void)
{
    /* ring guarantees strong connectivity, rest random */
    for (int i = 0; i < NE; i++) {
        if (i < NV) {
            edges[i].from = (uint16_t)i;
            edges[i].to = (uint16_t)((i + 1) % NV);
            edges[i].w = (uint16_t)(50 + rnd() % 50u);
        } else {
            edges[i].from = (uint16_t)(rnd() % NV);
            edges[i].to = (uint16_t)(rnd() % NV);
            edges[i].w = (uint16_t)(1 + rnd() % 100u);
        }
    }
    uint32_t deg[NV];
    memset(deg, 0, sizeof deg);
    for (int i = 0; i < NE; i++)
        deg[edges[i].from]++;
    row_start[0] = 0;
    for (int v = 0; v < NV; v++)
        row_start[v + 1] = row_start[v] + deg[v];
    uint32_t fillpos[NV];
    memcpy(fillpos, row_start, sizeof fillpos);
    for (int i = 0; i < NE; i++) {
        uint32_t p = fillpos[edges[i].from]++;
        adj_to[p] = edges[i].to;
        adj_w[p] = edges[i].w;
    }
}

struct heap_node {
    uint32_t dist;
    uint16_t v;
};

static struct heap_node heap[NE + NV];
static int heap_size;

static void heap_push(uint32_t d, uint16_t v)
{
    int i = heap_size++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (heap[p].dist <= d)
            break;
        heap[i] = heap[p];
        i = p;
    }
    heap[i].dist = d;
    heap[i].v = v;
}

static struct heap_node heap_pop(void)
{
    struct heap_node top = heap[0];
    struct heap_node last = heap[--heap_size];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= heap_size)
            break;
        if (c + 1 < heap_size && heap[c + 1].dist < heap[c].dist)
            c++;
        if (heap[c].dist >= last.dist)
            break;
        heap[i] = heap[c];
        i = c;
    }
    if (heap_size > 0)
        heap[i] = last;
    return top;
}

static unsigned dijkstra_heap(int src, uint32_t *dist, int16_t *pred)
{
    unsigned relaxations = 0;
    for (int v = 0; v < NV; v++) {
        dist[v] = INF;
        pred[v] = -1;
    }
    dist[src] = 0;
    heap_size = 0;
    heap_push(0, (uint16_t)src);
    while (heap_size > 0) {
        struct heap_node n = heap_pop();
        if (n.dist != dist[n.v])
            continue; /* stale entry */
        for (uint32_t e = row_start[n.v]; e < row_start[n.v + 1]; e++) {
            uint32_t nd = n.dist + adj_w[e];
            if (nd < dist[adj_to[e]]) {
                dist[adj_to[e]] = nd;
                pred[adj_to[e]] = (int16_t)n.v;
                heap_push(nd, adj_to[e]);
                relaxations++;
            }
        }
    }
    return relaxations;
}

static void dijkstra_dense(int src, uint32_t *dist)
{
    bool done[NV];
    for (int v = 0; v < NV; v++) {
        dist[v] = INF;
        done[v] = false;
    }
    dist[src] = 0;
    for (int iter = 0; iter < NV; iter++) {
        int u = -1;
        for (int v = 0; v < NV; v++)
            if (!done[v] && (u < 0 || dist[v] < dist[u]))
                u = v;
        if (u < 0 || dist[u] == INF)
            break;
        done[u] = true;
        for (uint32_t e = row_start[u]; e < row_start[u + 1]; e++) {
            uint32_t nd = dist[u] + adj_w[e];
            if (nd < dist[adj_to[e]])
                dist[adj_to[e]] = nd;
        }
    }
}

static int bellman_ford(int src, uint32_t *dist)
{
    int rounds = 0;
    for (int v = 0; v < NV; v++)
        dist[v] = INF;
    dist[src] = 0;
    bool changed = true;
    while (changed && rounds < NV) {
        changed = false;
        rounds++;
        for (int i = 0; i < NE; i++) {
            uint32_t du = dist[edges[i].from];
            if (du == INF)
                continue;
            uint32_t nd = du + edges[i].w;
            if (nd < dist[edges[i].to]) {
                dist[edges[i].to] = nd;
                changed = true;
            }
        }
    }
    return rounds;
}

static int path_to(const int16_t *pred, int target, uint16_t *out)
{
    int len = 0;
    for (int v = target; v >= 0; v = pred[v])
        out[len++] = (uint16_t)v;
    for (int i = 0; i < len / 2; i++) {
        uint16_t t = out[i];
        out[i] = out[len - 1 - i];
        out[len - 1 - i] = t;
    }
    return len;
}

static uint32_t d1[NV], d2[NV], d3[NV];
static int16_t pred[NV];

int main(void)
{
    build_graph();
    static const int sources[] = {0, 17, 123, 256, 399};
    for (size_t s = 0; s < sizeof sources / sizeof sources[0]; s++) {
        int src = sources[s];
        unsigned rel = dijkstra_heap(src, d1, pred);
        dijkstra_dense(src, d2);
        int rounds = bellman_ford(src, d3);
        uint64_t sum = 0;
        uint32_t maxd = 0;
        int far = src;
        for (int v = 0; v < NV; v++) {
            sum += d1[v];
            if (d1[v] > maxd) {
                maxd = d1[v];
                far = v;
            }
        }
        bool ok = memcmp(d1, d2, sizeof d1) == 0 && memcmp(d1, d3, sizeof d1) == 0;
        printf("src=%3d sum=%llu ecc=%u far=%d relax=%u bf_rounds=%d agree=%d\n", src,
               (unsigned long long)sum, (unsigned)maxd, far, rel, rounds, ok);
        if (s == 0) {
            uint16_t path[NV];
            int len = path_to(pred, far, path);
            printf("path 0->%d (%d nodes):", far, len);
            for (int i = 0; i < len; i++)
                printf(" %u", (unsigned)path[i]);
            printf("\n");
        }
    }
    return 0;
}
