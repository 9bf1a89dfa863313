/* Sudoku: generates puzzles by shuffling a valid grid and removing clues while
 * the solution stays unique, then solves them with a bitmask backtracking
 * solver using the minimum-remaining-values heuristic. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>

typedef struct {
    uint8_t cell[81];
    uint16_t row[9], col[9], box[9]; /* bit d set => digit d+1 used */
} board_t;

static uint64_t search_nodes;
static uint32_t lcg = 20240601u;

static uint32_t rand_below(uint32_t n)
{
    lcg = lcg * 1103515245u + 12345u;
    return (lcg >> 8) % n;
}

static int box_of(int r, int c)
{
    return (r / 3) * 3 + c / 3;
}

static int popcount16(uint16_t v)
{
    int n = 0;
    while (v) {
        v &= (uint16_t)(v - 1u);
        n++;
    }
    return n;
}

static bool board_load(board_t *b, const uint8_t *grid)
{
    memset(b, 0, sizeof *b);
    for (int i = 0; i < 81; i++) {
        int d = grid[i];
        if (d == 0)
            continue;
        int r = i / 9, c = i % 9;
        uint16_t bit = (uint16_t)(1u << (d - 1));
        if ((b->row[r] | b->col[c] | b->box[box_of(r, c)]) & bit)
            return false;
        b->cell[i] = (uint8_t)d;
        b->row[r] |= bit;
        b->col[c] |= bit;
        b->box[box_of(r, c)] |= bit;
    }
    return true;
}

static void place(board_t *b, int i, int d, bool set)
{
    int r = i / 9, c = i % 9;
    uint16_t bit = (uint16_t)(1u << (d - 1));
    if (set) {
        b->cell[i] = (uint8_t)d;
        b->row[r] |= bit;
        b->col[c] |= bit;
        b->box[box_of(r, c)] |= bit;
    } else {
        b->cell[i] = 0;
        b->row[r] &= (uint16_t)~bit;
        b->col[c] &= (uint16_t)~bit;
        b->box[box_of(r, c)] &= (uint16_t)~bit;
    }
}

/* Count solutions up to `limit`; store the first found in `sol`. */
static int solve(board_t *b, int limit, uint8_t *sol)
{
    search_nodes++;
    int best = -1, best_cnt = 10;
    uint16_t best_mask = 0;
    for (int i = 0; i < 81; i++) {
        if (b->cell[i])
            continue;
        int r = i / 9, c = i % 9;
        uint16_t mask = (uint16_t)(~(b->row[r] | b->col[c] | b->box[box_of(r, c)]) & 0x1FFu);
        int cnt = popcount16(mask);
        if (cnt < best_cnt) {
            best = i;
            best_cnt = cnt;
            best_mask = mask;
            if (cnt <= 1)
                break;
        }
    }
    if (best < 0) {
        if (sol)
            memcpy(sol, b->cell, 81);
        return 1;
    }
    int found = 0;
    for (int d = 1; d <= 9 && found < limit; d++) {
        if (!(best_mask & (1u << (d - 1))))
            continue;
        place(b, best, d, true);
        found += solve(b, limit - found, found == 0 ? sol : NULL);
        place(b, best, d, false);
    }
    return found;
}

static void shuffle(int *a, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rand_below((uint32_t)i + 1u);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

static void make_full_grid(uint8_t *g)
{
    int digits[9], bands[3], stacks[3], rows_in[3][3], cols_in[3][3];
    for (int i = 0; i < 9; i++)
        digits[i] = i + 1;
    shuffle(digits, 9);
    for (int i = 0; i < 3; i++) {
        bands[i] = stacks[i] = i;
        for (int k = 0; k < 3; k++)
            rows_in[i][k] = cols_in[i][k] = k;
        shuffle(rows_in[i], 3);
        shuffle(cols_in[i], 3);
    }
    shuffle(bands, 3);
    shuffle(stacks, 3);
    for (int r = 0; r < 9; r++) {
        int rr = bands[r / 3] * 3 + rows_in[r / 3][r % 3];
        for (int c = 0; c < 9; c++) {
            int cc = stacks[c / 3] * 3 + cols_in[c / 3][c % 3];
            g[r * 9 + c] = (uint8_t)digits[(rr * 3 + rr / 3 + cc) % 9];
        }
    }
}

static int make_puzzle(uint8_t *puzzle, uint8_t *answer)
{
    make_full_grid(answer);
    memcpy(puzzle, answer, 81);
    int order[81];
    for (int i = 0; i < 81; i++)
        order[i] = i;
    shuffle(order, 81);
    int clues = 81;
    board_t b;
    for (int k = 0; k < 81; k++) {
        int i = order[k];
        uint8_t saved = puzzle[i];
        puzzle[i] = 0;
        board_load(&b, puzzle);
        if (solve(&b, 2, NULL) != 1)
            puzzle[i] = saved;
        else
            clues--;
    }
    return clues;
}

static bool valid_solution(const uint8_t *g)
{
    board_t b;
    if (!board_load(&b, g))
        return false;
    for (int i = 0; i < 9; i++)
        if (b.row[i] != 0x1FF || b.col[i] != 0x1FF || b.box[i] != 0x1FF)
            return false;
    return true;
}

static void print_grid(const uint8_t *g)
{
    for (int r = 0; r < 9; r++) {
        char line[16];
        int p = 0;
        for (int c = 0; c < 9; c++) {
            if (c && c % 3 == 0)
                line[p++] = '|';
            line[p++] = g[r * 9 + c] ? (char)('0' + g[r * 9 + c]) : '.';
        }
        line[p] = '\0';
        printf("  %s\n", line);
    }
}

int main(void)
{
    uint8_t puzzle[81], answer[81], sol[81];
    for (int p = 0; p < 4; p++) {
        int clues = make_puzzle(puzzle, answer);
        board_t b;
        board_load(&b, puzzle);
        search_nodes = 0;
        int n = solve(&b, 2, sol);
        uint32_t h = 0;
        for (int i = 0; i < 81; i++)
            h = h * 10u + sol[i];
        printf("puzzle %d: clues=%d solutions=%d nodes=%llu matches=%d valid=%d hash=%08x\n", p, clues,
               n, (unsigned long long)search_nodes, memcmp(sol, answer, 81) == 0, valid_solution(sol),
               (unsigned)h);
        if (p == 0) {
            print_grid(puzzle);
            printf("  solved:\n");
            print_grid(sol);
        }
    }
    /* an empty board has many solutions */
    uint8_t empty[81];
    memset(empty, 0, sizeof empty);
    board_t b;
    board_load(&b, empty);
    search_nodes = 0;
    int many = solve(&b, 5, sol);
    printf("empty board: solutions>=%d nodes=%llu\n", many, (unsigned long long)search_nodes);
    return 0;
}
