/* fuzz_features: libFuzzer harness over set_features input of the feature methods.
 *
 * The input is a selector configuration and a feature matrix:
 *
 *     byte 0      method (even: gps, odd: hybrid)
 *     byte 1      dim  = 1 + b % 48   (above and below the rank)
 *     byte 2      rank = 1 + b % 16
 *     byte 3      bit 0: diversity=1 (else 0); bits 1-2: strategy; bit 3: ids repeat
 *     bytes 4...  float32 bit patterns, row-major: n = min(64, rest / (4 dim)) rows
 *
 * Contract checked: set_features returns OK exactly when every value is finite (any
 * magnitude, denormals included); otherwise INVALID_ARG with a message, and the handle
 * serializes to exactly the bytes it had before. After an accepted call the selector
 * is exercised as a loaded one is (fuzz_common.c: predictions in [0, 1], finite select
 * scores, updates, every checkpoint it writes loads again), then the same rows are set
 * again on the reloaded copy, which must serialize as the original does.
 * No structure-aware mutator: plain libFuzzer mutations over floats and the header.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static const char *strategies[2][4] = {
    {"thompson", "informative", "uniform", "thompson"},
    {"informative", "topk", "uniform", "informative"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    int hybrid = data[0] & 1;
    size_t dim = 1 + data[1] % 48, rank = 1 + data[2] % 16;
    int diversity = data[3] & 1, repeat = (data[3] >> 3) & 1;
    const char *strategy = strategies[hybrid][(data[3] >> 1) & 3];
    size_t n = (size - 4) / (4 * dim);
    if (n > 64) n = 64;

    char params[160];
    snprintf(params, sizeof params, "seed=7 dim=%zu rank=%zu diversity=%d strategy=%s", dim, rank, diversity,
             strategy);
    promptsel_selector *sel = NULL;
    fz_ok(promptsel_selector_create(&sel, hybrid ? "hybrid" : "gps", params), "create");
    /* Some state first, so that "changes nothing" has something to keep. */
    float base[2 * 48];
    for (size_t k = 0; k < 2 * dim; k++) base[k] = (float)((int)(k % 5) - 2) / 2;
    int64_t base_ids[2] = {1000, 1001};
    fz_ok(promptsel_selector_set_features(sel, base_ids, base, 2, dim), "set_features (base)");

    float *rows = malloc((n ? n : 1) * dim * sizeof(float));
    int64_t *ids = malloc((n ? n : 1) * sizeof(int64_t));
    if (!rows || !ids) abort();
    int finite = 1;
    for (size_t k = 0; k < n * dim; k++) {
        memcpy(&rows[k], data + 4 + 4 * k, 4);
        if (!isfinite(rows[k])) finite = 0;
    }
    for (size_t i = 0; i < n; i++) ids[i] = repeat ? (int64_t)(i % 3) : (int64_t)i;

    size_t before_len;
    uint8_t *before = fz_serialize(sel, &before_len);
    int rc = promptsel_selector_set_features(sel, ids, rows, n, dim);
    if (finite && rc != PROMPTSEL_OK)
        fz_fail("set_features refused %zu finite rows of dim %zu: %d %s", n, dim, rc, promptsel_last_error());
    if (!finite) {
        if (rc != PROMPTSEL_E_INVALID_ARG)
            fz_fail("set_features of a non-finite value returned %d, not INVALID_ARG", rc);
        if (!promptsel_last_error() || !*promptsel_last_error()) fz_fail("set_features refused without a message");
        size_t after_len;
        uint8_t *after = fz_serialize(sel, &after_len);
        if (after_len != before_len || memcmp(before, after, before_len) != 0)
            fz_fail("a refused set_features changed the selector");
        free(after);
    } else {
        /* The reloaded copy, given the same rows again, holds the same state. */
        size_t len;
        uint8_t *bytes = fz_serialize(sel, &len);
        promptsel_selector *copy = NULL;
        rc = promptsel_selector_from_bytes(&copy, bytes, len);
        if (rc != PROMPTSEL_OK) fz_fail("a checkpoint written after set_features does not load: %d %s", rc,
                                        promptsel_last_error());
        fz_ok(promptsel_selector_set_features(copy, ids, rows, n, dim), "set_features (again)");
        fz_same_state(sel, copy, "set_features twice vs once");
        promptsel_selector_free(copy);
        free(bytes);
        fz_exercise(sel, data, size);
    }
    free(before);
    free(rows);
    free(ids);
    promptsel_selector_free(sel);
    return 0;
}
