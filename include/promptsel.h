/* promptsel.h: C ABI of libpromptsel, online prompt selection for RL post-training.
 *
 * A selector tracks one small model per prompt id (an arbitrary int64, e.g. the
 * dataset row id `extra_info.index`) and, each training step, picks which B of the
 * B^ candidate prompts to roll out so that rollouts are spent on prompts that are
 * neither always nor never solved. After the rollouts the trainer feeds back each
 * chosen prompt's success rate. Methods: MoPPS (Beta posterior + Thompson
 * sampling) and DPS (hidden Markov model of the solving state).
 *
 * Ownership
 *   Every pointer argument is borrowed for the duration of the call only; the
 *   library keeps no reference to caller memory. Output arrays are allocated by the
 *   caller, together with their capacity (in elements). Handles are created by
 *   promptsel_selector_create/_load/_from_bytes and released by
 *   promptsel_selector_free (NULL is a no-op). A freed handle must not be used again.
 *   Strings returned by the library are static (version, status) or thread-local
 *   (promptsel_last_error) and must not be freed.
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
 *   the config. Its state is part of every checkpoint, so a selector restored from a
 *   checkpoint makes exactly the choices the uninterrupted one would have made.
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
#define PROMPTSEL_VERSION_MINOR 2
#define PROMPTSEL_VERSION_PATCH 0
#define PROMPTSEL_VERSION_NUMBER \
    (PROMPTSEL_VERSION_MAJOR * 10000 + PROMPTSEL_VERSION_MINOR * 100 + PROMPTSEL_VERSION_PATCH)
/* Bumped on every incompatible change of a signature, struct layout or code. */
#define PROMPTSEL_ABI_VERSION 1

/** @return PROMPTSEL_VERSION_NUMBER of the library actually loaded. */
uint32_t promptsel_version_number(void);
/** @return "MAJOR.MINOR.PATCH" of the PROMPTSEL_VERSION_* macros above, as a static string. */
const char *promptsel_version_string(void);
/** @return PROMPTSEL_ABI_VERSION of the library; compare with the header's at load time. */
uint32_t promptsel_abi_version(void);

/* ---- Status codes (stable: never renumbered) --------------------------- */

#define PROMPTSEL_OK                   0
#define PROMPTSEL_E_INVALID_ARG      (-1)  /* NULL pointer, bad size, NaN, unknown enum value */
#define PROMPTSEL_E_BUFFER_TOO_SMALL (-2)  /* output capacity too small; *out_len holds the need */
#define PROMPTSEL_E_OUT_OF_RANGE     (-3)  /* a value outside its domain (rate not in [0,1], ...) */
#define PROMPTSEL_E_UNSUPPORTED      (-4)  /* the selector's method has no such operation */
#define PROMPTSEL_E_IO               (-5)  /* a file could not be opened, read, written or renamed */
#define PROMPTSEL_E_CORRUPT          (-6)  /* checkpoint bytes fail magic, length or checksum */
#define PROMPTSEL_E_VERSION          (-7)  /* unsupported checkpoint format or config struct size */
#define PROMPTSEL_E_NO_MEMORY        (-8)  /* a size too large to allocate */
#define PROMPTSEL_E_INTERNAL        (-99)  /* a bug in promptsel: please report it */

/** @return static English text for a status code ("unknown status" otherwise). */
const char *promptsel_status_string(int status);
/**
 * @return the message of the last failing promptsel call on the calling thread, or
 * NULL if the last int-returning call on this thread succeeded. Valid until the
 * next int-returning promptsel call on this thread.
 */
const char *promptsel_last_error(void);

/* ---- Configuration ----------------------------------------------------- */

#define PROMPTSEL_METHOD_MOPPS 1  /* Beta posterior per prompt, Thompson sampling */
#define PROMPTSEL_METHOD_DPS   2  /* HMM of the solving state per prompt */
#define PROMPTSEL_METHOD_GPS   3  /* reserved */

#define PROMPTSEL_STRATEGY_TOPK         1  /* MoPPS: nearest the target; DPS: most likely partial */
#define PROMPTSEL_STRATEGY_THRESHOLD    2  /* MoPPS: uniform among draws inside [lower, upper] */
#define PROMPTSEL_STRATEGY_UNIFORM      3  /* uniform without replacement; model still updated */
#define PROMPTSEL_STRATEGY_TOPK_ENTROPY 4  /* DPS: P(partial) + entropy_weight * H(belief) */

#define PROMPTSEL_DPS_PRIOR_CONSTANT  0  /* every transition count = dps_prior_alpha */
#define PROMPTSEL_DPS_PRIOR_PROGRESS  1
#define PROMPTSEL_DPS_PRIOR_STABILITY 2
#define PROMPTSEL_DPS_PRIOR_LOCAL     3

#define PROMPTSEL_DPS_PI_UNIFORM  0
#define PROMPTSEL_DPS_PI_UNSOLVED 1
#define PROMPTSEL_DPS_PI_PARTIAL  2
#define PROMPTSEL_DPS_PI_SOLVED   3

/**
 * Selector configuration. Always start from promptsel_config_init(), which sets
 * struct_size and the defaults of the method, then change the fields you need.
 */
typedef struct promptsel_config {
    uint32_t struct_size;        /* sizeof(promptsel_config); set by promptsel_config_init */
    int32_t method;              /* PROMPTSEL_METHOD_* */
    int32_t strategy;            /* PROMPTSEL_STRATEGY_*; default TOPK */
    int32_t no_update;           /* nonzero: updates are accepted but leave the model frozen */
    uint64_t seed;               /* seeds the handle's generator; default 0 */
    /* MoPPS */
    double target;               /* topk target success rate in [0,1]; default 0.5 */
    double lower;                /* threshold interval [lower, upper] in [0,1]; default 0.3 */
    double upper;                /*   default 0.7 */
    double decay;                /* lambda in (0,1]; default 1 (no forgetting) */
    double prior_alpha;          /* Beta prior alpha0 in [1e-12, 1e15]; default 1 */
    double prior_beta;           /* Beta prior beta0 in [1e-12, 1e15]; default 1 */
    /* DPS */
    int32_t dps_prior_shape;     /* PROMPTSEL_DPS_PRIOR_*; default CONSTANT */
    int32_t dps_prior_pi;        /* PROMPTSEL_DPS_PI_*; default UNIFORM */
    double dps_prior_alpha;      /* count for PRIOR_CONSTANT, in [1e-12, 1e15]; default 1 */
    double dps_transition_decay; /* lambda_T in (0,1]; default 1 */
    double dps_entropy_weight;   /* w >= 0 for TOPK_ENTROPY; default 0 */
} promptsel_config;

/**
 * Fills *out with the defaults of `method` (PROMPTSEL_METHOD_*).
 * @return PROMPTSEL_OK, PROMPTSEL_E_INVALID_ARG (NULL) or PROMPTSEL_E_UNSUPPORTED.
 */
int promptsel_config_init(promptsel_config *out, int32_t method);

/* ---- Selector lifetime ------------------------------------------------- */

typedef struct promptsel_selector promptsel_selector;

/**
 * Creates a selector with no prompts tracked.
 * @param[out] out  receives the new handle on success; untouched on failure.
 * @return PROMPTSEL_OK, PROMPTSEL_E_INVALID_ARG, PROMPTSEL_E_OUT_OF_RANGE,
 *         PROMPTSEL_E_VERSION (struct_size mismatch) or PROMPTSEL_E_UNSUPPORTED.
 */
int promptsel_selector_create(promptsel_selector **out, const promptsel_config *config);

/** Releases a selector. NULL is a no-op. */
void promptsel_selector_free(promptsel_selector *sel);

/** Copies the selector's configuration into *out. */
int promptsel_selector_get_config(promptsel_config *out, const promptsel_selector *sel);

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

/* ---- One training step ------------------------------------------------- */

/**
 * Chooses batch_size of the n candidates. Ids never seen before start at the prior
 * (and are tracked from then on). Duplicate ids are allowed; every position is its
 * own candidate.
 *
 * @param[out] out_positions  positions into candidate_ids of the chosen candidates,
 *                            in the method's order (topk: best first).
 * @param[out] out_scores     acquisition score of each chosen candidate: the
 *                            Thompson draw r for MoPPS, the predicted probability
 *                            of the partial state (plus the entropy bonus) for DPS.
 *                            May be NULL.
 * @param out_cap             capacity of both output arrays; must be >= batch_size.
 * @param[out] out_count      receives batch_size.
 * @return PROMPTSEL_OK, PROMPTSEL_E_INVALID_ARG (NULL arrays, n == 0,
 *         batch_size == 0 or > n), PROMPTSEL_E_BUFFER_TOO_SMALL.
 */
int promptsel_selector_select(int64_t *out_positions, double *out_scores, size_t out_cap,
                              size_t *out_count, promptsel_selector *sel,
                              const int64_t *candidate_ids, size_t n, size_t batch_size);

/**
 * Feeds back the rollouts of one training step: prompt ids[i] was rolled out
 * rollouts[i] times (1 <= rollouts[i] <= 2^20) with mean success success_rate[i]
 * in [0,1]. Duplicate ids
 * are applied in order. All inputs are validated before anything changes.
 * For MoPPS: alpha <- decay*alpha + (1-decay)*alpha0 + s*k, likewise beta with 1-s.
 * With no_update set the call validates and returns without changing the model.
 */
int promptsel_selector_update(promptsel_selector *sel, const int64_t *ids,
                              const double *success_rate, const int32_t *rollouts, size_t n);

/* ---- Queries (never create entries; unknown ids report the prior) ------ */

/** out_mean[i] = the model's expected success rate of ids[i]. out_cap >= n. */
int promptsel_selector_predict(double *out_mean, size_t out_cap, const promptsel_selector *sel,
                               const int64_t *ids, size_t n);

/**
 * MoPPS only: Beta posterior parameters of each id. Either output may be NULL.
 * @return PROMPTSEL_E_UNSUPPORTED for other methods.
 */
int promptsel_selector_posterior(double *out_alpha, double *out_beta, size_t out_cap,
                                 const promptsel_selector *sel, const int64_t *ids, size_t n);

/**
 * DPS only: predicted belief over (unsolved, partial, solved) at the next step.
 * out[3*i + 0..2] receives the belief of ids[i]; out_cap counts doubles (>= 3*n).
 * @return PROMPTSEL_E_UNSUPPORTED for other methods.
 */
int promptsel_selector_state_probs(double *out, size_t out_cap, const promptsel_selector *sel,
                                   const int64_t *ids, size_t n);

/** DPS: prediction quality of the last update call (the authors' trainer logs these). */
typedef struct promptsel_dps_update_stats {
    uint64_t observed;           /* observations in the last update */
    uint64_t confusion[9];       /* [3*observed_state + argmax of the predicted belief] */
    double accuracy;             /* argmax(belief) == observed state; NaN if none observed */
    double partial_precision;    /* of the partial state; NaN when nothing predicted partial */
    double partial_recall;       /* NaN when nothing observed partial */
} promptsel_dps_update_stats;

/** DPS: statistics over every tracked prompt. */
typedef struct promptsel_dps_summary {
    uint64_t prompts;            /* prompts tracked */
    double mean_entropy;         /* mean of -sum p log(p + 1e-10) of the beliefs */
    double mean_partial;         /* mean predicted probability of the partial state */
    uint64_t sampled_min;        /* times selected (observed): min, max, mean, std */
    uint64_t sampled_max;
    double sampled_mean;
    double sampled_std;
} promptsel_dps_summary;

/** DPS only: *out = statistics of the last update call. O(1). */
int promptsel_dps_update_stats_get(promptsel_dps_update_stats *out, const promptsel_selector *sel);

/** DPS only: *out = statistics over every tracked prompt. O(prompts tracked). */
int promptsel_dps_summary_get(promptsel_dps_summary *out, const promptsel_selector *sel);

/* ---- Importing state --------------------------------------------------- */

/**
 * MoPPS only: warm start from offline results, alpha = alpha0 + weight*successes[i],
 * beta = beta0 + weight*(trials[i] - successes[i]) (replaces any current state of
 * the id). Requires 0 <= successes <= trials, finite, weight >= 0 and finite.
 */
int promptsel_selector_warm_start(promptsel_selector *sel, const int64_t *ids,
                                  const double *successes, const double *trials, size_t n,
                                  double weight);

/**
 * MoPPS only: sets alpha[i], beta[i] (both in [1e-12, 1e15]) for each id, adding ids
 * not yet tracked. Used to import a reference `index_score.json` checkpoint.
 */
int promptsel_selector_set_posterior(promptsel_selector *sel, const int64_t *ids,
                                     const double *alpha, const double *beta, size_t n);

/**
 * DPS only: the full state of each id at the current step (the prior for unseen
 * ids), as the reference's `hmm_params.json` holds it. Per id i:
 *   out_alpha[9*i + 3*to + from]  transition counts (row = next state, column = current)
 *   out_pi[3*i + k]               predicted next-step belief
 *   out_pi_before[3*i + k]        the belief one step earlier
 *   out_sampled[i]                times the prompt was observed
 * Any output may be NULL. out_cap counts prompts (>= n).
 */
int promptsel_dps_get_state(double *out_alpha, double *out_pi, double *out_pi_before,
                            int64_t *out_sampled, size_t out_cap, const promptsel_selector *sel,
                            const int64_t *ids, size_t n);

/**
 * DPS only: sets the state of each id, laid out as promptsel_dps_get_state (imports
 * `hmm_params.json`). Counts finite and >= 0 with positive column sums; beliefs
 * finite, >= 0, summing to 1 within 1e-6; 0 <= sampled < 2^32; counts <= 1e15.
 */
int promptsel_dps_set_state(promptsel_selector *sel, const int64_t *ids, const double *alpha,
                            const double *pi, const double *pi_before, const int64_t *sampled,
                            size_t n);

/* ---- Checkpoints ------------------------------------------------------- */

/**
 * Serializes the whole state (config, generator, every prompt) into out.
 * Binary, little-endian, versioned, with a CRC-32 over the content.
 * @return PROMPTSEL_E_BUFFER_TOO_SMALL with *out_len = size needed if out_cap is
 *         too small (out may be NULL then).
 */
int promptsel_selector_serialize(uint8_t *out, size_t out_cap, size_t *out_len,
                                 const promptsel_selector *sel);

/** Replaces the whole state of sel (config included) with serialized bytes. */
int promptsel_selector_deserialize(promptsel_selector *sel, const uint8_t *data, size_t len);

/** Creates a new selector from serialized bytes. */
int promptsel_selector_from_bytes(promptsel_selector **out, const uint8_t *data, size_t len);

/**
 * Writes the serialized state to `path` atomically: a temporary file beside it,
 * fsync, rename over path, fsync of the directory. A crash never leaves a partial
 * file at `path`; the previous checkpoint survives any failure.
 */
int promptsel_selector_save(const promptsel_selector *sel, const char *path);

/** Creates a new selector from a file written by promptsel_selector_save. */
int promptsel_selector_load(promptsel_selector **out, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* PROMPTSEL_H */
