/* Checksums: Adler-32 (simple and deferred-modulo), Fletcher-16/32/64 and an
 * rsync-style rolling Adler window, computed over generated buffers and
 * cross-checked against each other. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>

#define BUFLEN 20000
#define MOD_ADLER 65521u
#define NMAX 5552
#define WINDOW 64

static uint8_t buf[BUFLEN];

static uint32_t adler32_simple(const uint8_t *p, size_t n)
{
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % MOD_ADLER;
        b = (b + a) % MOD_ADLER;
    }
    return (b << 16) | a;
}

/* zlib-style: defer the modulo for up to NMAX bytes. */
static uint32_t adler32_fast(uint32_t adler, const uint8_t *p, size_t n)
{
    uint32_t a = adler & 0xFFFFu, b = adler >> 16;
    while (n > 0) {
        size_t chunk = n < NMAX ? n : NMAX;
        n -= chunk;
        while (chunk >= 4) {
            a += p[0]; b += a;
            a += p[1]; b += a;
            a += p[2]; b += a;
            a += p[3]; b += a;
            p += 4;
            chunk -= 4;
        }
        while (chunk--) {
            a += *p++;
            b += a;
        }
        a %= MOD_ADLER;
        b %= MOD_ADLER;
    }
    return (b << 16) | a;
}

/* Combine adler(A) and adler(B) into adler(A||B) given len(B). */
static uint32_t adler32_combine(uint32_t adler1, uint32_t adler2, size_t len2)
{
    uint32_t rem = (uint32_t)(len2 % MOD_ADLER);
    uint32_t sum1 = adler1 & 0xFFFFu;
    uint32_t sum2 = (rem * sum1) % MOD_ADLER;
    sum1 += (adler2 & 0xFFFFu) + MOD_ADLER - 1;
    sum2 += (adler1 >> 16) + (adler2 >> 16) + MOD_ADLER - rem;
    if (sum1 >= MOD_ADLER) sum1 -= MOD_ADLER;
    if (sum1 >= MOD_ADLER) sum1 -= MOD_ADLER;
    if (sum2 >= 2u * MOD_ADLER) sum2 -= 2u * MOD_ADLER;
    if (sum2 >= MOD_ADLER) sum2 -= MOD_ADLER;
    return (sum2 << 16) | sum1;
}

static uint16_t fletcher16(const uint8_t *p, size_t n)
{
    uint32_t s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s1 = (s1 + p[i]) % 255u;
        s2 = (s2 + s1) % 255u;
    }
    return (uint16_t)((s2 << 8) | s1);
}

static uint32_t fletcher32(const uint8_t *p, size_t n)
{
    /* 16-bit little-endian words; odd trailing byte padded with zero */
    uint32_t s1 = 0xFFFFu, s2 = 0xFFFFu;
    size_t words = n / 2;
    size_t i = 0;
    while (words) {
        size_t block = words > 359 ? 359 : words;
        words -= block;
        do {
            s1 += (uint32_t)p[i] | ((uint32_t)p[i + 1] << 8);
            s2 += s1;
            i += 2;
        } while (--block);
        s1 = (s1 & 0xFFFFu) + (s1 >> 16);
        s2 = (s2 & 0xFFFFu) + (s2 >> 16);
    }
    if (n & 1u) {
        s1 += p[n - 1];
        s2 += s1;
        s1 = (s1 & 0xFFFFu) + (s1 >> 16);
        s2 = (s2 & 0xFFFFu) + (s2 >> 16);
    }
    s1 = (s1 & 0xFFFFu) + (s1 >> 16);
    s2 = (s2 & 0xFFFFu) + (s2 >> 16);
    return (s2 << 16) | s1;
}

static uint64_t fletcher64(const uint8_t *p, size_t n)
{
    uint64_t s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t w = 0;
        for (size_t k = 0; k < 4 && i + k < n; k++)
            w |= (uint32_t)p[i + k] << (8 * k);
        s1 = (s1 + w) % 0xFFFFFFFFu;
        s2 = (s2 + s1) % 0xFFFFFFFFu;
    }
    return (s2 << 32) | s1;
}

typedef struct {
    uint32_t a, b;
    size_t len;
} roll_t;

static void roll_init(roll_t *r, const uint8_t *p, size_t len)
{
    r->a = 1;
    r->b = 0;
    r->len = len;
    for (size_t i = 0; i < len; i++) {
        r->a = (r->a + p[i]) % MOD_ADLER;
        r->b = (r->b + r->a) % MOD_ADLER;
    }
}

static void roll_step(roll_t *r, uint8_t out, uint8_t in)
{
    r->a = (r->a + MOD_ADLER - out + in) % MOD_ADLER;
    uint32_t sub = (uint32_t)((r->len * out + 1) % MOD_ADLER);
    r->b = (r->b + MOD_ADLER - sub + r->a) % MOD_ADLER;
}

static uint32_t roll_value(const roll_t *r)
{
    return (r->b << 16) | r->a;
}

static void fill(int kind)
{
    uint32_t s = 0xDEADBEEFu + (uint32_t)kind;
    for (size_t i = 0; i < BUFLEN; i++) {
        s ^= s << 7;
        s ^= s >> 9;
        switch (kind) {
        case 0: buf[i] = (uint8_t)s; break;
        case 1: buf[i] = 0xFF; break;
        case 2: buf[i] = (uint8_t)('a' + i % 26u); break;
        default: buf[i] = (uint8_t)((s & 0x3u) ? 0 : s >> 24); break;
        }
    }
}

int main(void)
{
    static const char *kinds[] = { "random", "ones", "alpha", "sparse" };
    bool all_ok = true;
    for (int k = 0; k < 4; k++) {
        fill(k);
        uint32_t a1 = adler32_simple(buf, BUFLEN);
        uint32_t a2 = adler32_fast(1, buf, BUFLEN);
        size_t split = 7777u + (size_t)k * 1001u;
        uint32_t left = adler32_fast(1, buf, split);
        uint32_t right = adler32_fast(1, buf + split, BUFLEN - split);
        uint32_t a3 = adler32_combine(left, right, BUFLEN - split);
        bool ok = a1 == a2 && a2 == a3;
        all_ok = all_ok && ok;
        printf("%-7s adler=%08x combine=%s f16=%04x f32=%08x f64=%016llx\n", kinds[k],
               (unsigned)a1, ok ? "ok" : "BAD", (unsigned)fletcher16(buf, BUFLEN),
               (unsigned)fletcher32(buf, BUFLEN), (unsigned long long)fletcher64(buf, BUFLEN));
        printf("        odd-length f32=%08x f64=%016llx\n", (unsigned)fletcher32(buf, BUFLEN - 3),
               (unsigned long long)fletcher64(buf, BUFLEN - 3));

        roll_t r;
        roll_init(&r, buf, WINDOW);
        uint32_t rh = roll_value(&r);
        int mismatches = 0;
        for (size_t i = WINDOW; i < BUFLEN; i++) {
            roll_step(&r, buf[i - WINDOW], buf[i]);
            rh = rh * 2654435761u ^ roll_value(&r);
            if ((i & 255u) == 0 && roll_value(&r) != adler32_simple(buf + i - WINDOW + 1, WINDOW))
                mismatches++;
        }
        all_ok = all_ok && mismatches == 0;
        printf("        rolling hash=%08x mismatches=%d\n", (unsigned)rh, mismatches);
    }
    const char *txt = "Wikipedia";
    printf("adler32(\"%s\")=%08x fletcher16(\"abcde\")=%04x\n", txt,
           (unsigned)adler32_simple((const uint8_t *)txt, strlen(txt)),
           (unsigned)fletcher16((const uint8_t *)"abcde", 5));
    printf("all consistent: %s\n", all_ok ? "yes" : "NO");
    return 0;
}
