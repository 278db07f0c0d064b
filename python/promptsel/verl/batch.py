"""What the adapters read out of trainer batches: columns as numpy whatever their
container (torch tensors of any float dtype, numpy object arrays, lists), prompt
ids (ints or strings, see promptsel.prompt_ids), one success rate per prompt, and
verl's B·n-row DataProto grouped by `uid` back into prompts.

Public helpers for trainer authors: `group_success` and `filter_groups` (DAPO's
dynamic sampling, the fair baseline). torch is never imported here: a tensor can
only come from a torch the caller already imported.
"""

import sys
from typing import NamedTuple

import numpy as np

from ..errors import InvalidArgumentError, PromptSelError, with_context
from ..ids import prompt_ids

#: What `metric="auto"` tries, in order.
SUCCESS_METRICS = ("auto", "acc", "score")

_ZERO_IDS_FIX = ("every prompt id in the batch is 0: the data has no extra_info.index (verl's RLHFDataset "
                 "then reports index 0 for every row). Give each row a unique extra_info.index when "
                 "preprocessing, as verl's examples/data_preprocess/*.py do")


def _torch_tensor_type():
    torch = sys.modules.get("torch")
    return torch.Tensor if torch is not None else None


def is_tensor(x):
    tensor = _torch_tensor_type()
    return tensor is not None and isinstance(x, tensor)


def to_numpy(x):
    """A column as numpy. Tensors leave the graph and the device; float dtypes numpy
    lacks (bfloat16) become float32. Object arrays (verl's non-tensor columns) are
    rebuilt from their Python values so numpy infers the real dtype."""
    if is_tensor(x):
        t = x.detach().cpu()
        if t.is_floating_point() and t.dtype not in (sys.modules["torch"].float32, sys.modules["torch"].float64):
            t = t.float()
        return t.numpy()
    if isinstance(x, np.ndarray) and x.dtype == object:
        return np.array(x.tolist())
    return np.asarray(x)


def ids_of(values, name="index", check_zero=True):
    """Prompt ids as int64 (ints pass through; str / bytes are hashed by
    promptsel.prompt_ids, the same in C and Python). A batch of several rows whose
    ids are all 0 is refused: that is verl's default for a missing extra_info.index,
    and it would collapse every prompt into one."""
    if is_tensor(values):
        values = to_numpy(values)
    # prompt_ids packs all-int lists in one numpy call and refuses bools (numpy alone
    # would read [True, 2] as the ids [1, 2]) and a single str (its characters).
    try:
        ids = prompt_ids(values)
    except PromptSelError as e:
        raise with_context(e, name) from None
    if check_zero and ids.size > 1 and not ids.any():
        raise InvalidArgumentError(f"{name}: {_ZERO_IDS_FIX}")
    return ids


def prompt_text(prompt):
    """The text featurized for a prompt: a plain string as is, a chat prompt (a list
    of {"role", "content"}, verl's raw_prompt) as its contents joined by newlines."""
    if isinstance(prompt, (str, bytes)):
        return prompt
    try:
        return "\n".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in prompt)
    except TypeError:
        return str(prompt)


def success_vector(x, prompts, name="success_rate"):
    """One success rate per prompt as float64: any real dtype (bfloat16 included),
    shape (B,) or (B, 1). B·n per-rollout values are refused, never averaged in the
    wrong groups: only the trainer knows which rows belong to which prompt."""
    a = to_numpy(x)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise InvalidArgumentError(f"{name} must have shape (B,) or (B, 1), one rate per prompt; got {a.shape}")
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise InvalidArgumentError(f"{name} must hold real success rates in [0, 1], got dtype {a.dtype}")
    if a.size != prompts:
        if prompts and a.size % prompts == 0:
            raise InvalidArgumentError(
                f"{name} has {a.size} values for {prompts} prompts: that looks like one value per rollout "
                f"({a.size // prompts} each). Pass one mean success rate per prompt, in the batch's order; "
                "promptsel.verl.group_success(batch) computes them from a verl DataProto by uid")
        raise InvalidArgumentError(f"{name} has {a.size} values but the batch has {prompts} prompts")
    return np.ascontiguousarray(a, dtype=np.float64)


# ---- verl DataProto ---------------------------------------------------------------

def _non_tensor(batch):
    return getattr(batch, "non_tensor_batch", None) or {}


def _tensors(batch):
    return getattr(batch, "batch", None)


def row_ids(batch):
    """The prompt id of every row of a DataProto: `extra_info["index"]`, else the
    top-level `index` column (which verl moves out of the batch in some versions)."""
    columns = _non_tensor(batch)
    info = columns.get("extra_info")
    if info is not None and len(info) and all(isinstance(e, dict) and e.get("index") is not None for e in info):
        return ids_of([e["index"] for e in info], "extra_info.index")
    if "index" in columns:
        return ids_of(columns["index"], "index")
    raise InvalidArgumentError("the batch has no prompt ids: neither extra_info['index'] on every row nor an "
                               "'index' column. " + _ZERO_IDS_FIX.split(". ", 1)[1])


def row_success(batch, metric="auto"):
    """Each row's success in [0, 1]: `acc` (the reward's binary accuracy, e.g. from
    verl's DAPO reward manager) or, with "score" or when there is no `acc`, whether
    the sequence score token_level_scores.sum(-1) is positive. Binary accuracy, not a
    shaped reward, decides whether a prompt was informative."""
    if metric not in SUCCESS_METRICS:
        raise InvalidArgumentError(f"success metric must be one of {', '.join(SUCCESS_METRICS)}, got {metric!r}")
    columns = _non_tensor(batch)
    if metric in ("auto", "acc") and "acc" in columns:
        acc = to_numpy(columns["acc"]).astype(np.float64).reshape(-1)
        if acc.size and not (np.all(np.isfinite(acc)) and acc.min() >= 0 and acc.max() <= 1):
            raise InvalidArgumentError("acc must be in [0, 1] (binary accuracy); for a shaped reward use "
                                       "success_metric='score' (token_level_scores.sum(-1) > 0)")
        return acc
    if metric == "acc":
        raise InvalidArgumentError("success metric 'acc' asked for, but the batch has no 'acc' column "
                                   "(the reward function returns no acc): use 'score' or 'auto'")
    tensors = _tensors(batch)
    if tensors is None or "token_level_scores" not in tensors.keys():
        raise InvalidArgumentError("the batch has neither an 'acc' column nor token_level_scores")
    scores = to_numpy(tensors["token_level_scores"])
    return (scores.reshape(scores.shape[0], -1).sum(-1) > 0).astype(np.float64)


class Groups(NamedTuple):
    """A DataProto grouped by uid, in order of each uid's first row."""

    ids: np.ndarray        # int64, one per group
    success: np.ndarray    # float64 mean success of the group's rows
    rollouts: np.ndarray   # int32 rows in the group
    inverse: np.ndarray    # group of every row
    row_success: np.ndarray


def groups(batch, metric="auto"):
    uids = _non_tensor(batch).get("uid")
    if uids is None:
        raise InvalidArgumentError("the batch has no 'uid' column: group rows after verl assigns uids")
    uids = np.asarray(uids)
    rows = len(uids)
    ids = row_ids(batch)
    success = row_success(batch, metric)
    if not (len(ids) == len(success) == rows):
        raise InvalidArgumentError(f"batch columns disagree: {rows} uids, {len(ids)} ids, {len(success)} successes")
    _, first, inverse = np.unique(uids, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")      # groups by first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    inverse = rank[inverse.reshape(-1)]
    counts = np.bincount(inverse, minlength=order.size)
    group_ids = ids[first[order]]
    if np.any(ids != group_ids[inverse]):
        bad = int(np.flatnonzero(ids != group_ids[inverse])[0])
        raise InvalidArgumentError(f"rows of uid {uids[bad]!r} carry different prompt ids "
                                   f"({group_ids[inverse[bad]]} and {ids[bad]})")
    if group_ids.size > 1 and not group_ids.any():
        raise InvalidArgumentError(_ZERO_IDS_FIX)
    means = np.bincount(inverse, weights=success, minlength=order.size) / counts
    return Groups(group_ids, means, counts.astype(np.int32), inverse, success)


class GroupSuccess(NamedTuple):
    ids: np.ndarray
    success: np.ndarray
    solve_none: int
    solve_all: int


def group_success(batch, metric="auto", order=None):
    """(ids, success rates, solve_none, solve_all) of a verl DataProto of B·n rows,
    one entry per prompt (uid). Groups come in order of first appearance, which is
    the selected batch's order until verl's _balance_batch reorders rows; pass
    `order` (the selected batch's ids, e.g. batch_dict["index"]) to align to it
    whatever the row order. metric: "acc", "score" or "auto" (see row_success)."""
    g = groups(batch, metric)
    ids, success = g.ids, g.success
    if order is not None:
        want = ids_of(order, "order")
        if want.size != ids.size or not np.array_equal(np.sort(want), np.sort(ids)):
            raise InvalidArgumentError(f"order has ids the batch's {ids.size} groups do not match")
        # Duplicated ids (one prompt drawn twice) keep their relative order.
        pos = {}
        for j, i in enumerate(ids.tolist()):
            pos.setdefault(i, []).append(j)
        take = np.array([pos[i].pop(0) for i in want.tolist()], dtype=np.int64)
        ids, success = ids[take], success[take]
    return GroupSuccess(ids, success, int(np.sum(success == 0)), int(np.sum(success == 1)))


def filter_groups(batch, metric="acc"):
    """DAPO's dynamic sampling (algorithm.filter_groups), the rollout-based baseline:
    keeps the rows of groups whose success varies (or that have one row) and drops
    all-solved and all-failed groups. Returns (kept batch, stats): stats counts the
    prompts kept and dropped and the rollouts spent, so that the cost of a kept
    prompt (rollouts_per_kept_prompt) can be compared with a selector's."""
    g = groups(batch, metric)
    variance = np.bincount(g.inverse, weights=(g.row_success - g.success[g.inverse]) ** 2,
                           minlength=g.ids.size)
    keep_group = (variance > 0) | (g.rollouts == 1)
    keep_rows = np.flatnonzero(keep_group[g.inverse])
    kept = int(keep_group.sum())
    rows = int(g.rollouts.sum())
    stats = {
        "prompts": int(g.ids.size), "kept_prompts": kept,
        "dropped_solve_none": int(np.sum(~keep_group & (g.success == 0))),
        "dropped_solve_all": int(np.sum(~keep_group & (g.success == 1))),
        "rollouts": rows, "kept_rollouts": int(keep_rows.size),
        "rollouts_per_kept_prompt": rows / kept if kept else float("inf"),
    }
    return batch[keep_rows], stats
