/* basic.c: a C trainer's view of libpromptsel.
 *
 * Lists what the library says about its methods, then simulates a few training
 * steps: each step a pool of 64 candidate prompts is drawn from a dataset of 512,
 * the MoPPS selector picks 8, "rollouts" of a fake policy give their success rates,
 * and the selector is updated. Then it saves a checkpoint, restores it into a second
 * handle and checks both choose the same. Then the same loop with DPS, whose
 * beliefs come back in the select call itself, and with hybrid, whose per-prompt
 * priors come from a model of the prompts' (hashed text) features.
 *
 * Build: cc -std=c99 -Iinclude examples/c/basic.c -L.build/release -lpromptsel
 *   (or with `python -m promptsel --cflags` / `--libs` against an installed wheel)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promptsel.h"

#define POOL 64
#define BATCH 8
#define ROLLOUTS 8
#define DATASET 512

static int check(int rc, const char *what) {
    if (rc != PROMPTSEL_OK) {
        const char *msg = promptsel_last_error();
        fprintf(stderr, "%s failed: %s (%s)\n", what, promptsel_status_string(rc), msg ? msg : "");
        exit(1);
    }
    return rc;
}

/* Deterministic stand-in for a policy: prompt i has true success rate i / DATASET. */
static double rollout(int64_t id, unsigned *state) {
    int successes = 0, k;
    for (k = 0; k < ROLLOUTS; k++) {
        *state = *state * 1103515245u + 12345u;
        if ((double)((*state >> 8) & 0xFFFF) / 65536.0 < (double)id / DATASET) successes++;
    }
    return (double)successes / ROLLOUTS;
}

/* Prints each method's parameters (name, default, domain) as the library describes
 * them: a C program needs no table of its own. */
static void list_methods(void) {
    char names[256], text[8192];
    size_t len = 0;
    char *method, *line;
    check(promptsel_methods(names, sizeof names, &len), "methods");
    for (method = strtok(names, "\n"); method; method = strtok(NULL, "\n")) {
        check(promptsel_method_describe(text, sizeof text, &len, method), "describe");
        printf("method %s:", method);
        for (line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            char kind[16], name[64], type[16], def[64];
            if (sscanf(line, "%15[^\t]\t%63[^\t]\t%15[^\t]\t%63[^\t]", kind, name, type, def) == 4
                && strcmp(kind, "param") == 0)
                printf(" %s=%s", name, def);
        }
        printf("\n");
    }
}

/* The same loop with DPS: switching methods is a name and its parameters. DPS
 * predicts each prompt's solving state and picks likely-partial ones; select returns
 * the chosen prompts' state rows (beliefs first) in the same call. */
static int run_dps(void) {
    promptsel_selector *sel = NULL;
    int64_t pool[POOL], positions[BATCH], ids[BATCH];
    double scores[BATCH], rates[BATCH], state[16 * BATCH], metrics[32];
    int32_t rollouts[BATCH];
    size_t count = 0, width = 0, n_metrics = 0, i;
    unsigned rng = 11u;
    int step;

    check(promptsel_selector_create(&sel, "dps", "seed=42 prior_shape=progress transition_decay=0.7"), "create dps");
    check(promptsel_selector_state_width(&width, sel), "state width");
    if (width * BATCH > sizeof state / sizeof state[0]) return 1;
    for (step = 0; step < 5; step++) {
        for (i = 0; i < POOL; i++) pool[i] = (int64_t)((step * 31 + i * 7) % DATASET);
        check(promptsel_selector_select(positions, scores, state, BATCH, &count, sel, pool, POOL, BATCH),
              "select dps");
        for (i = 0; i < count; i++) {
            ids[i] = pool[positions[i]];
            rates[i] = rollout(ids[i], &rng);
            rollouts[i] = ROLLOUTS;
        }
        check(promptsel_selector_update(sel, ids, rates, rollouts, count), "update dps");
    }
    /* Step metrics, in the order the description lists them: observed, accuracy, ... */
    check(promptsel_selector_metrics(metrics, 32, &n_metrics, sel, PROMPTSEL_METRICS_STEP), "metrics");
    printf("dps: prompt %lld belief when chosen (unsolved %.2f, partial %.2f, solved %.2f); "
           "last step argmax accuracy %.2f over %.0f\n",
           (long long)ids[0], state[0], state[1], state[2], metrics[1], metrics[0]);
    promptsel_selector_free(sel);
    return 0;
}

/* hybrid: features from the library's text hashing, informative acquisition, and
 * test-time allocation of 64 samples over 8 held-out prompts. */
static int run_hybrid(void) {
    static const char *topics[] = {"algebra", "geometry", "counting", "number theory"};
    char text[64 * DATASET];
    size_t offsets[DATASET + 1], len = 0, count = 0, i;
    static float features[DATASET * 32];
    int64_t ids[DATASET], pool[POOL], positions[BATCH], chosen[BATCH], counts[8];
    double rates[BATCH], scores[BATCH], predicted[8];
    int32_t rollouts[BATCH];
    promptsel_selector *sel = NULL;
    unsigned rng = 5u;
    int step;

    offsets[0] = 0;
    for (i = 0; i < DATASET; i++) {
        ids[i] = (int64_t)i;
        len += (size_t)sprintf(text + len, "%s problem %zu", topics[i % 4], i);
        offsets[i + 1] = len;
    }
    check(promptsel_featurize_text(features, DATASET * 32, text, offsets, DATASET, 32), "featurize");
    check(promptsel_selector_create(&sel, "hybrid", "seed=42 dim=32 rank=16 strategy=informative"), "create hybrid");
    check(promptsel_selector_set_features(sel, ids, features, DATASET, 32), "set_features");
    for (step = 0; step < 5; step++) {
        for (i = 0; i < POOL; i++) pool[i] = (int64_t)((step * 53 + i * 5) % (DATASET - 8));
        check(promptsel_selector_select(positions, scores, NULL, BATCH, &count, sel, pool, POOL, BATCH), "select hybrid");
        for (i = 0; i < count; i++) {
            chosen[i] = pool[positions[i]];
            rates[i] = rollout(chosen[i], &rng);
            rollouts[i] = ROLLOUTS;
        }
        check(promptsel_selector_update(sel, chosen, rates, rollouts, count), "update hybrid");
    }
    check(promptsel_selector_allocate(counts, predicted, 8, sel, ids + DATASET - 8, 8, 64, 1, 32), "allocate");
    printf("hybrid: P(mixed group) of the first pick %.2f; 64 test samples over 8 unseen prompts:", scores[0]);
    for (i = 0; i < 8; i++) printf(" %lld(p=%.2f)", (long long)counts[i], predicted[i]);
    printf("\n");
    promptsel_selector_free(sel);
    return 0;
}

int main(void) {
    promptsel_selector *sel = NULL, *copy = NULL;
    int64_t pool[POOL], positions[BATCH], ids[BATCH], positions2[BATCH];
    double draws[BATCH], rates[BATCH], means[BATCH];
    int32_t rollouts[BATCH];
    size_t count = 0, tracked = 0, i, size = 0;
    unsigned rng = 7u;
    int step, informative;
    const char *path = "basic_example.ckpt";
    char params[1024];

    printf("libpromptsel %s (ABI %u)\n", promptsel_version_string(), (unsigned)promptsel_abi_version());
    if (promptsel_abi_version() != PROMPTSEL_ABI_VERSION) {
        fprintf(stderr, "header/library ABI mismatch\n");
        return 1;
    }
    list_methods();

    /* A misspelled parameter is refused, naming the nearest valid one. */
    if (promptsel_selector_create(&sel, "mopps", "deacy=0.5") != PROMPTSEL_E_INVALID_ARG) return 1;
    printf("misspelling rejected: %s\n", promptsel_last_error());

    check(promptsel_selector_create(&sel, "mopps", "seed=42 decay=0.5"), "create");
    check(promptsel_selector_params(params, sizeof params, &size, sel), "params");
    printf("mopps selector: %s\n", params);

    for (step = 0; step < 5; step++) {
        for (i = 0; i < POOL; i++) pool[i] = (int64_t)((step * 97 + i * 13) % DATASET);
        check(promptsel_selector_select(positions, draws, NULL, BATCH, &count, sel, pool, POOL, BATCH), "select");
        informative = 0;
        for (i = 0; i < count; i++) {
            ids[i] = pool[positions[i]];
            rates[i] = rollout(ids[i], &rng);
            rollouts[i] = ROLLOUTS;
            informative += rates[i] > 0.0 && rates[i] < 1.0;
        }
        check(promptsel_selector_update(sel, ids, rates, rollouts, count), "update");
        check(promptsel_selector_predict(means, BATCH, sel, ids, count), "predict");
        printf("step %d: chose", step);
        for (i = 0; i < count; i++) printf(" %lld(r=%.2f)", (long long)ids[i], draws[i]);
        printf("  informative %d/%d, mean posterior of first %.3f\n", informative, BATCH, means[0]);
    }

    /* An error is a status code plus a thread-local message, and changes nothing. */
    rates[0] = 1.5;
    if (promptsel_selector_update(sel, ids, rates, rollouts, 1) != PROMPTSEL_E_OUT_OF_RANGE) return 1;
    printf("bad rate rejected: %s\n", promptsel_last_error());

    check(promptsel_selector_count(&tracked, sel), "count");
    check(promptsel_selector_serialize(NULL, 0, &size, sel) == PROMPTSEL_E_BUFFER_TOO_SMALL ? 0 : -99, "size query");
    check(promptsel_selector_save(sel, path), "save");
    check(promptsel_selector_load(&copy, path), "load");
    printf("tracked %zu prompts, checkpoint %zu bytes\n", tracked, size);

    for (i = 0; i < POOL; i++) pool[i] = (int64_t)i;
    check(promptsel_selector_select(positions, NULL, NULL, BATCH, &count, sel, pool, POOL, BATCH), "select");
    check(promptsel_selector_select(positions2, NULL, NULL, BATCH, &count, copy, pool, POOL, BATCH), "select copy");
    if (memcmp(positions, positions2, sizeof positions) != 0) {
        fprintf(stderr, "restored selector diverged\n");
        return 1;
    }
    printf("restored selector chooses identically\n");

    promptsel_selector_free(copy);
    promptsel_selector_free(sel);
    remove(path);
    return run_dps() || run_hybrid();
}
