/* JSON tokenizer benchmark: lexes JSON documents into tokens (strings with
 * escapes and \u sequences decoded to UTF-8, numbers, literals, punctuation),
 * validates nesting with a bracket stack, and reports token statistics,
 * decoded-string hashes and error positions for malformed inputs. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

enum tok_kind {
    T_LBRACE, T_RBRACE, T_LBRACKET, T_RBRACKET, T_COLON, T_COMMA,
    T_STRING, T_NUMBER, T_TRUE, T_FALSE, T_NULL, T_EOF, T_ERROR, T_KINDS
};

static const char *kind_names[T_KINDS] = {"{", "}", "[", "]", ":", ",", "string",
                                          "number", "true", "false", "null", "eof", "error"};

struct token {
    enum tok_kind kind;
    size_t pos;
    size_t len;
    char text[64]; /* decoded string contents (truncated) */
    size_t text_len;
    int64_t int_part; /* integer part of numbers, saturated */
    bool is_integer;
};

struct lexer {
    const char *src;
    size_t pos;
    const char *err;
};

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void emit_byte(struct token *t, unsigned b)
{
    if (t->text_len < sizeof t->text - 1)
        t->text[t->text_len++] = (char)(unsigned char)b;
}

static void emit_utf8(struct token *t, uint32_t cp)
{
    if (cp < 0x80u) {
        emit_byte(t, cp);
    } else if (cp < 0x800u) {
        emit_byte(t, 0xC0u | (cp >> 6));
        emit_byte(t, 0x80u | (cp & 0x3Fu));
    } else if (cp < 0x10000u) {
        emit_byte(t, 0xE0u | (cp >> 12));
        emit_byte(t, 0x80u | ((cp >> 6) & 0x3Fu));
        emit_byte(t, 0x80u | (cp & 0x3Fu));
    } else {
        emit_byte(t, 0xF0u | (cp >> 18));
        emit_byte(t, 0x80u | ((cp >> 12) & 0x3Fu));
        emit_byte(t, 0x80u | ((cp >> 6) & 0x3Fu));
        emit_byte(t, 0x80u | (cp & 0x3Fu));
    }
}

static bool read_hex4(struct lexer *lx, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_val(lx->src[lx->pos]);
        if (h < 0)
            return false;
        v = v * 16u + (uint32_t)h;
        lx->pos++;
    }
    *out = v;
    return true;
}

static bool lex_string(struct lexer *lx, struct token *t)
{
    lx->pos++; /* opening quote */
    for (;;) {
        char c = lx->src[lx->pos];
        if (c == '\0') {
            lx->err = "unterminated string";
            return false;
        }
        if ((unsigned char)c < 0x20u) {
            lx->err = "control character in string";
            return false;
        }
        lx->pos++;
        if (c == '"')
            break;
        if (c != '\\') {
            emit_byte(t, (unsigned char)c);
            continue;
        }
        char e = lx->src[lx->pos++];
        switch (e) {
        case '"': emit_byte(t, '"'); break;
        case '\\': emit_byte(t, '\\'); break;
        case '/': emit_byte(t, '/'); break;
        case 'b': emit_byte(t, 8); break;
        case 'f': emit_byte(t, 12); break;
        case 'n': emit_byte(t, 10); break;
        case 'r': emit_byte(t, 13); break;
        case 't': emit_byte(t, 9); break;
        case 'u': {
            uint32_t cp;
            if (!read_hex4(lx, &cp)) {
                lx->err = "bad \\u escape";
                return false;
            }
            if (cp >= 0xD800u && cp <= 0xDBFFu) {
                uint32_t lo;
                if (lx->src[lx->pos] != '\\' || lx->src[lx->pos + 1] != 'u') {
                    lx->err = "lone high surrogate";
                    return false;
                }
                lx->pos += 2;
                if (!read_hex4(lx, &lo) || lo < 0xDC00u || lo > 0xDFFFu) {
                    lx->err = "bad low surrogate";
                    return false;
                }
                cp = 0x10000u + ((cp - 0xD800u) << 10) + (lo - 0xDC00u);
            }
            emit_utf8(t, cp);
            break;
        }
        default:
            lx->err = "invalid escape";
            return false;
        }
    }
    t->text[t->text_len] = '\0';
    return true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool lex_number(struct lexer *lx, struct token *t)
{
    const char *s = lx->src;
    bool neg = false;
    int64_t v = 0;
    if (s[lx->pos] == '-') {
        neg = true;
        lx->pos++;
    }
    if (s[lx->pos] == '0') {
        lx->pos++;
    } else if (is_digit(s[lx->pos])) {
        while (is_digit(s[lx->pos])) {
            if (v < INT64_C(100000000000000))
                v = v * 10 + (s[lx->pos] - '0');
            lx->pos++;
        }
    } else {
        lx->err = "bad number";
        return false;
    }
    t->is_integer = true;
    if (s[lx->pos] == '.') {
        lx->pos++;
        t->is_integer = false;
        if (!is_digit(s[lx->pos])) {
            lx->err = "digit expected after '.'";
            return false;
        }
        while (is_digit(s[lx->pos]))
            lx->pos++;
    }
    if (s[lx->pos] == 'e' || s[lx->pos] == 'E') {
        lx->pos++;
        t->is_integer = false;
        if (s[lx->pos] == '+' || s[lx->pos] == '-')
            lx->pos++;
        if (!is_digit(s[lx->pos])) {
            lx->err = "digit expected in exponent";
            return false;
        }
        while (is_digit(s[lx->pos]))
            lx->pos++;
    }
    t->int_part = neg ? -v : v;
    return true;
}

static bool match_word(struct lexer *lx, const char *w)
{
    size_t n = strlen(w);
    if (strncmp(lx->src + lx->pos, w, n) != 0)
        return false;
    lx->pos += n;
    return true;
}

static void next_token(struct lexer *lx, struct token *t)
{
    while (is_ws(lx->src[lx->pos]))
        lx->pos++;
    memset(t, 0, sizeof *t);
    t->pos = lx->pos;
    char c = lx->src[lx->pos];
    bool ok = true;
    switch (c) {
    case '\0': t->kind = T_EOF; return;
    case '{': t->kind = T_LBRACE; lx->pos++; break;
    case '}': t->kind = T_RBRACE; lx->pos++; break;
    case '[': t->kind = T_LBRACKET; lx->pos++; break;
    case ']': t->kind = T_RBRACKET; lx->pos++; break;
    case ':': t->kind = T_COLON; lx->pos++; break;
    case ',': t->kind = T_COMMA; lx->pos++; break;
    case '"': t->kind = T_STRING; ok = lex_string(lx, t); break;
    case 't': t->kind = T_TRUE; ok = match_word(lx, "true"); break;
    case 'f': t->kind = T_FALSE; ok = match_word(lx, "false"); break;
    case 'n': t->kind = T_NULL; ok = match_word(lx, "null"); break;
    default:
        if (c == '-' || is_digit(c)) {
            t->kind = T_NUMBER;
            ok = lex_number(lx, t);
        } else {
            ok = false;
            lx->err = "unexpected character";
        }
        break;
    }
    if (!ok) {
        if (!lx->err)
            lx->err = "bad literal";
        t->kind = T_ERROR;
    }
    t->len = lx->pos - t->pos;
}

struct stats {
    unsigned counts[T_KINDS];
    unsigned max_depth;
    uint32_t str_hash;
    int64_t int_sum;
    bool balanced;
    const char *error;
    size_t error_pos;
};

static void tokenize(const char *doc, struct stats *st)
{
    struct lexer lx = {doc, 0, NULL};
    struct token t;
    char stack[64];
    unsigned depth = 0;
    memset(st, 0, sizeof *st);
    st->str_hash = 2166136261u;
    st->balanced = true;
    for (;;) {
        next_token(&lx, &t);
        st->counts[t.kind]++;
        if (t.kind == T_EOF)
            break;
        if (t.kind == T_ERROR) {
            st->error = lx.err;
            st->error_pos = t.pos;
            st->balanced = false;
            return;
        }
        if (t.kind == T_LBRACE || t.kind == T_LBRACKET) {
            if (depth >= sizeof stack) {
                st->error = "too deep";
                st->error_pos = t.pos;
                st->balanced = false;
                return;
            }
            stack[depth++] = t.kind == T_LBRACE ? '}' : ']';
            if (depth > st->max_depth)
                st->max_depth = depth;
        } else if (t.kind == T_RBRACE || t.kind == T_RBRACKET) {
            char want = t.kind == T_RBRACE ? '}' : ']';
            if (depth == 0 || stack[depth - 1] != want)
                st->balanced = false;
            else
                depth--;
        } else if (t.kind == T_STRING) {
            for (size_t i = 0; i < t.text_len; i++) {
                st->str_hash ^= (uint8_t)t.text[i];
                st->str_hash *= 16777619u;
            }
        } else if (t.kind == T_NUMBER && t.is_integer) {
            st->int_sum += t.int_part;
        }
    }
    if (depth != 0)
        st->balanced = false;
}

static const char *docs[] = {
    "{\"name\": \"widget\", \"id\": 1234, \"price\": 19.99, \"tags\": [\"a\", \"b\", \"c\"],\n"
    " \"dims\": {\"w\": 10, \"h\": -20, \"d\": 3.5e2}, \"active\": true, \"parent\": null}",
    "[1, 2, 3, [4, 5, [6, 7, [8, 9, [10]]]], {\"deep\": {\"deeper\": {\"deepest\": 0}}}]",
    "{\"esc\": \"line\\nbreak \\\"quoted\\\" tab\\t slash\\/ back\\\\\", "
    "\"uni\": \"caf\\u00e9 \\u20ac \\ud83d\\ude00\"}",
    "[true, false, null, -0, 0.5, 1e10, -1E-3, 42]",
    "{\"unterminated\": \"oops}",
    "{\"bad\": tru}",
    "[1, 2, 3}",
    "{\"n\": 01.}",
    "{\"x\": \"\\q\"}",
    "[\"\\ud800\"]",
};

int main(void)
{
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
        struct stats st;
        tokenize(docs[d], &st);
        unsigned total = 0;
        for (int k = 0; k < T_KINDS; k++)
            total += st.counts[k];
        printf("doc %zu: tokens=%u depth=%u balanced=%d strhash=%08x intsum=%lld", d, total,
               st.max_depth, st.balanced, (unsigned)st.str_hash, (long long)st.int_sum);
        if (st.error)
            printf(" error=\"%s\"@%zu", st.error, st.error_pos);
        printf("\n");
        if (d == 0) {
            printf("  kinds:");
            for (int k = 0; k < T_KINDS; k++)
                if (st.counts[k])
                    printf(" %s=%u", kind_names[k], st.counts[k]);
            printf("\n");
        }
    }
    /* token dump of a small document */
    struct lexer lx = {"{\"k\":[1,\"v\\u0041\",false]}", 0, NULL};
    struct token t;
    printf("dump:");
    do {
        next_token(&lx, &t);
        if (t.kind == T_STRING)
            printf(" str(%s)", t.text);
        else if (t.kind == T_NUMBER)
            printf(" num(%lld)", (long long)t.int_part);
        else
            printf(" %s", kind_names[t.kind]);
    } while (t.kind != T_EOF && t.kind != T_ERROR);
    printf("\n");
    return 0;
}
