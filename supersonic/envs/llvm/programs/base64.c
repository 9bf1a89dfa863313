/* Base64 codec (RFC 4648): standard and URL-safe alphabets, optional padding,
 * whitespace-tolerant strict decoder; checks test vectors, malformed inputs and
 * random binary round trips. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>

static const char STD_ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL_ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

typedef struct {
    const char *alpha;
    int8_t rev[256];
    bool pad;
} b64_t;

static void b64_init(b64_t *b, const char *alpha, bool pad)
{
    b->alpha = alpha;
    b->pad = pad;
    for (int i = 0; i < 256; i++)
        b->rev[i] = -1;
    for (int i = 0; i < 64; i++)
        b->rev[(unsigned char)alpha[i]] = (int8_t)i;
}

static size_t b64_encode(const b64_t *b, const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    while (i + 3 <= n) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = b->alpha[(v >> 18) & 63u];
        out[o++] = b->alpha[(v >> 12) & 63u];
        out[o++] = b->alpha[(v >> 6) & 63u];
        out[o++] = b->alpha[v & 63u];
        i += 3;
    }
    size_t rem = n - i;
    if (rem) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (rem == 2)
            v |= (uint32_t)in[i + 1] << 8;
        out[o++] = b->alpha[(v >> 18) & 63u];
        out[o++] = b->alpha[(v >> 12) & 63u];
        if (rem == 2)
            out[o++] = b->alpha[(v >> 6) & 63u];
        else if (b->pad)
            out[o++] = '=';
        if (b->pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* Returns decoded length, or -1 on malformed input. Whitespace is skipped. */
static long b64_decode(const b64_t *b, const char *in, uint8_t *out)
{
    uint32_t acc = 0;
    int nbits_groups = 0; /* sextets in current quantum */
    int pads = 0;
    long o = 0;
    for (const char *p = in; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=') {
            pads++;
            if (pads > 2 || nbits_groups < 2)
                return -1;
            continue;
        }
        if (pads)
            return -1; /* data after padding */
        int v = b->rev[c];
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        nbits_groups++;
        if (nbits_groups == 4) {
            out[o++] = (uint8_t)(acc >> 16);
            out[o++] = (uint8_t)(acc >> 8);
            out[o++] = (uint8_t)acc;
            acc = 0;
            nbits_groups = 0;
        }
    }
    if (nbits_groups == 1)
        return -1;
    if (pads && nbits_groups + pads != 4)
        return -1;
    if (nbits_groups == 2) {
        if (acc & 0xFu)
            return -1; /* non-canonical trailing bits */
        out[o++] = (uint8_t)(acc >> 4);
    } else if (nbits_groups == 3) {
        if (acc & 0x3u)
            return -1;
        out[o++] = (uint8_t)(acc >> 10);
        out[o++] = (uint8_t)(acc >> 2);
    }
    return o;
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static char enc_buf[4096];
static uint8_t raw_buf[3000], dec_buf[3000];

int main(void)
{
    b64_t std, url, nopad;
    b64_init(&std, STD_ALPHA, true);
    b64_init(&url, URL_ALPHA, true);
    b64_init(&nopad, URL_ALPHA, false);

    static const char *vectors[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar",
                                     "Many hands make light work." };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const char *v = vectors[i];
        size_t n = strlen(v);
        b64_encode(&std, (const uint8_t *)v, n, enc_buf);
        long d = b64_decode(&std, enc_buf, dec_buf);
        bool ok = d == (long)n && memcmp(dec_buf, v, n) == 0;
        printf("\"%s\" -> \"%s\" %s\n", v, enc_buf, ok ? "ok" : "FAIL");
    }

    static const char *bad[] = { "Zm9v!", "Zg=", "Z===", "Zm9=v", "Zh==", "Zm9vYg=x", "Z" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        printf("decode \"%s\" -> %ld\n", bad[i], b64_decode(&std, bad[i], dec_buf));
    printf("decode with spaces -> %ld\n", b64_decode(&std, "Zm9v\nYmFy\r\n YQ==", dec_buf));

    uint32_t s = 0x1234567u;
    int failures = 0;
    uint32_t agg = 0;
    for (int trial = 0; trial < 40; trial++) {
        size_t n = (size_t)(trial * 71) % 3000u;
        for (size_t i = 0; i < n; i++) {
            s = s * 69069u + 1u;
            raw_buf[i] = (uint8_t)(s >> 24);
        }
        const b64_t *codec = trial % 3 == 0 ? &std : trial % 3 == 1 ? &url : &nopad;
        size_t el = b64_encode(codec, raw_buf, n, enc_buf);
        long d = b64_decode(codec, enc_buf, dec_buf);
        if (d != (long)n || memcmp(dec_buf, raw_buf, n) != 0)
            failures++;
        agg = agg * 7u + crc32((const uint8_t *)enc_buf, el);
    }
    printf("random round trips: failures=%d aggregate=%08x\n", failures, (unsigned)agg);
    printf("crc32(\"123456789\")=%08x\n", (unsigned)crc32((const uint8_t *)"123456789", 9));
    return 0;
}
