/* Topological sorting of generated DAGs: Kahn's algorithm with a min-heap
 * (lexicographically smallest order), recursive DFS ordering, cycle detection,
 * and critical-path (longest weighted path) computation. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>

#define MAXV 400
#define MAXE 3000

typedef struct {
    int nv, ne;
    int head[MAXV];
    int next[MAXE];
    int to[MAXE];
    int weight[MAXV];
} graph_t;

static graph_t g;
static int order_kahn[MAXV], order_dfs[MAXV];
static int color[MAXV];

static uint32_t seed = 42u;

static uint32_t rnd(uint32_t bound)
{
    seed = seed * 1664525u + 1013904223u;
    return (seed >> 10) % bound;
}

static void graph_init(graph_t *gr, int nv)
{
    gr->nv = nv;
    gr->ne = 0;
    for (int i = 0; i < nv; i++) {
        gr->head[i] = -1;
        gr->weight[i] = 1 + (int)rnd(20);
    }
}

static bool add_edge(graph_t *gr, int u, int v)
{
    if (gr->ne >= MAXE)
        return false;
    for (int e = gr->head[u]; e >= 0; e = gr->next[e])
        if (gr->to[e] == v)
            return false; /* no duplicate edges */
    gr->to[gr->ne] = v;
    gr->next[gr->ne] = gr->head[u];
    gr->head[u] = gr->ne++;
    return true;
}

/* Random DAG: edges go forward in a hidden random permutation. */
static void make_dag(graph_t *gr, int nv, int ne)
{
    int perm[MAXV];
    graph_init(gr, nv);
    for (int i = 0; i < nv; i++)
        perm[i] = i;
    for (int i = nv - 1; i > 0; i--) {
        int j = (int)rnd((uint32_t)i + 1u);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int tries = 0;
    while (gr->ne < ne && tries < ne * 4) {
        int a = (int)rnd((uint32_t)nv), b = (int)rnd((uint32_t)nv);
        tries++;
        if (a == b)
            continue;
        if (a > b) {
            int t = a;
            a = b;
            b = t;
        }
        add_edge(gr, perm[a], perm[b]);
    }
}

/* min-heap of vertex ids */
static int heap[MAXV], heap_n;

static void hpush(int v)
{
    int i = heap_n++;
    heap[i] = v;
    while (i > 0 && heap[(i - 1) / 2] > heap[i]) {
        int p = (i - 1) / 2;
        int t = heap[p];
        heap[p] = heap[i];
        heap[i] = t;
        i = p;
    }
}

static int hpop(void)
{
    int r = heap[0];
    heap[0] = heap[--heap_n];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, m = i;
        if (l < heap_n && heap[l] < heap[m])
            m = l;
        if (l + 1 < heap_n && heap[l + 1] < heap[m])
            m = l + 1;
        if (m == i)
            break;
        int t = heap[m];
        heap[m] = heap[i];
        heap[i] = t;
        i = m;
    }
    return r;
}

/* Returns number of vertices output (< nv means a cycle exists). */
static int kahn(const graph_t *gr, int *out)
{
    int indeg[MAXV];
    memset(indeg, 0, sizeof indeg);
    for (int u = 0; u < gr->nv; u++)
        for (int e = gr->head[u]; e >= 0; e = gr->next[e])
            indeg[gr->to[e]]++;
    heap_n = 0;
    for (int u = 0; u < gr->nv; u++)
        if (indeg[u] == 0)
            hpush(u);
    int cnt = 0;
    while (heap_n > 0) {
        int u = hpop();
        out[cnt++] = u;
        for (int e = gr->head[u]; e >= 0; e = gr->next[e])
            if (--indeg[gr->to[e]] == 0)
                hpush(gr->to[e]);
    }
    return cnt;
}

static int dfs_pos;

/* returns false if a back edge (cycle) is found */
static bool dfs(const graph_t *gr, int u, int *out)
{
    color[u] = 1;
    for (int e = gr->head[u]; e >= 0; e = gr->next[e]) {
        int v = gr->to[e];
        if (color[v] == 1)
            return false;
        if (color[v] == 0 && !dfs(gr, v, out))
            return false;
    }
    color[u] = 2;
    out[--dfs_pos] = u;
    return true;
}

static bool dfs_topo(const graph_t *gr, int *out)
{
    memset(color, 0, sizeof color);
    dfs_pos = gr->nv;
    for (int u = 0; u < gr->nv; u++)
        if (color[u] == 0 && !dfs(gr, u, out))
            return false;
    return true;
}

static bool verify(const graph_t *gr, const int *ord)
{
    int pos[MAXV];
    for (int i = 0; i < gr->nv; i++)
        pos[i] = -1;
    for (int i = 0; i < gr->nv; i++) {
        if (ord[i] < 0 || ord[i] >= gr->nv || pos[ord[i]] != -1)
            return false;
        pos[ord[i]] = i;
    }
    for (int u = 0; u < gr->nv; u++)
        for (int e = gr->head[u]; e >= 0; e = gr->next[e])
            if (pos[u] >= pos[gr->to[e]])
                return false;
    return true;
}

static int critical_path(const graph_t *gr, const int *ord, int *end_vertex)
{
    int dist[MAXV];
    for (int i = 0; i < gr->nv; i++)
        dist[i] = gr->weight[i];
    int best = 0;
    *end_vertex = -1;
    for (int i = 0; i < gr->nv; i++) {
        int u = ord[i];
        if (dist[u] > best) {
            best = dist[u];
            *end_vertex = u;
        }
        for (int e = gr->head[u]; e >= 0; e = gr->next[e]) {
            int v = gr->to[e];
            if (dist[u] + gr->weight[v] > dist[v])
                dist[v] = dist[u] + gr->weight[v];
        }
    }
    return best;
}

static uint32_t order_hash(const int *ord, int n)
{
    uint32_t h = 17u;
    for (int i = 0; i < n; i++)
        h = h * 31u + (uint32_t)ord[i];
    return h;
}

int main(void)
{
    static const int sizes[][2] = { { 10, 15 }, { 50, 120 }, { 200, 800 }, { 400, 2500 } };
    for (int t = 0; t < 4; t++) {
        make_dag(&g, sizes[t][0], sizes[t][1]);
        int nk = kahn(&g, order_kahn);
        bool dok = dfs_topo(&g, order_dfs);
        int endv;
        int cp = critical_path(&g, order_kahn, &endv);
        printf("dag v=%3d e=%4d kahn=%3d valid=%d dfs_valid=%d kahn_hash=%08x dfs_hash=%08x crit=%d end=%d\n",
               g.nv, g.ne, nk, verify(&g, order_kahn), dok && verify(&g, order_dfs),
               (unsigned)order_hash(order_kahn, g.nv), (unsigned)order_hash(order_dfs, g.nv), cp, endv);
        if (t == 0) {
            printf("  kahn order:");
            for (int i = 0; i < g.nv; i++)
                printf(" %d", order_kahn[i]);
            printf("\n");
        }
        /* add an edge that closes a cycle: last -> first of the order */
        add_edge(&g, order_kahn[g.nv - 1], order_kahn[0]);
        int nk2 = kahn(&g, order_kahn);
        bool dok2 = dfs_topo(&g, order_dfs);
        printf("  with back edge: kahn_emitted=%d dfs_acyclic=%d\n", nk2, dok2);
    }
    return 0;
}
