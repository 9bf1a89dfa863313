/* LZ77 compression with a hash-chain match finder and a byte-oriented token
 * format; compresses synthetic text, decompresses it and verifies the result. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#define INPUT_SIZE 12000
#define WINDOW 4096
#define MIN_MATCH 3
#define MAX_MATCH 130
#define HASH_BITS 12
#define HASH_SIZE (1 << HASH_BITS)
#define MAX_CHAIN 32

static uint8_t input[INPUT_SIZE];
static uint8_t packed[INPUT_SIZE * 2 + 16];
static uint8_t unpacked[INPUT_SIZE];
static int32_t head[HASH_SIZE];
static int32_t prev_pos[INPUT_SIZE];

static uint32_t lcg_state = 2463534242u;

static uint32_t lcg_next(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state >> 8;
}

static size_t make_text(uint8_t *buf, size_t n)
{
    static const char *words[] = {
        "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog",
        "compiler", "pass", "ordering", "code", "size", "optimization",
        "loop", "inline", "vectorize", "register", "alloca", "phi"
    };
    size_t pos = 0;
    while (pos < n) {
        const char *w = words[lcg_next() % 20u];
        size_t len = strlen(w);
        for (size_t i = 0; i < len && pos < n; i++)
            buf[pos++] = (uint8_t)w[i];
        if (pos < n) {
            uint32_t r = lcg_next() % 16u;
            buf[pos++] = (uint8_t)(r == 0 ? '\n' : (r == 1 ? ',' : ' '));
        }
    }
    return pos;
}

static uint32_t hash3(const uint8_t *p)
{
    uint32_t v = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

static void insert_pos(const uint8_t *buf, size_t n, size_t pos)
{
    if (pos + MIN_MATCH > n)
        return;
    uint32_t h = hash3(buf + pos);
    prev_pos[pos] = head[h];
    head[h] = (int32_t)pos;
}

static size_t find_match(const uint8_t *buf, size_t n, size_t pos, size_t *dist)
{
    size_t best = 0;
    *dist = 0;
    if (pos + MIN_MATCH > n)
        return 0;
    int32_t cand = head[hash3(buf + pos)];
    int chain = 0;
    while (cand >= 0 && chain < MAX_CHAIN) {
        size_t c = (size_t)cand;
        if (pos - c > WINDOW)
            break;
        size_t len = 0;
        size_t limit = n - pos;
        if (limit > MAX_MATCH)
            limit = MAX_MATCH;
        while (len < limit && buf[c + len] == buf[pos + len])
            len++;
        if (len > best) {
            best = len;
            *dist = pos - c;
            if (len == limit)
                break;
        }
        cand = prev_pos[c];
        chain++;
    }
    return best >= MIN_MATCH ? best : 0;
}

/* Token format: control byte with 8 flags (1 = match) followed by items.
 * Literal: 1 byte. Match: 3 bytes [len-3][(dist-1) hi][(dist-1) lo]. */
static size_t compress(const uint8_t *buf, size_t n, uint8_t *out, unsigned *nmatches)
{
    for (size_t i = 0; i < HASH_SIZE; i++)
        head[i] = -1;
    size_t pos = 0, o = 0;
    unsigned matches = 0;
    while (pos < n) {
        size_t ctrl_at = o++;
        uint8_t ctrl = 0;
        for (int bit = 0; bit < 8 && pos < n; bit++) {
            size_t dist;
            size_t len = find_match(buf, n, pos, &dist);
            if (len) {
                ctrl |= (uint8_t)(1u << bit);
                out[o++] = (uint8_t)(len - MIN_MATCH);
                out[o++] = (uint8_t)((dist - 1) >> 8);
                out[o++] = (uint8_t)((dist - 1) & 0xFFu);
                for (size_t k = 0; k < len; k++)
                    insert_pos(buf, n, pos + k);
                pos += len;
                matches++;
            } else {
                out[o++] = buf[pos];
                insert_pos(buf, n, pos);
                pos++;
            }
        }
        out[ctrl_at] = ctrl;
    }
    *nmatches = matches;
    return o;
}

static size_t decompress(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t ctrl = in[i++];
        for (int bit = 0; bit < 8 && i < n; bit++) {
            if (ctrl & (1u << bit)) {
                if (i + 3 > n)
                    return (size_t)-1;
                size_t len = (size_t)in[i] + MIN_MATCH;
                size_t dist = (((size_t)in[i + 1] << 8) | in[i + 2]) + 1;
                i += 3;
                if (dist > o || o + len > cap)
                    return (size_t)-1;
                for (size_t k = 0; k < len; k++, o++)
                    out[o] = out[o - dist];
            } else {
                if (o >= cap)
                    return (size_t)-1;
                out[o++] = in[i++];
            }
        }
    }
    return o;
}

static uint32_t adler32(const uint8_t *p, size_t n)
{
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return (b << 16) | a;
}

int main(void)
{
    int ok_all = 1;
    for (int trial = 0; trial < 4; trial++) {
        size_t n = INPUT_SIZE - (size_t)trial * 2500u;
        make_text(input, n);
        if (trial == 3) {
            /* highly repetitive tail */
            for (size_t i = n / 2; i < n; i++)
                input[i] = (uint8_t)('a' + (i % 7u));
        }
        unsigned nm = 0;
        size_t clen = compress(input, n, packed, &nm);
        memset(unpacked, 0, sizeof unpacked);
        size_t dlen = decompress(packed, clen, unpacked, sizeof unpacked);
        int ok = dlen == n && memcmp(unpacked, input, n) == 0;
        ok_all &= ok;
        printf("trial %d: in=%5u out=%5u ratio=%3u%% matches=%4u adler_in=%08x adler_out=%08x %s\n",
               trial, (unsigned)n, (unsigned)clen, (unsigned)(clen * 100u / n), nm,
               (unsigned)adler32(input, n), (unsigned)adler32(packed, clen),
               ok ? "ok" : "FAIL");
    }
    printf("result: %s\n", ok_all ? "pass" : "FAIL");
    return 0;
}
