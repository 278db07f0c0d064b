/* fuzz_common.c: the exercise of a selector loaded from untrusted bytes.
 *
 * After a successful load the harness does what a trainer does (select, update,
 * predict, read state and metrics, checkpoint again) and checks, besides "no trap,
 * no ASan report":
 *
 *  - the loaded state is one promptsel_selector_set_state accepts (the models'
 *    contract: decode validates exactly as setState, so nothing a file says may
 *    trap later), right after the load and again after a few steps;
 *  - its parameters re-create a selector (create(method, params) succeeds and
 *    prints the same text);
 *  - reading a column range returns the same values as reading whole rows;
 *  - predictions lie in [0, 1], select returns distinct in-range positions with
 *    finite scores, metrics have the described lengths;
 *  - serialize -> from_bytes -> serialize gives the same bytes, and a checkpoint the
 *    library wrote after the steps loads again.
 *
 * PROMPTSEL_FUZZ_TOLERATE=known (for looking past findings still open, and for
 * minimizing one finding without drifting to another; never in CI): skips the step
 * metrics (the DPS confusion-counter trap) and lets states that set_state refuses,
 * predictions outside [0, 1] and checkpoints that do not load after the steps pass,
 * so that the fuzzer explores what lies behind them. See tolerate() for the classes.
 */
#include "fuzz_common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fz_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("\n==promptsel-fuzz== INVARIANT BROKEN: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* PROMPTSEL_FUZZ_TOLERATE: a comma-separated list of open finding classes to let pass:
 * "metrics" (skip the step metrics), "states" (states set_state refuses, predictions
 * outside [0, 1]), "reload" (a checkpoint written after the steps that does not load);
 * "known" is all three. */
static int tolerate(const char *what) {
    const char *e = getenv("PROMPTSEL_FUZZ_TOLERATE");
    if (!e) return 0;
    if (strstr(e, "known")) return 1;
    size_t n = strlen(what);
    for (const char *p = strstr(e, what); p; p = strstr(p + 1, what))
        if ((p == e || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
    return 0;
}

/* Set when an input's states were refused and tolerated: what follows from them
 * (NaN scores, a checkpoint that does not load) is tolerated for that input too. */
static int states_tolerated;

int fz_reload_tolerated(void) { return states_tolerated || tolerate("reload"); }

static const char *last_error(void) {
    const char *e = promptsel_last_error();
    return e ? e : "(no message)";
}

void fz_ok(int rc, const char *call) {
    if (rc != PROMPTSEL_OK) fz_fail("%s failed with %d (%s): %s", call, rc, promptsel_status_string(rc), last_error());
}

void fz_check_refusal(int rc, const char *call) {
    if (rc != PROMPTSEL_E_CORRUPT && rc != PROMPTSEL_E_VERSION && rc != PROMPTSEL_E_UNSUPPORTED)
        fz_fail("%s refused a bad checkpoint with status %d (%s), not corrupt/version/unsupported: %s", call, rc,
                promptsel_status_string(rc), last_error());
    const char *e = promptsel_last_error();
    if (!e || !*e) fz_fail("%s failed with %d but promptsel_last_error() is empty", call, rc);
}

uint8_t *fz_serialize(const promptsel_selector *sel, size_t *len) {
    size_t need = 0;
    int rc = promptsel_selector_serialize(NULL, 0, &need, sel);
    if (rc != PROMPTSEL_E_BUFFER_TOO_SMALL && rc != PROMPTSEL_OK) fz_ok(rc, "serialize (size query)");
    uint8_t *buf = malloc(need ? need : 1);
    if (!buf) abort();
    size_t got = 0;
    fz_ok(promptsel_selector_serialize(buf, need, &got, sel), "serialize");
    if (got != need) fz_fail("serialize wrote %zu bytes after asking for %zu", got, need);
    *len = got;
    return buf;
}

void fz_same_state(const promptsel_selector *a, const promptsel_selector *b, const char *what) {
    size_t la, lb;
    uint8_t *x = fz_serialize(a, &la), *y = fz_serialize(b, &lb);
    if (la != lb || memcmp(x, y, la) != 0) fz_fail("%s: serialized states differ (%zu vs %zu bytes)", what, la, lb);
    free(x);
    free(y);
}

/* ---- Small helpers ------------------------------------------------------- */

static char *params_of(const promptsel_selector *sel) {
    size_t need = 0;
    int rc = promptsel_selector_params(NULL, 0, &need, sel);
    if (rc != PROMPTSEL_E_BUFFER_TOO_SMALL) fz_ok(rc, "params (size query)");
    char *text = malloc(need + 1);
    if (!text) abort();
    size_t got = 0;
    fz_ok(promptsel_selector_params(text, need + 1, &got, sel), "params");
    return text;
}

/* Number of "metric" lines of `scope` in the method's description. */
static size_t described_metrics(const char *method, int scope) {
    static char buf[16384];
    size_t len = 0;
    fz_ok(promptsel_method_describe(buf, sizeof buf, &len, method), "method_describe");
    size_t count = 0;
    const char *want = scope == PROMPTSEL_METRICS_STEP ? "\tstep\t" : "\tall\t";
    for (char *line = buf; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next = 0;
        if (strncmp(line, "metric\t", 7) == 0 && strstr(line, want)) count++;
        line = next ? next + 1 : NULL;
    }
    return count;
}

static uint64_t hash_bytes(const uint8_t *d, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ d[i]) * 1099511628211ull;
    return h;
}

static promptsel_selector *scratch_like(const promptsel_selector *sel, const char *label) {
    const char *method = promptsel_selector_method(sel);
    char *params = params_of(sel);
    promptsel_selector *s = NULL;
    int rc = promptsel_selector_create(&s, method, params);
    if (rc != PROMPTSEL_OK)
        fz_fail("%s: create(\"%s\", its own params \"%s\") fails: %d %s", label, method, params, rc, last_error());
    char *again = params_of(s);
    if (strcmp(again, params) != 0) fz_fail("%s: params do not round-trip: \"%s\" -> \"%s\"", label, params, again);
    free(again);
    free(params);
    /* A feature method (gps, hybrid) keeps state only for prompts with features:
     * the scratch is then a copy of `sel` (its features, its parameters). */
    size_t dim = 0;
    if (promptsel_selector_feature_dim(&dim, sel) == PROMPTSEL_OK && dim > 0) {
        size_t need = 0;
        (void)promptsel_selector_serialize(NULL, 0, &need, sel);
        uint8_t *bytes = malloc(need ? need : 1);
        if (!bytes) abort();
        fz_ok(promptsel_selector_serialize(bytes, need, &need, sel), "serialize");
        promptsel_selector_free(s);
        s = NULL;
        fz_ok(promptsel_selector_from_bytes(&s, bytes, need), "from_bytes");
        free(bytes);
    }
    return s;
}

/* Every tracked prompt's state must be one set_state accepts. */
static void check_states_valid(const promptsel_selector *sel, const int64_t *ids, size_t n, size_t width,
                               const char *label) {
    if (n == 0) return;
    double *rows = malloc(n * width * sizeof(double));
    if (!rows) abort();
    fz_ok(promptsel_selector_get_state(rows, n * width, sel, ids, n, 0, width), "get_state");
    promptsel_selector *scratch = scratch_like(sel, label);
    int rc = promptsel_selector_set_state(scratch, ids, rows, n);
    if (rc != PROMPTSEL_OK && tolerate("states")) rc = PROMPTSEL_OK, states_tolerated = 1;
    if (rc != PROMPTSEL_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", last_error());
        /* Name the first row refused. */
        for (size_t i = 0; i < n; i++) {
            promptsel_selector *one = scratch_like(sel, label);
            int r1 = promptsel_selector_set_state(one, &ids[i], rows + i * width, 1);
            promptsel_selector_free(one);
            if (r1 != PROMPTSEL_OK) {
                char row[1024];
                size_t o = 0;
                for (size_t k = 0; k < width && o < sizeof row - 32; k++)
                    o += (size_t)snprintf(row + o, sizeof row - o, "%s%.17g", k ? ", " : "", rows[i * width + k]);
                fz_fail("%s: the %s state of id %lld is one set_state refuses (%d: %s); row [%s]", label,
                        promptsel_selector_method(sel), (long long)ids[i], r1, msg, row);
            }
        }
        fz_fail("%s: set_state refuses the states as a whole (%d: %s) but accepts each row", label, rc, msg);
    }
    promptsel_selector_free(scratch);
    free(rows);
}

static void check_predictions(const promptsel_selector *sel, const int64_t *ids, size_t n, const char *label) {
    if (n == 0) return;
    double *mean = malloc(n * sizeof(double));
    if (!mean) abort();
    fz_ok(promptsel_selector_predict(mean, n, sel, ids, n), "predict");
    for (size_t i = 0; i < n; i++)
        if (!(mean[i] >= 0 && mean[i] <= 1) && !(tolerate("states") && (states_tolerated = 1)))
            fz_fail("%s: predict(id %lld) = %.17g is not in [0, 1]", label, (long long)ids[i], mean[i]);
    free(mean);
}

static void check_metrics(const promptsel_selector *sel, const char *label) {
    const char *method = promptsel_selector_method(sel);
    for (int scope = tolerate("metrics") ? PROMPTSEL_METRICS_ALL : PROMPTSEL_METRICS_STEP; scope <= PROMPTSEL_METRICS_ALL;
         scope++) {
        double out[256];
        size_t len = 0;
        fz_ok(promptsel_selector_metrics(out, 256, &len, sel, scope), "metrics");
        size_t want = described_metrics(method, scope);
        if (len != want) fz_fail("%s: metrics scope %d gave %zu values, the description lists %zu", label, scope, len, want);
    }
}

/* Reading columns [first, first + k) must give exactly the whole rows' values. */
static void check_column_ranges(const promptsel_selector *sel, const int64_t *ids, size_t n, size_t width,
                                uint64_t h) {
    if (n == 0) return;
    double *full = malloc(n * width * sizeof(double)), *part = malloc(n * width * sizeof(double));
    if (!full || !part) abort();
    fz_ok(promptsel_selector_get_state(full, n * width, sel, ids, n, 0, width), "get_state");
    size_t first = (size_t)(h % width), k = 1 + (size_t)((h >> 16) % (width - first));
    fz_ok(promptsel_selector_get_state(part, n * k, sel, ids, n, first, k), "get_state (columns)");
    for (size_t i = 0; i < n; i++)
        if (memcmp(part + i * k, full + i * width + first, k * sizeof(double)) != 0)
            fz_fail("get_state columns [%zu, %zu) of id %lld differ from the whole row's", first, first + k,
                    (long long)ids[i]);
    free(full);
    free(part);
}

/* serialize -> from_bytes -> serialize is the identity; returns nothing, fails otherwise. */
static void check_round_trip(const promptsel_selector *sel, const char *label) {
    size_t len;
    uint8_t *bytes = fz_serialize(sel, &len);
    promptsel_selector *again = NULL;
    int rc = promptsel_selector_from_bytes(&again, bytes, len);
    if (rc != PROMPTSEL_OK && (states_tolerated || (tolerate("reload") && strcmp(label, "as loaded") != 0))) {
        free(bytes);
        return;
    }
    if (rc != PROMPTSEL_OK)
        fz_fail("%s: a checkpoint the library wrote (%zu bytes) is refused by from_bytes: %d %s", label, len, rc,
                last_error());
    size_t len2;
    uint8_t *bytes2 = fz_serialize(again, &len2);
    if (len2 != len || memcmp(bytes, bytes2, len) != 0)
        fz_fail("%s: serialize(from_bytes(serialize(s))) differs from serialize(s)", label);
    free(bytes2);
    free(bytes);
    promptsel_selector_free(again);
}

/* ---- The exercise -------------------------------------------------------- */

void fz_exercise(promptsel_selector *sel, const uint8_t *data, size_t size) {
    uint64_t h = hash_bytes(data, size);
    states_tolerated = 0;
    const char *method = promptsel_selector_method(sel);
    if (!method) fz_fail("a loaded selector has no method name");
    size_t width = 0, count = 0, mem = 0, entry = 0;
    fz_ok(promptsel_selector_state_width(&width, sel), "state_width");
    if (width == 0 || width > 64) fz_fail("state width %zu", width);
    fz_ok(promptsel_selector_count(&count, sel), "count");
    fz_ok(promptsel_selector_memory(&mem, &entry, sel), "memory");

    /* Ids, then a few unseen ones (never inserted by the queries). */
    size_t extra = 3, len = 0;
    int64_t *ids = malloc((count + extra) * sizeof(int64_t));
    if (!ids) abort();
    fz_ok(promptsel_selector_ids(ids, count, &len, sel), "ids");
    if (len != count) fz_fail("ids returned %zu ids, count says %zu", len, count);
    for (size_t k = 0; k < extra; k++) ids[count + k] = (int64_t)(h >> (8 * k)) ^ (int64_t)0x5DEECE66Dull * (int64_t)k;

    /* As loaded. */
    check_metrics(sel, "as loaded");
    check_states_valid(sel, ids, count, width, "as loaded");
    check_column_ranges(sel, ids, count + extra, width, h);
    double prior[64];
    fz_ok(promptsel_selector_prior(prior, 64, sel), "prior");
    size_t feature_dim = 0;
    (void)promptsel_selector_feature_dim(&feature_dim, sel);
    /* Feature methods hold state only for prompts with features: a tracked id. */
    if (feature_dim == 0 || count > 0) {
        promptsel_selector *scratch = scratch_like(sel, "prior");
        int64_t id = feature_dim > 0 ? ids[0] : 0;
        int rc = promptsel_selector_set_state(scratch, &id, prior, 1);
        if (rc != PROMPTSEL_OK) fz_fail("the prior row is one set_state refuses: %s", last_error());
        promptsel_selector_free(scratch);
    }
    /* Feature methods predict only prompts with features: the tracked ones. */
    check_predictions(sel, ids, feature_dim > 0 ? count : count + extra, "as loaded");
    check_round_trip(sel, "as loaded");
    fz_ok(promptsel_selector_count(&len, sel), "count");
    if (len != count) fz_fail("queries changed the number of prompts (%zu -> %zu)", count, len);

    /* A few training steps over known and new prompts. */
    size_t pool_cap = 24 + 3;
    int64_t pool[27], chosen_ids[27];
    int64_t positions[27];
    double scores[27];
    double *rows = malloc(27 * width * sizeof(double));
    double rates[27];
    int32_t rollouts[27];
    static const double rate_cycle[] = {0.0, 1.0, 0.5, 0.25, 0.875, 1.0 / 3.0};
    static const int32_t rollout_cycle[] = {8, 1, 16, 1 << 20};
    if (!rows) abort();
    for (int step = 0; step < 3; step++) {
        size_t n = 0;
        for (size_t i = 0; i < count && n < 24; i++) n++, pool[n - 1] = ids[(i + (size_t)step * 7) % count];
        pool[n++] = (int64_t)(h + (uint64_t)step);
        pool[n++] = -(int64_t)(h >> 3) - step;
        pool[n++] = pool[0];  /* a duplicate candidate */
        if (n > pool_cap) abort();
        if (feature_dim > 0 && feature_dim <= 1024) {  /* the new prompts get features first */
            float features[2 * 1024];
            for (size_t k = 0; k < 2 * feature_dim; k++) features[k] = (float)((int)((h >> (k % 60)) & 7) - 3) / 4;
            fz_ok(promptsel_selector_set_features(sel, &pool[n - 3], features, 2, feature_dim), "set_features");
        }
        size_t batch = 1 + (size_t)((h >> (5 * step)) % (n < 8 ? n : 8)), got = 0;
        int rc = promptsel_selector_select(positions, scores, rows, 27, &got, sel, pool, n, batch);
        fz_ok(rc, "select");
        if (got != batch) fz_fail("select returned %zu positions for a batch of %zu", got, batch);
        for (size_t i = 0; i < got; i++) {
            if (positions[i] < 0 || (size_t)positions[i] >= n)
                fz_fail("select position %lld outside [0, %zu)", (long long)positions[i], n);
            for (size_t j = 0; j < i; j++)
                if (positions[j] == positions[i]) fz_fail("select chose position %lld twice", (long long)positions[i]);
            if (!isfinite(scores[i]) && !states_tolerated)
                fz_fail("select score %.17g of id %lld is not finite", scores[i], (long long)pool[positions[i]]);
            chosen_ids[i] = pool[positions[i]];
            rates[i] = rate_cycle[(h >> (3 * i + step)) % 6];
            rollouts[i] = rollout_cycle[(h >> (2 * i + 7 * step)) % 4];
        }
        rc = promptsel_selector_update(sel, chosen_ids, rates, rollouts, got);
        /* DPS refuses a step past 2^32 - 1 (a checkpoint may sit at the limit). */
        if (rc != PROMPTSEL_OK && rc != PROMPTSEL_E_OUT_OF_RANGE) fz_ok(rc, "update");
        check_metrics(sel, "after an update");
    }
    free(rows);
    free(ids);

    /* After the steps: every prompt (new ones included) still valid, and the checkpoint loads. */
    fz_ok(promptsel_selector_count(&count, sel), "count");
    ids = malloc((count + 1) * sizeof(int64_t));
    if (!ids) abort();
    fz_ok(promptsel_selector_ids(ids, count, &len, sel), "ids");
    check_predictions(sel, ids, count, "after select/update");
    check_states_valid(sel, ids, count, width, "after select/update");
    check_round_trip(sel, "after select/update");
    free(ids);
}

promptsel_selector *fz_trained(const char *method, const char *params) {
    promptsel_selector *sel = NULL;
    fz_ok(promptsel_selector_create(&sel, method, params), "create");
    int64_t pool[16];
    for (int i = 0; i < 16; i++) pool[i] = 1000 + 7 * i;
    size_t dim = 0;
    fz_ok(promptsel_selector_feature_dim(&dim, sel), "feature_dim");
    if (dim > 0) {  /* a feature method trains on prompts with features */
        float *x = malloc(16 * dim * sizeof(float));
        if (!x) abort();
        for (size_t k = 0; k < 16 * dim; k++) x[k] = (float)((int)((k * 7) % 11) - 5) / 5;
        fz_ok(promptsel_selector_set_features(sel, pool, x, 16, dim), "set_features");
        free(x);
    }
    for (int step = 0; step < 4; step++) {
        int64_t pos[6];
        size_t got = 0;
        fz_ok(promptsel_selector_select(pos, NULL, NULL, 6, &got, sel, pool, 16, 6), "select");
        int64_t ids[6];
        double rates[6];
        int32_t k[6];
        for (size_t i = 0; i < got; i++) ids[i] = pool[pos[i]], rates[i] = (double)((i + (size_t)step) % 5) / 4, k[i] = 8;
        fz_ok(promptsel_selector_update(sel, ids, rates, k, got), "update");
    }
    return sel;
}
