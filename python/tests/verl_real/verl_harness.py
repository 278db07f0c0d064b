"""The real verl 0.7.1 pieces around promptsel.verl.CurriculumSampler, on CPU.

Everything here is verl's own code except the model: the config is
hydra.compose(ppo_trainer) from the installed wheel, the dataset is RLHFDataset via
verl.trainer.main_ppo.create_rl_dataset, the sampler comes from create_rl_sampler, the
loader is torchdata's StatefulDataLoader with rl_dataset.collate_fn, and each step runs
RayPPOTrainer.fit's data path in its order (from_single_dict, uid, _get_gen_batch,
repeat(n, interleave=True), union with the generation output, the real
_balance_batch, reward, data.pt saved before sampler.update(batch=batch)).
Generation and reward are fakes: each prompt id has a ground-truth solve
probability, and a response is correct with that probability (drawn from a generator
keyed by the step, so an interrupted-and-resumed run sees the same outcomes).
"""

import copy
import functools
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict
from torchdata.stateful_dataloader import StatefulDataLoader

import verl
from verl import DataProto
from verl.experimental.dataset.sampler import AbstractCurriculumSampler
from verl.trainer.main_ppo import create_rl_dataset, create_rl_sampler
from verl.trainer.ppo.ray_trainer import RayPPOTrainer, compute_response_mask
from verl.utils.dataset.rl_dataset import collate_fn

CONFIG_DIR = str(Path(verl.__file__).parent / "trainer" / "config")
PROMPT_LEN = 4
RESPONSE_LEN = 12
CORRECT, WRONG = 7, 8   # the first response token says whether the answer is right

SAMPLER = ["data.sampler.class_path=pkg://promptsel.verl", "data.sampler.class_name=CurriculumSampler",
           "data.dataloader_num_workers=0"]


def config(*overrides, batch=8, n=4, files=None, journal=None):
    """verl's real trainer config (ppo_trainer.yaml, struct mode), with the sampler
    enabled and the overrides applied exactly as a command line would. Composing takes
    about a second, so each override list is composed once; the training file and the
    journal directory (per-test paths) are set on the copy."""
    base = (f"data.train_batch_size={batch}", f"actor_rollout_ref.rollout.n={n}", "data.shuffle=True", "data.seed=1")
    cfg = copy.deepcopy(_composed(base + tuple(overrides)))
    if files is not None:
        cfg.data.train_files = str(files)
    if journal is not None:
        with open_dict(cfg):
            cfg.data.sampler.journal_dir = str(journal)
    return cfg


@functools.lru_cache(maxsize=None)
def _composed(overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        return compose(config_name="ppo_trainer", overrides=list(overrides))


def write_parquet(path, ids, words=None, index_key="index", tags=None):
    """A training parquet in verl's format (examples/data_preprocess/gsm8k.py): one row
    per id, extra_info.index = id (an int or a str; none with index_key=None). words[i] (default 3)
    is the prompt's length in words, for the overlong-prompt filter; tags[i] a word
    the prompt starts with (a feature the gps / hybrid models can learn from)."""
    rows = []
    for i, pid in enumerate(ids):
        k = 3 if words is None else words[i]
        head = ["solve"] if tags is None else [tags[i], "solve"]
        text = " ".join(head + [f"w{(i + j) % 10}" for j in range(k - 1)])
        extra = {"split": "train", "answer": str(pid)}
        if index_key is not None:
            extra[index_key] = pid if isinstance(pid, str) else int(pid)
        rows.append({"data_source": "synthetic/solve", "prompt": [{"role": "user", "content": text}],
                     "ability": "math", "reward_model": {"style": "rule", "ground_truth": str(pid)},
                     "extra_info": extra})
    pd.DataFrame(rows).to_parquet(path)
    return str(path)


def word_tokenizer():
    """A tokenizer that needs no download (verl_hooks.md §7): WordLevel over the words
    write_parquet uses, whitespace split, a one-line chat template."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<unk>", "<pad>", "<eos>", "user", "solve", "easy", "mid", "hard"] + [f"w{d}" for d in range(10)])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>")
    fast.chat_template = "{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}"
    return fast


class Run:
    """One training run: dataset, sampler and loader built by verl from `cfg`, and
    RayPPOTrainer.fit's per-step data path. `solve` maps prompt id -> solve probability.
    `reward`: "acc" (the DAPO reward manager: non_tensor acc (bool) plus a score of
    1 / 0.1 format score), "score" (gsm8k: score 1 / 0, no acc) or "score_pm1"
    (math_dapo's score 1 / -1, no acc).

    self.events records "select" (the native selector consulted) and "update" in order;
    self.steps one dict per step: the ids drawn, in batch order, and per drawn prompt
    the true success count (ids, successes, trials, uid_contiguous)."""

    def __init__(self, cfg, solve, *, reward="acc", ckpt_dir=None, tokenizer=None, outcome_seed=0,
                 sampler_hook=True, ids_only_in_index=False):
        self.cfg = cfg
        self.solve = solve
        self.reward = reward
        self.ckpt_dir = Path(ckpt_dir) if ckpt_dir is not None else None
        self.outcome_seed = outcome_seed
        self.ids_only_in_index = ids_only_in_index
        self.crash_before_update_at = None
        self.n = cfg.actor_rollout_ref.rollout.n
        self.dataset = create_rl_dataset(cfg.data.train_files, cfg.data, tokenizer, None,
                                         max_samples=cfg.data.get("train_max_samples", -1))
        sampler = create_rl_sampler(cfg.data, self.dataset)
        # RayPPOTrainer._create_dataloader, verbatim in its arguments.
        self.loader = StatefulDataLoader(dataset=self.dataset,
                                         batch_size=cfg.data.get("gen_batch_size", cfg.data.train_batch_size),
                                         num_workers=cfg.data["dataloader_num_workers"], drop_last=True,
                                         collate_fn=collate_fn, sampler=sampler)
        self.sampler = self.loader.sampler
        assert self.sampler is sampler
        self.events = []
        self.steps = []
        self.candidates = []   # per select call: the candidate ids the selector saw
        self.chosen = []       # per select call: the ids it chose, in its order
        self.hook = sampler_hook and hasattr(sampler, "selector")
        self.snapshots = []    # with snapshot_ids set: the selector's state at each select
        self.snapshot_ids = None
        self._hook_selector()
        self.global_steps = 0
        self.total_epochs = 1

    def _hook_selector(self):
        """Records every call of the sampler's native selector. load_state_dict replaces
        the selector, so fit hooks again once the loader has applied a resume."""
        if not self.hook or getattr(self.sampler.selector, "_run_hooked", False):
            return
        sel = self.sampler.selector
        inner = sel.select

        def select(candidate_ids, batch_size, **kw):
            self.events.append("select")
            if self.snapshot_ids is not None:
                self.snapshots.append(sel.state(self.snapshot_ids))
            out = inner(candidate_ids, batch_size, **kw)
            cand = np.asarray(candidate_ids, dtype=np.int64).copy()
            self.candidates.append(cand)
            self.chosen.append(cand[np.asarray(out[0])])
            return out
        sel.select = select
        sel._run_hooked = True

    # -- checkpoints (RayPPOTrainer._save_checkpoint / _load_checkpoint, data.pt only) --

    def data_pt(self, step):
        return self.ckpt_dir / f"global_step_{step}" / "data.pt"

    def save_checkpoint(self):
        path = self.data_pt(self.global_steps)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.loader.state_dict(), path)

    def load_checkpoint(self, step):
        self.global_steps = step
        self.loader.load_state_dict(torch.load(self.data_pt(step), weights_only=False))

    # -- the fit loop --

    def fit(self, total_epochs=1, stop_after=None, save_freq=0):
        """RayPPOTrainer.fit's loop structure: epochs from global_steps // len(loader),
        `for batch_dict in loader`, one step each; returns after `stop_after` steps of
        this call (a crash), or at the last step."""
        self.total_epochs = total_epochs
        total = len(self.loader) * total_epochs
        current_epoch = self.global_steps // len(self.loader)
        self.global_steps += 1
        done = 0
        for _epoch in range(current_epoch, total_epochs):
            batches = iter(self.loader)   # a resume's pending state reaches the sampler here
            self._hook_selector()
            for batch_dict in batches:
                self.events.append("draw")
                is_last = self.global_steps >= total
                self.step(batch_dict, save=save_freq > 0 and (is_last or self.global_steps % save_freq == 0))
                self.global_steps += 1
                done += 1
                if is_last or (stop_after is not None and done >= stop_after):
                    self.global_steps -= 1
                    return

    def step(self, batch_dict, save=False):
        batch = DataProto.from_single_dict(batch_dict)
        batch.meta_info["temperature"] = 1.0
        batch.non_tensor_batch["uid"] = np.array([str(uuid.uuid4()) for _ in range(len(batch.batch))], dtype=object)
        gen_batch = RayPPOTrainer._get_gen_batch(None, batch)
        gen_batch.meta_info["global_steps"] = self.global_steps
        gen_out = gen_batch.repeat(repeat_times=self.n, interleave=True)
        gen_out, truth = self._generate(gen_out)
        batch = batch.repeat(repeat_times=self.n, interleave=True)
        batch = batch.union(gen_out)
        if "response_mask" not in batch.batch.keys():
            batch.batch["response_mask"] = compute_response_mask(batch)
        before = batch.non_tensor_batch["uid"].copy()
        balancer = _Balancer()
        RayPPOTrainer._balance_batch(balancer, batch, metrics={})
        after = batch.non_tensor_batch["uid"]
        self._reward(batch)
        truth["reordered"] = not np.array_equal(before, after)
        truth["uid_contiguous"] = _contiguous(after)
        self.steps.append(truth)
        if self.ids_only_in_index:   # a batch whose rows carry the id only in the top-level index
            batch.non_tensor_batch.pop("extra_info")
        if save:
            self.save_checkpoint()
        if self.global_steps == self.crash_before_update_at:
            raise Crash(f"killed at step {self.global_steps}, after data.pt, before update")
        if isinstance(self.loader.sampler, AbstractCurriculumSampler):
            self.events.append("update")
            self.loader.sampler.update(batch=batch)
        self.last_batch = batch

    def _generate(self, gen_out):
        """The rollout: B·n responses; response j of prompt i is correct with the
        prompt's solve probability. Returns the agent loop's output (tensors plus the
        input's non-tensor keys) and the truth per drawn prompt."""
        rows = len(gen_out)
        rng = np.random.default_rng([self.outcome_seed, self.global_steps])
        ids = np.array([e["index"] for e in gen_out.non_tensor_batch["extra_info"]])   # ints, or str ids
        p = np.array([self.solve[i] for i in ids])
        correct = rng.random(rows) < p
        lengths = rng.integers(1, RESPONSE_LEN + 1, size=rows)
        responses = torch.full((rows, RESPONSE_LEN), 1, dtype=torch.long)
        responses[:, 0] = torch.from_numpy(np.where(correct, CORRECT, WRONG))
        resp_mask = torch.from_numpy((np.arange(RESPONSE_LEN)[None, :] < lengths[:, None]).astype(np.int64))
        prompts = torch.full((rows, PROMPT_LEN), 3, dtype=torch.long)
        attention = torch.cat([torch.ones(rows, PROMPT_LEN, dtype=torch.long), resp_mask], dim=1)
        tensors = {"prompts": prompts, "responses": responses, "response_mask": resp_mask,
                   "input_ids": torch.cat([prompts, responses], dim=1), "attention_mask": attention,
                   "position_ids": torch.cumsum(attention, dim=1) - 1}
        out = DataProto.from_dict(tensors=tensors, non_tensors=dict(gen_out.non_tensor_batch),
                                  meta_info={"timing": {}})
        n = self.n
        drawn = ids[::n]
        truth = {"ids": drawn, "successes": correct.reshape(-1, n).sum(1), "trials": np.full(drawn.size, n)}
        return out, truth

    def _reward(self, batch):
        """The reward manager after _balance_batch: a score on the last valid response
        token (token_level_scores), and for "acc" the reward-extra-info column."""
        correct = (batch.batch["responses"][:, 0] == CORRECT).numpy()
        score = {"acc": np.where(correct, 1.0, 0.1), "score": np.where(correct, 1.0, 0.0),
                 "score_pm1": np.where(correct, 1.0, -1.0)}[self.reward]
        mask = batch.batch["response_mask"]
        last = mask.sum(-1) - 1
        tls = torch.zeros(mask.shape, dtype=torch.float32)
        tls[torch.arange(len(tls)), last] = torch.from_numpy(score).float()
        batch.batch["token_level_scores"] = tls
        batch.batch["token_level_rewards"] = tls.clone()
        if self.reward == "acc":
            batch.non_tensor_batch["acc"] = correct
            batch.non_tensor_batch["score"] = score

    # -- what the runs selected --

    def drawn(self):
        """The ids of each step's batch, in batch order."""
        return [s["ids"].tolist() for s in self.steps]


class Crash(Exception):
    """The trainer process dying (in a test: an exception out of fit)."""


class _Balancer:
    """What RayPPOTrainer._balance_batch reads from self: two data-parallel ranks."""
    use_prefix_grouper = False
    actor_rollout_wg = None

    @staticmethod
    def _get_dp_size(worker_group, role):
        return 2


def _contiguous(uids):
    """Whether every uid's rows sit together."""
    seen, prev = set(), None
    for u in uids:
        if u != prev and u in seen:
            return False
        seen.add(u)
        prev = u
    return True
