"""`CurriculumSampler`: promptsel as stock verl's data sampler (verl 0.5.0 - 0.7.1,
`verl.experimental.dataset.sampler.AbstractCurriculumSampler`), turned on by config:

    data.sampler.class_path=pkg://promptsel.verl data.sampler.class_name=CurriculumSampler
    data.dataloader_num_workers=0 +data.sampler.method=mopps +data.sampler.journal_dir=/ckpt/sampler

verl builds it as `CurriculumSampler(data_source=train_dataset, data_config=config.data)`.

Each step, when the loader pulls a batch, it takes the next B̂ = candidate_ratio × B
dataset positions from a stream of reshuffled passes over the dataset (B =
data.gen_batch_size or data.train_batch_size), asks the selector which B of them
to roll out, and yields those. A pass ends when fewer than B̂ positions are left
(the rest are skipped, like the MoPPS trainer's drop_last), so every prompt is a
candidate about candidate_ratio times per epoch. `__len__` is (N // B) · B: an
epoch is N // B steps, the same step budget as without a sampler (the MoPPS
trainer instead multiplies total_epochs by ts_ratio; nothing to scale here).

`update(batch)` (verl calls it at the end of every step) groups the B·n rows by
uid and feeds the selector one success rate per prompt. State goes into verl's
data.pt through state_dict(); see journal.py for the exact resume.

Settings under data.sampler (`+data.sampler.key=value` on verl's command line):
method (mopps | dps | gps | hybrid; default mopps), candidate_ratio (default 8; a
pool larger than the dataset is cut to it, with one logged warning),
seed (default data.seed, else 0), journal_dir (default none), journal_keep (updates
the journal keeps, default 1000), success_metric
(auto | acc | score; default auto), and the method's own parameters by the
library's names (`decay`, `strategy`, `prior_alpha`, ...; promptsel.methods.describe).
"""

import difflib
import logging
import os
import warnings
import zlib

import numpy as np

from .. import methods
from ..errors import CheckpointError, InvalidArgumentError, PromptSelError, with_context
from ..features import featurize
from ..selector import Selector
from .batch import SUCCESS_METRICS, groups, ids_of, prompt_text
from .config import build_selector, get, get_int, keys
from .journal import DEFAULT_KEEP, Dataset, Journal, Record
from .metrics import sampler_metrics

STATE_FORMAT = 1
DEFAULT_CANDIDATE_RATIO = 8
_OWN_KEYS = ("class_path", "class_name", "method", "candidate_ratio", "seed", "journal_dir", "journal_keep",
             "success_metric")
#: Prompts featurized per library call at construction (bounds the float buffer).
_FEATURE_CHUNK = 1 << 16

log = logging.getLogger("promptsel.verl")


def dataset_ids(data_source):
    """The prompt id of every dataset position, from `extra_info.index` (else an
    `index` column) of `data_source.dataframe` (RLHFDataset's HF dataset, after
    verl's filtering and subsampling), else of `data_source[i]`. A missing or
    duplicate id is an error: verl would report 0 for a missing one."""
    frame = getattr(data_source, "dataframe", None)
    if frame is not None:
        columns = list(getattr(frame, "column_names", None) or getattr(frame, "columns", []))
        if "extra_info" in columns:
            values = [e.get("index") if isinstance(e, dict) else None for e in list(frame["extra_info"])]
        elif "index" in columns:
            values = list(frame["index"])
        else:
            values = [None] * len(frame)
    else:
        rows = (data_source[i] for i in range(len(data_source)))
        values = [(r.get("extra_info") or {}).get("index", r.get("index")) for r in rows]
    if len(values) != len(data_source):
        raise InvalidArgumentError(f"the dataset has {len(data_source)} rows but its dataframe {len(values)}")
    missing = [p for p, v in enumerate(values) if v is None or (isinstance(v, float) and np.isnan(v))]
    if missing:
        raise InvalidArgumentError(
            f"{len(missing)} of {len(values)} dataset rows have no extra_info.index (first at positions "
            f"{missing[:5]}): give every row a unique extra_info.index when preprocessing, as verl's "
            "examples/data_preprocess/*.py do; verl itself would report index 0 for each")
    ids = ids_of(values, "extra_info.index", check_zero=False)
    unique, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if unique.size != ids.size:
        dup = unique[counts > 1][0]
        where = np.flatnonzero(ids == dup)[:3].tolist()
        raise InvalidArgumentError(f"{ids.size - unique.size} duplicate prompt ids in the dataset, e.g. "
                                   f"{values[where[0]]!r} at positions {where}: ids must be unique")
    return ids


def dataset_texts(data_source, prompt_key):
    frame = getattr(data_source, "dataframe", None)
    if frame is not None:
        return [prompt_text(p) for p in list(frame[prompt_key])]
    rows = (data_source[i] for i in range(len(data_source)))  # __getitem__ may tokenize: once per row
    return [prompt_text(r.get("raw_prompt", r.get(prompt_key))) for r in rows]


class CurriculumCore:
    """Everything but the verl base class (see curriculum_sampler_class)."""

    def __init__(self, data_source, data_config):
        section = get(data_config, "sampler", None)
        self._check_keys(section, data_config)
        self.method = get(data_config, "sampler.method", "mopps")
        if self.method not in methods.METHODS:
            raise InvalidArgumentError(f"unknown data.sampler.method {self.method!r}; expected one of "
                                       f"{', '.join(methods.METHODS)}")
        size_key = "gen_batch_size" if get(data_config, "gen_batch_size", None) is not None else "train_batch_size"
        self.batch_size = get_int(data_config, size_key)
        ratio = float(get(data_config, "sampler.candidate_ratio", DEFAULT_CANDIDATE_RATIO))
        if not (ratio >= 1):
            raise InvalidArgumentError(f"data.sampler.candidate_ratio must be >= 1, got {ratio}")
        self.success_metric = get(data_config, "sampler.success_metric", "auto")
        if self.success_metric not in SUCCESS_METRICS:
            raise InvalidArgumentError(f"data.sampler.success_metric must be one of {', '.join(SUCCESS_METRICS)}")
        self.ids = dataset_ids(data_source)
        n = self.ids.size
        if not 1 <= self.batch_size <= n:
            raise InvalidArgumentError(f"the batch size {self.batch_size} must be in [1, {n}] (the dataset's rows)")
        self.pool = min(n, int(ratio * self.batch_size))
        if self.pool < int(ratio * self.batch_size):
            # Said once, at construction: the pool is fixed for the sampler's life.
            log.warning("promptsel: data.sampler.candidate_ratio=%g x batch size %d asks for %d candidates per "
                        "step, but the dataset has %d prompts: using %d, every prompt at every step (any "
                        "data.sampler.candidate_ratio from %g up means the same; lower it to choose from a "
                        "reshuffled subset each step)",
                        ratio, self.batch_size, int(ratio * self.batch_size), n, self.pool, n / self.batch_size)
        self.steps_per_epoch = n // self.batch_size
        self._ids_crc = zlib.crc32(self.ids.tobytes())
        self._dataset = Dataset(n, self._ids_crc)  # what the journal records, as the state_dict does
        self._sorted_ids = np.sort(self.ids)
        seed = get(data_config, "sampler.seed", get(data_config, "seed", 0))
        self.selector = build_selector(data_config, "sampler", self.method, seed)
        if methods.spec(self.method).features:
            self._set_features(dataset_texts(data_source, get(data_config, "prompt_key", "prompt")))
        journal_dir = get(data_config, "sampler.journal_dir", None)
        self._run_id = os.urandom(16)  # names this run's journal; not a selection choice
        self._journal_dir = os.fspath(journal_dir) if journal_dir else None
        self._journal_keep = get_int(data_config, "sampler.journal_keep", DEFAULT_KEEP)
        self._journal = Journal(self._journal_dir, self._run_id, self._journal_keep,
                                self._dataset) if journal_dir else None
        self._perm = np.empty(0, np.int64)
        self._cursor = 0
        self._epoch_step = 0
        self._steps = 0        # batches drawn
        self._updates = 0      # updates applied
        self._last_batch = None
        self._last_metrics = {}

    @staticmethod
    def _check_keys(section, data_config):
        method = get(data_config, "sampler.method", "mopps")
        known = set(_OWN_KEYS)
        if method in methods.METHODS:
            known |= set(methods.describe(method).params) | set(methods.spec(method).verl_keys)
        for key in keys(section):
            if key not in known:
                near = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise InvalidArgumentError(f"data.sampler.{key} is not a setting of the {method} sampler{hint}")

    def _set_features(self, texts):
        dim = self.selector.feature_dim
        for lo in range(0, len(texts), _FEATURE_CHUNK):
            hi = min(lo + _FEATURE_CHUNK, len(texts))
            self.selector.set_features(self.ids[lo:hi], featurize(texts[lo:hi], dim))

    # -- the torch Sampler protocol ---------------------------------------------------

    def __len__(self):
        return self.steps_per_epoch * self.batch_size

    def __iter__(self):
        # Lazy: each batch is chosen when the loader pulls it, after the previous
        # step's update. An epoch exhausted (including by a resume at its end)
        # starts the next one.
        if self._epoch_step >= self.steps_per_epoch:
            self._epoch_step = 0
        return self._positions()

    def _positions(self):
        while self._epoch_step < self.steps_per_epoch:
            yield from self._draw().tolist()

    def _candidates(self):
        n = self.ids.size
        if self.pool >= n:
            return np.arange(n, dtype=np.int64)
        if self._perm.size == 0 or self._cursor + self.pool > n:  # a new pass, from the handle's generator
            self._perm = self.selector.shuffle(np.arange(n, dtype=np.int64))
            self._cursor = 0
        out = self._perm[self._cursor:self._cursor + self.pool]
        self._cursor += self.pool
        return out

    def _draw(self):
        candidates = self._candidates()
        chosen, _ = self.selector.select(self.ids[candidates], self.batch_size)
        batch = candidates[chosen]
        self._epoch_step += 1
        self._steps += 1
        self._last_batch = batch
        return batch

    # -- feedback -------------------------------------------------------------------

    def update(self, batch):
        """One step's feedback from verl's DataProto (B·n rows, any order): one
        success rate per uid group, one native update; journaled when configured."""
        g = groups(batch, self.success_metric)
        at = np.minimum(np.searchsorted(self._sorted_ids, g.ids), self._sorted_ids.size - 1)
        unknown = self._sorted_ids[at] != g.ids
        if unknown.any():
            raise InvalidArgumentError(f"update: prompt id {int(g.ids[unknown][0])} is not in the training dataset")
        predicted = self.selector.predict(g.ids)
        # The record goes to disk before the selector changes: a failed append
        # raises with both unchanged, so the journal always says what was applied.
        if self._journal is not None:
            last = self._last_batch if self._last_batch is not None else np.empty(0, np.int64)
            self._journal.append(Record(self._updates, last, g.ids, g.success, g.rollouts))
        try:
            self.selector.update(g.ids, g.success, g.rollouts)
        except BaseException:
            if self._journal is not None:
                self._journal.retract()
            raise
        self._updates += 1
        self._last_metrics = sampler_metrics(predicted, g.success)
        self._last_metrics.update({"batch/solve_none": int(np.sum(g.success == 0)),
                                   "batch/solve_all": int(np.sum(g.success == 1))})
        if self._journal is not None:
            self._journal.compact_if_due()

    def metrics(self):
        """The last update's `tasksample/*` metrics (prediction vs observation, see
        promptsel.verl.sampler_metrics) and the selector's own step metrics."""
        out = dict(self._last_metrics)
        spec = methods.spec(self.method)
        out.update({f"{spec.metric_prefix}{k}": v for k, v in self.selector.metrics("step").items()
                    if not k.startswith("confusion_")})
        return out

    # -- checkpoint -----------------------------------------------------------------

    def state_dict(self):
        """Picklable builtins and bytes: the native state (generator included), the
        candidate stream and the position in the epoch."""
        return {
            "format": STATE_FORMAT, "method": self.method, "prompts": int(self.ids.size), "ids_crc": self._ids_crc,
            "batch_size": self.batch_size, "selector": self.selector.to_bytes(),
            "perm": self._perm.astype("<i8").tobytes(), "cursor": self._cursor, "epoch_step": self._epoch_step,
            "steps": self._steps, "updates": self._updates, "run_id": self._run_id,
            "last_batch": None if self._last_batch is None else self._last_batch.astype("<i8").tobytes(),
        }

    def load_state_dict(self, state):
        """Restores state_dict(); with a journal, replays the update the checkpoint
        lacks. Everything is checked, and the journal rewritten (atomically), before
        anything in this sampler changes: a resume that fails leaves the run id, the
        selector and the journal file as they were."""
        restored = self._validated(state)
        selector = restored.pop("selector")
        journal = None
        try:
            if self._journal is not None:
                journal = Journal(self._journal_dir, restored["run_id"], self._journal_keep, self._dataset)
                restored["updates"] = self._replay(journal, selector, restored)
            elif restored["steps"] > restored["updates"]:
                warnings.warn(
                    "CurriculumSampler resumed without data.sampler.journal_dir: verl saves data.pt before the "
                    "step's update, so the selector lacks the feedback of the checkpoint's last step. Set "
                    "+data.sampler.journal_dir=<dir> for an exact resume", stacklevel=2)
        except BaseException:
            selector.close()
            raise
        if journal is not None:
            self._journal = journal
        old, self.selector = self.selector, selector
        old.close()
        self._run_id = restored["run_id"]
        self._perm, self._cursor, self._epoch_step = restored["perm"], restored["cursor"], restored["epoch_step"]
        self._steps, self._updates, self._last_batch = restored["steps"], restored["updates"], restored["last_batch"]

    def _replay(self, journal, selector, restored):
        """Replays into `selector` (not yet this sampler's) the update the checkpoint
        lacks, then rewrites the journal to the records up to it: the last step, so
        that any refusal before it leaves the file as it was."""
        updates, last = restored["updates"], restored["last_batch"]
        try:
            contents = journal.scan()
        except CheckpointError as e:
            warnings.warn(f"{e}: starting a new journal; the resumed selector lacks the last step's feedback",
                          stacklevel=3)
            contents = None
        records = contents.records if contents is not None else []
        if contents is not None:
            if contents.dataset is not None and contents.dataset != self._dataset:
                raise CheckpointError(
                    f"{journal.path} was recorded on another dataset ({contents.dataset}) than this run's "
                    f"({self._dataset}): resume on the run's training data, or point data.sampler.journal_dir "
                    "at this run's own journal")
            if contents.intact < contents.size:
                warnings.warn(f"{journal.path}: dropping {contents.size - contents.intact} bytes after the last "
                              f"intact record ({len(records)} records kept): a torn or corrupt tail, as a crash "
                              "during an append leaves", stacklevel=3)
            if contents.run_id != restored["run_id"]:
                warnings.warn(f"{journal.path} belongs to another run: not replayed", stacklevel=3)
                records = []
        keep = [r for r in records if r.seq < updates]
        if restored["steps"] > updates:
            nxt = next((r for r in records if r.seq == updates), None)
            if nxt is not None and last is not None and np.array_equal(nxt.batch, last):
                self._check_replayed_ids(journal.path, nxt)
                try:
                    selector.update(nxt.ids, nxt.success, nxt.rollouts)
                except PromptSelError as e:
                    raise with_context(e, f"{journal.path}: update {updates} cannot be replayed") from e
                keep.append(nxt)
                updates += 1
            else:
                warnings.warn(f"{journal.path} has no update {updates} for the checkpoint's last batch: "
                              "the resumed selector lacks that step's feedback", stacklevel=3)
        journal.rewrite(keep)  # the resumed run redoes the steps after it
        return updates

    def _check_replayed_ids(self, path, record):
        """The ids a record replays must be ids of this dataset: the only dataset
        check a journal without a fingerprint (PSELJRN1) gets."""
        at = np.minimum(np.searchsorted(self._sorted_ids, record.ids), max(self._sorted_ids.size - 1, 0))
        unknown = self._sorted_ids[at] != record.ids
        if unknown.any():
            raise CheckpointError(
                f"{path}: update {record.seq} has prompt id {int(record.ids[unknown][0])}, which this run's dataset "
                f"({self._dataset}) does not have: the journal was recorded on another dataset")

    def _validated(self, state):
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise CheckpointError(f"not a CurriculumSampler state_dict of format {STATE_FORMAT}")
        n = self.ids.size
        try:
            if state["method"] != self.method:
                raise CheckpointError(f"the checkpoint holds a {state['method']} sampler but data.sampler.method is "
                                      f"{self.method}: resume with the method the run used")
            if state["prompts"] != n or state["ids_crc"] != self._ids_crc:
                raise CheckpointError(f"the checkpoint was taken on another dataset ({state['prompts']} prompts, "
                                      f"this one has {n}, or other ids): resume on the run's training data")
            if state["batch_size"] != self.batch_size:
                raise CheckpointError(f"the checkpoint used batch size {state['batch_size']}, this run "
                                      f"{self.batch_size}: the epoch position would not line up")
            perm = np.frombuffer(state["perm"], "<i8").astype(np.int64)
            last = None if state["last_batch"] is None else np.frombuffer(state["last_batch"], "<i8").astype(np.int64)
            cursor, epoch_step = int(state["cursor"]), int(state["epoch_step"])
            steps, updates, run_id = int(state["steps"]), int(state["updates"]), bytes(state["run_id"])
        except CheckpointError:
            raise  # a ValueError too: the reasons above must not be reported as "malformed"
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"malformed CurriculumSampler state_dict: {e!r}") from None
        if perm.size not in (0, n) or (perm.size and not np.array_equal(np.sort(perm), np.arange(n))):
            raise CheckpointError("state_dict: the candidate stream is not a permutation of the dataset")
        if not (0 <= cursor <= max(perm.size, 0) and 0 <= epoch_step <= self.steps_per_epoch
                and 0 <= updates <= steps and len(run_id) == 16):
            raise CheckpointError("state_dict: counters out of range")
        if last is not None and (last.size != self.batch_size or last.min() < 0 or last.max() >= n):
            raise CheckpointError("state_dict: the last batch does not fit this dataset")
        selector = Selector.from_bytes(state["selector"])
        if selector.method != self.method:
            selector.close()
            raise CheckpointError(f"the checkpoint's selector is {selector.method}, not {self.method}")
        if selector.config != self.selector.config:
            warnings.warn(f"the checkpoint's selector config {selector.config} differs from this run's "
                          f"{self.selector.config}; resuming with the checkpoint's", stacklevel=3)
        return {"selector": selector, "perm": perm, "last_batch": last, "cursor": cursor,
                "epoch_step": epoch_step, "steps": steps, "updates": updates, "run_id": run_id}


def _base():
    """verl's AbstractCurriculumSampler when verl has it (0.5.0 - 0.7.1), else
    torch's Sampler (verl 0.8+ removed the hook; main_ppo passes the sampler in
    itself), else object."""
    try:
        from verl.experimental.dataset.sampler import AbstractCurriculumSampler
        return AbstractCurriculumSampler
    except ImportError:
        pass
    try:
        from torch.utils.data import Sampler
        return Sampler
    except ImportError:
        return object


def curriculum_sampler_class():
    base = _base()

    class CurriculumSampler(CurriculumCore, base):
        __init__ = CurriculumCore.__init__  # verl's abstract __init__ and torch's take other arguments

    CurriculumSampler.__module__ = "promptsel.verl"
    CurriculumSampler.__doc__ = __doc__
    return CurriculumSampler
