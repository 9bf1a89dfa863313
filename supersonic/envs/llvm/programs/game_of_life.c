/* Conway's Game of Life on a 64x64 torus, implemented both with byte cells
 * and with bit-parallel 64-bit rows (cross-checked), plus glider tracking,
 * cycle detection via state hashing, and 1-D elementary automata rules. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>

#define W 64
#define H 64
#define HIST 300

static uint8_t grid[H][W], next_grid[H][W];
static uint64_t rows[H], next_rows[H];

static void clear_all(void)
{
    memset(grid, 0, sizeof grid);
    memset(rows, 0, sizeof rows);
}

static void set_cell(int y, int x)
{
    y = ((y % H) + H) % H;
    x = ((x % W) + W) % W;
    grid[y][x] = 1;
    rows[y] |= (uint64_t)1 << x;
}

static void place_pattern(const char *const *pat, int nrows, int oy, int ox)
{
    for (int r = 0; r < nrows; r++)
        for (int c = 0; pat[r][c]; c++)
            if (pat[r][c] == 'O')
                set_cell(oy + r, ox + c);
}

static void step_bytes(void)
{
    for (int y = 0; y < H; y++) {
        int ym = (y + H - 1) % H, yp = (y + 1) % H;
        for (int x = 0; x < W; x++) {
            int xm = (x + W - 1) % W, xp = (x + 1) % W;
            int n = grid[ym][xm] + grid[ym][x] + grid[ym][xp] + grid[y][xm] + grid[y][xp] +
                    grid[yp][xm] + grid[yp][x] + grid[yp][xp];
            next_grid[y][x] = (uint8_t)(n == 3 || (n == 2 && grid[y][x]));
        }
    }
    memcpy(grid, next_grid, sizeof grid);
}

static uint64_t rotl(uint64_t v, int k)
{
    return (v << k) | (v >> (64 - k));
}

/* Bit-sliced neighbour counting with full adders. */
static void step_bits(void)
{
    for (int y = 0; y < H; y++) {
        uint64_t up = rows[(y + H - 1) % H], mid = rows[y], dn = rows[(y + 1) % H];
        uint64_t nb[8] = { rotl(up, 1), up, rotl(up, 63), rotl(mid, 1),
                           rotl(mid, 63), rotl(dn, 1), dn, rotl(dn, 63) };
        uint64_t s0 = 0, s1 = 0, s2 = 0; /* 3-bit counter, saturating at 4+ via s2 */
        for (int k = 0; k < 8; k++) {
            uint64_t c0 = s0 & nb[k];
            s0 ^= nb[k];
            uint64_t c1 = s1 & c0;
            s1 ^= c0;
            s2 |= c1;
        }
        /* alive iff count==3 (s0&s1&!s2) or count==2 and alive (!s0&s1&!s2&mid) */
        next_rows[y] = ~s2 & s1 & (s0 | mid);
    }
    memcpy(rows, next_rows, sizeof rows);
}

static int population_bytes(void)
{
    int p = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            p += grid[y][x];
    return p;
}

static int popcount64(uint64_t v)
{
    int c = 0;
    while (v) {
        v &= v - 1u;
        c++;
    }
    return c;
}

static bool grids_agree(void)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (grid[y][x] != ((rows[y] >> x) & 1u))
                return false;
    return true;
}

static uint64_t state_hash(void)
{
    uint64_t h = 1469598103934665603ull;
    for (int y = 0; y < H; y++) {
        h ^= rows[y];
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return h;
}

static void bounding_box(int *x0, int *y0, int *x1, int *y1)
{
    *x0 = W; *y0 = H; *x1 = -1; *y1 = -1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (grid[y][x]) {
                if (x < *x0) *x0 = x;
                if (x > *x1) *x1 = x;
                if (y < *y0) *y0 = y;
                if (y > *y1) *y1 = y;
            }
}

/* Run both engines; report populations and detect cycles. */
static void simulate(const char *name, int gens)
{
    uint64_t hist[HIST];
    int hist_gen[HIST];
    int nh = 0;
    bool agree = true;
    int cycle_start = -1, period = 0;
    hist[0] = state_hash();
    hist_gen[0] = 0;
    nh = 1;
    printf("%s: gen0 pop=%d", name, population_bytes());
    for (int g = 1; g <= gens; g++) {
        step_bytes();
        step_bits();
        if (!grids_agree())
            agree = false;
        uint64_t h = state_hash();
        if (cycle_start < 0) {
            int valid = nh < HIST ? nh : HIST;
            for (int k = 0; k < valid; k++)
                if (hist[k] == h) {
                    cycle_start = hist_gen[k];
                    period = g - hist_gen[k];
                    break;
                }
            hist[nh % HIST] = h; /* ring buffer: overwrite the oldest entry when full */
            hist_gen[nh % HIST] = g;
            nh++;
        }
        if (g % 100 == 0)
            printf(" g%d=%d", g, population_bytes());
    }
    int x0, y0, x1, y1;
    bounding_box(&x0, &y0, &x1, &y1);
    printf("\n  final hash=%016llx agree=%d bbox=(%d,%d)-(%d,%d)", (unsigned long long)state_hash(), agree,
           x0, y0, x1, y1);
    if (cycle_start >= 0)
        printf(" cycle from gen %d period %d", cycle_start, period);
    printf("\n");
}

static void elementary(int rule, int steps)
{
    uint64_t row = (uint64_t)1 << 32, h = 0;
    int total = 0;
    for (int s = 0; s < steps; s++) {
        uint64_t l = rotl(row, 1), r = rotl(row, 63), nxt = 0;
        for (int b = 0; b < 64; b++) {
            int idx = (int)((((l >> b) & 1u) << 2) | (((row >> b) & 1u) << 1) | ((r >> b) & 1u));
            if ((rule >> idx) & 1)
                nxt |= (uint64_t)1 << b;
        }
        row = nxt;
        total += popcount64(row);
        h = h * 31u + row;
    }
    printf("rule %3d: %d steps, live cells total=%d final=%016llx hash=%016llx\n", rule, steps, total,
           (unsigned long long)row, (unsigned long long)h);
}

int main(void)
{
    static const char *glider[] = { ".O.", "..O", "OOO" };
    static const char *rpent[] = { ".OO", "OO.", ".O." };
    static const char *blinker[] = { "OOO" };
    static const char *acorn[] = { ".O.....", "...O...", "OO..OOO" };

    clear_all();
    place_pattern(glider, 3, 1, 1);
    simulate("glider", 260);

    clear_all();
    place_pattern(blinker, 1, 10, 10);
    place_pattern(glider, 3, 40, 40);
    simulate("blinker+glider", 100);

    clear_all();
    place_pattern(rpent, 3, 30, 30);
    simulate("r-pentomino", 200);

    clear_all();
    place_pattern(acorn, 3, 28, 28);
    simulate("acorn", 150);

    clear_all();
    uint32_t s = 0x2545F491u;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            if ((s & 7u) < 3u)
                set_cell(y, x);
        }
    simulate("soup", 300);

    elementary(30, 100);
    elementary(90, 100);
    elementary(110, 100);
    return 0;
}
