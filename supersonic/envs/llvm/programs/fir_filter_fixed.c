/* Fixed-point (Q15) FIR filtering: a synthetic multi-tone signal is run through
 * binomial, moving-average, and windowed band-pass FIR filters plus a 2:1
 * decimator; prints energy and checksums of each output. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#define N_SAMPLES 4096
#define MAX_TAPS 64

typedef struct {
    int16_t coef[MAX_TAPS];
    int16_t hist[MAX_TAPS];
    int ntaps;
    int pos;
} fir_t;

static int16_t signal_in[N_SAMPLES];
static int16_t signal_out[N_SAMPLES];

static uint32_t noise_state = 0x9E3779B9u;

static int32_t noise(void)
{
    noise_state ^= noise_state << 13;
    noise_state ^= noise_state >> 17;
    noise_state ^= noise_state << 5;
    return (int32_t)(noise_state % 2001u) - 1000;
}

/* Integer sine approximation: phase in [0, 65535] -> Q15 value.
 * Uses a parabolic approximation with a correction term. */
static int32_t isin(uint32_t phase)
{
    phase &= 0xFFFFu;
    int32_t neg = phase >= 0x8000u;
    int32_t x = (int32_t)(phase & 0x7FFFu);      /* 0..32767 = 0..pi */
    int32_t y = (int32_t)(((int64_t)x * (32768 - x)) >> 13); /* peak ~32768 */
    /* refine: y = 0.225*(y*|y| - y) + y in Q15 */
    int32_t yy = (int32_t)(((int64_t)y * y) >> 15);
    y = y + (int32_t)(((int64_t)(yy - y) * 7373) >> 15);
    if (y > 32767)
        y = 32767;
    return neg ? -y : y;
}

static int16_t sat16(int64_t v)
{
    if (v > 32767)
        return 32767;
    if (v < -32768)
        return -32768;
    return (int16_t)v;
}

static void fir_init(fir_t *f, const int16_t *coef, int ntaps)
{
    memset(f, 0, sizeof *f);
    f->ntaps = ntaps;
    memcpy(f->coef, coef, (size_t)ntaps * sizeof(int16_t));
}

static int16_t fir_step(fir_t *f, int16_t x)
{
    f->hist[f->pos] = x;
    int64_t acc = 0;
    int idx = f->pos;
    for (int k = 0; k < f->ntaps; k++) {
        acc += (int32_t)f->coef[k] * (int32_t)f->hist[idx];
        idx = idx == 0 ? f->ntaps - 1 : idx - 1;
    }
    f->pos = f->pos + 1 == f->ntaps ? 0 : f->pos + 1;
    acc += 1 << 14; /* rounding */
    return sat16(acc / 32768 - (acc % 32768 < 0 ? 1 : 0));
}

static void make_binomial(int16_t *coef, int n)
{
    /* row n-1 of Pascal's triangle, normalised to sum 32767 */
    uint64_t row[MAX_TAPS];
    row[0] = 1;
    for (int i = 1; i < n; i++) {
        row[i] = 0;
        for (int j = i; j > 0; j--)
            row[j] += row[j - 1];
    }
    uint64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += row[i];
    for (int i = 0; i < n; i++)
        coef[i] = (int16_t)((row[i] * 32767u) / sum);
}

static void make_moving_average(int16_t *coef, int n)
{
    for (int i = 0; i < n; i++)
        coef[i] = (int16_t)(32767 / n);
}

/* Band-pass: modulated triangular window. */
static void make_bandpass(int16_t *coef, int n, uint32_t center_phase_step)
{
    int half = (n - 1) / 2;
    for (int i = 0; i < n; i++) {
        int d = i - half;
        int w = half + 1 - (d < 0 ? -d : d);       /* triangle 1..half+1 */
        int32_t c = isin((uint32_t)(d + 4 * n) * center_phase_step + 0x4000u); /* cosine */
        coef[i] = (int16_t)((c * w) / (half + 1) / 4);
    }
}

static void gen_signal(void)
{
    for (int i = 0; i < N_SAMPLES; i++) {
        uint32_t t = (uint32_t)i;
        int32_t s = isin(t * 300u) / 4;           /* low tone */
        s += isin(t * 2900u) / 5;                 /* mid tone */
        s += isin(t * 14000u) / 6;                /* high tone */
        s += ((i / 64) & 1) ? 2000 : -2000;       /* square wave */
        s += noise();
        signal_in[i] = sat16(s);
    }
}

static void report(const char *name, const int16_t *y, int n)
{
    int64_t energy = 0;
    uint32_t sum = 0;
    int16_t mn = 32767, mx = -32768;
    for (int i = 0; i < n; i++) {
        energy += (int32_t)y[i] * (int32_t)y[i];
        sum = sum * 31u + (uint16_t)y[i];
        if (y[i] < mn)
            mn = y[i];
        if (y[i] > mx)
            mx = y[i];
    }
    printf("%-10s n=%4d energy=%12lld min=%6d max=%6d hash=%08x\n",
           name, n, (long long)energy, mn, mx, (unsigned)sum);
}

static void run_filter(const char *name, const int16_t *coef, int ntaps)
{
    static fir_t f;
    fir_init(&f, coef, ntaps);
    for (int i = 0; i < N_SAMPLES; i++)
        signal_out[i] = fir_step(&f, signal_in[i]);
    report(name, signal_out, N_SAMPLES);
}

static int decimate2(const int16_t *coef, int ntaps, int16_t *out)
{
    static fir_t f;
    fir_init(&f, coef, ntaps);
    int m = 0;
    for (int i = 0; i < N_SAMPLES; i++) {
        int16_t y = fir_step(&f, signal_in[i]);
        if ((i & 1) == 0)
            out[m++] = y;
    }
    return m;
}

int main(void)
{
    int16_t coef[MAX_TAPS];
    gen_signal();
    report("input", signal_in, N_SAMPLES);

    make_binomial(coef, 9);
    run_filter("binom9", coef, 9);
    make_binomial(coef, 25);
    run_filter("binom25", coef, 25);

    make_moving_average(coef, 16);
    run_filter("movavg16", coef, 16);

    make_bandpass(coef, 33, 2900u);
    printf("bandpass taps: %d %d %d %d %d\n", coef[0], coef[8], coef[16], coef[24], coef[32]);
    run_filter("bandpass", coef, 33);
    make_bandpass(coef, 63, 14000u);
    run_filter("highband", coef, 63);

    static int16_t dec[N_SAMPLES / 2];
    make_binomial(coef, 15);
    int m = decimate2(coef, 15, dec);
    report("decim2", dec, m);
    return 0;
}
