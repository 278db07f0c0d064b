"""Shared pieces of the verl 0.8 - 0.9.1 route tests (test_verl09_*.py): the venv
check, a tiny local model and parquet data (no download), verl's real config
composed with Hydra, and CPU fakes for the GPU worker groups so the real
RayPPOTrainer.fit loop runs.

The tests run inside the venv of `python/tests/verl_real/venv.sh 0.9.1` (make
test-verl09) or `venv.sh 0.8.0` (make test-verl09 VERL09=0.8.0). Anywhere else they skip, unless PROMPTSEL_VERL_REQUIRED=1 (set by
the make target), which turns a missing or wrong verl into a failure.
"""

import os

import numpy as np
import pytest

TRAIN_ROWS = 24
ID_OFFSET = 1000  # extra_info.index = ID_OFFSET + position: ids and positions differ
BATCH = 4
N = 3
RESPONSE_LEN = 4


def has_v1(version):
    """verl 0.9 has the V1 trainer, on by default (trainer.use_v1); 0.8 has no such key."""
    from packaging.version import Version
    return version >= Version("0.9")


def require_verl09():
    """Skip (or fail, under PROMPTSEL_VERL_REQUIRED=1) unless verl >= 0.8 is importable."""
    required = os.environ.get("PROMPTSEL_VERL_REQUIRED") == "1"
    try:
        import verl
        from packaging.version import Version
        version = Version(verl.__version__)
    except Exception as e:  # ImportError, or a verl that does not import on CPU
        if required:
            raise
        pytest.skip(f"verl not importable here ({e!r}); run make test-verl09", allow_module_level=True)
    if not Version("0.8") <= version:
        if required:
            raise AssertionError(f"verl {version} is not 0.8+; the venv is wrong")
        pytest.skip(f"verl {version} has the config-only hook; these tests are for 0.8+",
                    allow_module_level=True)
    return version


def curriculum_sampler_class():
    from promptsel.verl import CurriculumSampler
    return CurriculumSampler


def make_model(path):
    """A tokenizer (WordLevel over whitespace) and a 1-layer Qwen2 config.json: what
    HFModelConfig loads in the TaskRunner. No weights: nothing here builds the model."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config

    words = ["<unk>", "<pad>", "<eos>", "user", "assistant", "what", "is", "plus", "?"]
    words += [str(i) for i in range(40)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>",
                                   eos_token="<eos>")
    fast.chat_template = ("{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}"
                          "{% if add_generation_prompt %}assistant {% endif %}")
    fast.save_pretrained(path)
    Qwen2Config(vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=128,
                architectures=["Qwen2ForCausalLM"]).save_pretrained(path)


def make_parquet(path, rows, offset):
    """verl's preprocessed layout (examples/data_preprocess/gsm8k.py), with
    extra_info.index = offset + row."""
    import pandas as pd
    data = [{"data_source": "toy", "ability": "math",
             "prompt": [{"role": "user", "content": f"what is {i % 7} plus {i % 5} ?"}],
             "reward_model": {"style": "rule", "ground_truth": str(i % 7 + i % 5)},
             "extra_info": {"index": offset + i, "split": "train"}} for i in range(rows)]
    pd.DataFrame(data).to_parquet(path)


@pytest.fixture(scope="session")
def verl_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("verl09")
    make_model(root / "model")
    make_parquet(root / "train.parquet", TRAIN_ROWS, ID_OFFSET)
    make_parquet(root / "val.parquet", 4, 9000)
    return root


def base_overrides(root, ckpt_dir):
    """What a small GRPO run on verl 0.9.1's ppo_trainer needs to pass validate_config."""
    return [
        f"data.train_files={root}/train.parquet", f"data.val_files={root}/val.parquet",
        f"data.train_batch_size={BATCH}", "data.max_prompt_length=32",
        f"data.max_response_length={RESPONSE_LEN}",
        f"actor_rollout_ref.model.path={root}/model", f"actor_rollout_ref.rollout.n={N}",
        "actor_rollout_ref.actor.ppo_mini_batch_size=4",
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1",
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=1",
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=1",
        "algorithm.adv_estimator=grpo", "trainer.n_gpus_per_node=1", "trainer.nnodes=1",
        "trainer.logger=[console]", f"trainer.default_local_dir={ckpt_dir}",
    ]


def compose(overrides):
    """verl's own ppo_trainer config, composed as `python -m verl.trainer.main_ppo` would."""
    from hydra import compose as hydra_compose, initialize_config_dir
    import verl.trainer.main_ppo as verl_main
    config_dir = os.path.join(os.path.dirname(os.path.abspath(verl_main.__file__)), "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return hydra_compose(config_name="ppo_trainer", overrides=list(overrides))


def solved(prompt_id, draw):
    """The fake policy: a third of the prompts always solved, a third never, a third
    half the time (by draw), so success rates differ across prompts."""
    kind = prompt_id % 3
    return kind == 0 or (kind == 2 and draw % 2 == 0)


class Crash(Exception):
    """Raised by FakeRollout at a chosen step, to interrupt a run like a lost job."""


class FakeRollout:
    """Stands in for verl's agent-loop rollout: per row, a response of RESPONSE_LEN
    tokens, rm_scores with the score on the last token and reward extra info `acc`,
    as 0.9.1's agent loop returns them. Records the prompt ids rolled out per step."""

    def __init__(self, crash_at_call=None):
        self.calls = []  # per generate_sequences call: the prompt ids, one per draw
        self.crash_at_call = crash_at_call
        self.events = None  # a shared event list, when the test wants order

    def generate_sequences(self, gen_batch):
        import torch
        from verl import DataProto
        if self.crash_at_call is not None and len(self.calls) + 1 == self.crash_at_call:
            raise Crash(f"simulated failure in rollout call {self.crash_at_call}")
        rows = len(gen_batch)
        ids = [int(e["index"]) for e in gen_batch.non_tensor_batch["extra_info"]]
        self.calls.append(ids[::N])
        if self.events is not None:
            self.events.append(("draw", tuple(ids[::N])))
        prompt_len = 3
        scores = torch.zeros(rows, RESPONSE_LEN)
        acc = np.zeros(rows, dtype=np.float32)
        for r, pid in enumerate(ids):
            acc[r] = float(solved(pid, r % N))
            scores[r, -1] = float(acc[r])
        out = DataProto.from_dict(
            tensors={
                "prompts": torch.zeros(rows, prompt_len, dtype=torch.long),
                "responses": torch.ones(rows, RESPONSE_LEN, dtype=torch.long),
                "input_ids": torch.ones(rows, prompt_len + RESPONSE_LEN, dtype=torch.long),
                "attention_mask": torch.ones(rows, prompt_len + RESPONSE_LEN, dtype=torch.long),
                "position_ids": torch.arange(prompt_len + RESPONSE_LEN).repeat(rows, 1),
                "rm_scores": scores,
            },
            non_tensors={"acc": acc, "multi_modal_inputs": np.array([{} for _ in range(rows)], dtype=object)},
            meta_info={"timing": {}, "reward_extra_keys": ["acc"]},
        )
        return out


class FakeWorkerGroup:
    """actor_rollout_wg: checkpoints are empty directories."""

    def save_checkpoint(self, local_path, hdfs_path=None, global_step=0, max_ckpt_to_keep=None):
        os.makedirs(local_path, exist_ok=True)

    def load_checkpoint(self, local_path, del_local_after_load=False):
        assert os.path.isdir(local_path), local_path


class FakeCheckpointManager:
    def update_weights(self, global_steps=None):
        pass

    def sleep_replicas(self):
        pass


def install_fakes(trainer, rollout):
    """What RayPPOTrainer.init_workers would set up, as CPU fakes; fit() then runs
    unchanged (old log-probs and the actor update are the only trainer methods faked)."""
    import torch
    from verl import DataProto

    trainer.actor_rollout_wg = FakeWorkerGroup()
    trainer.async_rollout_manager = rollout
    trainer.checkpoint_manager = FakeCheckpointManager()
    trainer.reward_loop_manager = None

    def old_log_prob(batch):
        zeros = torch.zeros(len(batch), RESPONSE_LEN)
        return DataProto.from_dict(tensors={"old_log_probs": zeros, "entropys": zeros.clone()}), 0.0

    trainer._compute_old_log_prob = old_log_prob
    trainer._update_actor = lambda batch: DataProto(meta_info={"metrics": {}})


def fit_overrides(root, ckpt_dir, steps, extra=(), seed=7):
    return base_overrides(root, ckpt_dir) + [
        f"trainer.total_training_steps={steps}", "trainer.val_before_train=false", "trainer.test_freq=-1",
        "trainer.balance_batch=false", "actor_rollout_ref.actor.use_kl_loss=false",
        "algorithm.use_kl_in_reward=false",
        "+data.sampler.method=mopps", "+data.sampler.candidate_ratio=2", f"+data.sampler.seed={seed}",
        *extra]


def run_task_runner(config, monkeypatch, rollout=None):
    """promptsel's CurriculumTaskRunner.run(config) in this process: verl's real
    TaskRunner body, datasets, RayPPOTrainer and (with `rollout`) its real fit loop.
    init_workers, the GPU part, is replaced: by the CPU fakes, or, without a rollout,
    by a stop right after the trainer is built. Returns (runner, trainer)."""
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer
    from promptsel.verl.main_ppo import CurriculumTaskRunner, prepare_config

    built = {}

    class Stop(Exception):
        pass

    def init_workers(self):
        built["trainer"] = self
        if rollout is None:
            raise Stop
        install_fakes(self, rollout)

    monkeypatch.setattr(RayPPOTrainer, "init_workers", init_workers)
    prepare_config(config)  # as the command line does: legacy trainer, no loader workers
    runner = CurriculumTaskRunner()
    try:
        runner.run(config)
    except Stop:
        pass
    return runner, built.get("trainer")
