"""Duck-typed stand-ins for verl's objects, numpy only (tier 0: no verl, no torch).
The real objects are exercised by python/tests/verl_real (make test-verl)."""

import uuid

import numpy as np


class FakeFrame:
    """The slice of a HF `datasets.Dataset` the sampler reads: column names,
    len and column access."""

    def __init__(self, rows):
        self.rows = rows
        self.column_names = sorted({k for r in rows for k in r})

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, column):
        return [r.get(column) for r in self.rows]


class FakeDataset:
    """RLHFDataset's shape: `.dataframe` after filtering, positions index it."""

    def __init__(self, ids, texts=None):
        texts = texts or [f"prompt number {i} about topic {int(i) % 7}" for i in range(len(ids))]
        self.dataframe = FakeFrame([
            {"prompt": [{"role": "user", "content": t}], "extra_info": {"index": i, "split": "train"}}
            for i, t in zip(ids, texts)])

    def __len__(self):
        return len(self.dataframe)


class FakeDataProto:
    """DataProto's shape: `.batch` (tensors by key), `.non_tensor_batch` (object
    arrays), row selection by an index array."""

    def __init__(self, tensors, non_tensors):
        self.batch = tensors
        self.non_tensor_batch = non_tensors

    def __len__(self):
        return len(self.non_tensor_batch["uid"])

    def __getitem__(self, rows):
        rows = np.asarray(rows)
        return FakeDataProto({k: v[rows] for k, v in self.batch.items()},
                             {k: v[rows] for k, v in self.non_tensor_batch.items()})


def rollout_batch(ids, success_prob, n, rng, *, use_acc=True, shuffle=True, index_column=False):
    """What verl's update() gets for one step: B prompts (`ids`) repeated n times
    with interleave, a uid per drawn prompt, per-rollout outcomes drawn from each
    prompt's solve probability, the rows shuffled as _balance_batch does."""
    ids = list(ids)
    uids = [str(uuid.UUID(int=int(rng.integers(1 << 62)))) for _ in ids]
    rows_ids = np.repeat(np.array(ids, dtype=object), n)
    rows_uid = np.repeat(np.array(uids, dtype=object), n)
    outcome = (rng.random(len(ids) * n) < np.repeat([success_prob(i) for i in ids], n)).astype(np.float64)
    scores = np.zeros((len(ids) * n, 5), dtype=np.float32)
    scores[:, -1] = outcome
    non_tensor = {"uid": rows_uid, "data_source": np.array(["fake"] * len(rows_uid), dtype=object)}
    if index_column:
        non_tensor["index"] = rows_ids
    else:
        non_tensor["extra_info"] = np.array([{"index": i} for i in rows_ids], dtype=object)
    if use_acc:
        non_tensor["acc"] = np.array(outcome.astype(bool), dtype=object)
    batch = FakeDataProto({"token_level_scores": scores}, non_tensor)
    if shuffle:
        batch = batch[rng.permutation(len(rows_uid))]
    return batch, outcome.reshape(len(ids), n).mean(1)
