/* CRC benchmark: CRC-32 (bitwise, table-driven and slice-by-4), CRC-32C,
 * CRC-16/CCITT and CRC-8 over generated buffers; checks the standard
 * "123456789" check values and prints checksums. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#define BUFLEN 16384

static uint32_t crc_table[4][256];
static uint32_t crc32c_table[256];
static uint16_t crc16_table[256];

static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void build_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        uint32_t d = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
            d = (d & 1u) ? (d >> 1) ^ 0x82F63B78u : d >> 1;
        }
        crc_table[0][i] = c;
        crc32c_table[i] = d;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc_table[0][i];
        for (int t = 1; t < 4; t++) {
            c = crc_table[0][c & 0xFFu] ^ (c >> 8);
            crc_table[t][i] = c;
        }
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);
        for (int k = 0; k < 8; k++)
            c = (c & 0x8000u) ? (uint16_t)((c << 1) ^ 0x1021u) : (uint16_t)(c << 1);
        crc16_table[i] = c;
    }
}

static uint32_t crc32_table_update(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[0][(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

static uint32_t crc32_slice4(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t w = (uint32_t)p[i] | ((uint32_t)p[i + 1] << 8) | ((uint32_t)p[i + 2] << 16) |
                     ((uint32_t)p[i + 3] << 24);
        crc ^= w;
        crc = crc_table[3][crc & 0xFFu] ^ crc_table[2][(crc >> 8) & 0xFFu] ^
              crc_table[1][(crc >> 16) & 0xFFu] ^ crc_table[0][crc >> 24];
    }
    for (; i < n; i++)
        crc = crc_table[0][(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        crc = crc32c_table[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

static uint16_t crc16_ccitt(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFFu;
    for (size_t i = 0; i < n; i++)
        crc = (uint16_t)((crc << 8) ^ crc16_table[((crc >> 8) ^ p[i]) & 0xFFu]);
    return crc;
}

static uint8_t crc8(const uint8_t *p, size_t n)
{
    uint8_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 0x80u) ? (uint8_t)((crc << 1) ^ 0x07u) : (uint8_t)(crc << 1);
    }
    return crc;
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

static void fill_buffer(uint8_t *buf, size_t n, uint32_t seed)
{
    uint32_t s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        buf[i] = (uint8_t)(s >> 16);
    }
}

static uint8_t buffer[BUFLEN];

int main(void)
{
    static const char check[] = "123456789";
    const uint8_t *cp = (const uint8_t *)check;
    size_t cl = strlen(check);

    build_tables();
    printf("check crc32 bitwise=%08x table=%08x slice4=%08x\n", (unsigned)crc32_bitwise(cp, cl),
           (unsigned)crc32_table_update(0, cp, cl), (unsigned)crc32_slice4(cp, cl));
    printf("check crc32c=%08x crc16=%04x crc8=%02x adler32=%08x\n", (unsigned)crc32c(cp, cl),
           (unsigned)crc16_ccitt(cp, cl), (unsigned)crc8(cp, cl), (unsigned)adler32(cp, cl));

    for (uint32_t seed = 1; seed <= 4; seed++) {
        size_t len = BUFLEN - seed * 1001u;
        fill_buffer(buffer, len, seed * 0x9E3779B1u);
        uint32_t a = crc32_bitwise(buffer, len);
        uint32_t b = crc32_slice4(buffer, len);
        /* incremental computation in uneven chunks */
        uint32_t c = 0;
        size_t off = 0, chunk = 1;
        while (off < len) {
            size_t take = chunk < len - off ? chunk : len - off;
            c = crc32_table_update(c, buffer + off, take);
            off += take;
            chunk = chunk * 3 + 1;
        }
        printf("buf %u len=%zu crc32=%08x agree=%d crc32c=%08x crc16=%04x crc8=%02x adler=%08x\n",
               (unsigned)seed, len, (unsigned)a, a == b && b == c, (unsigned)crc32c(buffer, len),
               (unsigned)crc16_ccitt(buffer, len), (unsigned)crc8(buffer, len),
               (unsigned)adler32(buffer, len));
    }

    /* detect single-bit errors */
    fill_buffer(buffer, 512, 77u);
    uint32_t ref = crc32_slice4(buffer, 512);
    int detected = 0;
    for (int bit = 0; bit < 512 * 8; bit += 5) {
        buffer[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (crc32_slice4(buffer, 512) != ref)
            detected++;
        buffer[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    printf("single-bit flips detected=%d of %d\n", detected, (512 * 8 + 4) / 5);
    return 0;
}
