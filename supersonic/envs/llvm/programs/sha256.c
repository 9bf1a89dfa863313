/* SHA-256 benchmark: streaming SHA-256 with init/update/final, HMAC-SHA256,
 * and a hash chain; checks FIPS/RFC test vectors and prints digests. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

struct sha256_ctx {
    uint32_t state[8];
    uint64_t bitlen;
    uint8_t buf[64];
    size_t buflen;
};

static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u,
    0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu,
    0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu,
    0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u,
    0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u,
    0xc67178f2u};

static uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32u - n));
}

static void sha256_init(struct sha256_ctx *c)
{
    static const uint32_t iv[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                   0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    memcpy(c->state, iv, sizeof iv);
    c->bitlen = 0;
    c->buflen = 0;
    memset(c->buf, 0, sizeof c->buf);
}

static void sha256_compress(uint32_t st[8], const uint8_t blk[64])
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = ((uint32_t)blk[4 * i] << 24) | ((uint32_t)blk[4 * i + 1] << 16) |
               ((uint32_t)blk[4 * i + 2] << 8) | (uint32_t)blk[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
    uint32_t e = st[4], f = st[5], g = st[6], h = st[7];
    for (int i = 0; i < 64; i++) {
        uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = h + S1 + ch + K[i] + w[i];
        uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
    st[4] += e;
    st[5] += f;
    st[6] += g;
    st[7] += h;
}

static void sha256_update(struct sha256_ctx *c, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        c->buf[c->buflen++] = data[i];
        if (c->buflen == 64) {
            sha256_compress(c->state, c->buf);
            c->bitlen += 512;
            c->buflen = 0;
        }
    }
}

static void sha256_final(struct sha256_ctx *c, uint8_t out[32])
{
    uint64_t total = c->bitlen + (uint64_t)c->buflen * 8u;
    size_t i = c->buflen;
    c->buf[i++] = 0x80;
    if (i > 56) {
        while (i < 64)
            c->buf[i++] = 0;
        sha256_compress(c->state, c->buf);
        i = 0;
    }
    while (i < 56)
        c->buf[i++] = 0;
    for (int k = 7; k >= 0; k--)
        c->buf[i++] = (uint8_t)(total >> (8 * k));
    sha256_compress(c->state, c->buf);
    for (int k = 0; k < 8; k++) {
        out[4 * k] = (uint8_t)(c->state[k] >> 24);
        out[4 * k + 1] = (uint8_t)(c->state[k] >> 16);
        out[4 * k + 2] = (uint8_t)(c->state[k] >> 8);
        out[4 * k + 3] = (uint8_t)c->state[k];
    }
}

static void sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
    struct sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, data, len);
    sha256_final(&c, out);
}

static void hmac_sha256(const uint8_t *key, size_t klen, const uint8_t *msg, size_t mlen,
                        uint8_t out[32])
{
    uint8_t k0[64];
    uint8_t pad[64];
    uint8_t inner[32];
    struct sha256_ctx c;
    memset(k0, 0, sizeof k0);
    if (klen > 64)
        sha256(key, klen, k0);
    else
        memcpy(k0, key, klen);
    for (int i = 0; i < 64; i++)
        pad[i] = (uint8_t)(k0[i] ^ 0x36u);
    sha256_init(&c);
    sha256_update(&c, pad, 64);
    sha256_update(&c, msg, mlen);
    sha256_final(&c, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = (uint8_t)(k0[i] ^ 0x5Cu);
    sha256_init(&c);
    sha256_update(&c, pad, 64);
    sha256_update(&c, inner, 32);
    sha256_final(&c, out);
}

static void to_hex(const uint8_t *d, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15u];
    }
    out[2 * n] = '\0';
}

static bool check_digest(const uint8_t d[32], const char *expect)
{
    char hex[65];
    to_hex(d, 32, hex);
    return strcmp(hex, expect) == 0;
}

static uint8_t bigbuf[20000];

int main(void)
{
    uint8_t d[32];
    char hex[65];
    const char *m1 = "abc";
    const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

    sha256((const uint8_t *)"", 0, d);
    to_hex(d, 32, hex);
    printf("sha256(\"\") = %s ok=%d\n", hex,
           check_digest(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    sha256((const uint8_t *)m1, strlen(m1), d);
    to_hex(d, 32, hex);
    printf("sha256(\"abc\") = %s ok=%d\n", hex,
           check_digest(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    sha256((const uint8_t *)m2, strlen(m2), d);
    to_hex(d, 32, hex);
    printf("sha256(448-bit) = %s ok=%d\n", hex,
           check_digest(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));

    const char *key = "Jefe";
    const char *msg = "what do ya want for nothing?";
    hmac_sha256((const uint8_t *)key, strlen(key), (const uint8_t *)msg, strlen(msg), d);
    to_hex(d, 32, hex);
    printf("hmac(Jefe) = %s ok=%d\n", hex,
           check_digest(d, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));

    /* streaming in irregular chunks must match one-shot */
    uint32_t s = 1u;
    for (size_t i = 0; i < sizeof bigbuf; i++) {
        s = s * 69069u + 1u;
        bigbuf[i] = (uint8_t)(s >> 24);
    }
    uint8_t one[32], streamed[32];
    sha256(bigbuf, sizeof bigbuf, one);
    struct sha256_ctx c;
    sha256_init(&c);
    size_t off = 0, step = 1;
    while (off < sizeof bigbuf) {
        size_t take = step < sizeof bigbuf - off ? step : sizeof bigbuf - off;
        sha256_update(&c, bigbuf + off, take);
        off += take;
        step = (step * 7 + 3) % 211;
    }
    sha256_final(&c, streamed);
    to_hex(one, 32, hex);
    printf("bigbuf digest = %s streamed_match=%d\n", hex, memcmp(one, streamed, 32) == 0);

    /* hash chain */
    memset(d, 0, sizeof d);
    for (int i = 0; i < 500; i++)
        sha256(d, 32, d);
    to_hex(d, 32, hex);
    printf("chain500 = %s\n", hex);
    return 0;
}
