"""The 0.2 per-method accessors of Selector (MoPPS posterior, DPS beliefs and
diagnostics), kept for source compatibility and expressed through the generic state
columns and metrics the library describes, so they hold no method logic of their own.
"""

import numpy as np

from . import _args, methods
from .errors import InvalidArgumentError, UnsupportedError


class MethodAccessors:
    def _columns(self, op, method, ids, names):
        if self.method != method:
            raise UnsupportedError(f"{op} is a {methods.METHODS[method].label} operation; "
                                   f"this selector runs {methods.spec(self.method).label}")
        return self.state(ids, names)

    def posterior(self, ids):
        """MoPPS: (alpha, beta) arrays of the Beta posterior of each id."""
        rows = self._columns("posterior", "mopps", ids, ("alpha", "beta"))
        return np.ascontiguousarray(rows[:, 0]), np.ascontiguousarray(rows[:, 1])

    def set_posterior(self, ids, alpha, beta):
        """MoPPS: sets the Beta posterior of each id (adding ids not yet tracked)."""
        ids = _args.ids(ids, "ids")
        a = _args.reals(alpha, "alpha")
        b = _args.reals(beta, "beta")
        _args.same_length(ids=ids, alpha=a, beta=b)
        self._columns("set_posterior", "mopps", [], ())
        self.set_state(ids, np.stack([a, b], axis=1) if ids.size else np.empty((0, 2)))

    def state_probs(self, ids):
        """DPS: predicted belief over (unsolved, partial, solved) at the next step,
        shape (n, 3); the prior belief for unseen ids."""
        return np.ascontiguousarray(self._columns("state_probs", "dps", ids, ("p_unsolved", "p_partial", "p_solved")))

    def dps_state(self, ids):
        """DPS: the full state of each id at the current step (the prior for unseen
        ids): a dict of `alpha` (n, 3, 3) transition counts [to][from], `pi` and
        `pi_before` (n, 3), `sampled_times` (n,) int64."""
        names = self.state_columns if self.method == "dps" else ()
        rows = self._columns("dps_state", "dps", ids, names)
        n = rows.shape[0]
        return {"alpha": np.ascontiguousarray(rows[:, 3:12]).reshape(n, 3, 3),
                "pi": np.ascontiguousarray(rows[:, 0:3]), "pi_before": np.ascontiguousarray(rows[:, 12:15]),
                "sampled_times": rows[:, 15].astype(np.int64)}

    def set_dps_state(self, ids, alpha, pi, pi_before, sampled_times):
        """DPS: sets the state of each id (adding ids not yet tracked); shapes as
        dps_state() returns them. Invalid values raise and change nothing."""
        ids = _args.ids(ids, "ids")
        n = ids.size
        self._columns("set_dps_state", "dps", [], ())
        arrays = {}
        for name, value, shape in (("alpha", alpha, (n, 3, 3)), ("pi", pi, (n, 3)), ("pi_before", pi_before, (n, 3))):
            a = np.asarray(value)
            if a.dtype.kind not in "fiu" or a.shape != shape:
                raise InvalidArgumentError(f"{name} must be a real array of shape {shape}, got {a.dtype} {a.shape}")
            arrays[name] = np.asarray(a, dtype=np.float64).reshape(n, int(np.prod(shape[1:])))
        sampled = _args.ids(sampled_times, "sampled_times")
        _args.same_length(ids=ids, sampled_times=sampled)
        rows = np.concatenate([arrays["pi"], arrays["alpha"], arrays["pi_before"],
                               sampled.astype(np.float64).reshape(n, 1)], axis=1)
        self.set_state(ids, rows)

    def dps_update_stats(self):
        """DPS: how well the beliefs predicted the last update's observations, as the
        authors' trainer logs them: accuracy of argmax(belief), precision, recall and
        F1 of the partial state (NaN when undefined), the 3x3 confusion matrix
        [observed][predicted] and the number observed."""
        self._columns("dps_update_stats", "dps", [], ())
        m = self.metrics("step")
        p, r = m["partial_precision"], m["partial_recall"]
        f1 = 2 * p * r / (p + r) if p + r > 0 else float("nan")
        confusion = np.array([m[f"confusion_{o}{q}"] for o in range(3) for q in range(3)], dtype=np.int64)
        return {"observed": int(m["observed"]), "accuracy": m["accuracy"], "partial_precision": p,
                "partial_recall": r, "partial_f1": f1, "confusion": confusion.reshape(3, 3)}

    def dps_summary(self):
        """DPS: statistics over every tracked prompt (O(prompts)): mean belief entropy,
        mean P(partial), times-selected min / max / mean / std, and the spread across
        prompts the authors' trainer logs: alpha_variance and belief_variance (variance
        over the prompts of each transition count / belief entry, averaged over the
        entries), belief_max_mean and belief_min_mean."""
        self._columns("dps_summary", "dps", [], ())
        m = self.metrics("all")
        return {k: int(v) if k in ("prompts", "sampled_min", "sampled_max") else v for k, v in m.items()}
