/* Arbitrary-precision unsigned integers on 32-bit limbs: add, sub, multiply,
 * long division, decimal conversion, GCD and modular exponentiation, used on
 * factorials, Fibonacci numbers and powers with identity checks. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>

#define MAXLIMBS 120

typedef struct {
    uint32_t d[MAXLIMBS]; /* little-endian limbs */
    int n;                /* number of used limbs; 0 means zero */
} bn_t;

static void bn_trim(bn_t *a)
{
    while (a->n > 0 && a->d[a->n - 1] == 0)
        a->n--;
}

static void bn_set_u64(bn_t *a, uint64_t v)
{
    memset(a, 0, sizeof *a);
    a->d[0] = (uint32_t)v;
    a->d[1] = (uint32_t)(v >> 32);
    a->n = 2;
    bn_trim(a);
}

static int bn_cmp(const bn_t *a, const bn_t *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->d[i] != b->d[i])
            return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

static void bn_add(bn_t *r, const bn_t *a, const bn_t *b)
{
    int n = a->n > b->n ? a->n : b->n;
    uint64_t carry = 0;
    bn_t t;
    memset(&t, 0, sizeof t);
    for (int i = 0; i < n; i++) {
        uint64_t s = carry + (i < a->n ? a->d[i] : 0) + (i < b->n ? b->d[i] : 0);
        t.d[i] = (uint32_t)s;
        carry = s >> 32;
    }
    if (carry && n < MAXLIMBS)
        t.d[n++] = (uint32_t)carry;
    t.n = n;
    bn_trim(&t);
    *r = t;
}

/* r = a - b, requires a >= b */
static void bn_sub(bn_t *r, const bn_t *a, const bn_t *b)
{
    bn_t t;
    memset(&t, 0, sizeof t);
    uint32_t borrow = 0;
    for (int i = 0; i < a->n; i++) {
        uint64_t bi = (uint64_t)(i < b->n ? b->d[i] : 0) + borrow;
        uint64_t ai = a->d[i];
        if (ai >= bi) {
            t.d[i] = (uint32_t)(ai - bi);
            borrow = 0;
        } else {
            t.d[i] = (uint32_t)((ai + ((uint64_t)1 << 32)) - bi);
            borrow = 1;
        }
    }
    t.n = a->n;
    bn_trim(&t);
    *r = t;
}

static void bn_mul(bn_t *r, const bn_t *a, const bn_t *b)
{
    bn_t t;
    memset(&t, 0, sizeof t);
    for (int i = 0; i < a->n; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < b->n && i + j < MAXLIMBS; j++) {
            uint64_t cur = (uint64_t)a->d[i] * b->d[j] + t.d[i + j] + carry;
            t.d[i + j] = (uint32_t)cur;
            carry = cur >> 32;
        }
        if (i + b->n < MAXLIMBS)
            t.d[i + b->n] = (uint32_t)carry;
    }
    t.n = a->n + b->n > MAXLIMBS ? MAXLIMBS : a->n + b->n;
    bn_trim(&t);
    *r = t;
}

static void bn_mul_small(bn_t *a, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < a->n; i++) {
        uint64_t cur = (uint64_t)a->d[i] * m + carry;
        a->d[i] = (uint32_t)cur;
        carry = cur >> 32;
    }
    if (carry && a->n < MAXLIMBS)
        a->d[a->n++] = (uint32_t)carry;
    bn_trim(a);
}

static uint32_t bn_divmod_small(bn_t *a, uint32_t m)
{
    uint64_t rem = 0;
    for (int i = a->n - 1; i >= 0; i--) {
        uint64_t cur = (rem << 32) | a->d[i];
        a->d[i] = (uint32_t)(cur / m);
        rem = cur % m;
    }
    bn_trim(a);
    return (uint32_t)rem;
}

static int bn_bits(const bn_t *a)
{
    if (a->n == 0)
        return 0;
    int b = (a->n - 1) * 32;
    uint32_t top = a->d[a->n - 1];
    while (top) {
        b++;
        top >>= 1;
    }
    return b;
}

static bool bn_bit(const bn_t *a, int i)
{
    return (i / 32 < a->n) && ((a->d[i / 32] >> (i % 32)) & 1u);
}

static void bn_shl1_or(bn_t *a, uint32_t bit)
{
    uint32_t carry = bit;
    for (int i = 0; i < a->n; i++) {
        uint32_t nc = a->d[i] >> 31;
        a->d[i] = (a->d[i] << 1) | carry;
        carry = nc;
    }
    if (carry && a->n < MAXLIMBS)
        a->d[a->n++] = carry;
}

/* Binary long division: q = a / b, r = a % b (b != 0). */
static void bn_divmod(bn_t *q, bn_t *r, const bn_t *a, const bn_t *b)
{
    bn_t quo, rem;
    memset(&quo, 0, sizeof quo);
    memset(&rem, 0, sizeof rem);
    int nb = bn_bits(a);
    quo.n = a->n;
    for (int i = nb - 1; i >= 0; i--) {
        bn_shl1_or(&rem, bn_bit(a, i));
        if (rem.n == 0 && bn_bit(a, i)) {
            rem.d[0] = 1;
            rem.n = 1;
        }
        if (bn_cmp(&rem, b) >= 0) {
            bn_sub(&rem, &rem, b);
            quo.d[i / 32] |= 1u << (i % 32);
        }
    }
    bn_trim(&quo);
    if (q)
        *q = quo;
    if (r)
        *r = rem;
}

static int bn_to_dec(const bn_t *a, char *out, int cap)
{
    bn_t t = *a;
    char tmp[MAXLIMBS * 10 + 2];
    int len = 0;
    if (t.n == 0)
        tmp[len++] = '0';
    while (t.n > 0) {
        uint32_t chunk = bn_divmod_small(&t, 1000000000u);
        for (int k = 0; k < 9; k++) {
            tmp[len++] = (char)('0' + chunk % 10u);
            chunk /= 10u;
            if (t.n == 0 && chunk == 0)
                break;
        }
    }
    if (len >= cap)
        len = cap - 1;
    for (int i = 0; i < len; i++)
        out[i] = tmp[len - 1 - i];
    out[len] = '\0';
    return len;
}

static void bn_gcd(bn_t *g, const bn_t *a, const bn_t *b)
{
    bn_t x = *a, y = *b, r;
    while (y.n > 0) {
        bn_divmod(NULL, &r, &x, &y);
        x = y;
        y = r;
    }
    *g = x;
}

static void bn_powmod(bn_t *r, const bn_t *base, const bn_t *e, const bn_t *m)
{
    bn_t res, b, t;
    bn_set_u64(&res, 1);
    bn_divmod(NULL, &b, base, m);
    for (int i = bn_bits(e) - 1; i >= 0; i--) {
        bn_mul(&t, &res, &res);
        bn_divmod(NULL, &res, &t, m);
        if (bn_bit(e, i)) {
            bn_mul(&t, &res, &b);
            bn_divmod(NULL, &res, &t, m);
        }
    }
    *r = res;
}

static void fib(bn_t *out, int k)
{
    bn_t a, b, c;
    bn_set_u64(&a, 0);
    bn_set_u64(&b, 1);
    for (int i = 0; i < k; i++) {
        bn_add(&c, &a, &b);
        a = b;
        b = c;
    }
    *out = a;
}

static int digit_sum(const char *s)
{
    int sum = 0;
    for (; *s; s++)
        sum += *s - '0';
    return sum;
}

static char dec[MAXLIMBS * 10 + 2];

static void show(const char *label, const bn_t *a)
{
    int len = bn_to_dec(a, dec, (int)sizeof dec);
    if (len <= 60)
        printf("%s = %s\n", label, dec);
    else
        printf("%s = %.20s...%s (%d digits, digit sum %d)\n", label, dec, dec + len - 20, len, digit_sum(dec));
}

int main(void)
{
    bn_t a, b, c, d, q, r;

    bn_set_u64(&a, 1);
    for (uint32_t i = 2; i <= 100; i++)
        bn_mul_small(&a, i);
    show("100!", &a);

    bn_set_u64(&b, 1);
    for (int i = 0; i < 1000; i++)
        bn_mul_small(&b, 2);
    show("2^1000", &b);

    fib(&c, 1000);
    show("fib(1000)", &c);

    bn_t f300, f200, g;
    fib(&f300, 300);
    fib(&f200, 200);
    bn_gcd(&g, &f300, &f200);
    show("gcd(fib(300), fib(200))", &g);
    fib(&d, 100);
    printf("equals fib(100): %s\n", bn_cmp(&g, &d) == 0 ? "yes" : "no");

    /* (a*c)/c == a and remainder 0 */
    bn_mul(&d, &a, &c);
    bn_divmod(&q, &r, &d, &c);
    printf("(100! * fib(1000)) / fib(1000) == 100!: %s, remainder zero: %s\n",
           bn_cmp(&q, &a) == 0 ? "yes" : "no", r.n == 0 ? "yes" : "no");

    /* (a + c) - c == a */
    bn_add(&d, &a, &c);
    bn_sub(&d, &d, &c);
    printf("(100! + fib(1000)) - fib(1000) == 100!: %s\n", bn_cmp(&d, &a) == 0 ? "yes" : "no");

    /* 2^1000 mod 100! and division identity q*b + r == a */
    bn_divmod(&q, &r, &b, &a);
    show("2^1000 / 100!", &q);
    show("2^1000 % 100!", &r);
    bn_mul(&d, &q, &a);
    bn_add(&d, &d, &r);
    printf("q*100! + r == 2^1000: %s\n", bn_cmp(&d, &b) == 0 ? "yes" : "no");

    /* Fermat test with Mersenne prime M127 = 2^127 - 1 */
    bn_t m127, one, base, e, res;
    bn_set_u64(&one, 1);
    bn_set_u64(&m127, 1);
    for (int i = 0; i < 127; i++)
        bn_mul_small(&m127, 2);
    bn_sub(&m127, &m127, &one);
    show("M127", &m127);
    bn_set_u64(&base, 3);
    bn_sub(&e, &m127, &one);
    bn_powmod(&res, &base, &e, &m127);
    show("3^(M127-1) mod M127", &res);
    bn_set_u64(&base, 12345678901234567ull);
    bn_set_u64(&e, 65537);
    bn_powmod(&res, &base, &e, &m127);
    show("12345678901234567^65537 mod M127", &res);
    return 0;
}
