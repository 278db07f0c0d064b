/* canary.c: deliberate bugs that `make sanitize` runs expecting a report, so that a
 * sanitizer that has gone silent (not linked, not preloaded, a library that is not
 * instrumented) fails the run instead of passing it.
 *
 * The first three bugs happen inside libpromptsel (a caller hands it a bad pointer or
 * forgets a handle), so their reports also prove the library under test is the
 * instrumented one:
 *   race      two threads, each with its own handle (so no handle lock orders them),
 *             pass the same `size_t *out` to promptsel_selector_count: the library's
 *             stores through `out` race (TSan). (A shared select output buffer would
 *             not do: the bulk copy into it runs in the uninstrumented Swift runtime,
 *             and TSan did not see it.)
 *   overflow  select is told the output holds 8 rows when it holds 4: the library
 *             writes past the end of the heap block (ASan).
 *   leak      a selector that is never freed (LeakSanitizer, part of ASan).
 *   overflow-int  a signed int overflow, in this file: UBSan (which instruments C only,
 *             see mk/sanitize.mk) is linked and stops the program.
 * canary.py makes the first two through Python and ctypes, in the pytest environment.
 *
 * Usage: canary race|overflow|leak|overflow-int   (exits 0 if the bug went unnoticed)
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promptsel.h"

#define POOL 64
#define BATCH 8
#define CALLS 1000

static void check(int rc, const char *what) {
    if (rc != PROMPTSEL_OK) {
        const char *msg = promptsel_last_error();
        fprintf(stderr, "canary: %s failed: %s (%s)\n", what, promptsel_status_string(rc), msg ? msg : "");
        exit(2);
    }
}

static size_t shared_count;
static pthread_barrier_t start;

static void *racer(void *params) {
    promptsel_selector *sel = NULL;
    int i;
    check(promptsel_selector_create(&sel, "mopps", params), "create");
    pthread_barrier_wait(&start);
    for (i = 0; i < CALLS; i++) check(promptsel_selector_count(&shared_count, sel), "count");
    /* No barrier after the loop: TSan models a barrier as release-then-acquire, so a
     * thread that reached a second barrier first could look ordered before the
     * other's loop and hide the race. */
    promptsel_selector_free(sel);
    return NULL;
}

static int race(void) {
    pthread_t a, b;
    static char params_a[] = "seed=1", params_b[] = "seed=2";
    if (pthread_barrier_init(&start, NULL, 2) != 0) return 2;
    if (pthread_create(&a, NULL, racer, params_a) != 0 || pthread_create(&b, NULL, racer, params_b) != 0) return 2;
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    pthread_barrier_destroy(&start);
    return 0;
}

static int overflow(void) {
    promptsel_selector *sel = NULL;
    int64_t pool[POOL], *positions = malloc(4 * sizeof *positions);
    size_t count = 0, i;
    for (i = 0; i < POOL; i++) pool[i] = (int64_t)i;
    check(promptsel_selector_create(&sel, "mopps", "seed=1"), "create");
    check(promptsel_selector_select(positions, NULL, NULL, BATCH, &count, sel, pool, POOL, BATCH), "select");
    printf("positions[0] = %lld\n", (long long)positions[0]);
    promptsel_selector_free(sel);
    free(positions);
    return 0;
}

static promptsel_selector *forgotten;

static int leak(void) {
    check(promptsel_selector_create(&forgotten, "mopps", "seed=1"), "create");
    forgotten = NULL; /* the only reference, dropped: a direct leak */
    return 0;
}

static int overflow_int(int argc) {
    int big = INT_MAX - 1;
    big += argc; /* argc is 2: INT_MAX + 1 */
    printf("INT_MAX + 1 = %d\n", big);
    return 0;
}

int main(int argc, char **argv) {
    int rc;
    if (argc != 2) {
        fprintf(stderr, "usage: canary race|overflow|leak|overflow-int\n");
        return 2;
    }
    if (strcmp(argv[1], "race") == 0) rc = race();
    else if (strcmp(argv[1], "overflow") == 0) rc = overflow();
    else if (strcmp(argv[1], "leak") == 0) rc = leak();
    else if (strcmp(argv[1], "overflow-int") == 0) rc = overflow_int(argc);
    else return 2;
    if (rc == 0) printf("canary %s: the bug ran to the end\n", argv[1]);
    return rc;
}
