/* checkpoint_mutator.c: a structure-aware libFuzzer mutator for promptsel
 * checkpoints (see checkpoint_frame.h for the layout).
 *
 * libFuzzer's own byte mutations almost never get past the CRC-32 at the end of the
 * frame, so they test little beyond "checksum mismatch". This mutator parses the
 * frame into typed fields, changes one of them (or the parameter text, or the set
 * of prompts), and then rewrites the payload length and the CRC, so that the input
 * reaches the decoders' value checks (and whatever comes after a load that should
 * have been refused). A small share of mutations stays raw (no fix-up) so that the
 * magic, length and checksum checks are exercised too.
 *
 * Linked into every checkpoint harness; it defines LLVMFuzzerCustomMutator and
 * LLVMFuzzerCustomCrossOver. Deterministic for a given libFuzzer seed.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint_frame.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* ---- CRC-32 and the frame ---------------------------------------------- */

uint32_t ckpt_crc32(const uint8_t *p, size_t n) {
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

void ckpt_fix(uint8_t *buf, size_t size) {
    if (size < CKPT_MIN) return;
    ckpt_wr64(buf + 16, (uint64_t)(size - CKPT_MIN));
    ckpt_wr32(buf + size - 4, ckpt_crc32(buf, size - 4));
}

static void add_block(ckpt_layout *L, size_t off, size_t count, size_t elem, size_t group, ckpt_kind kind,
                      ckpt_role role) {
    if (L->nblocks >= CKPT_MAX_BLOCKS) return;
    ckpt_block *b = &L->blocks[L->nblocks];
    b->off = off, b->count = count, b->elem = elem, b->group = group ? group : 1, b->kind = kind, b->role = role;
    if (role == FR_COLUMN && L->ncolumns < sizeof L->columns / sizeof L->columns[0])
        L->columns[L->ncolumns++] = L->nblocks;
    L->nblocks++;
}

void ckpt_parse(const uint8_t *d, size_t size, ckpt_layout *L) {
    memset(L, 0, sizeof *L);
    if (size < CKPT_MIN || memcmp(d, "PSELCKPT", 8) != 0) return;
    L->framed = 1;
    L->version = ckpt_rd32(d + 8);
    L->method = ckpt_rd32(d + 12);
    L->payload_end = size - 4;
    add_block(L, 8, 2, 4, 1, FK_U32, FR_HEADER);
    add_block(L, 16, 1, 8, 1, FK_U64, FR_HEADER);
    size_t p = CKPT_HEADER, end = size - 4;
#define NEED(k) do { if (end - p < (size_t)(k)) goto opaque; } while (0)
    if (L->version == 1) {
        /* i32 method, strategy, no_update; u64 seed; 6 f64 (MoPPS); i32 shape, pi; 3 f64 (DPS) */
        NEED(100);
        add_block(L, p, 3, 4, 1, FK_I32, FR_PARAMS);
        add_block(L, p + 12, 1, 8, 1, FK_U64, FR_PARAMS);
        add_block(L, p + 20, 6, 8, 1, FK_F64, FR_PARAMS);
        add_block(L, p + 68, 2, 4, 1, FK_I32, FR_PARAMS);
        add_block(L, p + 76, 3, 8, 1, FK_F64, FR_PARAMS);
        p += 100;
    } else {
        NEED(4);
        uint32_t len = ckpt_rd32(d + p);
        add_block(L, p, 1, 4, 1, FK_U32, FR_PARAM_LEN);
        p += 4;
        NEED(len);
        add_block(L, p, len, 1, 1, FK_TEXT, FR_PARAMS);
        p += len;
    }
    NEED(40);
    add_block(L, p, 4, 8, 1, FK_U64, FR_RNG);
    add_block(L, p + 32, 1, 8, 1, FK_U64, FR_STEPS);
    p += 40;
    L->model_off = p;
    if (L->method == 1) {  /* MoPPS: n, ids, alphas, betas */
        NEED(8);
        uint64_t n = ckpt_rd64(d + p);
        L->count_off = p;
        add_block(L, p, 1, 8, 1, FK_U64, FR_COUNT);
        p += 8;
        if (n > (end - p) / 24) goto opaque;
        L->n = n;
        add_block(L, p, n, 8, 1, FK_I64, FR_COLUMN);
        add_block(L, p + 8 * n, n, 8, 1, FK_F64, FR_COLUMN);
        add_block(L, p + 16 * n, n, 8, 1, FK_F64, FR_COLUMN);
        p += 24 * n;
    } else if (L->method == 2) {  /* DPS: step, observed, confusion[9], n, ids, counts, pi, before, 3 u32 */
        NEED(4 + 8 + 72 + 8);
        add_block(L, p, 1, 4, 1, FK_U32, FR_MODEL);
        add_block(L, p + 4, 10, 8, 1, FK_U64, FR_MODEL);
        p += 84;
        uint64_t n = ckpt_rd64(d + p);
        L->count_off = p;
        add_block(L, p, 1, 8, 1, FK_U64, FR_COUNT);
        p += 8;
        if (n > (end - p) / 140) goto opaque;
        L->n = n;
        add_block(L, p, n, 8, 1, FK_I64, FR_COLUMN);
        p += 8 * n;
        add_block(L, p, 9 * n, 8, 9, FK_F64, FR_COLUMN);
        p += 72 * n;
        add_block(L, p, 3 * n, 8, 3, FK_F64, FR_COLUMN);
        p += 24 * n;
        add_block(L, p, 3 * n, 8, 3, FK_F64, FR_COLUMN);
        p += 24 * n;
        for (int k = 0; k < 3; k++) {
            add_block(L, p, n, 4, 1, FK_U32, FR_COLUMN);
            p += 4 * n;
        }
    } else {
        goto opaque;
    }
    L->model_known = p == end;
opaque:
    if (p < end) add_block(L, p, end - p, 1, 1, FK_OPAQUE, FR_OPAQUE);
#undef NEED
}

/* ---- Randomness (from libFuzzer's seed: deterministic) ------------------ */

typedef struct { uint64_t s; } rng_t;

static uint64_t rnd(rng_t *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static size_t below(rng_t *r, size_t n) { return n ? (size_t)(rnd(r) % n) : 0; }
static int chance(rng_t *r, unsigned percent) { return below(r, 100) < percent; }

/* ---- Interesting values -------------------------------------------------- */

static double bits_to_double(uint64_t b) { double d; memcpy(&d, &b, 8); return d; }
static uint64_t double_to_bits(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }

static double interesting_double(rng_t *r, double current) {
    static const double fixed[] = {
        0.0, 1.0, -1.0, 0.5, 2.0, 0.25, 0.75, 1.0 / 3.0, 1e-12, 1e15, 1e308, -1e308, DBL_MAX, -DBL_MAX,
        DBL_MIN, 5e-324, -5e-324, 1e-300, 1e300, 4294967295.0, 4294967296.0, 9007199254740993.0,
        18446744073709551616.0, 0.9999999999, 1.0 - 1e-16, 1e-6, 1e6, 1e-9, 8.0, 1048576.0, 1099511627776.0,
    };
    switch (below(r, 12)) {
    case 0: return NAN;
    case 1: return below(r, 2) ? INFINITY : -INFINITY;
    case 2: return -0.0;
    case 3: return bits_to_double(0x7FF0000000000001ull | (rnd(r) & 0x000FFFFFFFFFFFFEull)); /* other NaNs */
    case 4: return nextafter(below(r, 2) ? 1e15 : 1e-12, below(r, 2) ? INFINITY : -INFINITY); /* just outside */
    case 5: return nextafter(current, below(r, 2) ? INFINITY : -INFINITY);
    case 6: return current * (below(r, 2) ? 2.0 : 0.5);
    case 7: return -current;
    case 8: return current + (double)(int)(below(r, 5)) - 2.0;
    case 9: return bits_to_double(double_to_bits(current) ^ (1ull << below(r, 64)));
    default: return fixed[below(r, sizeof fixed / sizeof fixed[0])];
    }
}

static uint64_t interesting_u64(rng_t *r, uint64_t current) {
    static const uint64_t fixed[] = {
        0, 1, 2, 3, 8, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000ull, 1ull << 53,
        0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull, 0xFFFFFFFFFFFFFFFEull, 0xFFFFFFFFFFFFFFFFull,
    };
    switch (below(r, 8)) {
    case 0: return current + 1;
    case 1: return current - 1;
    case 2: return current * 2;
    case 3: return current ^ (1ull << below(r, 64));
    case 4: return rnd(r);
    default: return fixed[below(r, sizeof fixed / sizeof fixed[0])];
    }
}

static uint32_t interesting_u32(rng_t *r, uint32_t current) {
    static const uint32_t fixed[] = {0, 1, 2, 3, 4, 5, 8, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 1000000};
    switch (below(r, 7)) {
    case 0: return current + 1;
    case 1: return current - 1;
    case 2: return current * 2;
    case 3: return current ^ (1u << below(r, 32));
    case 4: return (uint32_t)rnd(r);
    default: return fixed[below(r, sizeof fixed / sizeof fixed[0])];
    }
}

/* ---- Buffer editing ------------------------------------------------------ */

/* Replaces buf[off, off+del) with ins[0, ins_len); 0 if it would not fit. */
static int splice(uint8_t *buf, size_t *size, size_t max_size, size_t off, size_t del, const uint8_t *ins,
                  size_t ins_len) {
    if (off > *size || del > *size - off) return 0;
    size_t new_size = *size - del + ins_len;
    if (new_size > max_size) return 0;
    memmove(buf + off + ins_len, buf + off + del, *size - off - del);
    if (ins_len) memcpy(buf + off, ins, ins_len);
    *size = new_size;
    return 1;
}

/* ---- Field mutations ----------------------------------------------------- */

static const ckpt_block *pick_block(rng_t *r, const ckpt_layout *L) {
    /* Weighted towards what the decoders validate: per-prompt values, model counters, parameters. */
    size_t weights[CKPT_MAX_BLOCKS], total = 0;
    for (size_t i = 0; i < L->nblocks; i++) {
        const ckpt_block *b = &L->blocks[i];
        size_t w = 0;
        if (b->count == 0 || b->kind == FK_TEXT || b->kind == FK_OPAQUE) w = 0;
        else switch (b->role) {
        case FR_COLUMN: w = 10; break;
        case FR_MODEL: w = 8; break;
        case FR_COUNT: w = 3; break;
        case FR_PARAMS: w = 4; break;
        case FR_RNG: case FR_STEPS: case FR_PARAM_LEN: w = 1; break;
        case FR_HEADER: w = 1; break;
        default: w = 0;
        }
        weights[i] = w;
        total += w;
    }
    if (total == 0) return NULL;
    size_t x = below(r, total);
    for (size_t i = 0; i < L->nblocks; i++) {
        if (x < weights[i]) return &L->blocks[i];
        x -= weights[i];
    }
    return NULL;
}

static void set_element(rng_t *r, uint8_t *p, ckpt_kind kind, const uint8_t *copy_from) {
    switch (kind) {
    case FK_F64: ckpt_wr64(p, double_to_bits(interesting_double(r, bits_to_double(ckpt_rd64(p))))); break;
    case FK_U64: ckpt_wr64(p, interesting_u64(r, ckpt_rd64(p))); break;
    case FK_U32: ckpt_wr32(p, interesting_u32(r, ckpt_rd32(p))); break;
    case FK_I32: {
        static const int32_t fixed[] = {-1, 0, 1, 2, 3, 4, 5, INT32_MIN, INT32_MAX};
        ckpt_wr32(p, below(r, 3) ? (uint32_t)fixed[below(r, 9)] : interesting_u32(r, ckpt_rd32(p)));
        break;
    }
    case FK_I64:
        if (copy_from && chance(r, 40)) memcpy(p, copy_from, 8);  /* a duplicate id */
        else {
            static const int64_t fixed[] = {0, -1, 1, INT64_MIN, INT64_MAX, INT32_MAX, (int64_t)1 << 32};
            ckpt_wr64(p, below(r, 2) ? (uint64_t)fixed[below(r, 7)] : interesting_u64(r, ckpt_rd64(p)));
        }
        break;
    default: break;
    }
}

static int mutate_value(rng_t *r, uint8_t *buf, const ckpt_layout *L) {
    const ckpt_block *b = pick_block(r, L);
    if (!b) return 0;
    size_t i = below(r, b->count);
    uint8_t *p = buf + b->off + i * b->elem;
    if (b->role == FR_COUNT) {  /* the prompt count: off by one, zero, or huge */
        uint64_t n = ckpt_rd64(p);
        const uint64_t choices[] = {n + 1, n - 1, 0, 0x7FFFFFFFull, 0x80000000ull, UINT64_MAX, UINT64_MAX / 24 + 1};
        ckpt_wr64(p, below(r, 2) ? choices[below(r, 7)] : interesting_u64(r, n));
        return 1;
    }
    if (b->group > 1 && chance(r, 35)) {
        /* A whole group (one prompt's beliefs or counts): all equal, or one special value. */
        size_t g = i / b->group * b->group;
        static const double beliefs[][3] = {
            {0, 0, 0}, {1e308, 0, 0}, {1e308, 1e308, 1e308}, {1, 1, 1}, {0.3, 0.3, 0.3}, {0.5, 0.5, 1e-7},
            {1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {-0.0, 1, -0.0}, {1e-300, 1e-300, 1e-300}, {NAN, 1, 0},
            {INFINITY, 0, 0}, {0.5, 0.5, 0}, {1 + 1e-6, 0, 0}, {1 + 2e-6, 0, 0},
        };
        if (b->group == 3 && chance(r, 70)) {
            const double *t = beliefs[below(r, sizeof beliefs / sizeof beliefs[0])];
            for (size_t k = 0; k < 3; k++) ckpt_wr64(buf + b->off + (g + k) * 8, double_to_bits(t[k]));
        } else {
            double v = interesting_double(r, bits_to_double(ckpt_rd64(p)));
            for (size_t k = 0; k < b->group; k++)
                if (b->group != 9 || chance(r, 50) || k % 4 == 0)  /* counts: a column or the diagonal */
                    ckpt_wr64(buf + b->off + (g + k) * 8, double_to_bits(v));
        }
        return 1;
    }
    const uint8_t *other = b->count > 1 ? buf + b->off + below(r, b->count) * b->elem : NULL;
    size_t times = chance(r, 15) ? 1 + below(r, 3) : 1;  /* sometimes a few fields at once */
    for (size_t t = 0; t < times; t++) {
        set_element(r, p, b->kind, other);
        i = below(r, b->count);
        p = buf + b->off + i * b->elem;
    }
    return 1;
}

/* ---- Parameter text ------------------------------------------------------ */

static const char *const param_keys[] = {
    "seed", "strategy", "no_update", "target", "lower", "upper", "decay", "prior_alpha", "prior_beta",
    "prior_shape", "prior_pi", "transition_decay", "entropy_weight", "gps", "Seed", "seed ", "",
};
static const char *const param_values[] = {
    "0", "1", "-1", "0.5", "1e-12", "9.999999999999999e-13", "1e15", "1000000000000000.1", "1.0000000000000002e15",
    "0.9999999999", "0.999999", "0.99999999999999", "1e-300", "5e-324", "0x1p-1074", "nan", "inf", "-inf", "-0",
    "-0.0", "1.", ".5", "+1", "1e", "0x", "18446744073709551615", "18446744073709551616", "true", "false", "2",
    "topk", "threshold", "uniform", "topk+entropy", "constant", "progress", "stability", "local", "unsolved",
    "partial", "solved", "", "=", "0.0000001", "1e-320", "0.3", "0.7", "1e16",
};
#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static int is_sep(uint8_t c) { return c == ' ' || c == ',' || c == '\n' || c == '\t'; }

/* Rewrites the parameter text (format 2), keeping its length field right. */
static int mutate_params(rng_t *r, uint8_t *buf, size_t *size, size_t max_size, const ckpt_layout *L) {
    const ckpt_block *len_b = NULL, *text_b = NULL;
    for (size_t i = 0; i < L->nblocks; i++) {
        if (L->blocks[i].role == FR_PARAM_LEN) len_b = &L->blocks[i];
        if (L->blocks[i].role == FR_PARAMS && L->blocks[i].kind == FK_TEXT) text_b = &L->blocks[i];
    }
    if (!len_b || !text_b) return 0;
    const uint8_t *text = buf + text_b->off;
    size_t len = text_b->count;
    /* Items as [start, end) ranges. */
    size_t starts[64], ends[64], n = 0;
    for (size_t i = 0; i < len && n < 64;) {
        while (i < len && is_sep(text[i])) i++;
        if (i >= len) break;
        starts[n] = i;
        while (i < len && !is_sep(text[i])) i++;
        ends[n++] = i;
    }
    size_t cap = len + 512;
    uint8_t *out = malloc(cap);
    if (!out) return 0;
    size_t o = 0;
#define PUT(p, k) do { size_t k_ = (k); if (o + k_ <= cap) { memcpy(out + o, (p), k_); o += k_; } } while (0)
#define PUTS(s) do { const char *s_ = (s); PUT(s_, strlen(s_)); } while (0)
    size_t op = below(r, 9);
    size_t victim = below(r, n ? n : 1);
    if (n == 0 && op < 5) op = 3;
    switch (op) {
    case 0: case 1: case 2: /* replace one value (or key) */
        for (size_t k = 0; k < n; k++) {
            if (k) PUTS(" ");
            const uint8_t *eq = memchr(text + starts[k], '=', ends[k] - starts[k]);
            if (k != victim || !eq) { PUT(text + starts[k], ends[k] - starts[k]); continue; }
            if (op == 2) { PUTS(param_keys[below(r, NELEMS(param_keys))]); PUT(eq, text + ends[k] - eq); }
            else { PUT(text + starts[k], (size_t)(eq - (text + starts[k])) + 1); PUTS(param_values[below(r, NELEMS(param_values))]); }
        }
        break;
    case 3: /* add an item */
        PUT(text, len);
        if (len) PUTS(below(r, 2) ? " " : ",");
        PUTS(param_keys[below(r, NELEMS(param_keys))]);
        PUTS("=");
        PUTS(param_values[below(r, NELEMS(param_values))]);
        break;
    case 4: /* drop or duplicate an item */
        for (size_t k = 0; k < n; k++) {
            if (k == victim && below(r, 2)) continue;
            if (o) PUTS(" ");
            PUT(text + starts[k], ends[k] - starts[k]);
            if (k == victim) { PUTS(" "); PUT(text + starts[k], ends[k] - starts[k]); }
        }
        break;
    case 5: { /* other separators */
        static const char *const seps[] = {",", "\n", "\t", "  ", ", ", ",,", "\r\n", "\v", "\xC2\xA0"};
        const char *s = seps[below(r, NELEMS(seps))];
        for (size_t k = 0; k < n; k++) {
            if (k) PUTS(s);
            PUT(text + starts[k], ends[k] - starts[k]);
        }
        break;
    }
    case 6: /* empty text, or invalid UTF-8 */
        if (below(r, 2)) PUTS(below(r, 2) ? "" : "seed=\xFF\xFE");
        else { PUT(text, len); PUTS("\xC3"); }
        break;
    default: /* libFuzzer's byte mutations on the text alone (its dictionary included) */
        PUT(text, len);
        o = LLVMFuzzerMutate(out, o, cap);
        break;
    }
#undef PUT
#undef PUTS
    int ok = splice(buf, size, max_size, text_b->off, len, out, o);
    if (ok) ckpt_wr32(buf + len_b->off, (uint32_t)o);
    free(out);
    return ok;
}

/* ---- Prompts: drop, clone, swap ----------------------------------------- */

/* Rebuilds the model's columns with prompt `k` removed (drop) or a copy of it appended
 * (clone; its id fresh unless `same_id`). Columns are contiguous after the count. */
static int reshape_prompts(rng_t *r, uint8_t *buf, size_t *size, size_t max_size, const ckpt_layout *L, int drop) {
    if (!L->count_off || L->ncolumns == 0 || (drop && L->n == 0)) return 0;
    uint64_t n = L->n;
    size_t k = drop ? below(r, n) : (n ? below(r, n) : 0);
    const ckpt_block *first = &L->blocks[L->columns[0]], *last = &L->blocks[L->columns[L->ncolumns - 1]];
    size_t cols_off = first->off, cols_end = last->off + last->count * last->elem;
    size_t per_prompt = 0;
    for (size_t c = 0; c < L->ncolumns; c++) per_prompt += L->blocks[L->columns[c]].group * L->blocks[L->columns[c]].elem;
    if (!drop && n == 0) return 0;  /* nothing to clone */
    size_t new_len = drop ? (cols_end - cols_off) - per_prompt : (cols_end - cols_off) + per_prompt;
    uint8_t *cols = malloc(new_len ? new_len : 1);
    if (!cols) return 0;
    size_t o = 0;
    int same_id = chance(r, 30);
    uint64_t fresh = chance(r, 50) ? rnd(r) : (uint64_t)(n + 1000);
    for (size_t c = 0; c < L->ncolumns; c++) {
        const ckpt_block *b = &L->blocks[L->columns[c]];
        size_t stride = b->group * b->elem;
        const uint8_t *src = buf + b->off;
        if (drop) {
            memcpy(cols + o, src, k * stride), o += k * stride;
            memcpy(cols + o, src + (k + 1) * stride, (n - k - 1) * stride), o += (n - k - 1) * stride;
        } else {
            memcpy(cols + o, src, n * stride), o += n * stride;
            memcpy(cols + o, src + k * stride, stride);
            if (c == 0 && b->kind == FK_I64 && !same_id) ckpt_wr64(cols + o, fresh);
            o += stride;
        }
    }
    int ok = splice(buf, size, max_size, cols_off, cols_end - cols_off, cols, o);
    if (ok) ckpt_wr64(buf + L->count_off, drop ? n - 1 : n + 1);
    free(cols);
    return ok;
}

static int swap_elements(rng_t *r, uint8_t *buf, const ckpt_layout *L) {
    if (L->ncolumns == 0 || L->n < 2) return 0;
    const ckpt_block *b = &L->blocks[L->columns[below(r, L->ncolumns)]];
    size_t stride = b->group * b->elem, i = below(r, L->n), j = below(r, L->n);
    uint8_t tmp[72];
    if (stride > sizeof tmp || i == j) return 0;
    memcpy(tmp, buf + b->off + i * stride, stride);
    memmove(buf + b->off + i * stride, buf + b->off + j * stride, stride);
    memcpy(buf + b->off + j * stride, tmp, stride);
    return 1;
}

/* libFuzzer's mutations confined to one block (same size), e.g. one column. */
static int mutate_block_bytes(rng_t *r, uint8_t *buf, const ckpt_layout *L) {
    if (L->nblocks == 0) return 0;
    const ckpt_block *b = &L->blocks[below(r, L->nblocks)];
    size_t len = b->count * b->elem;
    if (len == 0) return 0;
    size_t from = below(r, len), span = 1 + below(r, len - from < 64 ? len - from : 64);
    uint8_t tmp[64];
    memcpy(tmp, buf + b->off + from, span);
    size_t got = LLVMFuzzerMutate(tmp, span, span);
    memcpy(buf + b->off + from, tmp, got);
    return 1;
}

/* ---- libFuzzer entry points ---------------------------------------------- */

static size_t wrap_in_frame(rng_t *r, uint8_t *data, size_t size, size_t max_size) {
    if (max_size < CKPT_MIN) return LLVMFuzzerMutate(data, size, max_size);
    size_t payload = size > max_size - CKPT_MIN ? max_size - CKPT_MIN : size;
    memmove(data + CKPT_HEADER, data, payload);
    memcpy(data, "PSELCKPT", 8);
    ckpt_wr32(data + 8, chance(r, 80) ? 2 : 1);
    ckpt_wr32(data + 12, 1 + (uint32_t)below(r, 2));
    size_t total = payload + CKPT_MIN;
    ckpt_fix(data, total);
    return total;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    rng_t r = {seed * 0x2545F4914F6CDD1Dull + 1};
    ckpt_layout L;
    ckpt_parse(data, size, &L);
    if (!L.framed) {
        if (chance(&r, 50)) return LLVMFuzzerMutate(data, size, max_size);
        return wrap_in_frame(&r, data, size, max_size);
    }
    size_t pick = below(&r, 100);
    if (pick < 6) return LLVMFuzzerMutate(data, size, max_size); /* raw: magic, length and CRC checks */
    int fix = 1;
    if (pick < 12) {
        size = LLVMFuzzerMutate(data, size, max_size);
    } else if (pick < 55) {
        int rounds = 1 + (int)(chance(&r, 20) ? below(&r, 3) : 0);
        for (int k = 0; k < rounds; k++) {
            if (!mutate_value(&r, data, &L)) size = LLVMFuzzerMutate(data, size, max_size);
            ckpt_parse(data, size, &L);
            if (!L.framed) break;
        }
    } else if (pick < 70) {
        if (!mutate_params(&r, data, &size, max_size, &L) && !mutate_value(&r, data, &L))
            size = LLVMFuzzerMutate(data, size, max_size);
    } else if (pick < 80) {
        if (!reshape_prompts(&r, data, &size, max_size, &L, below(&r, 2)) && !mutate_value(&r, data, &L))
            size = LLVMFuzzerMutate(data, size, max_size);
    } else if (pick < 84) {
        if (!swap_elements(&r, data, &L)) mutate_value(&r, data, &L);
    } else if (pick < 92) {
        mutate_block_bytes(&r, data, &L);
    } else if (pick < 96) { /* version and method */
        if (below(&r, 2)) ckpt_wr32(data + 8, (uint32_t[]){0, 1, 2, 3, 0xFFFFFFFF}[below(&r, 5)]);
        else ckpt_wr32(data + 12, (uint32_t[]){0, 1, 2, 3, 0xFFFFFFFF}[below(&r, 5)]);
    } else { /* truncate or extend the payload */
        size_t payload = size - CKPT_MIN;
        if (below(&r, 2) && payload) {
            size_t cut = 1 + below(&r, payload < 16 ? payload : 16);
            splice(data, &size, max_size, size - 4 - cut, cut, NULL, 0);
        } else {
            uint8_t extra[8];
            for (size_t k = 0; k < 8; k++) extra[k] = (uint8_t)rnd(&r);
            splice(data, &size, max_size, size - 4, 0, extra, 1 + below(&r, 8));
        }
        fix = !chance(&r, 10);
    }
    if (fix && !chance(&r, 3) && size >= CKPT_MIN && memcmp(data, "PSELCKPT", 8) == 0) ckpt_fix(data, size);
    return size;
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *d1, size_t s1, const uint8_t *d2, size_t s2, uint8_t *out,
                                 size_t max_out, unsigned int seed) {
    rng_t r = {seed * 0x9E3779B97F4A7C15ull + 7};
    ckpt_layout a, b;
    ckpt_parse(d1, s1, &a);
    ckpt_parse(d2, s2, &b);
    size_t o = 0;
#define EMIT(p, k) do { size_t k_ = (k); if (o + k_ > max_out) goto plain; memcpy(out + o, (p), k_); o += k_; } while (0)
    if (a.framed && b.framed && a.method == b.method && a.model_off && b.model_off && a.ncolumns &&
        a.ncolumns == b.ncolumns && a.model_known && b.model_known) {
        if (below(&r, 2)) {
            /* The first one's parameters, generator and steps; the second one's model. */
            EMIT(d1, a.model_off);
            EMIT(d2 + b.model_off, s2 - 4 - b.model_off);
            EMIT("\0\0\0\0", 4);
        } else {
            /* The first one's frame and model counters, the prompts of both (ids may repeat). */
            EMIT(d1, a.count_off);
            uint8_t n[8];
            ckpt_wr64(n, a.n + b.n);
            EMIT(n, 8);
            for (size_t c = 0; c < a.ncolumns; c++) {
                const ckpt_block *x = &a.blocks[a.columns[c]], *y = &b.blocks[b.columns[c]];
                if (x->elem != y->elem || x->group != y->group) goto plain;
                EMIT(d1 + x->off, x->count * x->elem);
                EMIT(d2 + y->off, y->count * y->elem);
            }
            EMIT("\0\0\0\0", 4);
        }
        ckpt_fix(out, o);
        return o;
    }
plain:
#undef EMIT
    /* A prefix of one and a suffix of the other, the frame fixed if there is one. */
    o = 0;
    {
        size_t i = below(&r, s1 + 1), j = below(&r, s2 + 1);
        if (i > max_out) i = max_out;
        memcpy(out, d1, i);
        size_t tail = s2 - j;
        if (tail > max_out - i) tail = max_out - i;
        memcpy(out + i, d2 + j, tail);
        o = i + tail;
    }
    if (o >= CKPT_MIN && memcmp(out, "PSELCKPT", 8) == 0 && chance(&r, 90)) ckpt_fix(out, o);
    return o;
}
