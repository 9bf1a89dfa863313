/* Run-length compression: PackBits-style and escape-byte RLE encoders/decoders
 * applied to several synthetic buffers, verifying round trips and printing sizes. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#define BUF_SIZE 8192
#define OUT_SIZE (BUF_SIZE * 3 + 64)
#define ESC 0xA5

static uint32_t rng_state = 12345u;

static uint32_t xorshift32(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    rng_state = x;
    return x;
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

/* Fill a buffer with one of several patterns. */
static void make_data(uint8_t *buf, size_t n, int kind)
{
    size_t i = 0;
    switch (kind) {
    case 0: /* long runs */
        while (i < n) {
            uint8_t v = (uint8_t)(xorshift32() & 7u);
            size_t len = 1 + (xorshift32() % 200u);
            for (size_t k = 0; k < len && i < n; k++)
                buf[i++] = v;
        }
        break;
    case 1: /* noise */
        for (i = 0; i < n; i++)
            buf[i] = (uint8_t)(xorshift32() >> 24);
        break;
    case 2: /* mixed: short runs and literals */
        while (i < n) {
            if (xorshift32() & 1u) {
                uint8_t v = (uint8_t)xorshift32();
                size_t len = 2 + (xorshift32() % 6u);
                for (size_t k = 0; k < len && i < n; k++)
                    buf[i++] = v;
            } else {
                size_t len = 1 + (xorshift32() % 10u);
                for (size_t k = 0; k < len && i < n; k++)
                    buf[i++] = (uint8_t)xorshift32();
            }
        }
        break;
    default: /* image-like scanlines with escape bytes */
        for (i = 0; i < n; i++) {
            size_t x = i % 128u, y = i / 128u;
            uint8_t v = (uint8_t)(((x / 16u) ^ (y / 8u)) * 31u);
            if ((x + y) % 97u == 0)
                v = ESC;
            buf[i] = v;
        }
        break;
    }
}

/* PackBits: header h in [0,127] => h+1 literals; h in [129,255] => 257-h repeats. */
static size_t packbits_encode(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        size_t run = 1;
        while (i + run < n && run < 128 && in[i + run] == in[i])
            run++;
        if (run >= 3) {
            out[o++] = (uint8_t)(257 - run);
            out[o++] = in[i];
            i += run;
        } else {
            size_t start = i, lit = 0;
            while (i < n && lit < 128) {
                if (i + 2 < n && in[i] == in[i + 1] && in[i] == in[i + 2])
                    break;
                i++;
                lit++;
            }
            out[o++] = (uint8_t)(lit - 1);
            memcpy(out + o, in + start, lit);
            o += lit;
        }
    }
    return o;
}

static size_t packbits_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t h = in[i++];
        if (h < 128) {
            size_t cnt = (size_t)h + 1;
            if (i + cnt > n || o + cnt > cap)
                return (size_t)-1;
            memcpy(out + o, in + i, cnt);
            i += cnt;
            o += cnt;
        } else if (h > 128) {
            size_t cnt = 257u - h;
            if (i >= n || o + cnt > cap)
                return (size_t)-1;
            memset(out + o, in[i++], cnt);
            o += cnt;
        }
    }
    return o;
}

/* Escape RLE: ESC count value for runs >= 4 or for literal ESC bytes. */
static size_t esc_encode(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        size_t run = 1;
        while (i + run < n && run < 255 && in[i + run] == in[i])
            run++;
        if (run >= 4 || in[i] == ESC) {
            out[o++] = ESC;
            out[o++] = (uint8_t)run;
            out[o++] = in[i];
        } else {
            for (size_t k = 0; k < run; k++)
                out[o++] = in[i];
        }
        i += run;
    }
    return o;
}

static size_t esc_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t i = 0, o = 0;
    while (i < n) {
        if (in[i] == ESC) {
            if (i + 2 >= n)
                return (size_t)-1;
            size_t cnt = in[i + 1];
            if (o + cnt > cap)
                return (size_t)-1;
            memset(out + o, in[i + 2], cnt);
            o += cnt;
            i += 3;
        } else {
            if (o >= cap)
                return (size_t)-1;
            out[o++] = in[i++];
        }
    }
    return o;
}

static uint8_t src[BUF_SIZE];
static uint8_t enc[OUT_SIZE];
static uint8_t dec[BUF_SIZE];

static int run_case(int kind)
{
    static const char *names[] = { "runs", "noise", "mixed", "image" };
    int ok = 1;
    make_data(src, BUF_SIZE, kind);
    uint32_t hsrc = fnv1a(src, BUF_SIZE);

    size_t pb = packbits_encode(src, BUF_SIZE, enc);
    uint32_t henc = fnv1a(enc, pb);
    memset(dec, 0, sizeof dec);
    size_t pd = packbits_decode(enc, pb, dec, BUF_SIZE);
    if (pd != BUF_SIZE || memcmp(dec, src, BUF_SIZE) != 0)
        ok = 0;

    size_t eb = esc_encode(src, BUF_SIZE, enc);
    uint32_t henc2 = fnv1a(enc, eb);
    memset(dec, 0, sizeof dec);
    size_t ed = esc_decode(enc, eb, dec, BUF_SIZE);
    if (ed != BUF_SIZE || memcmp(dec, src, BUF_SIZE) != 0)
        ok = 0;

    printf("%-6s src=%08x packbits=%5u (%08x) esc=%5u (%08x) %s\n",
           names[kind], (unsigned)hsrc, (unsigned)pb, (unsigned)henc,
           (unsigned)eb, (unsigned)henc2, ok ? "ok" : "FAIL");
    return ok;
}

int main(void)
{
    int all = 1;
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < 4; k++)
            all &= run_case(k);
    printf("all round trips: %s\n", all ? "pass" : "FAIL");
    return 0;
}
