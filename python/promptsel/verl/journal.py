"""The update journal that makes a CurriculumSampler resume exactly.

verl writes `data.pt` (holding the sampler's state_dict) *before* the step's
`update`, so a checkpoint always lacks one update. With a journal every update is
appended here durably (write + fsync) before `update` returns; on resume the one
update the checkpoint misses is replayed from it and the entries after it (steps
the resumed run will redo) are discarded.

File `promptsel_journal.bin`, little-endian:
- header: magic b"PSELJRN2", run id (16 bytes), the dataset's fingerprint (u64
  prompts, u32 CRC-32 of its int64 ids in dataset order, as the state_dict records
  them), CRC-32 of those 36 bytes (u32). (b"PSELJRN1" files, without the
  fingerprint, are still read.)
- records: u32 payload length, u32 CRC-32 of the payload, payload =
  u64 seq (updates applied before this one), u32 n_batch, u32 n_groups,
  i64 batch positions[n_batch] (the batch this update is feedback for),
  i64 ids[n_groups], f64 success[n_groups], i32 rollouts[n_groups].
The file keeps the last `keep` updates (compacted, atomically, whenever it holds
twice that many), so it stays bounded on long runs; a resume from a checkpoint
older than that finds no record and says so.

A torn or corrupt record ends the journal: it and anything after it are dropped,
with a warning naming the file and the bytes dropped, by the resume that reads it
(only the last append can be torn, by a crash). An append that fails is cut off
again (truncated to the previous length, which every append checks first), so the
journal stays readable; the sampler applies an update only after its record is on
disk. Replayed values are validated again by the library's update, like any other
input.
"""

import os
import struct
import warnings
import zlib
from typing import List, NamedTuple, Optional

import numpy as np

from .. import _native
from ..errors import CheckpointError, PromptSelError, PromptSelIOError, with_context

JOURNAL_FILE = "promptsel_journal.bin"
#: Updates kept by default: a resume from the latest checkpoints is exact.
DEFAULT_KEEP = 1000
_MAGIC_V1 = b"PSELJRN1"
_MAGIC = b"PSELJRN2"
_HEADER_V1 = len(_MAGIC_V1) + 16 + 4
_DATASET = struct.Struct("<QI")
_HEADER = len(_MAGIC) + 16 + _DATASET.size + 4
_RECORD = struct.Struct("<II")
_PAYLOAD = struct.Struct("<QII")
#: A record larger than this is corrupt (2^24 groups is far beyond any batch).
_MAX_PAYLOAD = _PAYLOAD.size + (1 << 24) * 28


class Record(NamedTuple):
    seq: int
    batch: np.ndarray
    ids: np.ndarray
    success: np.ndarray
    rollouts: np.ndarray


class Dataset(NamedTuple):
    """What a journal records of the dataset it was written on."""

    prompts: int
    ids_crc: int

    def __str__(self):
        return f"{self.prompts} prompts, ids CRC-32 {self.ids_crc:08x}"


class Contents(NamedTuple):
    run_id: bytes
    dataset: Optional[Dataset]  # None for a PSELJRN1 file
    records: List[Record]
    intact: int                 # bytes up to the end of the last intact record
    size: int                   # bytes in the file


def _header(run_id: bytes, dataset: Optional[Dataset]) -> bytes:
    if dataset is None:  # the class's own tests read journals without a dataset
        dataset = Dataset(0, 0)
    body = _MAGIC + run_id + _DATASET.pack(dataset.prompts, dataset.ids_crc)
    return body + struct.pack("<I", zlib.crc32(body))


def _encode(r: Record) -> bytes:
    payload = b"".join((_PAYLOAD.pack(r.seq, r.batch.size, r.ids.size),
                        np.ascontiguousarray(r.batch, "<i8").tobytes(), np.ascontiguousarray(r.ids, "<i8").tobytes(),
                        np.ascontiguousarray(r.success, "<f8").tobytes(),
                        np.ascontiguousarray(r.rollouts, "<i4").tobytes()))
    return _RECORD.pack(len(payload), zlib.crc32(payload)) + payload


def _decode(payload: bytes) -> Optional[Record]:
    seq, nb, ng = _PAYLOAD.unpack_from(payload)
    if len(payload) != _PAYLOAD.size + 8 * nb + 20 * ng:
        return None
    o = _PAYLOAD.size
    batch = np.frombuffer(payload, "<i8", nb, o).astype(np.int64)
    o += 8 * nb
    ids = np.frombuffer(payload, "<i8", ng, o).astype(np.int64)
    o += 8 * ng
    success = np.frombuffer(payload, "<f8", ng, o).astype(np.float64)
    o += 8 * ng
    rollouts = np.frombuffer(payload, "<i4", ng, o).astype(np.int32)
    return Record(seq, batch, ids, success, rollouts)


def _parse_header(data: bytes, path: str):
    """(run id, dataset or None, header length)."""
    for magic, size in ((_MAGIC, _HEADER), (_MAGIC_V1, _HEADER_V1)):
        if data[:len(magic)] == magic and len(data) >= size and \
                struct.unpack_from("<I", data, size - 4)[0] == zlib.crc32(data[:size - 4]):
            run_id = data[len(magic):len(magic) + 16]
            dataset = Dataset(*_DATASET.unpack_from(data, len(magic) + 16)) if magic == _MAGIC else None
            return run_id, dataset, size
    raise CheckpointError(f"{path} is not a promptsel journal (bad header)")


class Journal:
    """One run's journal in `directory`, identified by `run_id` (16 bytes), written
    on `dataset` (a Dataset fingerprint, recorded in the header)."""

    def __init__(self, directory, run_id: bytes, keep: int = DEFAULT_KEEP, dataset: Optional[Dataset] = None):
        self.path = os.path.join(os.fspath(directory), JOURNAL_FILE)
        self.run_id = run_id
        self.keep = keep
        self.dataset = dataset
        self._started = False
        self._records = 0  # in the file, once started
        self._size = 0     # bytes of the file this journal vouches for, once started
        self._last = 0     # bytes of the last append (for retract)

    def scan(self) -> Optional[Contents]:
        """What the file holds (None when it is missing): its header and the intact
        records. A bad header is a CheckpointError; a torn or corrupt record ends the
        records (`intact` < `size` then)."""
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise PromptSelIOError(f"{self.path}: cannot read the journal: {e}") from e
        run_id, dataset, o = _parse_header(data, self.path)
        records = []
        while o + _RECORD.size <= len(data):
            length, crc = _RECORD.unpack_from(data, o)
            payload = data[o + _RECORD.size:o + _RECORD.size + length]
            if length < _PAYLOAD.size or length > _MAX_PAYLOAD or len(payload) != length or zlib.crc32(payload) != crc:
                break
            record = _decode(payload)
            if record is None:
                break
            records.append(record)
            o += _RECORD.size + length
        return Contents(run_id, dataset, records, o, len(data))

    def read(self) -> tuple:
        """(run id of the file or None, its intact records). A missing file has none."""
        contents = self.scan()
        return (None, []) if contents is None else (contents.run_id, contents.records)

    def rewrite(self, records: List[Record]) -> None:
        """Replaces the file, atomically, by this run's header and `records`: on a
        failure the old file is untouched (PromptSelIOError)."""
        records = records[-self.keep:]
        data = _header(self.run_id, self.dataset) + b"".join(map(_encode, records))
        try:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            _native.write_atomic(os.fsencode(self.path), data)
        except PromptSelError as e:
            raise with_context(e, f"{self.path}: cannot write the journal (the old file is unchanged)") from e
        except OSError as e:
            raise PromptSelIOError(f"{self.path}: cannot write the journal (the old file is unchanged): {e}") from e
        self._started = True
        self._records = len(records)
        self._size = len(data)

    def append(self, record: Record) -> None:
        """Appends one record durably (write + fsync). The first append of a run that
        did not resume starts a fresh file: a journal left by another run is never
        extended. A failed append raises PromptSelIOError and leaves the file as it
        was before the call (cut back to its previous length)."""
        if not self._started:
            self.rewrite([])
        data = _encode(record)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as e:
            raise PromptSelIOError(f"{self.path}: journal append failed: cannot open: {e}; "
                                   "the update was not applied (selector and journal unchanged)") from e
        done = 0
        try:
            if os.fstat(fd).st_size != self._size:  # the tail of an earlier failed append
                os.ftruncate(fd, self._size)
            while done < len(data):
                done += os.pwrite(fd, data[done:], self._size + done)
            os.fsync(fd)
        except OSError as e:
            cut = self._cut(fd, self._size)
            after = (f"was cut back to its previous {self._size} bytes" if cut
                     else "will be cut back to its previous length by the next append")
            raise PromptSelIOError(f"{self.path}: journal append failed after {done} of {len(data)} bytes: {e}; "
                                   f"the update was not applied (selector unchanged) and the journal {after}") from e
        finally:
            os.close(fd)
        self._size += len(data)
        self._last = len(data)
        self._records += 1

    def retract(self) -> None:
        """Undoes the last append (its update could not be applied). Best effort: if
        the file cannot be cut now, the next append cuts it first."""
        self._size -= self._last
        self._records -= 1
        self._last = 0
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            return
        try:
            self._cut(fd, self._size)
        finally:
            os.close(fd)

    @staticmethod
    def _cut(fd, size) -> bool:
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
            return True
        except OSError:
            return False

    def compact_if_due(self) -> None:
        """Keeps the file bounded: once it holds twice `keep` records, rewrites it
        with the last `keep` (atomically, so a failure leaves it whole, and is only
        a warning: the next append tries again)."""
        if self._records <= 2 * self.keep:
            return
        try:
            self.rewrite(self.read()[1])
        except PromptSelError as e:
            warnings.warn(f"{e}; the journal stays uncompacted until a later update", stacklevel=3)
