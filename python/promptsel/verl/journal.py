"""The update journal that makes a CurriculumSampler resume exactly.

verl writes `data.pt` (holding the sampler's state_dict) *before* the step's
`update`, so a checkpoint always lacks one update. With a journal every update is
appended here durably (write + fsync) before `update` returns; on resume the one
update the checkpoint misses is replayed from it and the entries after it (steps
the resumed run will redo) are discarded.

File `promptsel_journal.bin`, little-endian:
- header: magic b"PSELJRN1", run id (16 bytes), CRC-32 of those 24 bytes (u32);
- records: u32 payload length, u32 CRC-32 of the payload, payload =
  u64 seq (updates applied before this one), u32 n_batch, u32 n_groups,
  i64 batch positions[n_batch] (the batch this update is feedback for),
  i64 ids[n_groups], f64 success[n_groups], i32 rollouts[n_groups].
The file keeps the last `keep` updates (compacted, atomically, whenever it holds
twice that many), so it stays bounded on long runs; a resume from a checkpoint
older than that finds no record and says so.

A torn or corrupt record ends the journal: it and anything after it are ignored
(only the last append can be torn). Replayed values are validated again by the
library's update, like any other input.
"""

import os
import struct
import zlib
from typing import List, NamedTuple, Optional

import numpy as np

from .. import _native
from ..errors import CheckpointError

JOURNAL_FILE = "promptsel_journal.bin"
#: Updates kept by default: a resume from the latest checkpoints is exact.
DEFAULT_KEEP = 1000
_MAGIC = b"PSELJRN1"
_HEADER = len(_MAGIC) + 16 + 4
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


def _header(run_id: bytes) -> bytes:
    body = _MAGIC + run_id
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


class Journal:
    """One run's journal in `directory`, identified by `run_id` (16 bytes)."""

    def __init__(self, directory, run_id: bytes, keep: int = DEFAULT_KEEP):
        self.path = os.path.join(os.fspath(directory), JOURNAL_FILE)
        self.run_id = run_id
        self.keep = keep
        self._started = False
        self._records = 0  # in the file, once started

    def read(self) -> tuple:
        """(run id of the file or None, its intact records). A missing file has none."""
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None, []
        if len(data) < _HEADER or data[:len(_MAGIC)] != _MAGIC or \
                struct.unpack_from("<I", data, _HEADER - 4)[0] != zlib.crc32(data[:_HEADER - 4]):
            raise CheckpointError(f"{self.path} is not a promptsel journal (bad header)")
        run_id, records, o = data[len(_MAGIC):_HEADER - 4], [], _HEADER
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
        return run_id, records

    def rewrite(self, records: List[Record]) -> None:
        """Replaces the file, atomically, by this run's header and `records`."""
        records = records[-self.keep:]
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        _native.write_atomic(os.fsencode(self.path), _header(self.run_id) + b"".join(map(_encode, records)))
        self._started = True
        self._records = len(records)

    def append(self, record: Record) -> None:
        """Appends one record durably. The first append of a run that did not resume
        starts a fresh file: a journal left by another run is never extended."""
        if not self._started:
            self.rewrite([])
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        try:
            data = _encode(record)
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
        self._records += 1
        if self._records > 2 * self.keep:
            self.rewrite(self.read()[1])
