/* lock_cost.c: what the handle's lock costs, measured through the public C ABI.
 *
 * Built against a release libpromptsel.so (`make sanitize-lock-cost` builds it
 * against .build/release), it times
 *   - a training step: select BATCH of POOL candidates (4096, a fresh pool slice
 *     each step), then update the chosen ones; one thread, so the lock is never
 *     contended and what is measured is one lock/unlock pair per call;
 *   - the same steps from THREADS threads on one handle (the lock contended);
 *   - promptsel_selector_count, a call that does almost nothing but take the lock:
 *     an upper bound of the lock's own cost per call.
 * Each figure is the median of ROUNDS rounds. Compare two libraries by running this
 * against each, alternately, on an idle machine.
 *
 * Usage: lock_cost [method]   (method: mopps or dps; default mopps)
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "promptsel.h"

#define DATASET 65536
#define POOL 4096
#define BATCH 256
#define ROLLOUTS 8
#define STEPS 200
#define ROUNDS 9
#define THREADS 2
#define COUNT_CALLS 200000

static const char *method = "mopps";

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void check(int rc, const char *what) {
    if (rc != PROMPTSEL_OK) {
        const char *msg = promptsel_last_error();
        fprintf(stderr, "%s failed: %s (%s)\n", what, promptsel_status_string(rc), msg ? msg : "");
        exit(1);
    }
}

/* STEPS select+update steps on `sel`; `salt` varies the pools between threads. */
static void steps(promptsel_selector *sel, unsigned salt) {
    int64_t pool[POOL], positions[BATCH], ids[BATCH];
    double rates[BATCH];
    int32_t rollouts[BATCH];
    size_t count = 0, i;
    unsigned rng = 12345u + salt;
    int step;
    for (step = 0; step < STEPS; step++) {
        size_t start = ((size_t)step * 1031u + salt * 7919u) % DATASET;
        for (i = 0; i < POOL; i++) pool[i] = (int64_t)((start + i) % DATASET);
        check(promptsel_selector_select(positions, NULL, NULL, BATCH, &count, sel, pool, POOL, BATCH), "select");
        for (i = 0; i < count; i++) {
            rng = rng * 1103515245u + 12345u;
            ids[i] = pool[positions[i]];
            rates[i] = (double)((rng >> 16) % (ROLLOUTS + 1)) / ROLLOUTS;
            rollouts[i] = ROLLOUTS;
        }
        check(promptsel_selector_update(sel, ids, rates, rollouts, count), "update");
    }
}

struct job { promptsel_selector *sel; unsigned salt; };

static void *worker(void *arg) {
    struct job *j = arg;
    steps(j->sel, j->salt);
    return NULL;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof v[0], compare);
    return v[n / 2];
}

int main(int argc, char **argv) {
    double single[ROUNDS], contended[ROUNDS], counted[ROUNDS];
    int r, t;
    if (argc > 1) method = argv[1];
    for (r = 0; r < ROUNDS; r++) {
        promptsel_selector *sel = NULL;
        pthread_t threads[THREADS];
        struct job jobs[THREADS];
        size_t n = 0;
        double t0;
        int k;

        check(promptsel_selector_create(&sel, method, "seed=1"), "create");
        steps(sel, 99u); /* warm: every id of the dataset's first slices is tracked */
        t0 = now();
        steps(sel, 0u);
        single[r] = (now() - t0) / STEPS;

        t0 = now();
        for (t = 0; t < THREADS; t++) {
            jobs[t].sel = sel;
            jobs[t].salt = (unsigned)t + 1u;
            if (pthread_create(&threads[t], NULL, worker, &jobs[t]) != 0) return 1;
        }
        for (t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
        contended[r] = (now() - t0) / (STEPS * THREADS);

        t0 = now();
        for (k = 0; k < COUNT_CALLS; k++) check(promptsel_selector_count(&n, sel), "count");
        counted[r] = (now() - t0) / COUNT_CALLS;
        promptsel_selector_free(sel);
    }
    printf("%s, pool %d, batch %d, median of %d rounds:\n", method, POOL, BATCH, ROUNDS);
    printf("  select+update step, 1 thread:            %8.1f us\n", 1e6 * median(single, ROUNDS));
    printf("  select+update step, %d threads, 1 handle: %8.1f us per step\n", THREADS, 1e6 * median(contended, ROUNDS));
    printf("  promptsel_selector_count (lock + unlock): %8.1f ns\n", 1e9 * median(counted, ROUNDS));
    return 0;
}
