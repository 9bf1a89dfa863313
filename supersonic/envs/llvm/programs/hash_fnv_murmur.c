/* Hash function benchmark: FNV-1a (32/64-bit), MurmurHash3 x86_32, djb2 and a
 * simple open-addressing hash table keyed by generated strings; prints hash
 * values, collision statistics and bucket distribution. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#define NKEYS 2000
#define TABLE_BITS 12
#define TABLE_SIZE (1u << TABLE_BITS)

static uint32_t fnv1a32(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint32_t rotl32(uint32_t x, int r)
{
    return (x << r) | (x >> (32 - r));
}

static uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

static uint32_t murmur3_32(const uint8_t *data, size_t len, uint32_t seed)
{
    const uint32_t c1 = 0xCC9E2D51u, c2 = 0x1B873593u;
    size_t nblocks = len / 4;
    uint32_t h1 = seed;
    for (size_t i = 0; i < nblocks; i++) {
        const uint8_t *b = data + i * 4;
        uint32_t k1 = (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
                      ((uint32_t)b[3] << 24);
        k1 *= c1;
        k1 = rotl32(k1, 15);
        k1 *= c2;
        h1 ^= k1;
        h1 = rotl32(h1, 13);
        h1 = h1 * 5u + 0xE6546B64u;
    }
    const uint8_t *tail = data + nblocks * 4;
    uint32_t k1 = 0;
    switch (len & 3u) {
    case 3:
        k1 ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        k1 ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        k1 ^= tail[0];
        k1 *= c1;
        k1 = rotl32(k1, 15);
        k1 *= c2;
        h1 ^= k1;
        break;
    default:
        break;
    }
    h1 ^= (uint32_t)len;
    return fmix32(h1);
}

static uint32_t djb2(const char *s)
{
    uint32_t h = 5381u;
    while (*s)
        h = h * 33u + (uint8_t)*s++;
    return h;
}

static char keys[NKEYS][16];

static void make_key(char *out, unsigned i)
{
    static const char syll[8][3] = {"ka", "lo", "mi", "ne", "ru", "sa", "to", "vi"};
    int pos = 0;
    unsigned v = i * 2654435761u;
    int parts = 2 + (int)(i % 4u);
    for (int p = 0; p < parts; p++) {
        out[pos++] = syll[v & 7u][0];
        out[pos++] = syll[v & 7u][1];
        v >>= 3;
    }
    out[pos++] = (char)('0' + i % 10u);
    out[pos] = '\0';
}

struct slot {
    int32_t key_index; /* -1 = empty */
    uint32_t hash;
    uint32_t count;
};

static struct slot table[TABLE_SIZE];

static void table_clear(void)
{
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        table[i].key_index = -1;
        table[i].hash = 0;
        table[i].count = 0;
    }
}

/* insert or increment; returns number of probes used */
static unsigned table_insert(int key_index, uint32_t h)
{
    uint32_t idx = h & (TABLE_SIZE - 1u);
    unsigned probes = 1;
    for (;;) {
        struct slot *s = &table[idx];
        if (s->key_index < 0) {
            s->key_index = key_index;
            s->hash = h;
            s->count = 1;
            return probes;
        }
        if (s->hash == h && strcmp(keys[s->key_index], keys[key_index]) == 0) {
            s->count++;
            return probes;
        }
        idx = (idx + 1u) & (TABLE_SIZE - 1u);
        probes++;
    }
}

static void run_table(const char *name, int which)
{
    table_clear();
    unsigned total_probes = 0, max_probes = 0;
    for (int i = 0; i < NKEYS; i++) {
        const uint8_t *p = (const uint8_t *)keys[i];
        size_t n = strlen(keys[i]);
        uint32_t h;
        if (which == 0)
            h = fnv1a32(p, n);
        else if (which == 1)
            h = murmur3_32(p, n, 0x5EEDu);
        else if (which == 2)
            h = djb2(keys[i]);
        else
            h = (uint32_t)(fnv1a64(p, n) >> 32);
        unsigned pr = table_insert(i, h);
        total_probes += pr;
        if (pr > max_probes)
            max_probes = pr;
    }
    unsigned distinct = 0, maxcount = 0;
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        if (table[i].key_index >= 0) {
            distinct++;
            if (table[i].count > maxcount)
                maxcount = table[i].count;
        }
    }
    printf("%-8s distinct=%u probes=%u maxprobe=%u maxdup=%u\n", name, distinct, total_probes,
           max_probes, maxcount);
}

static unsigned avalanche_score(int which)
{
    /* count output bit flips when flipping each input bit of a 8-byte message */
    uint8_t msg[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    unsigned flips = 0;
    for (int bit = 0; bit < 64; bit++) {
        uint32_t a = which ? murmur3_32(msg, 8, 0) : fnv1a32(msg, 8);
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        uint32_t b = which ? murmur3_32(msg, 8, 0) : fnv1a32(msg, 8);
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        uint32_t d = a ^ b;
        while (d) {
            flips += d & 1u;
            d >>= 1;
        }
    }
    return flips;
}

int main(void)
{
    static const char *samples[] = {"", "a", "abc", "hello world", "The quick brown fox jumps over the lazy dog"};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        const uint8_t *p = (const uint8_t *)samples[i];
        size_t n = strlen(samples[i]);
        printf("\"%s\": fnv32=%08x fnv64=%016llx murmur=%08x djb2=%08x\n", samples[i],
               (unsigned)fnv1a32(p, n), (unsigned long long)fnv1a64(p, n),
               (unsigned)murmur3_32(p, n, 0), (unsigned)djb2(samples[i]));
    }
    for (unsigned i = 0; i < NKEYS; i++)
        make_key(keys[i], i);
    run_table("fnv1a32", 0);
    run_table("murmur3", 1);
    run_table("djb2", 2);
    run_table("fnv1a64", 3);
    printf("avalanche fnv=%u murmur=%u (ideal %u)\n", avalanche_score(0), avalanche_score(1),
           64u * 16u);
    uint32_t acc = 0;
    for (uint32_t i = 0; i < 10000u; i++)
        acc ^= fmix32(i) + rotl32(acc, 7);
    printf("fmix chain=%08x\n", (unsigned)acc);
    return 0;
}
