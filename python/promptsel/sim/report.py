"""Presenting Results: the console table, CSV files and (optional) PNG plots."""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import textwrap
from pathlib import Path

import numpy as np

CURVE_COLUMNS = ("strategy", "step", "rollouts_cumulative", "heldout_acc", "informative_frac", "spearman",
                 "select_ms", "trained", "informative", "gen_batches", "train_acc")
SUMMARY_COLUMNS = ("strategy", "steps", "rollouts_total", "offline_rollouts", "initial_acc", "final_acc",
                   "target_acc", "steps_to_target", "rollouts_to_target", "budget", "acc_at_budget",
                   "informative_frac", "spearman", "select_ms", "wall_s")

LEGEND = """\
  to target     training rollouts and steps until held-out accuracy first reaches the target
                (x = relative to uniform; '-' = not reached in this run)
  acc @ budget  held-out accuracy once each strategy has spent the same rollout budget
  informative   share of trained prompts whose k rollouts were mixed (0 < s < 1): only these
                give GRPO a gradient, the rest are wasted rollouts
  spearman      rank correlation of the selector's predicted vs observed success rate of the
                prompts it chose, mean over steps ('-' = no predictor)
  select ms     time per step inside the library's select + update calls"""


def _k(n: float | None) -> str:
    """A rollout count, compact: 950, 12.3k, 1.25M."""
    if n is None:
        return "-"
    if n < 1000:
        return f"{n:.0f}"
    if n < 1e6:
        return f"{n / 1e3:.1f}k"
    return f"{n / 1e6:.2f}M"


def _num(x: float, fmt: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def format_table(results) -> str:
    cfg = results.config
    pop = results.population
    s = results.summaries
    lines = [
        f"promptsel simulator: workload {pop.name}, {pop.size} training prompts, {cfg.n_heldout} held out, "
        f"{cfg.steps} steps, seed {cfg.seed}",
        f"Each step trains B={cfg.batch} prompts with k={cfg.rollouts} rollouts each. The selectors pick them "
        f"from a pool of",
        f"{results.pool_size} candidates ({cfg.ratio} x B); ds rolls out batches of {cfg.batch} until {cfg.batch} "
        f"have mixed outcomes (at most {cfg.max_num_gen_batches} batches).",
        f"Held-out accuracy starts at {results.initial_acc:.3f}. Target {results.target_acc:.3f}: "
        f"{results.target_note}.",
        f"Budget {_k(results.budget)} rollouts: {results.budget_note}.",
        "",
    ]
    base = s.get("uniform")
    base_roll = base.rollouts_to_target if base is not None else None
    header = ("strategy", "to target: rollouts", "steps", "acc @ budget", "final acc", "informative",
              "spearman", "select ms")
    rows = []
    for name, r in s.items():
        roll = _k(r.rollouts_to_target)
        if r.rollouts_to_target is not None and base_roll:
            roll += f" ({r.rollouts_to_target / base_roll:.2f}x)"
        rows.append((
            name,
            roll,
            "-" if r.steps_to_target is None else str(r.steps_to_target),
            f"{r.acc_at_budget:.3f}",
            f"{r.final_acc:.3f}",
            _num(100 * r.informative_frac, ".0f") + ("%" if not math.isnan(r.informative_frac) else ""),
            _num(r.spearman, "+.2f"),
            _num(r.select_ms, ".2f"),
        ))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]

    def fmt(cells):
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "  ".join([first, *rest]).rstrip()

    lines.append(fmt(header))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(fmt(row) for row in rows)
    takeaway = _takeaway(s)
    if takeaway:
        lines.append("")
        lines.extend(textwrap.wrap(takeaway, 100))
    lines.append("")
    lines.append(LEGEND)
    extra = [f"  {name}: its offline evaluation used {_k(r.offline_rollouts)} more rollouts "
             f"({cfg.offline_samples} per prompt, before training; not counted above)"
             for name, r in s.items() if r.offline_rollouts]
    extra += [f"  {name}: skipped ({why})" for name, why in results.skipped.items()]
    if extra:
        lines.append("")
        lines.extend(extra)
    return "\n".join(lines)


def _takeaway(summaries) -> str:
    """One sentence: which strategy reached the target with the fewest rollouts, and
    how many fewer than uniform and ds."""
    reached = {n: r.rollouts_to_target for n, r in summaries.items() if r.rollouts_to_target}
    if not reached:
        return "No strategy reached the target in this run."
    best = min(reached, key=reached.get)
    savings = [f"{1 - reached[best] / reached[ref]:.0%} fewer than {ref}"
               for ref in ("uniform", "ds") if ref != best and ref in reached and reached[ref] > reached[best]]
    offline = summaries[best].offline_rollouts
    extra = f" (plus {_k(offline)} rollouts of offline evaluation)" if offline else ""
    if not savings:
        return f"Fewest training rollouts to the target: {best} ({_k(reached[best])}){extra}."
    return f"Fewest training rollouts to the target: {best}, {' and '.join(savings)}{extra}."


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        return "" if math.isnan(v) else repr(float(v))
    if isinstance(v, np.integer):
        return int(v)
    return v


def write_csv(results, out_dir) -> list[Path]:
    """Writes curves.csv (one row per strategy and step), summary.csv (one row per
    strategy) and config.json into out_dir. Empty cells are undefined values."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    curves_path = out / "curves.csv"
    with curves_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CURVE_COLUMNS)
        for name, c in results.curves.items():
            for t in range(c.steps + 1):
                w.writerow([_cell(v) for v in (
                    name, t, c.rollouts[t], c.heldout_acc[t], c.informative_frac[t], c.spearman[t],
                    c.select_ms[t], c.trained[t], c.informative[t], c.gen_batches[t], c.train_acc[t])])
    summary_path = out / "summary.csv"
    with summary_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(SUMMARY_COLUMNS)
        for name, r in results.summaries.items():
            w.writerow([_cell(v) for v in (
                name, r.steps, r.rollouts, r.offline_rollouts, results.initial_acc, r.final_acc,
                results.target_acc, r.steps_to_target, r.rollouts_to_target, results.budget, r.acc_at_budget,
                r.informative_frac, r.spearman, r.select_ms, r.wall_seconds)])
    config_path = out / "config.json"
    doc = {"config": dataclasses.asdict(results.config), "strategies": results.methods,
           "skipped": results.skipped, "target_acc": results.target_acc, "target": results.target_note,
           "budget": results.budget, "initial_acc": results.initial_acc}
    config_path.write_text(json.dumps(doc, indent=2) + "\n")
    return [curves_path, summary_path, config_path]


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average that ignores NaN."""
    ok = ~np.isnan(y)
    vals = np.where(ok, y, 0.0)
    csum = np.cumsum(np.insert(vals, 0, 0.0))
    cnt = np.cumsum(np.insert(ok.astype(float), 0, 0.0))
    idx = np.arange(1, y.size + 1)
    lo = np.maximum(idx - window, 0)
    n = cnt[idx] - cnt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (csum[idx] - csum[lo]) / n, np.nan)


def plot(results, out_dir) -> list[Path]:
    """learning_curve.png (held-out accuracy by training rollouts) and
    informative_fraction.png (by step). Raises ImportError without matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    title = f"workload {results.population.name}, B={results.config.batch}, k={results.config.rollouts}"

    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for name, c in results.curves.items():
        ax.plot(c.rollouts, c.heldout_acc, label=name, lw=1.6)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _k(x).replace(".0k", "k") if x > 0 else "0"))
    ax.axhline(results.target_acc, color="grey", ls="--", lw=1, label="target")
    ax.axvline(results.budget, color="grey", ls=":", lw=1, label="budget")
    ax.set_xlabel("training rollouts")
    ax.set_ylabel("held-out accuracy")
    ax.set_title(f"Learning curve ({title})")
    curve_path = _save(plt, fig, ax, out / "learning_curve.png")

    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    window = max(1, results.config.steps // 40)
    for name, c in results.curves.items():
        steps = np.arange(c.steps + 1)
        ax.plot(steps[1:], _smooth(c.informative_frac[1:], window), label=name, lw=1.6)
    ax.set_xlabel("training step")
    ax.set_ylabel(f"informative fraction (0 < s < 1){f', {window}-step mean' if window > 1 else ''}")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Trained prompts with mixed outcomes ({title})")
    frac_path = _save(plt, fig, ax, out / "informative_fraction.png")
    return [curve_path, frac_path]


def _save(plt, fig, ax, path):
    """The finish both plots share: grid, legend outside the axes, PNG, close."""
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
