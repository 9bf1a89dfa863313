/* Graph connectivity benchmark: connected components of a sparse random
 * undirected graph via union-find and BFS, bipartiteness per component, and
 * strongly connected components of a digraph via Tarjan and Kosaraju. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#define NV 600
#define NE 520
#define NDE 900

static uint32_t st = 0x12345678u;

static uint32_t rnd(void)
{
    st = st * 1664525u + 1013904223u;
    return st >> 7;
}

/* ---------- union-find ---------- */
static int parent[NV];
static int rank_[NV];

static void uf_init(void)
{
    for (int i = 0; i < NV; i++) {
        parent[i] = i;
        rank_[i] = 0;
    }
}

static int uf_find(int x)
{
    int root = x;
    while (parent[root] != root)
        root = parent[root];
    while (parent[x] != root) {
        int nx = parent[x];
        parent[x] = root;
        x = nx;
    }
    return root;
}

static bool uf_union(int a, int b)
{
    int ra = uf_find(a), rb = uf_find(b);
    if (ra == rb)
        return false;
    if (rank_[ra] < rank_[rb]) {
        int t = ra;
        ra = rb;
        rb = t;
    }
    parent[rb] = ra;
    if (rank_[ra] == rank_[rb])
        rank_[ra]++;
    return true;
}

/* ---------- adjacency in CSR ---------- */
struct csr {
    int start[NV + 1];
    int to[2 * NDE];
};

static void build_csr(struct csr *g, const int *eu, const int *ev, int ne, bool undirected)
{
    int deg[NV];
    memset(deg, 0, sizeof deg);
    for (int i = 0; i < ne; i++) {
        deg[eu[i]]++;
        if (undirected)
            deg[ev[i]]++;
    }
    g->start[0] = 0;
    for (int v = 0; v < NV; v++)
        g->start[v + 1] = g->start[v] + deg[v];
    int pos[NV];
    memcpy(pos, g->start, sizeof pos);
    for (int i = 0; i < ne; i++) {
        g->to[pos[eu[i]]++] = ev[i];
        if (undirected)
            g->to[pos[ev[i]]++] = eu[i];
    }
}

static int bfs_components(const struct csr *g, int *comp, int *color, int *nonbip)
{
    int queue[NV];
    int ncomp = 0;
    *nonbip = 0;
    for (int v = 0; v < NV; v++)
        comp[v] = -1;
    for (int s = 0; s < NV; s++) {
        if (comp[s] >= 0)
            continue;
        bool bip = true;
        int head = 0, tail = 0;
        queue[tail++] = s;
        comp[s] = ncomp;
        color[s] = 0;
        while (head < tail) {
            int u = queue[head++];
            for (int e = g->start[u]; e < g->start[u + 1]; e++) {
                int w = g->to[e];
                if (comp[w] < 0) {
                    comp[w] = ncomp;
                    color[w] = 1 - color[u];
                    queue[tail++] = w;
                } else if (color[w] == color[u]) {
                    bip = false;
                }
            }
        }
        if (!bip)
            (*nonbip)++;
        ncomp++;
    }
    return ncomp;
}

/* ---------- Tarjan SCC ---------- */
static int t_index[NV], t_low[NV], t_stack[NV], t_sp, t_counter, t_nscc;
static bool t_on[NV];
static int scc_id[NV];

static void tarjan_visit(const struct csr *g, int v)
{
    t_index[v] = t_low[v] = t_counter++;
    t_stack[t_sp++] = v;
    t_on[v] = true;
    for (int e = g->start[v]; e < g->start[v + 1]; e++) {
        int w = g->to[e];
        if (t_index[w] < 0) {
            tarjan_visit(g, w);
            if (t_low[w] < t_low[v])
                t_low[v] = t_low[w];
        } else if (t_on[w] && t_index[w] < t_low[v]) {
            t_low[v] = t_index[w];
        }
    }
    if (t_low[v] == t_index[v]) {
        int w;
        do {
            w = t_stack[--t_sp];
            t_on[w] = false;
            scc_id[w] = t_nscc;
        } while (w != v);
        t_nscc++;
    }
}

static int tarjan(const struct csr *g)
{
    t_sp = 0;
    t_counter = 0;
    t_nscc = 0;
    for (int v = 0; v < NV; v++) {
        t_index[v] = -1;
        t_on[v] = false;
    }
    for (int v = 0; v < NV; v++)
        if (t_index[v] < 0)
            tarjan_visit(g, v);
    return t_nscc;
}

/* ---------- Kosaraju SCC ---------- */
static bool k_seen[NV];
static int k_order[NV], k_n;

static void k_dfs1(const struct csr *g, int v)
{
    k_seen[v] = true;
    for (int e = g->start[v]; e < g->start[v + 1]; e++)
        if (!k_seen[g->to[e]])
            k_dfs1(g, g->to[e]);
    k_order[k_n++] = v;
}

static void k_dfs2(const struct csr *rg, int v, int id, int *comp)
{
    comp[v] = id;
    for (int e = rg->start[v]; e < rg->start[v + 1]; e++)
        if (comp[rg->to[e]] < 0)
            k_dfs2(rg, rg->to[e], id, comp);
}

static int kosaraju(const struct csr *g, const struct csr *rg, int *comp)
{
    memset(k_seen, 0, sizeof k_seen);
    k_n = 0;
    for (int v = 0; v < NV; v++)
        if (!k_seen[v])
            k_dfs1(g, v);
    for (int v = 0; v < NV; v++)
        comp[v] = -1;
    int id = 0;
    for (int i = NV - 1; i >= 0; i--)
        if (comp[k_order[i]] < 0)
            k_dfs2(rg, k_order[i], id++, comp);
    return id;
}

static struct csr ug, dg, rdg;
static int eu[NDE], ev[NDE];
static int comp[NV], color[NV], kcomp[NV];

int main(void)
{
    uf_init();
    int merges = 0;
    for (int i = 0; i < NE; i++) {
        eu[i] = (int)(rnd() % NV);
        ev[i] = (int)(rnd() % NV);
        if (uf_union(eu[i], ev[i]))
            merges++;
    }
    build_csr(&ug, eu, ev, NE, true);
    int nonbip;
    int nbfs = bfs_components(&ug, comp, color, &nonbip);
    int roots = 0;
    for (int v = 0; v < NV; v++)
        if (uf_find(v) == v)
            roots++;
    /* check that both partitions agree */
    bool same = true;
    for (int v = 0; v < NV && same; v++)
        for (int w = v + 1; w < NV; w += 37)
            if ((comp[v] == comp[w]) != (uf_find(v) == uf_find(w)))
                same = false;
    int sizes[NV];
    memset(sizes, 0, sizeof sizes);
    for (int v = 0; v < NV; v++)
        sizes[comp[v]]++;
    int largest = 0, singletons = 0;
    for (int c = 0; c < nbfs; c++) {
        if (sizes[c] > largest)
            largest = sizes[c];
        if (sizes[c] == 1)
            singletons++;
    }
    printf("undirected: merges=%d uf_components=%d bfs_components=%d agree=%d\n", merges, roots,
           nbfs, same);
    printf("largest=%d singletons=%d non_bipartite=%d\n", largest, singletons, nonbip);

    int hist[8] = {0};
    for (int c = 0; c < nbfs; c++) {
        int b = 0, s = sizes[c];
        while (s > 1 && b < 7) {
            s >>= 1;
            b++;
        }
        hist[b]++;
    }
    printf("size histogram (log2):");
    for (int b = 0; b < 8; b++)
        printf(" %d", hist[b]);
    printf("\n");

    for (int i = 0; i < NDE; i++) {
        eu[i] = (int)(rnd() % NV);
        ev[i] = (int)(rnd() % NV);
    }
    build_csr(&dg, eu, ev, NDE, false);
    build_csr(&rdg, ev, eu, NDE, false);
    int nt = tarjan(&dg);
    int nk = kosaraju(&dg, &rdg, kcomp);
    bool scc_same = true;
    for (int v = 0; v < NV && scc_same; v++)
        for (int w = 0; w < NV; w += 11)
            if ((scc_id[v] == scc_id[w]) != (kcomp[v] == kcomp[w]))
                scc_same = false;
    int scc_sizes[NV];
    memset(scc_sizes, 0, sizeof scc_sizes);
    for (int v = 0; v < NV; v++)
        scc_sizes[scc_id[v]]++;
    int big = 0, nontrivial = 0;
    for (int c = 0; c < nt; c++) {
        if (scc_sizes[c] > big)
            big = scc_sizes[c];
        if (scc_sizes[c] > 1)
            nontrivial++;
    }
    printf("directed: tarjan_sccs=%d kosaraju_sccs=%d agree=%d largest=%d nontrivial=%d\n", nt, nk,
           scc_same, big, nontrivial);
    return 0;
}
