/* Bit manipulation benchmark: popcount (loop, SWAR, table), bit reversal,
 * de Bruijn trailing-zero count, integer log2, Gray code, Morton interleave,
 * Gosper's next-combination hack and byte swaps, each cross-checked. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>

static uint8_t pop_table[256];

static unsigned popcount_loop(uint32_t x)
{
    unsigned c = 0;
    while (x) {
        c += x & 1u;
        x >>= 1;
    }
    return c;
}

static unsigned popcount_swar(uint32_t x)
{
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0F0F0F0Fu;
    return (x * 0x01010101u) >> 24;
}

static void init_pop_table(void)
{
    pop_table[0] = 0;
    for (int i = 1; i < 256; i++)
        pop_table[i] = (uint8_t)((i & 1) + pop_table[i / 2]);
}

static unsigned popcount_table(uint32_t x)
{
    return pop_table[x & 0xFFu] + pop_table[(x >> 8) & 0xFFu] + pop_table[(x >> 16) & 0xFFu] +
           pop_table[x >> 24];
}

static uint32_t reverse_bits(uint32_t x)
{
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
    x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8);
    return (x >> 16) | (x << 16);
}

static uint32_t reverse_bits_slow(uint32_t x)
{
    uint32_t r = 0;
    for (int i = 0; i < 32; i++) {
        r = (r << 1) | (x & 1u);
        x >>= 1;
    }
    return r;
}

static unsigned ctz_debruijn(uint32_t x)
{
    static const uint8_t tab[32] = {0,  1,  28, 2,  29, 14, 24, 3,  30, 22, 20,
                                    15, 25, 17, 4,  8,  31, 27, 13, 23, 21, 19,
                                    16, 7,  26, 12, 18, 6,  11, 5,  10, 9};
    if (x == 0)
        return 32;
    return tab[((x & (0u - x)) * 0x077CB531u) >> 27];
}

static unsigned ctz_slow(uint32_t x)
{
    unsigned n = 0;
    if (x == 0)
        return 32;
    while (!(x & 1u)) {
        x >>= 1;
        n++;
    }
    return n;
}

static unsigned ilog2(uint32_t x)
{
    unsigned r = 0;
    if (x >= 1u << 16) { x >>= 16; r += 16; }
    if (x >= 1u << 8) { x >>= 8; r += 8; }
    if (x >= 1u << 4) { x >>= 4; r += 4; }
    if (x >= 1u << 2) { x >>= 2; r += 2; }
    if (x >= 1u << 1) { r += 1; }
    return r;
}

static uint32_t next_pow2(uint32_t x)
{
    if (x <= 1)
        return 1;
    x--;
    x |= x >> 1;
    x |= x >> 2;
    x |= x >> 4;
    x |= x >> 8;
    x |= x >> 16;
    return x + 1;
}

static uint32_t gray_encode(uint32_t x)
{
    return x ^ (x >> 1);
}

static uint32_t gray_decode(uint32_t g)
{
    g ^= g >> 16;
    g ^= g >> 8;
    g ^= g >> 4;
    g ^= g >> 2;
    g ^= g >> 1;
    return g;
}

static uint32_t spread_bits(uint32_t x)
{
    x &= 0xFFFFu;
    x = (x | (x << 8)) & 0x00FF00FFu;
    x = (x | (x << 4)) & 0x0F0F0F0Fu;
    x = (x | (x << 2)) & 0x33333333u;
    x = (x | (x << 1)) & 0x55555555u;
    return x;
}

static uint32_t compact_bits(uint32_t x)
{
    x &= 0x55555555u;
    x = (x | (x >> 1)) & 0x33333333u;
    x = (x | (x >> 2)) & 0x0F0F0F0Fu;
    x = (x | (x >> 4)) & 0x00FF00FFu;
    x = (x | (x >> 8)) & 0x0000FFFFu;
    return x;
}

static uint32_t morton2(uint32_t x, uint32_t y)
{
    return spread_bits(x) | (spread_bits(y) << 1);
}

static uint32_t gosper_next(uint32_t v)
{
    uint32_t t = v | (v - 1u);
    return (t + 1u) | (((~t & (0u - ~t)) - 1u) >> (ctz_debruijn(v) + 1u));
}

static uint64_t bswap64(uint64_t x)
{
    x = ((x & 0x00FF00FF00FF00FFull) << 8) | ((x >> 8) & 0x00FF00FF00FF00FFull);
    x = ((x & 0x0000FFFF0000FFFFull) << 16) | ((x >> 16) & 0x0000FFFF0000FFFFull);
    return (x << 32) | (x >> 32);
}

static uint32_t rotl(uint32_t x, unsigned r)
{
    r &= 31u;
    return r ? (x << r) | (x >> (32u - r)) : x;
}

static bool parity(uint32_t x)
{
    x ^= x >> 16;
    x ^= x >> 8;
    x ^= x >> 4;
    return (0x6996u >> (x & 0xFu)) & 1u;
}

int main(void)
{
    init_pop_table();
    uint32_t x = 0x2545F491u;
    unsigned popsum = 0, badpop = 0, badrev = 0, badctz = 0, badgray = 0, badmorton = 0;
    uint32_t acc = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        uint32_t v = (i % 5 == 0) ? x & (x >> 3) & (x >> 7) : x;
        unsigned a = popcount_loop(v), b = popcount_swar(v), c = popcount_table(v);
        if (a != b || b != c)
            badpop++;
        popsum += a;
        if (reverse_bits(v) != reverse_bits_slow(v))
            badrev++;
        if (ctz_debruijn(v) != ctz_slow(v))
            badctz++;
        if (gray_decode(gray_encode(v)) != v || popcount_swar(gray_encode(v) ^ gray_encode(v + 1u)) != 1)
            badgray++;
        uint32_t m = morton2(v & 0xFFFFu, v >> 16);
        if (compact_bits(m) != (v & 0xFFFFu) || compact_bits(m >> 1) != (v >> 16))
            badmorton++;
        acc = rotl(acc, 5) ^ (m + ilog2(v | 1u) + next_pow2(v & 0xFFFFFu) + (uint32_t)parity(v));
    }
    printf("popcount total=%u bad=%u\n", popsum, badpop);
    printf("reverse bad=%u ctz bad=%u gray bad=%u morton bad=%u\n", badrev, badctz, badgray,
           badmorton);
    printf("mix accumulator=%08x\n", (unsigned)acc);

    /* enumerate all 5-of-12 bit combinations with Gosper's hack */
    unsigned count = 0;
    uint32_t combo_hash = 0;
    for (uint32_t v = (1u << 5) - 1u; v < (1u << 12); v = gosper_next(v)) {
        count++;
        combo_hash = combo_hash * 31u + v;
    }
    printf("C(12,5) enumerated=%u hash=%08x\n", count, (unsigned)combo_hash);

    static const uint32_t samples[] = {0u, 1u, 2u, 3u, 255u, 256u, 1000u, 0x80000000u, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        uint32_t v = samples[i];
        printf("v=%08x pop=%u ctz=%u log2=%u np2=%u rev=%08x gray=%08x par=%d\n", (unsigned)v,
               popcount_swar(v), ctz_debruijn(v), ilog2(v), (unsigned)next_pow2(v & 0x7FFFFFFFu),
               (unsigned)reverse_bits(v), (unsigned)gray_encode(v), parity(v));
    }
    printf("bswap64=%016llx\n", (unsigned long long)bswap64(0x0123456789ABCDEFull));
    return 0;
}
