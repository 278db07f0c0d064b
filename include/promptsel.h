/* promptsel.h: C ABI of libpromptsel, online prompt selection for RL post-training.
 *
 * A selector tracks one small model per prompt id (an arbitrary int64, e.g. the
 * dataset row id `extra_info.index`; string ids map to int64 through
 * promptsel_ids_from_strings) and, each training step, picks which B of the
 * B^ candidate prompts to roll out so that rollouts are spent on prompts that are
 * neither always nor never solved. After the rollouts the trainer feeds back each
 * chosen prompt's success rate. Methods, by name: "mopps" (Beta posterior +
 * Thompson sampling), "dps" (hidden Markov model of the solving state), "gps" (a
 * shared Bayesian model on prompt features) and "hybrid" (per-prompt Beta
 * posteriors with the feature model's prior); the library describes each method's
 * parameters, state and metrics itself.
 *
 * Ownership
 *   Every pointer argument is borrowed for the duration of the call only; the
 *   library keeps no reference to caller memory. Output arrays are allocated by the
 *   caller, together with their capacity (in elements). Handles are created by
 *   promptsel_selector_create/_load/_from_bytes and released by
 *   promptsel_selector_free (NULL is a no-op). A freed handle must not be used again.
 *   Strings returned by the library are static (version, status, method) or
 *   thread-local (promptsel_last_error) and must not be freed. Text outputs are
 *   written NUL-terminated into caller buffers; out_cap counts bytes.
 *
 * Threading
 *   Every function may be called from any thread. Each handle has an internal lock:
 *   concurrent calls on one handle are serialized, calls on different handles run in
 *   parallel. promptsel_selector_free must not race other calls on the same handle.
 *
 * Errors
 *   Functions returning int return PROMPTSEL_OK (0) or a negative PROMPTSEL_E_* code,
 *   and promptsel_last_error() then describes the failure on the calling thread
 *   (until the next int-returning call on that thread, which clears it on success).
 *   A failing call changes no state: it validates every input before it modifies
 *   the selector, and output arguments are only written on success (except
 *   *out_len on PROMPTSEL_E_BUFFER_TOO_SMALL, which receives the needed size).
 *   The library never aborts the host process on bad input.
 *
 * Determinism
 *   Every random choice comes from a generator owned by the handle and seeded from
 *   the `seed` parameter. Its state is part of every checkpoint, so a selector restored from a
 *   checkpoint makes exactly the choices the uninterrupted one would have made.
 *   promptsel_selector_shuffle lends the same generator to the caller's own random
 *   choices.
 */
#ifndef PROMPTSEL_H
#define PROMPTSEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions ---------------------------------------------------------- */

/* The version's one source: the library's version string, the Python package's
 * metadata (hatch_build.py) and promptsel.__version__ all derive from these. */
#define PROMPTSEL_VERSION_MAJOR 0
#define PROMPTSEL_VERSION_MINOR 3
#define PROMPTSEL_VERSION_PATCH 0
#define PROMPTSEL_VERSION_NUMBER \
    (PROMPTSEL_VERSION_MAJOR * 10000 + PROMPTSEL_VERSION_MINOR * 100 + PROMPTSEL_VERSION_PATCH)
/* Bumped on every incompatible change of a signature, struct layout or code. */
#define PROMPTSEL_ABI_VERSION 2

/** @return PROMPTSEL_VERSION_NUMBER of the library actually loaded. */
uint32_t promptsel_version_number(void);
/** @return "MAJOR.MINOR.PATCH" of the PROMPTSEL_VERSION_* macros above, as a static string. */
const char *promptsel_version_string(void);
/** @return PROMPTSEL_ABI_VERSION of the library; compare with the header's at load time. */
uint32_t promptsel_abi_version(void);

/* ---- Status codes (stable: never renumbered) --------------------------- */

#define PROMPTSEL_OK                   0
#define PROMPTSEL_E_INVALID_ARG      (-1)  /* NULL pointer, bad size, NaN, unknown name */
#define PROMPTSEL_E_BUFFER_TOO_SMALL (-2)  /* output capacity too small; *out_len holds the need */
#define PROMPTSEL_E_OUT_OF_RANGE     (-3)  /* a value outside its domain (rate not in [0,1], ...) */
#define PROMPTSEL_E_UNSUPPORTED      (-4)  /* the selector's method has no such operation */
#define PROMPTSEL_E_IO               (-5)  /* a file could not be opened, read, written or renamed */
#define PROMPTSEL_E_CORRUPT          (-6)  /* checkpoint bytes fail magic, length or checksum */
#define PROMPTSEL_E_VERSION          (-7)  /* unsupported checkpoint format version */
#define PROMPTSEL_E_NO_MEMORY        (-8)  /* needs more memory than can be allocated now; nothing changed */
#define PROMPTSEL_E_INTERNAL        (-99)  /* a bug in promptsel: please report it */

/** @return static English text for a status code ("unknown status" otherwise). */
const char *promptsel_status_string(int status);
/**
 * @return the message of the last failing promptsel call on the calling thread, or
 * NULL if the last int-returning call on this thread succeeded. Valid until the
 * next int-returning promptsel call on this thread.
 */
const char *promptsel_last_error(void);

/* ---- Methods and their parameters ------------------------------------- */

/*
 * A method is chosen by name ("mopps", "dps"; promptsel_methods lists them) and
 * configured by LightGBM-style parameters: "key=value" items separated by spaces,
 * commas or newlines, e.g. "seed=42 strategy=threshold lower=0.2 upper=0.8".
 * Unset parameters take their defaults. The library owns the table of every
 * method's parameters (names, types, defaults, domains, one-line docs), its state
 * columns and its metrics, and describes it on request, so callers never restate
 * it. An unknown or misspelled key is PROMPTSEL_E_INVALID_ARG, naming the nearest
 * valid key.
 */

/** Writes the method names, one per line ("mopps\ndps\n"), NUL-terminated.
 *  out_cap counts bytes; *out_len receives the length without the NUL (and the size
 *  needed minus one on PROMPTSEL_E_BUFFER_TOO_SMALL, as every text output). */
int promptsel_methods(char *out, size_t out_cap, size_t *out_len);

/**
 * Writes the description of `method`: one tab-separated line per item,
 *   method  <name>  <summary>
 *   param   <name>  <type: real|int|uint64|bool|choice>  <default>  <domain>  <doc>
 *   state   <column name>  <doc>          (the per-prompt state, in column order)
 *   metric  <name>  <scope: step|all>  <doc>
 * Domains read "[0, 1]", "(0, 1]" or "topk|threshold|uniform".
 * @return PROMPTSEL_E_INVALID_ARG for an unknown method (the message names the
 *         nearest one).
 */
int promptsel_method_describe(char *out, size_t out_cap, size_t *out_len, const char *method);

/* ---- Selector lifetime ------------------------------------------------- */

typedef struct promptsel_selector promptsel_selector;

/**
 * Creates a selector of `method` with no prompts tracked.
 * @param params  "key=value ..." over the method's defaults; NULL or "" for all defaults.
 * @param[out] out  receives the new handle on success; untouched on failure.
 * @return PROMPTSEL_OK, PROMPTSEL_E_INVALID_ARG (unknown method or key, malformed
 *         value), PROMPTSEL_E_OUT_OF_RANGE (a value outside its domain) or
 *         PROMPTSEL_E_UNSUPPORTED (a reserved method).
 */
int promptsel_selector_create(promptsel_selector **out, const char *method, const char *params);

/** Releases a selector. NULL is a no-op. */
void promptsel_selector_free(promptsel_selector *sel);

/** @return the selector's method name (static), or NULL for a NULL handle. */
const char *promptsel_selector_method(const promptsel_selector *sel);

/** Writes every parameter of the selector, "key=value" space-separated in the
 *  order of promptsel_method_describe (text output, as promptsel_methods). */
int promptsel_selector_params(char *out, size_t out_cap, size_t *out_len, const promptsel_selector *sel);

/** *out = number of prompt ids the selector tracks. */
int promptsel_selector_count(size_t *out, const promptsel_selector *sel);

/**
 * Memory of the per-prompt state: *out_bytes = heap bytes held for every tracked
 * prompt (table entries and hash slots, including spare capacity); *out_entry_bytes
 * = bytes of one prompt's entry (its id and model state). Either may be NULL.
 */
int promptsel_selector_memory(size_t *out_bytes, size_t *out_entry_bytes, const promptsel_selector *sel);

/**
 * Writes the tracked ids, in first-seen order, to out[0..*out_len).
 * @return PROMPTSEL_E_BUFFER_TOO_SMALL (with *out_len = count) if out_cap < count.
 */
int promptsel_selector_ids(int64_t *out, size_t out_cap, size_t *out_len,
                           const promptsel_selector *sel);

/** *out = number of state columns per prompt (the "state" lines of the description):
 *  2 for mopps (alpha, beta), 16 for dps (3 beliefs, 9 counts, 3 earlier beliefs,
 *  times observed), 1 for gps (times observed), 3 for hybrid (own evidence, times
 *  observed). */
int promptsel_selector_state_width(size_t *out, const promptsel_selector *sel);

/* ---- One training step ------------------------------------------------- */

/**
 * Chooses batch_size of the n candidates. Ids never seen before start at the prior
 * (and are tracked from then on). Duplicate ids are allowed; every position is its
 * own candidate.
 *
 * @param[out] out_positions  positions into candidate_ids of the chosen candidates,
 *                            in the method's order (topk: best first).
 * @param[out] out_scores     acquisition score of each chosen candidate (mopps: the
 *                            Thompson draw; dps: P(partial) plus the entropy bonus).
 *                            May be NULL.
 * @param[out] out_state      the state row of each chosen candidate, read after the
 *                            choice: state_width doubles per candidate, so that an
 *                            adapter never looks the chosen ids up again. May be NULL.
 * @param out_cap             capacity of the outputs in candidates (rows): >= batch_size.
 * @param[out] out_count      receives batch_size.
 * @return PROMPTSEL_OK, PROMPTSEL_E_INVALID_ARG (NULL arrays, n == 0,
 *         batch_size == 0 or > n), PROMPTSEL_E_BUFFER_TOO_SMALL.
 */
int promptsel_selector_select(int64_t *out_positions, double *out_scores, double *out_state,
                              size_t out_cap, size_t *out_count, promptsel_selector *sel,
                              const int64_t *candidate_ids, size_t n, size_t batch_size);

/**
 * Feeds back the rollouts of one training step: prompt ids[i] was rolled out
 * rollouts[i] times (1 <= rollouts[i] <= 2^20) with mean success success_rate[i]
 * in [0,1]. Duplicate ids are applied in order. All inputs are validated before
 * anything changes. For mopps: alpha <- decay*alpha + (1-decay)*alpha0 + s*k,
 * likewise beta with 1-s. With no_update=true the call validates and returns
 * without changing the model.
 */
int promptsel_selector_update(promptsel_selector *sel, const int64_t *ids,
                              const double *success_rate, const int32_t *rollouts, size_t n);

/**
 * Shuffles values[0..n) in place with the selector's generator, so that a sampler's
 * own random choices (an epoch's order, a random subset) are seeded by `seed` and
 * restored by a checkpoint like the selector's: a handle restored from a checkpoint
 * shuffles exactly as the uninterrupted one would have. Forward Fisher-Yates: for
 * i = 0 .. n-2, swap values[i] and values[i + U(n - i)], where U(m) is uniform in
 * [0, m) by Lemire's multiply-and-reject method on the generator's 64-bit outputs
 * (unbiased: every permutation equally likely). Advances the generator that
 * select uses (by at least n - 1 outputs); no_update does not affect it. n == 0 and
 * n == 1 change nothing (values may be NULL when n == 0).
 * @return PROMPTSEL_OK, PROMPTSEL_E_INVALID_ARG (NULL handle, NULL values with
 *         n > 0, n too large).
 */
int promptsel_selector_shuffle(promptsel_selector *sel, int64_t *values, size_t n);

/* ---- Queries (never create entries; unknown ids report the prior) ------ */

/** out_mean[i] = the model's expected success rate of ids[i]. out_cap >= n. */
int promptsel_selector_predict(double *out_mean, size_t out_cap, const promptsel_selector *sel,
                               const int64_t *ids, size_t n);

/**
 * The state of each id at the current step: columns [first_column, first_column +
 * n_columns) of its row (columns as the description's "state" lines; all of them:
 * 0 and state_width), n_columns doubles per id, row-major. out_cap counts doubles
 * (>= n_columns * n). Reading a few columns of many ids costs only those columns.
 */
int promptsel_selector_get_state(double *out, size_t out_cap, const promptsel_selector *sel,
                                 const int64_t *ids, size_t n, size_t first_column, size_t n_columns);

/** The state row of a prompt never seen: the prior (state_width doubles, out_cap >= width). */
int promptsel_selector_prior(double *out, size_t out_cap, const promptsel_selector *sel);

#define PROMPTSEL_METRICS_STEP 0  /* about the last update: O(1) */
#define PROMPTSEL_METRICS_ALL  1  /* over every tracked prompt: O(prompts) */

/**
 * The method's metrics of `scope` (the description's "metric" lines of that scope,
 * in order) into out[0..*out_len). A method may have none (*out_len = 0).
 */
int promptsel_selector_metrics(double *out, size_t out_cap, size_t *out_len,
                               const promptsel_selector *sel, int scope);

/* ---- Importing state --------------------------------------------------- */

/**
 * Sets the state of each id from rows laid out as promptsel_selector_get_state
 * (state_width doubles per id), adding ids not yet tracked: imports the reference
 * samplers' checkpoints. Every row is validated first (mopps: alpha and beta in
 * [1e-12, 1e15]; dps: counts in [0, 1e15] with positive column sums, beliefs
 * probability vectors within 1e-6, times observed an integer below 2^32).
 */
int promptsel_selector_set_state(promptsel_selector *sel, const int64_t *ids, const double *values,
                                 size_t n);

/**
 * Warm start from offline results (mopps): alpha = alpha0 + weight*successes[i],
 * beta = beta0 + weight*(trials[i] - successes[i]) (replaces any current state of
 * the id). Requires 0 <= successes <= trials, finite, weight >= 0 and finite.
 * @return PROMPTSEL_E_UNSUPPORTED for methods without a warm start.
 */
int promptsel_selector_warm_start(promptsel_selector *sel, const int64_t *ids,
                                  const double *successes, const double *trials, size_t n,
                                  double weight);

/* ---- Prompt features ------------------------------------------------- */

/**
 * Built-in prompt features: signed feature hashing of word unigrams and bigrams,
 * L2-normalised (no model download; the same vector on every machine and process).
 * Text i is text[offsets[i] .. offsets[i+1]) (UTF-8 bytes; words are runs of ASCII
 * letters and digits or non-ASCII bytes, ASCII-lowercased); offsets has n + 1
 * nondecreasing entries starting at 0. out receives n rows of dim floats, row-major
 * (out_cap counts floats, >= n * dim). 1 <= dim <= 2^20. An empty text is all zeros.
 */
int promptsel_featurize_text(float *out, size_t out_cap, const char *text, const size_t *offsets,
                             size_t n, size_t dim);

/** The same for token-id sequences: sequence i is tokens[offsets[i] .. offsets[i+1]). */
int promptsel_featurize_tokens(float *out, size_t out_cap, const int64_t *tokens, const size_t *offsets,
                               size_t n, size_t dim);

/**
 * Feature methods (gps, hybrid): registers or replaces the feature row of each id,
 * features[i*dim .. (i+1)*dim) (finite floats; dim must be the selector's `dim`
 * parameter). Selecting, updating or predicting an id without features is
 * PROMPTSEL_E_INVALID_ARG for these methods; other methods answer
 * PROMPTSEL_E_UNSUPPORTED.
 */
int promptsel_selector_set_features(promptsel_selector *sel, const int64_t *ids, const float *features,
                                    size_t n, size_t dim);

/** *out = the selector's feature dimension (0 for methods without features). */
int promptsel_selector_feature_dim(size_t *out, const promptsel_selector *sel);

/**
 * out_std[i] = standard deviation of the predictive distribution of ids[i]'s success
 * rate (its Beta, moment-matched for gps). PROMPTSEL_E_UNSUPPORTED for dps.
 */
int promptsel_selector_predict_std(double *out_std, size_t out_cap, const promptsel_selector *sel,
                                   const int64_t *ids, size_t n);

/**
 * Test-time compute allocation: samples per prompt (out_counts, each in
 * [min_per, max_per], summing to at most budget, and to exactly budget when the caps
 * allow) maximising the expected number of prompts solved at least once,
 * sum E[1 - (1 - p_i)^n_i] under each prompt's predictive Beta: the greedy by marginal
 * gain (optimal, the objective being concave in each n_i; ties to the lower position),
 * computed in time independent of the budget (a threshold on the gains, bisected), so
 * any budget returns in about the time of a few hundred passes over the n prompts, and
 * the selector's lock is held only to read the predictive Betas. out_mean (may be
 * NULL) receives each prompt's predicted success rate. out_cap >= n.
 * @return PROMPTSEL_E_OUT_OF_RANGE when budget < min_per * n; E_UNSUPPORTED for dps.
 */
int promptsel_selector_allocate(int64_t *out_counts, double *out_mean, size_t out_cap,
                                const promptsel_selector *sel, const int64_t *ids, size_t n,
                                size_t budget, size_t min_per, size_t max_per);

/* ---- Prompt ids from strings ----------------------------------------- */

/**
 * Maps n string prompt ids to int64 ids, the same in every process, language and
 * machine (promptsel.prompt_ids in Python is this function). String i is the bytes
 * bytes[offsets[i] .. offsets[i+1]) (any bytes: UTF-8 is not required, NUL is an
 * ordinary byte); offsets has n + 1 entries, offsets[0] == 0, nondecreasing,
 * offsets[n] == bytes_len. bytes may be NULL when bytes_len == 0.
 *
 * out_ids[i] is, for the bytes s of string i:
 *   - the integer s spells, when s is its canonical decimal spelling exactly as
 *     Python's str(int) writes it: ASCII, matching -?(0|[1-9][0-9]*), not "-0", and
 *     within [-2^63, 2^63 - 1]. So "7" -> 7, "-7" -> -7, "9223372036854775807" ->
 *     INT64_MAX, and a run keyed by str(index) agrees with one keyed by index.
 *   - otherwise (e.g. "", "007", "-0", "+7", " 7", "9223372036854775808", "abc"):
 *     fmix64(fnv1a64(s)) reinterpreted as two's-complement int64, where
 *       fnv1a64: h = 0xcbf29ce484222325; for each byte b: h = (h ^ b) * 0x100000001b3
 *       fmix64:  h ^= h >> 33; h *= 0xff51afd7ed558ccd; h ^= h >> 33;
 *                h *= 0xc4ceb9fe1a85ec53; h ^= h >> 33
 *     (all arithmetic modulo 2^64). E.g. "" -> -1166397803181037274,
 *     "abc" -> 3741276987793851837.
 * Distinct strings may collide (probability about n^2 / 2^65 for n strings), and a
 * hashed string may equal some integer id; this function does not look for either
 * (Python's promptsel.prompt_ids does, within one call). It reads no selector and
 * changes nothing. out_cap counts ids (>= n).
 * @return PROMPTSEL_OK, PROMPTSEL_E_INVALID_ARG (NULL arrays, offsets not as above,
 *         sizes too large), PROMPTSEL_E_BUFFER_TOO_SMALL.
 */
int promptsel_ids_from_strings(int64_t *out_ids, size_t out_cap, const uint8_t *bytes, size_t bytes_len,
                               const size_t *offsets, size_t n);

/* ---- Checkpoints ------------------------------------------------------- */

/**
 * Serializes the whole state (parameters, generator, every prompt) into out.
 * Binary, little-endian, versioned, with a CRC-32 over the content.
 * @return PROMPTSEL_E_BUFFER_TOO_SMALL with *out_len = size needed if out_cap is
 *         too small (out may be NULL then).
 */
int promptsel_selector_serialize(uint8_t *out, size_t out_cap, size_t *out_len,
                                 const promptsel_selector *sel);

/** Replaces the whole state of sel (method and parameters included) with serialized bytes. */
int promptsel_selector_deserialize(promptsel_selector *sel, const uint8_t *data, size_t len);

/** Creates a new selector from serialized bytes. */
int promptsel_selector_from_bytes(promptsel_selector **out, const uint8_t *data, size_t len);

/**
 * Writes the serialized state to `path` atomically: a temporary file beside it,
 * fsync, rename over path, fsync of the directory. A crash never leaves a partial
 * file at `path`; the previous checkpoint survives any failure.
 */
int promptsel_selector_save(const promptsel_selector *sel, const char *path);

/** Creates a new selector from a file written by promptsel_selector_save (this
 *  version's format, or format 1 of promptsel 0.2). */
int promptsel_selector_load(promptsel_selector **out, const char *path);

/**
 * Writes len bytes to `path` atomically, as promptsel_selector_save does (for a
 * caller's own files beside a checkpoint, e.g. the reference samplers' JSON).
 */
int promptsel_file_write_atomic(const char *path, const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* PROMPTSEL_H */
