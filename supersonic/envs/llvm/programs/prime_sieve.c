/* Prime sieves: byte-array, odd-only bit and segmented Eratosthenes plus a
 * linear sieve (smallest prime factor, Euler totient), cross-checked with
 * Miller-Rabin; also twin-prime, prime-gap and Goldbach statistics. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>

#define LIMIT 1000000u
#define LIN_LIMIT 100000u
#define SEG_SIZE 32768u

static uint8_t composite[LIMIT + 1];
static uint32_t bits[(LIMIT / 2) / 32 + 2];
static uint32_t primes[80000];
static uint32_t spf[LIN_LIMIT + 1];
static uint32_t phi[LIN_LIMIT + 1];
static uint32_t lin_primes[10000];

static uint32_t sieve_bytes(uint32_t n)
{
    memset(composite, 0, n + 1);
    composite[0] = composite[1] = 1;
    for (uint32_t i = 2; i * i <= n; i++)
        if (!composite[i])
            for (uint32_t j = i * i; j <= n; j += i)
                composite[j] = 1;
    uint32_t count = 0;
    for (uint32_t i = 2; i <= n; i++)
        if (!composite[i])
            primes[count++] = i;
    return count;
}

/* bit k represents odd number 2k+1 */
static uint32_t sieve_bits(uint32_t n)
{
    uint32_t half = n / 2 + 1;
    memset(bits, 0, sizeof bits);
    bits[0] |= 1u; /* 1 is not prime */
    for (uint32_t i = 3; i * i <= n; i += 2) {
        uint32_t k = i / 2;
        if (bits[k >> 5] & (1u << (k & 31u)))
            continue;
        for (uint32_t j = i * i; j <= n; j += 2 * i) {
            uint32_t kj = j / 2;
            bits[kj >> 5] |= 1u << (kj & 31u);
        }
    }
    uint32_t count = n >= 2 ? 1 : 0; /* the prime 2 */
    for (uint32_t k = 0; k < half; k++) {
        uint32_t v = 2 * k + 1;
        if (v > n)
            break;
        if (!(bits[k >> 5] & (1u << (k & 31u))))
            count++;
    }
    return count;
}

/* Count primes in [lo, hi) using base primes from the byte sieve. */
static uint32_t sieve_segment(uint32_t lo, uint32_t hi, uint32_t nbase, uint32_t *sum_mod)
{
    static uint8_t seg[SEG_SIZE];
    uint32_t count = 0;
    for (uint32_t start = lo; start < hi; start += SEG_SIZE) {
        uint32_t end = start + SEG_SIZE < hi ? start + SEG_SIZE : hi;
        memset(seg, 0, SEG_SIZE);
        for (uint32_t p = 0; p < nbase; p++) {
            uint32_t q = primes[p];
            if ((uint64_t)q * q >= end)
                break;
            uint32_t first = (start + q - 1) / q * q;
            if (first < q * q)
                first = q * q;
            for (uint32_t j = first; j < end; j += q)
                seg[j - start] = 1;
        }
        for (uint32_t x = start; x < end; x++)
            if (x >= 2 && !seg[x - start]) {
                count++;
                *sum_mod = (uint32_t)(((uint64_t)*sum_mod * 31u + x) % 1000000007u);
            }
    }
    return count;
}

static uint32_t linear_sieve(uint32_t n)
{
    uint32_t np = 0;
    memset(spf, 0, sizeof spf);
    phi[1] = 1;
    for (uint32_t i = 2; i <= n; i++) {
        if (spf[i] == 0) {
            spf[i] = i;
            phi[i] = i - 1;
            lin_primes[np++] = i;
        }
        for (uint32_t k = 0; k < np; k++) {
            uint32_t p = lin_primes[k];
            if (p > spf[i] || (uint64_t)p * i > n)
                break;
            spf[p * i] = p;
            phi[p * i] = p == spf[i] ? phi[i] * p : phi[i] * (p - 1);
        }
    }
    return np;
}

static uint32_t mulmod(uint32_t a, uint32_t b, uint32_t m)
{
    return (uint32_t)(((uint64_t)a * b) % m);
}

static uint32_t powmod(uint32_t b, uint32_t e, uint32_t m)
{
    uint32_t r = 1 % m;
    b %= m;
    while (e) {
        if (e & 1u)
            r = mulmod(r, b, m);
        b = mulmod(b, b, m);
        e >>= 1;
    }
    return r;
}

static bool miller_rabin(uint32_t n)
{
    if (n < 2)
        return false;
    static const uint32_t small[] = { 2, 3, 5, 7 };
    for (int i = 0; i < 4; i++) {
        if (n == small[i])
            return true;
        if (n % small[i] == 0)
            return false;
    }
    uint32_t d = n - 1;
    int s = 0;
    while ((d & 1u) == 0) {
        d >>= 1;
        s++;
    }
    static const uint32_t bases[] = { 2, 7, 61 };
    for (int i = 0; i < 3; i++) {
        uint32_t a = bases[i] % n;
        if (a == 0)
            continue;
        uint32_t x = powmod(a, d, n);
        if (x == 1 || x == n - 1)
            continue;
        bool witness = true;
        for (int r = 1; r < s; r++) {
            x = mulmod(x, x, n);
            if (x == n - 1) {
                witness = false;
                break;
            }
        }
        if (witness)
            return false;
    }
    return true;
}

int main(void)
{
    uint32_t np = sieve_bytes(LIMIT);
    uint32_t nb = sieve_bits(LIMIT);
    printf("pi(%u): bytes=%u bits=%u\n", LIMIT, np, nb);
    static const uint32_t checkpoints[] = { 10, 100, 1000, 10000, 100000 };
    for (int i = 0; i < 5; i++) {
        uint32_t c = 0;
        while (c < np && primes[c] <= checkpoints[i])
            c++;
        printf("pi(%u)=%u\n", checkpoints[i], c);
    }
    printf("largest prime <= %u: %u\n", LIMIT, primes[np - 1]);

    uint32_t sum_mod = 0;
    uint32_t seg_count = sieve_segment(1000000000u, 1000000000u + 200000u, np, &sum_mod);
    uint32_t mr_count = 0;
    for (uint32_t x = 1000000000u; x < 1000000000u + 200000u; x++)
        if (x % 2u && miller_rabin(x))
            mr_count++;
    printf("primes in [1e9, 1e9+2e5): segmented=%u miller_rabin=%u hash=%u\n", seg_count, mr_count, sum_mod);

    uint32_t twins = 0, max_gap = 0, gap_at = 0;
    for (uint32_t i = 1; i < np; i++) {
        uint32_t g = primes[i] - primes[i - 1];
        if (g == 2)
            twins++;
        if (g > max_gap) {
            max_gap = g;
            gap_at = primes[i - 1];
        }
    }
    printf("twin pairs=%u max_gap=%u after %u\n", twins, max_gap, gap_at);

    uint32_t nl = linear_sieve(LIN_LIMIT);
    uint64_t phi_sum = 0;
    uint32_t mismatch = 0;
    for (uint32_t i = 1; i <= LIN_LIMIT; i++) {
        phi_sum += phi[i];
        if (i >= 2 && ((spf[i] == i) != !composite[i]))
            mismatch++;
    }
    printf("linear sieve primes=%u phi_sum=%llu spf(99991)=%u spf(99999)=%u mismatches=%u\n", nl,
           (unsigned long long)phi_sum, spf[99991], spf[99999], mismatch);

    uint32_t worst_n = 0, worst_p = 0;
    for (uint32_t n = 4; n <= 100000; n += 2) {
        uint32_t k = 0;
        while (composite[n - primes[k]])
            k++;
        if (primes[k] > worst_p) {
            worst_p = primes[k];
            worst_n = n;
        }
    }
    printf("goldbach up to 100000: largest minimal prime %u for n=%u\n", worst_p, worst_n);
    return 0;
}
