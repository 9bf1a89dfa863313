/* Regular-expression matching: a recursive-descent parser builds a Thompson
 * NFA (literals, ., classes, escapes, * + ?, |, groups, ^ $) that is simulated
 * with state sets; results are cross-checked against a backtracking matcher. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>

#define MAX_STATES 512
#define MAX_CLASSES 64

enum { ST_CHAR, ST_ANY, ST_CLASS, ST_SPLIT, ST_EPS, ST_MATCH };

typedef struct {
    int type;
    int c;   /* char or class index */
    int out, out1;
} state_t;

typedef struct {
    int start, end; /* end is an ST_EPS state whose out is dangling */
} frag_t;

typedef struct {
    state_t st[MAX_STATES];
    int nst;
    uint32_t cls[MAX_CLASSES][8];
    int ncls;
    int start;
    bool anchor_start, anchor_end;
    const char *p; /* parse cursor */
    bool error;
} re_prog_t;

static int new_state(re_prog_t *re, int type, int c, int out, int out1)
{
    if (re->nst >= MAX_STATES) {
        re->error = true;
        return 0;
    }
    state_t *s = &re->st[re->nst];
    s->type = type;
    s->c = c;
    s->out = out;
    s->out1 = out1;
    return re->nst++;
}

static frag_t single(re_prog_t *re, int type, int c)
{
    frag_t f;
    f.end = new_state(re, ST_EPS, 0, -1, -1);
    f.start = new_state(re, type, c, f.end, -1);
    return f;
}

static void class_set(uint32_t *bits, int c)
{
    bits[(unsigned)c >> 5] |= 1u << ((unsigned)c & 31u);
}

static void class_escape(uint32_t *bits, char e)
{
    for (int c = 0; c < 256; c++) {
        bool in = false;
        if (e == 'd')
            in = c >= '0' && c <= '9';
        else if (e == 'w')
            in = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        else if (e == 's')
            in = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        if (in)
            class_set(bits, c);
    }
}

static int new_class(re_prog_t *re)
{
    if (re->ncls >= MAX_CLASSES) {
        re->error = true;
        return 0;
    }
    memset(re->cls[re->ncls], 0, sizeof re->cls[0]);
    return re->ncls++;
}

static frag_t parse_alt(re_prog_t *re);

static frag_t parse_atom(re_prog_t *re)
{
    char c = *re->p;
    if (c == '(') {
        re->p++;
        frag_t f = parse_alt(re);
        if (*re->p != ')')
            re->error = true;
        else
            re->p++;
        return f;
    }
    if (c == '.') {
        re->p++;
        return single(re, ST_ANY, 0);
    }
    if (c == '\\' && re->p[1]) {
        char e = re->p[1];
        re->p += 2;
        if (e == 'd' || e == 'w' || e == 's') {
            int k = new_class(re);
            class_escape(re->cls[k], e);
            return single(re, ST_CLASS, k);
        }
        return single(re, ST_CHAR, (unsigned char)e);
    }
    if (c == '[') {
        re->p++;
        int k = new_class(re);
        bool negate = false;
        if (*re->p == '^') {
            negate = true;
            re->p++;
        }
        bool first = true;
        while (*re->p && (*re->p != ']' || first)) {
            unsigned char lo = (unsigned char)*re->p++;
            first = false;
            if (lo == '\\' && *re->p) {
                char e = *re->p++;
                if (e == 'd' || e == 'w' || e == 's') {
                    class_escape(re->cls[k], e);
                    continue;
                }
                lo = (unsigned char)e;
            }
            if (re->p[0] == '-' && re->p[1] && re->p[1] != ']') {
                unsigned char hi = (unsigned char)re->p[1];
                re->p += 2;
                for (int x = lo; x <= hi; x++)
                    class_set(re->cls[k], x);
            } else {
                class_set(re->cls[k], lo);
            }
        }
        if (*re->p != ']')
            re->error = true;
        else
            re->p++;
        if (negate)
            for (int w = 0; w < 8; w++)
                re->cls[k][w] = ~re->cls[k][w];
        return single(re, ST_CLASS, k);
    }
    re->p++;
    return single(re, ST_CHAR, (unsigned char)c);
}

static frag_t parse_repeat(re_prog_t *re)
{
    frag_t a = parse_atom(re);
    while (*re->p == '*' || *re->p == '+' || *re->p == '?') {
        char op = *re->p++;
        int e = new_state(re, ST_EPS, 0, -1, -1);
        int s = new_state(re, ST_SPLIT, 0, a.start, e);
        frag_t f;
        if (op == '*') {
            re->st[a.end].out = s;
            f.start = s;
        } else if (op == '+') {
            re->st[a.end].out = s;
            f.start = a.start;
        } else {
            re->st[a.end].out = e;
            f.start = s;
        }
        f.end = e;
        a = f;
    }
    return a;
}

static bool at_concat_end(const re_prog_t *re)
{
    char c = *re->p;
    return c == '\0' || c == '|' || c == ')' || (c == '$' && re->p[1] == '\0');
}

static frag_t parse_concat(re_prog_t *re)
{
    if (at_concat_end(re))
        return single(re, ST_EPS, 0); /* empty: EPS -> EPS */
    frag_t f = parse_repeat(re);
    while (!at_concat_end(re) && !re->error) {
        frag_t g = parse_repeat(re);
        re->st[f.end].out = g.start;
        f.end = g.end;
    }
    return f;
}

static frag_t parse_alt(re_prog_t *re)
{
    frag_t f = parse_concat(re);
    while (*re->p == '|' && !re->error) {
        re->p++;
        frag_t g = parse_concat(re);
        int e = new_state(re, ST_EPS, 0, -1, -1);
        int s = new_state(re, ST_SPLIT, 0, f.start, g.start);
        re->st[f.end].out = e;
        re->st[g.end].out = e;
        f.start = s;
        f.end = e;
    }
    return f;
}

static bool regex_compile(re_prog_t *re, const char *pattern)
{
    memset(re, 0, sizeof *re);
    re->p = pattern;
    if (*re->p == '^') {
        re->anchor_start = true;
        re->p++;
    }
    frag_t f = parse_alt(re);
    if (*re->p == '$' && re->p[1] == '\0') {
        re->anchor_end = true;
        re->p++;
    }
    if (*re->p != '\0')
        re->error = true;
    int m = new_state(re, ST_MATCH, 0, -1, -1);
    if (re->error)
        return false;
    re->st[f.end].out = m;
    re->start = f.start;
    return true;
}

typedef struct {
    int ids[MAX_STATES];
    int n;
} set_t;

static int gen_mark[MAX_STATES];
static int generation;

static void add_state(const re_prog_t *re, set_t *s, int id)
{
    if (id < 0 || gen_mark[id] == generation)
        return;
    gen_mark[id] = generation;
    const state_t *st = &re->st[id];
    if (st->type == ST_EPS) {
        add_state(re, s, st->out);
    } else if (st->type == ST_SPLIT) {
        add_state(re, s, st->out);
        add_state(re, s, st->out1);
    } else {
        s->ids[s->n++] = id;
    }
}

static bool state_accepts(const re_prog_t *re, const state_t *st, unsigned char c)
{
    switch (st->type) {
    case ST_CHAR:
        return st->c == c;
    case ST_ANY:
        return c != '\n';
    case ST_CLASS:
        return (re->cls[st->c][c >> 5] >> (c & 31u)) & 1u;
    default:
        return false;
    }
}

/* Longest match starting at text[pos]; returns end index or -1. */
static int nfa_match_at(const re_prog_t *re, const char *text, int pos)
{
    static set_t cur, nxt;
    int n = (int)strlen(text);
    int last = -1;
    cur.n = 0;
    generation++;
    add_state(re, &cur, re->start);
    for (int i = pos;; i++) {
        for (int k = 0; k < cur.n; k++)
            if (re->st[cur.ids[k]].type == ST_MATCH && (!re->anchor_end || i == n))
                last = i;
        if (i == n || cur.n == 0)
            break;
        nxt.n = 0;
        generation++;
        unsigned char c = (unsigned char)text[i];
        for (int k = 0; k < cur.n; k++) {
            const state_t *st = &re->st[cur.ids[k]];
            if (state_accepts(re, st, c))
                add_state(re, &nxt, st->out);
        }
        cur = nxt;
    }
    return last;
}

static bool nfa_search(const re_prog_t *re, const char *text, int *mstart, int *mend)
{
    int n = (int)strlen(text);
    for (int s = 0; s <= n; s++) {
        int e = nfa_match_at(re, text, s);
        if (e >= 0) {
            *mstart = s;
            *mend = e;
            return true;
        }
        if (re->anchor_start)
            break;
    }
    return false;
}

/* Simple backtracking matcher for the subset: literal chars, '.', '*', '^', '$'. */
static bool bt_here(const char *re, const char *text);

static bool bt_star(int c, const char *re, const char *text)
{
    do {
        if (bt_here(re, text))
            return true;
    } while (*text != '\0' && (*text++ == c || c == '.'));
    return false;
}

static bool bt_here(const char *re, const char *text)
{
    if (re[0] == '\0')
        return true;
    if (re[1] == '*')
        return bt_star(re[0], re + 2, text);
    if (re[0] == '$' && re[1] == '\0')
        return *text == '\0';
    if (*text != '\0' && (re[0] == '.' || re[0] == *text))
        return bt_here(re + 1, text + 1);
    return false;
}

static bool bt_match(const char *re, const char *text)
{
    if (re[0] == '^')
        return bt_here(re + 1, text);
    do {
        if (bt_here(re, text))
            return true;
    } while (*text++ != '\0');
    return false;
}

static uint32_t rstate = 0xABCDEFu;

static uint32_t rnd(uint32_t n)
{
    rstate ^= rstate << 13;
    rstate ^= rstate >> 17;
    rstate ^= rstate << 5;
    return rstate % n;
}

static void random_pattern(char *out)
{
    int len = 1 + (int)rnd(6);
    int o = 0;
    if (rnd(4) == 0)
        out[o++] = '^';
    for (int i = 0; i < len; i++) {
        static const char atoms[] = "ab.c";
        out[o++] = atoms[rnd(4)];
        if (rnd(3) == 0)
            out[o++] = '*';
    }
    if (rnd(4) == 0)
        out[o++] = '$';
    out[o] = '\0';
}

int main(void)
{
    static const char *patterns[] = {
        "abc", "a.c", "^ab*c$", "colou?r", "(cat|dog)s?", "[0-9]+\\.[0-9]+", "^\\w+@\\w+\\.(com|org)$",
        "(a|b)*abb", "[^aeiou ]+", "x*", "^$", "\\d\\d:\\d\\d", "(ab|a)(bc|c)", "[a-c-]+z"
    };
    static const char *texts[] = {
        "abc", "xxabcxx", "aXc", "abbbc", "ac", "color", "colour", "hotdogs!", "pi=3.14159",
        "user@example.com", "user@example.net", "babaabb", "rhythm and blues", "", "at 12:45 today",
        "abc-z"
    };
    int np = (int)(sizeof patterns / sizeof patterns[0]);
    int nt = (int)(sizeof texts / sizeof texts[0]);
    re_prog_t re;
    uint32_t h = 0;
    for (int i = 0; i < np; i++) {
        if (!regex_compile(&re, patterns[i])) {
            printf("%-24s compile error\n", patterns[i]);
            continue;
        }
        char row[64];
        int matches = 0;
        for (int j = 0; j < nt; j++) {
            int s, e;
            bool m = nfa_search(&re, texts[j], &s, &e);
            row[j] = m ? 'Y' : '.';
            if (m) {
                matches++;
                h = h * 131u + (uint32_t)(s * 64 + e);
            }
        }
        row[nt] = '\0';
        printf("%-24s states=%3d %s %d\n", patterns[i], re.nst, row, matches);
    }
    printf("match-span hash=%08x\n", (unsigned)h);

    int s, e;
    const char *sample = "pi=3.14159 e=2.718";
    regex_compile(&re, "[0-9]+\\.[0-9]+");
    if (nfa_search(&re, sample, &s, &e))
        printf("first number: [%d,%d) \"%.*s\"\n", s, e, e - s, &sample[s]);
    printf("bad pattern \"(ab\": %s\n", regex_compile(&re, "(ab") ? "ok" : "error");
    printf("bad pattern \"[ab\": %s\n", regex_compile(&re, "[ab") ? "ok" : "error");

    /* differential test against the backtracking matcher */
    char pat[32], txt[32];
    int agree = 0, total = 0, positives = 0;
    for (int t = 0; t < 1500; t++) {
        random_pattern(pat);
        int tl = (int)rnd(10);
        for (int k = 0; k < tl; k++)
            txt[k] = "abc"[rnd(3)];
        txt[tl] = '\0';
        if (!regex_compile(&re, pat))
            continue;
        bool a = nfa_search(&re, txt, &s, &e);
        bool b = bt_match(pat, txt);
        total++;
        agree += a == b;
        positives += a;
    }
    printf("differential: %d/%d agree, %d matches\n", agree, total, positives);
    return 0;
}
