"""Python baselines with the BEHAVIOUR of the reference samplers, for timing only.

Written from the description in /work/shared/reference/mopps_reference.md
(sections 1.2-1.4 and 2.4 for MoPPS `PosteriorSampler`, 4.1 for DPS
`BayesianHMMSampler`), not copied from the authors' code. What is kept on purpose, because it is what the
reference pays for:

* state in Python dicts keyed by ``str(index)``, one entry per prompt, created
  lazily (at the prior) when a prompt first appears in a candidate batch;
* the candidate batch is a dict of columns whose ``'index'`` column is a numpy
  object array of Python ints (what verl's ``collate_fn`` produces), and every
  column of the batch is sliced with the selected indices;
* MoPPS: one vectorised ``np.random.beta`` Thompson draw per candidate,
  ``argsort`` of the distances to the target, then a per-prompt Python loop in
  ``train``;
* DPS: one 3x3 numpy count matrix and two numpy belief vectors per prompt, and a
  ``train`` that walks EVERY known prompt on every step (the observed ones get the
  soft-count update with lr=1, every other one the same update with lr=0 plus a
  one-step belief propagation).

Two MoPPS variants (``RefMoPPSSampler(torch_tensors=...)``):

* ``torch_tensors=True``, the reference AS THE TRAINER RUNS IT (section 1.4 and 2.4):
  the trainer hands ``train`` the success rates as a float32 torch tensor, the loop
  ``for idx, s in zip(indices, y)`` makes every ``s`` a 0-d tensor, so a posterior
  becomes a 0-d float32 tensor at its first update (float + 0-d tensor is a tensor
  of the tensor's dtype) and all later arithmetic on it is float32 torch scalar
  arithmetic. ``sample_batch`` then builds ``np.array(list)`` from a list mixing
  Python floats (never-updated prompts) and 0-d tensors, draws with
  ``np.random.beta`` and returns ``torch.tensor(r[chosen])``. Needs torch.
* ``torch_tensors=False`` (default), the GENEROUS numpy-only port: float64 numpy
  scalars instead of 0-d tensors, ``np.array(..., dtype=float64)`` over plain floats,
  a numpy score array. Cheaper than the real reference on every one of those points,
  so speedups against it are a lower bound.

The DPS port has no torch variant: it takes numpy success rates.
"""

import numpy as np

__all__ = ["RefMoPPSSampler", "RefDPSSampler", "candidate_batch"]


def candidate_batch(ids):
    """A collated candidate batch as the trainer hands it to the sampler: the
    'index' column as a numpy object array of Python ints."""
    col = np.empty(len(ids), dtype=object)
    col[:] = [int(i) for i in ids]
    return {"index": col}


# ---------------------------------------------------------------------------
# MoPPS: Beta posterior per prompt + Thompson sampling (section 1.2 - 1.3)
# ---------------------------------------------------------------------------

class RefMoPPSSampler:
    """Behaviour of the reference `PosteriorSampler` (topk / threshold / uniform)."""

    def __init__(self, real_batch_size, target_mean=0.5, decay_ratio=1.0,
                 sample_strategy="topk", lower_bound=0.3, upper_bound=0.7,
                 rollout_n=8, prior_alpha=1.0, prior_beta=1.0, no_update=False,
                 torch_tensors=False):
        self.torch_tensors = bool(torch_tensors)
        if self.torch_tensors:
            import torch  # only this variant needs it
            self._torch = torch
        self.real_batch_size = real_batch_size
        self.target_mean = target_mean
        self.decay_ratio = decay_ratio
        self.sample_strategy = sample_strategy
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.rollout_n = rollout_n
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.no_update = no_update
        self.alpha = {}
        self.beta = {}

    def sample_batch(self, batch):
        indices = batch["index"]
        m = len(indices)
        assert self.real_batch_size <= m
        # 1. lazy prior entries for every candidate never seen before
        for idx in indices:
            key = str(idx)
            if key not in self.alpha:
                self.alpha[key] = self.prior_alpha
                self.beta[key] = self.prior_beta
        # 2. one Thompson draw per candidate
        if self.torch_tensors:
            # The reference: lists mixing Python floats and 0-d float32 tensors, and
            # np.array without a dtype (it asks every tensor for its value).
            local_alpha = [self.alpha[str(idx)] for idx in indices]
            local_beta = [self.beta[str(idx)] for idx in indices]
            a = np.array(local_alpha)
            b = np.array(local_beta)
        else:
            a = np.array([self.alpha[str(idx)] for idx in indices], dtype=np.float64)
            b = np.array([self.beta[str(idx)] for idx in indices], dtype=np.float64)
        r = np.random.beta(a, b)
        # 3. choose B
        B = self.real_batch_size
        if self.sample_strategy == "topk":
            d = (r - self.target_mean) ** 2
            chosen = np.argsort(d)[:B]
        elif self.sample_strategy == "threshold":
            inside = np.where((r >= self.lower_bound) & (r <= self.upper_bound))[0]
            if len(inside) >= B:
                np.random.shuffle(inside)
                chosen = inside[:B]
            else:
                score = np.where(r < self.lower_bound, self.lower_bound - r,
                                 np.where(r > self.upper_bound, r - self.upper_bound, 0.0))
                chosen = np.argsort(score)[:B]
        elif self.sample_strategy == "uniform":
            chosen = np.random.choice(m, B, replace=False)
        else:
            raise ValueError(self.sample_strategy)
        # 4. slice every column; 5. the acquisition score is the draw r
        selected = {k: v[chosen] for k, v in batch.items()}
        if self.torch_tensors:
            return selected, self._torch.tensor(r[chosen])  # float64 tensor, as the reference
        return selected, r[chosen]

    def train(self, batch, y):
        """y: the success rates in batch order. The torch variant expects what the
        trainer passes, a float32 torch tensor (anything else is converted to one);
        iterating it yields the 0-d tensors that turn the posteriors into tensors."""
        if self.no_update:
            return None, None, None
        if self.torch_tensors and not isinstance(y, self._torch.Tensor):
            y = self._torch.tensor(np.asarray(y), dtype=self._torch.float32)
        n = self.rollout_n
        lam = self.decay_ratio
        for idx, s in zip(batch["index"], y):
            key = str(idx)
            # k = 1 quirk of the released code not reproduced (never triggered at n = 8)
            self.alpha[key] = lam * self.alpha[key] + (1 - lam) * self.prior_alpha + s * n
            self.beta[key] = lam * self.beta[key] + (1 - lam) * self.prior_beta + (1 - s) * n
        return None, None, None

    # -- bench helpers (not part of the reference's behaviour) --

    def import_posterior(self, ids, alpha, beta, updated=None):
        """Same effect as the reference's load() of an index_score.json (Python
        floats). Torch variant: ids flagged in `updated` (bool per id) are stored as
        0-d float32 tensors instead, the type an update by `train` leaves behind, so
        that a state imported after a history of steps has the reference's mix."""
        if self.torch_tensors and updated is not None:
            t, f32 = self._torch.tensor, self._torch.float32
            for i, a, b, u in zip(ids.tolist(), alpha.tolist(), beta.tolist(), np.asarray(updated).tolist()):
                self.alpha[str(i)] = t(a, dtype=f32) if u else a
                self.beta[str(i)] = t(b, dtype=f32) if u else b
            return
        for i, a, b in zip(ids.tolist(), alpha.tolist(), beta.tolist()):
            self.alpha[str(i)] = a
            self.beta[str(i)] = b

    def export_posterior(self, ids):
        """(alpha, beta) of each id as float64 arrays (floats, numpy scalars or 0-d
        tensors alike)."""
        keys = [str(i) for i in np.asarray(ids).tolist()]
        return (np.array([float(self.alpha[k]) for k in keys], dtype=np.float64),
                np.array([float(self.beta[k]) for k in keys], dtype=np.float64))

    def tensor_fraction(self):
        """Fraction of the posteriors held as torch tensors."""
        if not self.alpha:
            return 0.0
        if not self.torch_tensors:
            return 0.0
        T = self._torch.Tensor
        return sum(isinstance(v, T) for v in self.alpha.values()) / len(self.alpha)


# ---------------------------------------------------------------------------
# DPS: HMM of the solving state per prompt (section 4.1)
# ---------------------------------------------------------------------------

class RefDPSSampler:
    """Behaviour of the reference `BayesianHMMSampler` (3 states, topk)."""

    num_states = 3

    def __init__(self, real_batch_size, prior_alpha=1.0, prior_pi="uniform",
                 transition_decay_ratio=1.0, sample_strategy="topk", entropy_weight=0.0,
                 no_update=False):
        self.real_batch_size = real_batch_size
        if isinstance(prior_alpha, float):
            self.prior_alpha = np.ones((3, 3)) * prior_alpha
        elif prior_alpha == "progress":
            self.prior_alpha = np.array([[1, .5, .5], [1, 1, .5], [1, 1, 1]], dtype=np.float64)
        elif prior_alpha == "stability":
            self.prior_alpha = np.array([[1, .5, .5], [.5, 1, .5], [.5, .5, 1]], dtype=np.float64)
        elif prior_alpha == "local":
            self.prior_alpha = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=np.float64)
        else:
            raise ValueError(f"prior_alpha {prior_alpha!r}")
        if prior_pi == "uniform":
            self.prior_pi = np.ones(3) / 3
        else:
            self.prior_pi = np.zeros(3)
            self.prior_pi[int(prior_pi) - 1] = 1.0
        self.decay = transition_decay_ratio
        self.sample_strategy = sample_strategy
        self.entropy_weight = entropy_weight
        self.no_update = no_update
        self.alphas = {}
        self.pis = {}
        self.pis_before = {}
        self.sampled_times = {}

    def _init_prompt(self, key):
        self.alphas[key] = self.prior_alpha.copy()
        self.pis[key] = self.prior_pi.copy()
        self.pis_before[key] = self.prior_pi.copy()
        self.sampled_times[key] = 0

    def update_transition_params(self, alpha, pi_prev, pi_new, lr):
        P = alpha / alpha.sum(axis=0, keepdims=True)  # P[to, from], from the old counts
        xi = np.outer(pi_new, pi_prev) * P
        xi = xi / xi.sum()
        return self.decay * alpha + (1 - self.decay) * self.prior_alpha + lr * xi

    def predict_next_state(self, alpha, pi):
        P = alpha / alpha.sum(axis=0, keepdims=True)
        nxt = P @ pi
        return nxt / nxt.sum()

    @staticmethod
    def _state_of(s):
        return 0 if s == 0 else (2 if s == 1 else 1)

    def sample_batch(self, batch):
        indices = batch["index"]
        m = len(indices)
        assert self.real_batch_size <= m
        for idx in indices:
            key = str(idx)
            if key not in self.alphas:
                self._init_prompt(key)
        probs = np.array([self.pis[str(idx)] for idx in indices])
        B = self.real_batch_size
        if self.sample_strategy == "topk":
            chosen = np.argsort(-probs[:, 1])[:B]
        elif self.sample_strategy == "topk+entropy":
            ent = -np.sum(probs * np.log(probs + 1e-10), axis=1)
            chosen = np.argsort(-(probs[:, 1] + self.entropy_weight * ent))[:B]
        elif self.sample_strategy == "uniform":
            chosen = np.random.choice(m, B, replace=False)
        else:
            raise ValueError(self.sample_strategy)
        selected = {k: v[chosen] for k, v in batch.items()}
        return selected, probs[chosen]

    def train(self, batch, y):
        if self.no_update:
            return None
        observed = set()
        # 1. the selected prompts: observation, transition learning, prediction
        for idx, s in zip(batch["index"], y):
            key = str(idx)
            pi_new = np.zeros(self.num_states)
            pi_new[self._state_of(s)] = 1.0
            alpha_new = self.update_transition_params(self.alphas[key], self.pis_before[key], pi_new, lr=1.0)
            self.alphas[key] = alpha_new
            self.pis[key] = self.predict_next_state(alpha_new, pi_new)
            self.pis_before[key] = pi_new
            self.sampled_times[key] += 1
            observed.add(key)
        # 2. every other prompt ever seen: decay towards the prior (lr = 0) and
        #    propagate the belief one step. O(#prompts known) per training step.
        for key in self.alphas:
            if key in observed:
                continue
            pi_new = self.pis[key]
            alpha_new = self.update_transition_params(self.alphas[key], self.pis_before[key], pi_new, lr=0.0)
            self.alphas[key] = alpha_new
            self.pis_before[key] = pi_new
            self.pis[key] = self.predict_next_state(alpha_new, pi_new)
        return None

    # -- bench helpers (not part of the reference's behaviour) --

    def import_state(self, ids, alpha, pi, pi_before, sampled):
        """Same effect as loading an hmm_params.json: alpha[i] is the 3x3 matrix
        alpha[to][from] (a row-major block of 9), pi / pi_before blocks of 3."""
        a = np.asarray(alpha, dtype=np.float64).reshape(-1, 3, 3)
        p = np.asarray(pi, dtype=np.float64).reshape(-1, 3)
        pb = np.asarray(pi_before, dtype=np.float64).reshape(-1, 3)
        for j, i in enumerate(ids.tolist()):
            key = str(i)
            self.alphas[key] = a[j].copy()
            self.pis[key] = p[j].copy()
            self.pis_before[key] = pb[j].copy()
            self.sampled_times[key] = int(sampled[j])
