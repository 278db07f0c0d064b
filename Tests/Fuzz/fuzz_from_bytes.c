/* fuzz_from_bytes: libFuzzer harness over checkpoint bytes in memory.
 *
 *  1. promptsel_selector_from_bytes(input): refused with corrupt/version/unsupported
 *     and a message, or loaded and then exercised (fuzz_common.c).
 *  2. promptsel_selector_deserialize(existing handle, input), for a trained handle of
 *     each of MoPPS, DPS, gps and hybrid: the same status as from_bytes; on failure the handle
 *     serializes to exactly the bytes it had before (abort otherwise); on success it
 *     holds what from_bytes built, and is then restored.
 *
 * Structure-aware mutations come from checkpoint_mutator.c (linked in).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#define BASES 4
static promptsel_selector *bases[BASES];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    bases[0] = fz_trained("mopps", "seed=3 strategy=threshold decay=0.9");
    bases[1] = fz_trained("dps", "seed=4 strategy=topk+entropy entropy_weight=0.5 transition_decay=0.95");
    bases[2] = fz_trained("gps", "seed=5 dim=6 rank=3 diversity=0.5 strategy=informative");
    bases[3] = fz_trained("hybrid", "seed=6 dim=4 rank=8");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    promptsel_selector *sel = NULL;
    int rc = promptsel_selector_from_bytes(&sel, data, size);
    if (rc != PROMPTSEL_OK) {
        fz_check_refusal(rc, "from_bytes");
        if (sel) fz_fail("from_bytes failed but wrote a handle");
    }

    for (int b = 0; b < BASES; b++) {
        size_t before_len, after_len;
        uint8_t *before = fz_serialize(bases[b], &before_len);
        int rc2 = promptsel_selector_deserialize(bases[b], data, size);
        if (rc2 != rc) fz_fail("deserialize into a handle gave %d, from_bytes %d, for the same bytes", rc2, rc);
        if (rc2 != PROMPTSEL_OK) {
            fz_check_refusal(rc2, "deserialize");
            uint8_t *after = fz_serialize(bases[b], &after_len);
            if (after_len != before_len || memcmp(before, after, before_len) != 0)
                fz_fail("a failed deserialize (status %d) changed the handle it was given", rc2);
            free(after);
        } else {
            fz_same_state(bases[b], sel, "deserialize into a handle vs from_bytes");
            fz_ok(promptsel_selector_deserialize(bases[b], before, before_len), "deserialize (restore)");
            uint8_t *after = fz_serialize(bases[b], &after_len);
            if (after_len != before_len || memcmp(before, after, before_len) != 0)
                fz_fail("restoring a handle from its own bytes does not give them back");
            free(after);
        }
        free(before);
    }

    if (sel) {
        fz_exercise(sel, data, size);
        promptsel_selector_free(sel);
    }
    return 0;
}
