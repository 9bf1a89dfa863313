/* String tokenizing benchmark: splits text on delimiter sets, parses quoted
 * CSV fields, counts word frequencies in a small hash table, and normalizes
 * case; prints token counts, top words and checksums. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#define MAX_WORDS 256
#define WORD_LEN 24

static const char *corpus[] = {
    "It was the best of times, it was the worst of times; it was the age of wisdom,",
    "it was the age of foolishness, it was the epoch of belief, it was the epoch of",
    "incredulity, it was the season of Light, it was the season of Darkness, it was",
    "the spring of hope, it was the winter of despair, we had everything before us,",
    "we had nothing before us, we were all going direct to Heaven, we were all going",
    "direct the other way -- in short, the period was so far like the present period.",
};

static const char *csv_lines[] = {
    "id,name,city,score",
    "1,\"Smith, John\",Boston,88",
    "2,Ann,\"New \"\"York\"\"\",92",
    "3,,Chicago,75",
    "4,\"Lee\",\"\",100",
};

struct word_entry {
    char word[WORD_LEN];
    unsigned count;
    bool used;
};

static struct word_entry words[MAX_WORDS];

static bool is_delim(char c, const char *delims)
{
    for (const char *d = delims; *d; d++)
        if (*d == c)
            return true;
    return false;
}

/* returns pointer after the token; stores token bounds */
static const char *next_token(const char *s, const char *delims, const char **tok, size_t *len)
{
    while (*s && is_delim(*s, delims))
        s++;
    if (!*s) {
        *tok = NULL;
        *len = 0;
        return s;
    }
    *tok = s;
    while (*s && !is_delim(*s, delims))
        s++;
    *len = (size_t)(s - *tok);
    return s;
}

static char to_lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static uint32_t word_hash(const char *w, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)w[i];
        h *= 16777619u;
    }
    return h;
}

static void add_word(const char *tok, size_t len)
{
    char buf[WORD_LEN];
    size_t n = len < WORD_LEN - 1 ? len : WORD_LEN - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = to_lower_ascii(tok[i]);
    buf[n] = '\0';
    uint32_t idx = word_hash(buf, n) % MAX_WORDS;
    for (unsigned probe = 0; probe < MAX_WORDS; probe++) {
        struct word_entry *e = &words[(idx + probe) % MAX_WORDS];
        if (!e->used) {
            e->used = true;
            memcpy(e->word, buf, n + 1);
            e->count = 1;
            return;
        }
        if (strcmp(e->word, buf) == 0) {
            e->count++;
            return;
        }
    }
}

/* parse one CSV line into fields; handles quotes and doubled quotes */
static int parse_csv(const char *line, char fields[][32], int maxf)
{
    int nf = 0;
    const char *p = line;
    for (;;) {
        if (nf >= maxf)
            return nf;
        char *out = fields[nf];
        size_t o = 0;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0')
                    break;
                if (*p == '"') {
                    if (p[1] == '"') {
                        if (o < 31)
                            out[o++] = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                if (o < 31)
                    out[o++] = *p;
                p++;
            }
        }
        while (*p && *p != ',') {
            if (o < 31)
                out[o++] = *p;
            p++;
        }
        out[o] = '\0';
        nf++;
        if (*p != ',')
            return nf;
        p++;
    }
}

static int parse_int(const char *s, bool *ok)
{
    int v = 0;
    *ok = *s != '\0';
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            *ok = false;
            return 0;
        }
        if (v < 100000)
            v = v * 10 + (*s - '0');
    }
    return v;
}

static void reverse_words(const char *in, char *out, size_t outsz)
{
    const char *toks[64];
    size_t lens[64];
    int n = 0;
    const char *t;
    size_t l;
    const char *s = in;
    while (n < 64) {
        s = next_token(s, " ", &t, &l);
        if (!t)
            break;
        toks[n] = t;
        lens[n] = l;
        n++;
    }
    size_t o = 0;
    for (int i = n - 1; i >= 0; i--) {
        for (size_t k = 0; k < lens[i] && o + 1 < outsz; k++)
            out[o++] = toks[i][k];
        if (i > 0 && o + 1 < outsz)
            out[o++] = ' ';
    }
    out[o] = '\0';
}

int main(void)
{
    const size_t nlines = sizeof corpus / sizeof corpus[0];
    unsigned total_tokens = 0, total_chars = 0;
    size_t longest = 0;
    char longest_word[WORD_LEN] = "";
    for (size_t i = 0; i < nlines; i++) {
        const char *s = corpus[i];
        const char *tok;
        size_t len;
        unsigned line_tokens = 0;
        for (;;) {
            s = next_token(s, " ,;.-", &tok, &len);
            if (!tok)
                break;
            line_tokens++;
            total_chars += (unsigned)len;
            if (len > longest && len < WORD_LEN) {
                longest = len;
                memcpy(longest_word, tok, len);
                longest_word[len] = '\0';
            }
            add_word(tok, len);
        }
        total_tokens += line_tokens;
        printf("line %zu: %u tokens\n", i, line_tokens);
    }
    printf("total tokens=%u chars=%u longest=%s\n", total_tokens, total_chars, longest_word);

    /* top 5 words by count (ties broken alphabetically) */
    bool taken[MAX_WORDS] = {false};
    unsigned distinct = 0;
    for (int i = 0; i < MAX_WORDS; i++)
        if (words[i].used)
            distinct++;
    printf("distinct words=%u\n", distinct);
    for (int rank = 0; rank < 5; rank++) {
        int best = -1;
        for (int i = 0; i < MAX_WORDS; i++) {
            if (!words[i].used || taken[i])
                continue;
            if (best < 0 || words[i].count > words[best].count ||
                (words[i].count == words[best].count && strcmp(words[i].word, words[best].word) < 0))
                best = i;
        }
        if (best < 0)
            break;
        taken[best] = true;
        printf("  #%d %s x%u\n", rank + 1, words[best].word, words[best].count);
    }

    char fields[8][32];
    int score_sum = 0;
    for (size_t i = 0; i < sizeof csv_lines / sizeof csv_lines[0]; i++) {
        int nf = parse_csv(csv_lines[i], fields, 8);
        printf("csv %zu (%d):", i, nf);
        for (int f = 0; f < nf; f++)
            printf(" [%s]", fields[f]);
        printf("\n");
        bool ok;
        int sc = nf >= 4 ? parse_int(fields[3], &ok) : 0;
        if (nf >= 4 && ok)
            score_sum += sc;
    }
    printf("score sum=%d\n", score_sum);

    char rev[128];
    reverse_words("  one two  three four   five ", rev, sizeof rev);
    printf("reversed: \"%s\"\n", rev);
    return 0;
}
