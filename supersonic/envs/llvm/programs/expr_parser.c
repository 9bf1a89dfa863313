/* Expression parser benchmark: a recursive-descent parser building an AST for
 * integer expressions (variables, assignment, unary ops, precedence, ternary,
 * comparison, power), a tree evaluator, and a shunting-yard RPN evaluator used
 * as a cross-check; uses wrapping 64-bit arithmetic so results are defined. */
#include <stdio.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

#define MAX_NODES 512
#define NVARS 26

enum node_kind { N_NUM, N_VAR, N_NEG, N_NOT, N_BIN, N_ASSIGN, N_COND };

struct node {
    enum node_kind kind;
    char op; /* for N_BIN: + - * / % ^ < > = (==) ! (!=) & (&&) | (||) */
    int64_t value;
    int var;
    int a, b, c;
};

struct parser {
    const char *s;
    size_t pos;
    struct node nodes[MAX_NODES];
    int nnodes;
    const char *error;
};

static int64_t vars[NVARS];
static bool eval_error;

static int64_t wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static int64_t wrap_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static int64_t wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

static int64_t safe_div(int64_t a, int64_t b, bool mod)
{
    if (b == 0 || (a == INT64_MIN && b == -1)) {
        eval_error = true;
        return 0;
    }
    return mod ? a % b : a / b;
}

static int64_t ipow(int64_t base, int64_t e)
{
    if (e < 0) {
        eval_error = true;
        return 0;
    }
    int64_t r = 1;
    while (e > 0) {
        if (e & 1)
            r = wrap_mul(r, base);
        base = wrap_mul(base, base);
        e >>= 1;
    }
    return r;
}

static int64_t apply_binop(char op, int64_t x, int64_t y)
{
    switch (op) {
    case '+': return wrap_add(x, y);
    case '-': return wrap_sub(x, y);
    case '*': return wrap_mul(x, y);
    case '/': return safe_div(x, y, false);
    case '%': return safe_div(x, y, true);
    case '^': return ipow(x, y);
    case '<': return x < y;
    case '>': return x > y;
    case '=': return x == y;
    case '!': return x != y;
    case '&': return x && y;
    case '|': return x || y;
    default: eval_error = true; return 0;
    }
}

static void skip_ws(struct parser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t')
        p->pos++;
}

static int new_node(struct parser *p, enum node_kind k)
{
    if (p->nnodes >= MAX_NODES) {
        p->error = "out of nodes";
        return 0;
    }
    int i = p->nnodes++;
    memset(&p->nodes[i], 0, sizeof p->nodes[i]);
    p->nodes[i].kind = k;
    return i;
}

static int parse_expr(struct parser *p);

static int parse_primary(struct parser *p)
{
    skip_ws(p);
    char c = p->s[p->pos];
    if (c >= '0' && c <= '9') {
        int64_t v = 0;
        while (p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            v = wrap_add(wrap_mul(v, 10), p->s[p->pos] - '0');
            p->pos++;
        }
        int n = new_node(p, N_NUM);
        p->nodes[n].value = v;
        return n;
    }
    if (c >= 'a' && c <= 'z') {
        p->pos++;
        int n = new_node(p, N_VAR);
        p->nodes[n].var = c - 'a';
        return n;
    }
    if (c == '(') {
        p->pos++;
        int n = parse_expr(p);
        skip_ws(p);
        if (p->s[p->pos] != ')') {
            if (!p->error)
                p->error = "expected ')'";
            return n;
        }
        p->pos++;
        return n;
    }
    if (!p->error)
        p->error = "unexpected token";
    return new_node(p, N_NUM);
}

static int parse_unary(struct parser *p)
{
    skip_ws(p);
    char c = p->s[p->pos];
    if (c == '-' || c == '!') {
        p->pos++;
        int n = new_node(p, c == '-' ? N_NEG : N_NOT);
        int a = parse_unary(p);
        p->nodes[n].a = a;
        return n;
    }
    if (c == '+') {
        p->pos++;
        return parse_unary(p);
    }
    return parse_primary(p);
}

static int make_bin(struct parser *p, char op, int a, int b)
{
    int n = new_node(p, N_BIN);
    p->nodes[n].op = op;
    p->nodes[n].a = a;
    p->nodes[n].b = b;
    return n;
}

static int parse_power(struct parser *p)
{
    int base = parse_unary(p);
    skip_ws(p);
    if (p->s[p->pos] == '^') {
        p->pos++;
        int e = parse_power(p); /* right associative */
        return make_bin(p, '^', base, e);
    }
    return base;
}

static int parse_term(struct parser *p)
{
    int left = parse_power(p);
    for (;;) {
        skip_ws(p);
        char c = p->s[p->pos];
        if (c != '*' && c != '/' && c != '%')
            return left;
        p->pos++;
        left = make_bin(p, c, left, parse_power(p));
    }
}

static int parse_sum(struct parser *p)
{
    int left = parse_term(p);
    for (;;) {
        skip_ws(p);
        char c = p->s[p->pos];
        if (c != '+' && c != '-')
            return left;
        p->pos++;
        left = make_bin(p, c, left, parse_term(p));
    }
}

static int parse_compare(struct parser *p)
{
    int left = parse_sum(p);
    for (;;) {
        skip_ws(p);
        const char *s = p->s + p->pos;
        char op;
        if (s[0] == '=' && s[1] == '=') {
            op = '=';
            p->pos += 2;
        } else if (s[0] == '!' && s[1] == '=') {
            op = '!';
            p->pos += 2;
        } else if (s[0] == '<' || s[0] == '>') {
            op = s[0];
            p->pos++;
        } else {
            return left;
        }
        left = make_bin(p, op, left, parse_sum(p));
    }
}

static int parse_logic(struct parser *p)
{
    int left = parse_compare(p);
    for (;;) {
        skip_ws(p);
        const char *s = p->s + p->pos;
        if ((s[0] == '&' && s[1] == '&') || (s[0] == '|' && s[1] == '|')) {
            char op = s[0];
            p->pos += 2;
            left = make_bin(p, op, left, parse_compare(p));
        } else {
            return left;
        }
    }
}

static int parse_expr(struct parser *p)
{
    skip_ws(p);
    const char *s = p->s + p->pos;
    /* assignment: var = expr (but not ==) */
    if (s[0] >= 'a' && s[0] <= 'z') {
        size_t k = 1;
        while (s[k] == ' ')
            k++;
        if (s[k] == '=' && s[k + 1] != '=') {
            p->pos += k + 1;
            int n = new_node(p, N_ASSIGN);
            p->nodes[n].var = s[0] - 'a';
            int a = parse_expr(p);
            p->nodes[n].a = a;
            return n;
        }
    }
    int cond = parse_logic(p);
    skip_ws(p);
    if (p->s[p->pos] == '?') {
        p->pos++;
        int t = parse_expr(p);
        skip_ws(p);
        if (p->s[p->pos] != ':') {
            if (!p->error)
                p->error = "expected ':'";
            return cond;
        }
        p->pos++;
        int f = parse_expr(p);
        int n = new_node(p, N_COND);
        p->nodes[n].a = cond;
        p->nodes[n].b = t;
        p->nodes[n].c = f;
        return n;
    }
    return cond;
}

static int64_t eval(const struct parser *p, int idx)
{
    const struct node *n = &p->nodes[idx];
    switch (n->kind) {
    case N_NUM: return n->value;
    case N_VAR: return vars[n->var];
    case N_NEG: return wrap_sub(0, eval(p, n->a));
    case N_NOT: return !eval(p, n->a);
    case N_ASSIGN: {
        int64_t v = eval(p, n->a);
        vars[n->var] = v;
        return v;
    }
    case N_COND: return eval(p, n->a) ? eval(p, n->b) : eval(p, n->c);
    case N_BIN:
        if (n->op == '&')
            return eval(p, n->a) ? eval(p, n->b) != 0 : 0;
        if (n->op == '|')
            return eval(p, n->a) ? 1 : eval(p, n->b) != 0;
        {
            int64_t x = eval(p, n->a);
            int64_t y = eval(p, n->b);
            return apply_binop(n->op, x, y);
        }
    }
    return 0;
}

static int tree_depth(const struct parser *p, int idx)
{
    const struct node *n = &p->nodes[idx];
    int d = 0, t;
    switch (n->kind) {
    case N_NEG: case N_NOT: case N_ASSIGN: d = tree_depth(p, n->a); break;
    case N_BIN:
        d = tree_depth(p, n->a);
        t = tree_depth(p, n->b);
        if (t > d) d = t;
        break;
    case N_COND:
        d = tree_depth(p, n->a);
        t = tree_depth(p, n->b);
        if (t > d) d = t;
        t = tree_depth(p, n->c);
        if (t > d) d = t;
        break;
    default: break;
    }
    return d + 1;
}

/* Shunting-yard for the arithmetic subset: numbers, variables, + - * / % ^ ( ) */
static int prec(char op)
{
    switch (op) {
    case '+': case '-': return 1;
    case '*': case '/': case '%': return 2;
    case '^': return 3;
    case '~': return 4; /* unary minus */
    default: return 0;
    }
}

static bool rpn_eval(const char *s, int64_t *result)
{
    char ops[64];
    int64_t vals[64];
    int nops = 0, nvals = 0;
    bool expect_operand = true;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        if (c == ' ')
            continue;
        if (c >= '0' && c <= '9') {
            int64_t v = 0;
            while (s[i] >= '0' && s[i] <= '9')
                v = wrap_add(wrap_mul(v, 10), s[i++] - '0');
            i--;
            if (nvals >= 64) return false;
            vals[nvals++] = v;
            expect_operand = false;
        } else if (c >= 'a' && c <= 'z') {
            if (nvals >= 64) return false;
            vals[nvals++] = vars[c - 'a'];
            expect_operand = false;
        } else if (c == '(') {
            if (nops >= 64) return false;
            ops[nops++] = '(';
            expect_operand = true;
        } else if (c == ')' || prec(c) > 0) {
            char op = c;
            if (c == '-' && expect_operand)
                op = '~';
            while (nops > 0 && ops[nops - 1] != '(' &&
                   (c == ')' || (op != '~' && op != '^' && prec(ops[nops - 1]) >= prec(op)) ||
                    ((op == '^' || op == '~') && prec(ops[nops - 1]) > prec(op)))) {
                char top = ops[--nops];
                if (top == '~') {
                    if (nvals < 1) return false;
                    vals[nvals - 1] = wrap_sub(0, vals[nvals - 1]);
                } else {
                    if (nvals < 2) return false;
                    int64_t y = vals[--nvals];
                    vals[nvals - 1] = apply_binop(top, vals[nvals - 1], y);
                }
            }
            if (c == ')') {
                if (nops == 0) return false;
                nops--; /* pop '(' */
                expect_operand = false;
            } else {
                if (nops >= 64) return false;
                ops[nops++] = op;
                expect_operand = true;
            }
        } else {
            return false;
        }
    }
    while (nops > 0) {
        char top = ops[--nops];
        if (top == '(') return false;
        if (top == '~') {
            if (nvals < 1) return false;
            vals[nvals - 1] = wrap_sub(0, vals[nvals - 1]);
        } else {
            if (nvals < 2) return false;
            int64_t y = vals[--nvals];
            vals[nvals - 1] = apply_binop(top, vals[nvals - 1], y);
        }
    }
    if (nvals != 1) return false;
    *result = vals[0];
    return true;
}

static struct parser P;

int main(void)
{
    static const char *programs[] = {
        "x = 6 * 7",
        "y = x - 2 ^ 3 ^ 2 + 1000",
        "(x + y) * (x - y) % 97",
        "-x + -(-y) * 3",
        "z = x > 40 && y < 1000 ? x * 100 : y",
        "2 ^ 62 + 2 ^ 62 + 2 ^ 62",
        "n = 20",
        "f = (n * (n + 1) * (2 * n + 1)) / 6",
        "x == 42 || 1 / 0",
        "!(x != 42) + !0 + !!5",
        "a = b = c = 7",
        "a * b * c - (a + b + c) / 3",
        "100 / (z - z)",
        "3 * (4 + ",
        "q = 123456789 * 987654321 * 1000003",
        "q % 1000000007",
    };
    static const char *arith[] = {
        "1 + 2 * 3 - 4 / 2",
        "(1 + 2) * (3 - 4) ^ 3",
        "-2 ^ 2 + 17 % 5",
        "x * y - (x + y) * 2",
        "((((1 + 2) * 3 + 4) * 5 + 6) * 7) % 1000",
        "2 ^ 3 ^ 2 - -(3 - 10)",
        "f / n - 100 + q % 9",
    };
    memset(vars, 0, sizeof vars);
    uint64_t digest = 0;
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
        memset(&P, 0, sizeof P);
        P.s = programs[i];
        int root = parse_expr(&P);
        skip_ws(&P);
        if (!P.error && P.s[P.pos] != '\0')
            P.error = "trailing input";
        if (P.error) {
            printf("%-40s => parse error: %s at %zu\n", programs[i], P.error, P.pos);
            continue;
        }
        eval_error = false;
        int64_t v = eval(&P, root);
        if (eval_error) {
            printf("%-40s => eval error (nodes=%d)\n", programs[i], P.nnodes);
            continue;
        }
        digest = digest * 1000003u ^ (uint64_t)v;
        printf("%-40s => %lld (nodes=%d depth=%d)\n", programs[i], (long long)v, P.nnodes,
               tree_depth(&P, root));
    }
    int agree = 0;
    for (size_t i = 0; i < sizeof arith / sizeof arith[0]; i++) {
        memset(&P, 0, sizeof P);
        P.s = arith[i];
        int root = parse_expr(&P);
        eval_error = false;
        int64_t tv = eval(&P, root);
        int64_t rv = 0;
        bool ok = rpn_eval(arith[i], &rv);
        if (ok && !P.error && rv == tv)
            agree++;
        printf("rpn %-42s tree=%lld rpn=%lld\n", arith[i], (long long)tv, (long long)rv);
    }
    printf("rpn agreement %d/%zu digest=%016llx\n", agree, sizeof arith / sizeof arith[0],
           (unsigned long long)digest);
    return 0;
}
