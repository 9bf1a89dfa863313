/* N-Queens: counts solutions with a bitmask solver and an array backtracker,
 * cross-checks them, counts symmetry-distinct solutions, and prints the first
 * solution board for one size. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>

#define MAXN 12

static uint64_t nodes_visited;

static uint32_t solve_bits(uint32_t full, uint32_t cols, uint32_t d1, uint32_t d2)
{
    nodes_visited++;
    if (cols == full)
        return 1;
    uint32_t count = 0;
    uint32_t avail = full & ~(cols | d1 | d2);
    while (avail) {
        uint32_t bit = avail & (~avail + 1u);
        avail &= avail - 1u;
        count += solve_bits(full, cols | bit, ((d1 | bit) << 1) & full, (d2 | bit) >> 1);
    }
    return count;
}

static uint32_t count_bits(int n)
{
    uint32_t full = (1u << n) - 1u;
    return solve_bits(full, 0, 0, 0);
}

static bool safe(const int *pos, int row, int col)
{
    for (int r = 0; r < row; r++) {
        int c = pos[r];
        if (c == col)
            return false;
        int dr = row - r;
        if (c - col == dr || col - c == dr)
            return false;
    }
    return true;
}

/* Canonical form: minimum over the 8 board symmetries, encoded as an integer sequence. */
static void transform(const int *pos, int n, int t, int *out)
{
    for (int r = 0; r < n; r++) {
        int c = pos[r];
        int nr, nc;
        switch (t) {
        case 0: nr = r; nc = c; break;
        case 1: nr = c; nc = n - 1 - r; break;
        case 2: nr = n - 1 - r; nc = n - 1 - c; break;
        case 3: nr = n - 1 - c; nc = r; break;
        case 4: nr = r; nc = n - 1 - c; break;
        case 5: nr = n - 1 - r; nc = c; break;
        case 6: nr = c; nc = r; break;
        default: nr = n - 1 - c; nc = n - 1 - r; break;
        }
        out[nr] = nc;
    }
}

static bool is_canonical(const int *pos, int n)
{
    int tmp[MAXN];
    for (int t = 1; t < 8; t++) {
        transform(pos, n, t, tmp);
        for (int i = 0; i < n; i++) {
            if (tmp[i] < pos[i])
                return false;
            if (tmp[i] > pos[i])
                break;
        }
    }
    return true;
}

typedef struct {
    uint32_t total;
    uint32_t unique;
    int first[MAXN];
    bool have_first;
    uint32_t hash;
} result_t;

static void backtrack(int *pos, int row, int n, result_t *res)
{
    if (row == n) {
        res->total++;
        if (is_canonical(pos, n))
            res->unique++;
        if (!res->have_first) {
            memcpy(res->first, pos, (size_t)n * sizeof(int));
            res->have_first = true;
        }
        for (int i = 0; i < n; i++)
            res->hash = res->hash * 131u + (uint32_t)pos[i];
        return;
    }
    for (int c = 0; c < n; c++) {
        if (safe(pos, row, c)) {
            pos[row] = c;
            backtrack(pos, row + 1, n, res);
        }
    }
}

static void print_board(const int *pos, int n)
{
    char line[MAXN + 1];
    for (int r = 0; r < n; r++) {
        for (int c = 0; c < n; c++)
            line[c] = pos[r] == c ? 'Q' : '.';
        line[n] = '\0';
        printf("  %s\n", line);
    }
}

int main(void)
{
    int pos[MAXN];
    result_t res8;
    memset(&res8, 0, sizeof res8);
    for (int n = 1; n <= 10; n++) {
        nodes_visited = 0;
        uint32_t cb = count_bits(n);
        uint64_t nv = nodes_visited;
        if (n <= 9) {
            result_t r;
            memset(&r, 0, sizeof r);
            memset(pos, 0, sizeof pos);
            backtrack(pos, 0, n, &r);
            printf("n=%2d solutions=%4u unique=%3u nodes=%6llu hash=%08x %s\n", n, cb, r.unique,
                   (unsigned long long)nv, (unsigned)r.hash, r.total == cb ? "agree" : "MISMATCH");
            if (n == 8)
                res8 = r;
        } else {
            printf("n=%2d solutions=%4u nodes=%6llu\n", n, cb, (unsigned long long)nv);
        }
    }
    printf("first solution for n=8:\n");
    print_board(res8.first, 8);
    return 0;
}
