/* Fixed-point IIR filtering: cascaded Q14 biquad sections (low-pass, high-pass,
 * resonator) in direct form I and transposed form II, plus a DC blocker;
 * prints impulse/step responses and checksums of filtered test signals. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#define Q 14
#define N_SAMPLES 3000
#define MAX_SECTIONS 4

typedef struct {
    int32_t b0, b1, b2, a1, a2; /* Q14, a-coefficients with sign as in y = ... - a1*y1 - a2*y2 */
} biquad_coef_t;

typedef struct {
    int32_t x1, x2, y1, y2;
} df1_state_t;

typedef struct {
    int64_t s1, s2;
} tdf2_state_t;

typedef struct {
    biquad_coef_t c[MAX_SECTIONS];
    df1_state_t st[MAX_SECTIONS];
    int n;
} cascade_t;

static const biquad_coef_t LOWPASS = { 1106, 2212, 1106, -18727, 6763 };
static const biquad_coef_t HIGHPASS = { 10468, -20937, 10468, -18727, 6763 };
static const biquad_coef_t RESONATOR = { 799, 0, -799, -18296, 14786 };

static int16_t in_sig[N_SAMPLES];
static int16_t out_sig[N_SAMPLES];

/* Divide by 2^Q rounding to nearest, away-from-zero ties; no shifts of negatives. */
static int64_t qround(int64_t v)
{
    const int64_t half = (int64_t)1 << (Q - 1);
    if (v >= 0)
        return (v + half) / ((int64_t)1 << Q);
    return -((-v + half) / ((int64_t)1 << Q));
}

static int32_t clamp32(int64_t v, int32_t lim)
{
    if (v > lim)
        return lim;
    if (v < -lim)
        return -lim;
    return (int32_t)v;
}

static int32_t df1_step(const biquad_coef_t *c, df1_state_t *s, int32_t x)
{
    int64_t acc = (int64_t)c->b0 * x + (int64_t)c->b1 * s->x1 + (int64_t)c->b2 * s->x2
                - (int64_t)c->a1 * s->y1 - (int64_t)c->a2 * s->y2;
    int32_t y = clamp32(qround(acc), 1 << 22);
    s->x2 = s->x1;
    s->x1 = x;
    s->y2 = s->y1;
    s->y1 = y;
    return y;
}

static int32_t tdf2_step(const biquad_coef_t *c, tdf2_state_t *s, int32_t x)
{
    /* state kept at Q14 scale to preserve precision */
    int64_t yq = (int64_t)c->b0 * x + s->s1;
    int32_t y = clamp32(qround(yq), 1 << 22);
    s->s1 = (int64_t)c->b1 * x - (int64_t)c->a1 * y + s->s2;
    s->s2 = (int64_t)c->b2 * x - (int64_t)c->a2 * y;
    return y;
}

static void cascade_init(cascade_t *cs)
{
    memset(cs, 0, sizeof *cs);
}

static void cascade_add(cascade_t *cs, const biquad_coef_t *c)
{
    if (cs->n < MAX_SECTIONS) {
        cs->c[cs->n] = *c;
        cs->n++;
    }
}

static int32_t cascade_step(cascade_t *cs, int32_t x)
{
    for (int i = 0; i < cs->n; i++)
        x = df1_step(&cs->c[i], &cs->st[i], x);
    return x;
}

static int32_t dc_block(int32_t x, int32_t *px, int32_t *py)
{
    /* y = x - x1 + 0.995*y1, 0.995 in Q14 = 16302 */
    int64_t acc = (int64_t)(x - *px) * (1 << Q) + (int64_t)16302 * *py;
    int32_t y = clamp32(qround(acc), 1 << 22);
    *px = x;
    *py = y;
    return y;
}

static uint32_t seed = 77u;

static int32_t prand(int32_t amp)
{
    seed = seed * 1103515245u + 12345u;
    return (int32_t)((seed >> 16) % (uint32_t)(2 * amp + 1)) - amp;
}

static void make_signal(void)
{
    for (int i = 0; i < N_SAMPLES; i++) {
        int32_t tri = (i % 40) < 20 ? (i % 40) * 400 - 4000 : (40 - i % 40) * 400 - 4000;
        int32_t sq = ((i / 7) & 1) ? 3000 : -3000;
        int32_t dc = 5000;
        in_sig[i] = (int16_t)(tri + sq + dc + prand(1500));
    }
}

static uint32_t checksum(const int16_t *p, int n, int64_t *energy)
{
    uint32_t h = 0x811C9DC5u;
    int64_t e = 0;
    for (int i = 0; i < n; i++) {
        h ^= (uint16_t)p[i];
        h *= 16777619u;
        e += (int32_t)p[i] * (int32_t)p[i];
    }
    *energy = e;
    return h;
}

static void print_response(const char *name, const biquad_coef_t *c, int step)
{
    df1_state_t s;
    memset(&s, 0, sizeof s);
    printf("%s %s:", name, step ? "step" : "impulse");
    for (int i = 0; i < 12; i++) {
        int32_t x = step ? 10000 : (i == 0 ? 10000 : 0);
        printf(" %d", df1_step(c, &s, x));
    }
    printf("\n");
}

static void run_cascade(const char *name, const biquad_coef_t *const *secs, int nsecs)
{
    cascade_t cs;
    cascade_init(&cs);
    for (int i = 0; i < nsecs; i++)
        cascade_add(&cs, secs[i]);
    for (int i = 0; i < N_SAMPLES; i++) {
        int32_t y = cascade_step(&cs, in_sig[i]);
        out_sig[i] = (int16_t)clamp32(y, 32767);
    }
    int64_t e;
    uint32_t h = checksum(out_sig, N_SAMPLES, &e);
    printf("%-12s sections=%d hash=%08x energy=%lld last=%d\n", name, nsecs,
           (unsigned)h, (long long)e, out_sig[N_SAMPLES - 1]);
}

static int compare_forms(const biquad_coef_t *c)
{
    df1_state_t a;
    tdf2_state_t b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int maxdiff = 0;
    for (int i = 0; i < N_SAMPLES; i++) {
        int32_t ya = df1_step(c, &a, in_sig[i]);
        int32_t yb = tdf2_step(c, &b, in_sig[i]);
        int d = ya > yb ? ya - yb : yb - ya;
        if (d > maxdiff)
            maxdiff = d;
    }
    return maxdiff;
}

int main(void)
{
    make_signal();
    int64_t e;
    uint32_t h = checksum(in_sig, N_SAMPLES, &e);
    printf("input hash=%08x energy=%lld\n", (unsigned)h, (long long)e);

    print_response("lowpass", &LOWPASS, 0);
    print_response("lowpass", &LOWPASS, 1);
    print_response("highpass", &HIGHPASS, 1);
    print_response("resonator", &RESONATOR, 0);

    const biquad_coef_t *lp2[] = { &LOWPASS, &LOWPASS };
    const biquad_coef_t *hp1[] = { &HIGHPASS };
    const biquad_coef_t *mix[] = { &HIGHPASS, &RESONATOR, &LOWPASS };
    const biquad_coef_t *lp4[] = { &LOWPASS, &LOWPASS, &LOWPASS, &LOWPASS };
    run_cascade("lp2", lp2, 2);
    run_cascade("hp1", hp1, 1);
    run_cascade("hp-res-lp", mix, 3);
    run_cascade("lp4", lp4, 4);

    printf("df1 vs tdf2 max diff: lp=%d hp=%d res=%d\n",
           compare_forms(&LOWPASS), compare_forms(&HIGHPASS), compare_forms(&RESONATOR));

    int32_t px = 0, py = 0;
    for (int i = 0; i < N_SAMPLES; i++)
        out_sig[i] = (int16_t)clamp32(dc_block(in_sig[i], &px, &py), 32767);
    h = checksum(out_sig, N_SAMPLES, &e);
    printf("dc_block hash=%08x energy=%lld last=%d\n", (unsigned)h, (long long)e, out_sig[N_SAMPLES - 1]);
    return 0;
}
