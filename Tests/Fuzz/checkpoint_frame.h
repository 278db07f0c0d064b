/* checkpoint_frame.h: the promptsel checkpoint frame as the fuzzers see it.
 *
 * The frame is Sources/PromptSelCore/Checkpoint/CheckpointFormat.swift:
 *
 *     0   8  magic "PSELCKPT"
 *     8   4  format version (u32: 3; 2 and 1 (promptsel 0.2) are read too)
 *     12  4  method (u32 checkpoint id: 1 mopps, 2 dps)
 *     16  8  payload length L (u64)
 *     24  L  payload
 *     24+L 4 CRC-32 (zlib's) of bytes [0, 24+L)
 *
 * Payload: parameters (formats 2 and 3: u32 length + key=value text; format 1: a fixed
 * 100-byte binary config), generator state (4 x u64), step count (u64), then the
 * model's own payload (MoPPSModel.encode, DPSModel+Selection.swift encode).
 *
 * ckpt_parse() maps an input onto typed blocks (header fields, parameter fields,
 * per-prompt columns) so that the structure-aware mutator can change one field and
 * recompute the length and the CRC. A model payload it does not know (a new method)
 * is one opaque block: the mutator still fixes the frame around it.
 */
#ifndef PROMPTSEL_FUZZ_CHECKPOINT_FRAME_H
#define PROMPTSEL_FUZZ_CHECKPOINT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define CKPT_HEADER 24
#define CKPT_MIN (CKPT_HEADER + 4)

uint32_t ckpt_crc32(const uint8_t *p, size_t n);

/* Writes the payload length and the CRC of a buffer that already has room for the
 * CRC at its end (size >= CKPT_MIN): the frame becomes self-consistent. */
void ckpt_fix(uint8_t *buf, size_t size);

static inline uint32_t ckpt_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t ckpt_rd64(const uint8_t *p) { return ckpt_rd32(p) | (uint64_t)ckpt_rd32(p + 4) << 32; }
static inline void ckpt_wr32(uint8_t *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k));
}
static inline void ckpt_wr64(uint8_t *p, uint64_t v) {
    for (int k = 0; k < 8; k++) p[k] = (uint8_t)(v >> (8 * k));
}

typedef enum { FK_U32, FK_U64, FK_I32, FK_I64, FK_F64, FK_TEXT, FK_OPAQUE } ckpt_kind;

/* What a block holds, for mutations that need to know more than its type. */
typedef enum {
    FR_HEADER,      /* version, method, length */
    FR_PARAM_LEN,   /* u32 length of the parameter text */
    FR_PARAMS,      /* parameter text, or format 1's binary config fields */
    FR_RNG,         /* generator state */
    FR_STEPS,       /* selector step count */
    FR_MODEL,       /* a model field that is not per prompt (DPS step, counters) */
    FR_COUNT,       /* the prompt count n */
    FR_COLUMN,      /* a per-prompt column (n elements of `group` values) */
    FR_OPAQUE,      /* bytes the parser does not understand */
} ckpt_role;

typedef struct {
    size_t off;      /* byte offset in the input */
    size_t count;    /* number of elements */
    size_t elem;     /* bytes per element */
    size_t group;    /* elements per prompt (columns), else 1 */
    ckpt_kind kind;
    ckpt_role role;
} ckpt_block;

#define CKPT_MAX_BLOCKS 48

typedef struct {
    int framed;               /* magic present and size >= CKPT_MIN */
    uint32_t version, method;
    size_t payload_end;       /* size - 4: where the CRC sits */
    size_t model_off;         /* start of the model payload (0 if not reached) */
    size_t count_off;         /* offset of the prompt count (0 if unknown) */
    uint64_t n;               /* prompt count, when the model layout is known */
    int model_known;          /* every block up to the CRC was parsed */
    size_t nblocks;
    ckpt_block blocks[CKPT_MAX_BLOCKS];
    size_t ncolumns;          /* per-prompt columns among blocks, in file order */
    size_t columns[16];       /* indices into blocks */
} ckpt_layout;

/* Maps `data` onto blocks as far as it can (never fails; see the fields). */
void ckpt_parse(const uint8_t *data, size_t size, ckpt_layout *out);

#endif
