"""verl integration: `TaskSampler`, a drop-in for the MoPPS fork's `PosteriorSampler`
(thu-rllab/MoPPS `recipe/ours/mopps.py`) and the DPS fork's `BayesianHMMSampler`
(maoyixiu/DPS `recipe/dps/task_sampler.py`) in their `task_sampler` hook:

    sampler = TaskSampler(config)                              # or (config, 40315, init=..., init_dir=...)
    batch_dict, scores = sampler.sample_batch(batch_dict)      # right after the dataloader
    sampler.train(batch_dict, success_rate)                    # right after the reward
    metrics = sampler.compute_statistics(metrics)              # the DPS trainer, every step
    sampler.save(".../global_step_N/actor"); sampler.load(...)

Config keys read (OmegaConf DictConfig, nested dicts or attribute objects):
`data.train_batch_size` (B), `actor_rollout_ref.rollout.n` (k), `data.seed`, and under
`tasksampler.`: `method` (when absent, `hmm_*` keys mean dps and `bandit_*` keys
mopps; both or neither is an error), `seed`, `bandit_sample_strategy`,
`bandit_target_mean`, `bandit_lower_bound`, `bandit_upper_bound`,
`bandit_decay_ratio`, `bandit_no_update`, `bandit_init`, `bandit_init_dir`; with
`tasksampler.method=dps`: `hmm_prior_alpha`, `hmm_prior_pi`, `hmm_sample_strategy`,
`hmm_transition_decay_ratio`, `hmm_entropy_weight`, `hmm_no_update`.

Differences from the reference, on purpose:
- Rollouts per update are k_eff = n if n > 1 else 8, the reference README's
  semantics. (Its code's `... + s*n if n > 1 else 8` binds to the whole update and
  resets alpha and beta to 8 when n == 1.)
- Ids may be ints or strings (the reference keys by str(index)): strings map to int64
  by promptsel.prompt_ids, the integer itself for "123", so both spellings agree.
- Success rates may be any float dtype (bfloat16 too), shape (B,) or (B, 1); B·n
  per-rollout values are refused (use promptsel.verl.group_success).
- train() on an id never shown to sample_batch starts it at the prior instead of
  raising KeyError.
- save() also writes the native checkpoint, which load() prefers: it restores the
  generator too, so a resumed run selects exactly what the uninterrupted one would
  have. Both files get per-save names and a manifest renamed last names the pair
  (promptsel.verl.manifest): a failed save leaves the previous checkpoint, never a
  mix. The reference trainer's own load() therefore does not find index_score.json
  in it; `sampler.selector.export_reference(dir)` writes that file for it.

torch and omegaconf are optional; this module imports neither.
"""

import contextlib
import functools
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from .. import methods
from ..errors import CheckpointError, InvalidArgumentError, PromptSelError, PromptSelIOError, with_context
from ..features import featurize
from ..selector import Selector
from . import manifest
from .batch import ids_of, is_tensor, prompt_text, success_vector, to_numpy
from .config import build_selector, get, get_int, infer_method

#: The native checkpoint's name: save() writes it as promptsel_state.g<N>.<token>.bin
#: (named by the manifest); load() still reads this name in a directory without one.
NATIVE_CHECKPOINT_FILE = manifest.LEGACY_NATIVE_FILE

#: Weight of each offline result in the warm start, as in the reference.
WARM_START_WEIGHT = 3.0


def effective_rollouts(n):
    """k_eff = n if n > 1 else 8 (the reference README; see the module docstring)."""
    return n if n > 1 else 8


@functools.cache
def _torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _take(key, value, positions, pool):
    """Rows `positions` of one batch column, keeping its type."""
    tensor = is_tensor(value)
    if not (tensor or isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim > 0)):
        raise InvalidArgumentError(f"batch_dict[{key!r}]: cannot select rows of a {type(value).__name__}")
    if len(value) != pool:
        raise InvalidArgumentError(f"batch_dict[{key!r}] has {len(value)} rows but 'index' has {pool}")
    if tensor:
        return value[sys.modules["torch"].from_numpy(positions).to(value.device)]
    if isinstance(value, np.ndarray):
        return value[positions]
    return type(value)(value[i] for i in positions)


class TaskSampler:
    """MoPPS or DPS prompt selection for the MoPPS / DPS forks' verl trainers (see the
    module doc).

    Accepts the reference's signature
    `(args, total_num_samples, prior_alpha=1.0, prior_beta=1.0, init=False, init_dir=None)`,
    including the trainer's keyword call `(args=config, total_num_samples=40315, ...)`;
    `total_num_samples` is ignored (the reference never uses it either), and
    `init`/`init_dir` of None mean `tasksampler.bandit_init`/`bandit_init_dir`.
    """

    def __init__(self, config=None, total_num_samples=None, prior_alpha=1.0, prior_beta=1.0,
                 init=None, init_dir=None, *, args=None):
        if (config is None) == (args is None):
            raise TypeError("TaskSampler takes the trainer config once, as `config` or as `args`")
        config = config if config is not None else args
        self.batch_size = get_int(config, "data.train_batch_size")
        self.rollouts = effective_rollouts(get_int(config, "actor_rollout_ref.rollout.n", hi=2**20))
        method = infer_method(config, "tasksampler")
        seed = get(config, "tasksampler.seed", get(config, "data.seed", 0))
        self.selector = build_selector(config, "tasksampler", method, seed, (prior_alpha, prior_beta))
        self._warm_start(config, init, init_dir)

    @property
    def method(self):
        return self.selector.method

    @property
    def _spec(self):
        return methods.spec(self.selector.method)

    def _warm_start(self, config, init, init_dir):
        if init is None:
            init = get(config, "tasksampler.bandit_init", False)
        if not init:
            return
        path = init_dir or get(config, "tasksampler.bandit_init_dir", "")
        if not path:
            raise InvalidArgumentError("tasksampler.bandit_init is set but bandit_init_dir is empty")
        self.selector.warm_start_from_json(path, weight=WARM_START_WEIGHT)

    def sample_batch(self, batch_dict):
        """Chooses B of the collated candidates by `batch_dict["index"]` and slices
        every column with the same positions. Returns (selected dict, scores), best
        first, as a float64 torch tensor when torch is installed (as the reference),
        else numpy: the Thompson draws (MoPPS, B) or the predicted beliefs (DPS, B x 3)."""
        ids = ids_of(batch_dict["index"], 'batch_dict["index"]')
        pool = len(ids)
        if self.batch_size > pool:
            raise InvalidArgumentError(
                f"data.train_batch_size ({self.batch_size}) exceeds the candidate batch of {pool} prompts: "
                "the dataloader batch must hold at least train_batch_size candidates")
        if self._spec.features:
            self._register_features(batch_dict, ids)
        columns = self._spec.acquisition_state
        if columns is None:
            positions, scores = self.selector.select(ids, self.batch_size)
        else:  # state columns of the chosen prompts, from the same call
            positions, _, state = self.selector.select(ids, self.batch_size, with_state=True)
            index = [self.selector.state_columns.index(c) for c in columns]
            scores = np.ascontiguousarray(state[:, index])
        selected = {key: _take(key, value, positions, pool) for key, value in batch_dict.items()}
        torch = _torch_or_none()
        return selected, (torch.from_numpy(scores) if torch is not None else scores)

    def _register_features(self, batch_dict, ids):
        """Features of the candidates for gps / hybrid: promptsel.featurize of the
        prompt text (`raw_prompt`, else the `prompt` key) or of `input_ids` with the
        padding (`attention_mask` == 0) removed, whichever the batch has."""
        dim = self.selector.feature_dim
        texts = next((batch_dict[k] for k in ("raw_prompt", "prompt") if k in batch_dict), None)
        if texts is not None:
            items = [prompt_text(t) for t in list(texts)]
        elif "input_ids" in batch_dict:
            tokens = to_numpy(batch_dict["input_ids"])
            mask = to_numpy(batch_dict["attention_mask"]) if "attention_mask" in batch_dict else None
            items = [row[m.astype(bool)] if mask is not None else row for row, m in
                     zip(tokens, mask if mask is not None else tokens)]
        else:
            raise InvalidArgumentError("gps and hybrid need prompt features: the batch has no raw_prompt, prompt "
                                       "or input_ids column (or call selector.set_features yourself)")
        self.selector.set_features(ids, featurize(items, dim))

    def train(self, batch_dict, success_rate):
        """Feeds back the selected batch's per-prompt success rates (in the order of
        `batch_dict["index"]`), k_eff rollouts each, in one update. Returns
        (None, None, None) like the reference."""
        ids = ids_of(batch_dict["index"], 'batch_dict["index"]')
        self.selector.update(ids, success_vector(success_rate, ids.size), self.rollouts)
        return None, None, None

    def compute_statistics(self, metrics):
        """What the DPS trainer calls every step: `metrics` (a dict, updated in place
        and returned) gains this sampler's metrics() and, for DPS, the reference's
        `tasksample_hmm/*` statistics under its own names (entropy and spread of the
        beliefs and transition counts, times sampled), computed over every prompt
        in the library."""
        metrics.update(self.metrics())
        spec = self._spec
        if spec.reference_statistics:
            values = self.selector.metrics("all")
            for name, metric in spec.reference_statistics.items():
                metrics[spec.metric_prefix + name] = values[metric]
        return metrics

    def metrics(self):
        """What the authors' trainers log for the sampler, as a flat dict: the method's
        metrics of the scopes its table entry names (DPS: the last update's argmax
        accuracy, partial-state precision / recall and statistics over every prompt,
        O(prompts): call it at logging time, not per step if the dataset is huge), or
        the number of prompts tracked."""
        spec = self._spec
        if not spec.metric_scopes:
            return {f"{spec.metric_prefix}prompts_tracked": len(self.selector)}
        out = {}
        for scope in spec.metric_scopes:
            out.update({f"{spec.metric_prefix}{k}": v for k, v in self.selector.metrics(scope).items()
                        if not k.startswith("confusion_")})
        precision, recall = (out.get(f"{spec.metric_prefix}partial_{k}") for k in ("precision", "recall"))
        if precision is not None and recall is not None:  # the F1 the DPS trainer logs beside them
            out[f"{spec.metric_prefix}partial_f1"] = (2 * precision * recall / (precision + recall)
                                                     if precision + recall > 0 else float("nan"))
        return out

    @property
    def _reference_file(self):
        return self._spec.reference_file

    def save(self, directory):
        """Writes the native checkpoint and the reference's file (index_score /
        hmm_params content) under new names, then the manifest that names both,
        atomically and last (see promptsel.verl.manifest). A save that fails raises
        and leaves the directory loading as its previous checkpoint; files no
        manifest names are removed once the new manifest is on disk."""
        directory = os.fspath(directory)
        # One lock over both writes: a train() from another thread between them
        # would make the pair two different states under one manifest.
        with self.selector._lock:
            files = self._save_files(directory)
        manifest.remove_unnamed(directory, files)

    def _save_files(self, directory):
        written = []
        try:
            os.makedirs(directory, exist_ok=True)
            generation, token = manifest.next_generation(directory)
            files = {}
            if self._reference_file is not None:
                path = os.path.join(directory, manifest.generated_name(self._reference_file, generation, token))
                written.append(path)
                self.selector.export_reference(path)
                files["reference"] = manifest.describe(path)
            path = os.path.join(directory, manifest.generated_name(NATIVE_CHECKPOINT_FILE, generation, token))
            written.append(path)
            self.selector.save(path)
            files["native"] = manifest.describe(path)
            manifest.write(directory, generation, self.method, files)
            return files
        except (PromptSelError, OSError) as e:
            for path in written:  # this save's files: no manifest names them
                with contextlib.suppress(OSError):
                    os.remove(path)
            what = f"TaskSampler.save({directory!r}) failed, so the directory still loads as its previous checkpoint"
            if isinstance(e, PromptSelError):
                raise with_context(e, what) from e
            raise PromptSelIOError(f"{what}: {e}") from e

    def load(self, directory):
        """Restores from `directory`: the files its manifest names, checked against
        their recorded sizes and CRC-32s (exact resume, config and generator
        included). A directory without a manifest (saved before manifests existed, or the
        reference trainer's) loads its `promptsel_state.bin` when present, else the
        reference's file (index_score.json or hmm_params.json; ids not in it keep
        their state). Neither: nothing happens, as in the reference. A corrupt or
        mismatched file raises CheckpointError and changes nothing."""
        if not directory:
            return
        doc = manifest.read(directory)
        if doc is not None:
            if "reference" in doc["files"]:
                manifest.checked(directory, doc, "reference")  # the pair must be the one the save wrote
            self._restore_native(Path(manifest.checked(directory, doc, "native")))
            return
        native = Path(directory, NATIVE_CHECKPOINT_FILE)
        reference = Path(directory, self._reference_file) if self._reference_file else None
        if native.is_file():
            self._restore_native(native)
        elif reference is not None and reference.is_file():
            self.selector.import_reference(reference)

    def _restore_native(self, path):
        try:
            self._adopt(Selector.load(path), str(path))
        except PromptSelError as e:
            raise with_context(e, str(path)) from e

    def _adopt(self, restored, source):
        """Takes a restored selector, refusing one of another method: the trainer's
        config chose this method, and a checkpoint of another would silently change
        what every later step does (and what metrics and save() mean)."""
        if restored.method != self.method:
            restored.close()
            raise CheckpointError(f"{source} holds a {restored.method} selector but this TaskSampler runs "
                                  f"{self.method} (tasksampler.method): resume with the method the run used")
        if restored.config != self.selector.config:
            warnings.warn(f"{source} was saved with another selector config; resuming with the checkpoint's "
                          f"{restored.config} instead of {self.selector.config}", stacklevel=4)
        old, self.selector = self.selector, restored
        old.close()

    def state_dict(self):
        return self.selector.state_dict()

    def load_state_dict(self, state):
        try:
            data = state["state"]
        except (KeyError, TypeError, IndexError):
            raise InvalidArgumentError("expected a state_dict() mapping with a 'state' entry") from None
        self._adopt(Selector.from_bytes(data), "the state_dict")
