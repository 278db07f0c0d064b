/* fuzz_common.h: what the checkpoint harnesses share: invariant checks and the
 * exercise of a loaded selector. A broken invariant prints what broke and calls
 * abort(), which libFuzzer reports as a crash (and saves the input). */
#ifndef PROMPTSEL_FUZZ_COMMON_H
#define PROMPTSEL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "promptsel.h"

#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 1, 2)))
#endif
void fz_fail(const char *fmt, ...);

/* rc must be PROMPTSEL_OK; otherwise fails naming the call and promptsel_last_error(). */
void fz_ok(int rc, const char *call);

/* A failing load-like call: rc is one of the statuses a bad checkpoint may give
 * (corrupt, version, unsupported) and the thread's message is set. */
void fz_check_refusal(int rc, const char *call);

/* The serialized state (malloc'd, *len bytes); fails if serialize does. */
uint8_t *fz_serialize(const promptsel_selector *sel, size_t *len);

/* Fails unless the two selectors serialize to the same bytes. */
void fz_same_state(const promptsel_selector *a, const promptsel_selector *b, const char *what);

/* Everything a trainer would do with a selector just loaded from untrusted bytes,
 * checking the library's contracts after each call (see fuzz_common.c). `data`
 * only seeds the choices made (batch sizes, success rates). */
void fz_exercise(promptsel_selector *sel, const uint8_t *data, size_t size);

/* Whether PROMPTSEL_FUZZ_TOLERATE lets a checkpoint written after fz_exercise fail
 * to load (see fuzz_common.c). */
int fz_reload_tolerated(void);

/* A selector of `method` created from `params`, trained a few deterministic steps
 * (the existing handles the deserialize-into-a-handle checks overwrite). */
promptsel_selector *fz_trained(const char *method, const char *params);

#endif
