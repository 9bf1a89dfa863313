/* Huffman coding: builds a code tree with a binary min-heap from byte
 * frequencies, derives canonical codes, bit-packs the message, decodes it back
 * and verifies the round trip for several generated inputs. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#define NSYM 256
#define MAX_NODES (2 * NSYM)
#define MSG_MAX 6000
#define MAX_LEN 32

typedef struct {
    uint32_t freq;
    int left, right; /* -1 for leaves */
    int sym;
} node_t;

static node_t nodes[MAX_NODES];
static int nnodes;
static int heap[MAX_NODES];
static int heap_n;

static uint8_t msg[MSG_MAX];
static uint8_t bits[MSG_MAX * 4];
static uint8_t decoded[MSG_MAX];

static uint8_t code_len[NSYM];
static uint32_t code_val[NSYM];

static int node_less(int a, int b)
{
    if (nodes[a].freq != nodes[b].freq)
        return nodes[a].freq < nodes[b].freq;
    return a < b; /* deterministic tie-break */
}

static void heap_push(int id)
{
    int i = heap_n++;
    heap[i] = id;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!node_less(heap[i], heap[p]))
            break;
        int t = heap[i];
        heap[i] = heap[p];
        heap[p] = t;
        i = p;
    }
}

static int heap_pop(void)
{
    int top = heap[0];
    heap[0] = heap[--heap_n];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < heap_n && node_less(heap[l], heap[m]))
            m = l;
        if (r < heap_n && node_less(heap[r], heap[m]))
            m = r;
        if (m == i)
            break;
        int t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
    return top;
}

static void assign_lengths(int id, int depth)
{
    if (nodes[id].left < 0) {
        code_len[nodes[id].sym] = (uint8_t)(depth == 0 ? 1 : depth);
        return;
    }
    assign_lengths(nodes[id].left, depth + 1);
    assign_lengths(nodes[id].right, depth + 1);
}

static void build_tree(const uint32_t *freq)
{
    nnodes = 0;
    heap_n = 0;
    memset(code_len, 0, sizeof code_len);
    for (int s = 0; s < NSYM; s++) {
        if (freq[s] == 0)
            continue;
        nodes[nnodes].freq = freq[s];
        nodes[nnodes].left = nodes[nnodes].right = -1;
        nodes[nnodes].sym = s;
        heap_push(nnodes++);
    }
    while (heap_n > 1) {
        int a = heap_pop();
        int b = heap_pop();
        nodes[nnodes].freq = nodes[a].freq + nodes[b].freq;
        nodes[nnodes].left = a;
        nodes[nnodes].right = b;
        nodes[nnodes].sym = -1;
        heap_push(nnodes++);
    }
    if (heap_n == 1)
        assign_lengths(heap[0], 0);
}

/* Canonical code assignment from lengths. */
static void make_canonical(void)
{
    uint32_t bl_count[MAX_LEN + 1];
    uint32_t next_code[MAX_LEN + 2];
    memset(bl_count, 0, sizeof bl_count);
    memset(code_val, 0, sizeof code_val);
    for (int s = 0; s < NSYM; s++)
        bl_count[code_len[s]]++;
    bl_count[0] = 0;
    uint32_t code = 0;
    next_code[0] = 0;
    for (int b = 1; b <= MAX_LEN; b++) {
        code = (code + bl_count[b - 1]) << 1;
        next_code[b] = code;
    }
    for (int s = 0; s < NSYM; s++) {
        int len = code_len[s];
        if (len)
            code_val[s] = next_code[len]++;
    }
}

static size_t encode(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t bitpos = 0;
    memset(out, 0, n * 4);
    for (size_t i = 0; i < n; i++) {
        int len = code_len[in[i]];
        uint32_t c = code_val[in[i]];
        for (int b = len - 1; b >= 0; b--) {
            if ((c >> b) & 1u)
                out[bitpos >> 3] |= (uint8_t)(0x80u >> (bitpos & 7u));
            bitpos++;
        }
    }
    return bitpos;
}

/* Canonical decode: walk code lengths, comparing against first code per length. */
static int decode(const uint8_t *in, size_t nbits, uint8_t *out, size_t nout)
{
    uint32_t first[MAX_LEN + 1], count[MAX_LEN + 1];
    int index[MAX_LEN + 1];
    uint8_t sorted[NSYM];
    int ns = 0;
    memset(count, 0, sizeof count);
    for (int len = 1; len <= MAX_LEN; len++) {
        index[len] = ns;
        for (int s = 0; s < NSYM; s++)
            if (code_len[s] == len)
                sorted[ns++] = (uint8_t)s;
        count[len] = (uint32_t)(ns - index[len]);
    }
    uint32_t code = 0;
    for (int len = 1; len <= MAX_LEN; len++) {
        code = (code + (len > 1 ? count[len - 1] : 0)) << (len > 1 ? 1 : 0);
        first[len] = code;
    }
    size_t bitpos = 0;
    for (size_t o = 0; o < nout; o++) {
        uint32_t c = 0;
        int len = 0;
        for (;;) {
            if (bitpos >= nbits)
                return -1;
            c = (c << 1) | ((in[bitpos >> 3] >> (7 - (bitpos & 7u))) & 1u);
            bitpos++;
            len++;
            if (len > MAX_LEN)
                return -1;
            if (c - first[len] < count[len]) {
                out[o] = sorted[index[len] + (int)(c - first[len])];
                break;
            }
        }
    }
    return bitpos == nbits ? 0 : -1;
}

static uint32_t rs = 0xC0FFEEu;

static uint32_t rnd(void)
{
    rs = rs * 747796405u + 2891336453u;
    uint32_t w = ((rs >> ((rs >> 28) + 4u)) ^ rs) * 277803737u;
    return (w >> 22) ^ w;
}

static size_t make_message(int kind, uint8_t *out)
{
    size_t n = MSG_MAX - (size_t)kind * 1000u;
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case 0: { /* skewed alphabet */
            uint32_t r = rnd() % 100u;
            out[i] = (uint8_t)(r < 40 ? 'e' : r < 60 ? 't' : r < 75 ? 'a' : r < 85 ? ' ' : 'b' + r % 20u);
            break;
        }
        case 1: /* uniform bytes */
            out[i] = (uint8_t)rnd();
            break;
        case 2: /* geometric distribution */
        {
            uint32_t r = rnd(), k = 0;
            while ((r & 1u) && k < 30) {
                r >>= 1;
                k++;
            }
            out[i] = (uint8_t)('A' + k);
            break;
        }
        default: /* single symbol */
            out[i] = 'z';
            break;
        }
    }
    return n;
}

int main(void)
{
    uint32_t freq[NSYM];
    int pass = 1;
    for (int kind = 0; kind < 4; kind++) {
        size_t n = make_message(kind, msg);
        memset(freq, 0, sizeof freq);
        for (size_t i = 0; i < n; i++)
            freq[msg[i]]++;
        build_tree(freq);
        make_canonical();
        size_t nbits = encode(msg, n, bits);
        memset(decoded, 0, sizeof decoded);
        int rc = decode(bits, nbits, decoded, n);
        int ok = rc == 0 && memcmp(decoded, msg, n) == 0;
        pass &= ok;
        int nsyms = 0, maxlen = 0;
        uint32_t h = 5381u;
        for (int s = 0; s < NSYM; s++) {
            if (code_len[s]) {
                nsyms++;
                if (code_len[s] > maxlen)
                    maxlen = code_len[s];
                h = h * 33u + (uint32_t)s * 131u + code_len[s] * 7u + code_val[s];
            }
        }
        printf("msg %d: n=%u symbols=%d maxlen=%d bits=%u bytes=%u codehash=%08x %s\n",
               kind, (unsigned)n, nsyms, maxlen, (unsigned)nbits,
               (unsigned)((nbits + 7) / 8), (unsigned)h, ok ? "ok" : "FAIL");
        if (kind == 0) {
            const char *show = "etaq ";
            for (const char *p = show; *p; p++)
                printf("  '%c' len=%d code=%u\n", *p, code_len[(uint8_t)*p],
                       (unsigned)code_val[(uint8_t)*p]);
        }
    }
    printf("overall: %s\n", pass ? "pass" : "FAIL");
    return 0;
}
