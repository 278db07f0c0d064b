"""Command line: python -m promptsel.sim [--demo] [--workload math] [--steps 200] ..."""
from __future__ import annotations

import argparse
import sys
import time

from .model import SimConfig
from .runner import DEFAULT_METHODS, parse_methods, run
from .strategies import STRATEGIES
from .workloads import BUILTIN_NAMES

DEMO = dict(workload="math", steps=60, methods="uniform,ds,mopps,dps")

DESCRIPTION = """\
Simulated GRPO post-training run comparing prompt-selection strategies.

A population of prompts with latent success probabilities that rise as the policy
learns; each step a strategy chooses B prompts, each is rolled out k times, and only
prompts with mixed outcomes (0 < s < 1) teach the policy anything. Learning transfers
to prompts with similar features, so a held-out set measures progress. promptsel
selectors run through the real library.

strategies:
""" + "\n".join(f"  {name:<16} {cls.summary}" for name, cls in STRATEGIES.items())

EPILOG = """\
examples:
  python -m promptsel.sim --demo
  python -m promptsel.sim --workload countdown --steps 120 --methods uniform,ds,mopps,dps --out results/
  python -m promptsel.sim --workload offline_eval.json --methods uniform,offline,mopps
"""


class ProgressBar:
    """A one-line progress bar on a terminal's stderr: redrawn in place with \\r,
    shown only once the run has taken more than `delay` seconds."""

    def __init__(self, total_steps: int, stream=None, width: int = 28, delay: float = 0.5):
        self.total = max(1, total_steps)
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.delay = delay
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.done: dict[str, int] = {}
        self.drawn = False

    def __call__(self, name: str, step: int, steps: int) -> None:
        self.done[name] = step
        now = time.monotonic()
        if now - self.started < self.delay or (now - self.last_draw < 0.1 and step != steps):
            return
        self.last_draw = now
        frac = min(1.0, sum(self.done.values()) / self.total)
        filled = int(round(frac * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {frac:4.0%}  {name} step {step}/{steps}  {now - self.started:5.1f}s ")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * (self.width + 60) + "\r")
            self.stream.flush()


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m promptsel.sim", description=DESCRIPTION, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    d = SimConfig()
    ap.add_argument("--demo", action="store_true",
                    help=f"short preset: {DEMO['steps']} steps of {DEMO['workload']}, strategies {DEMO['methods']} "
                         "(other flags still apply)")
    ap.add_argument("--workload", default=None,
                    help=f"{', '.join(BUILTIN_NAMES)}, or a .json ({{id: [0/1, ...]}}) / .csv (id,successes,trials) "
                         f"file of offline results (default {d.workload})")
    ap.add_argument("--steps", type=int, default=None, help=f"training steps (default {d.steps})")
    ap.add_argument("--methods", default=None,
                    help=f"comma-separated strategies (default {','.join(DEFAULT_METHODS)})")
    ap.add_argument("--out", default=None, help="directory for curves.csv, summary.csv, config.json and plots")
    ap.add_argument("--seed", type=int, default=d.seed, help=f"seed of everything (default {d.seed})")
    ap.add_argument("--batch", type=int, default=d.batch, help=f"B, prompts trained per step (default {d.batch})")
    ap.add_argument("--rollouts", type=int, default=d.rollouts, help=f"k, rollouts per prompt (default {d.rollouts})")
    ap.add_argument("--ratio", type=int, default=None,
                    help="candidate pool size over B for the selectors (default: 16 math/bimodal, 8 countdown)")
    ap.add_argument("--max-gen-batches", type=int, default=None,
                    help="ds cap on generation batches per step (default: 4 math/bimodal, 10 countdown)")
    ap.add_argument("--prompts", type=int, default=d.n_prompts,
                    help=f"training prompts of a built-in workload (default {d.n_prompts})")
    ap.add_argument("--heldout", type=int, default=d.n_heldout, help=f"held-out prompts (default {d.n_heldout})")
    ap.add_argument("--target-acc", type=float, default=None,
                    help="target held-out accuracy (default: 90%% of the way from the start to uniform's final)")
    ap.add_argument("--budget", type=int, default=None,
                    help="rollout budget for 'acc @ budget' (default: the smallest total of any strategy)")
    ap.add_argument("--quiet", action="store_true", help="print the table only: no progress bar, no notes")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    preset = DEMO if args.demo else {}
    defaults = SimConfig()
    try:
        cfg = SimConfig(
            workload=args.workload or preset.get("workload", defaults.workload),
            steps=args.steps if args.steps is not None else preset.get("steps", defaults.steps),
            seed=args.seed, batch=args.batch, rollouts=args.rollouts, ratio=args.ratio,
            max_num_gen_batches=args.max_gen_batches, n_prompts=args.prompts, n_heldout=args.heldout,
            target_acc=args.target_acc, budget=args.budget,
        )
        cfg.validate()
        methods = parse_methods(args.methods or preset.get("methods"))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    bar = None
    if not args.quiet and sys.stderr.isatty():
        bar = ProgressBar(cfg.steps * len(methods))
    try:
        results = run(cfg, methods, progress=bar)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if bar:
            bar.close()

    print(results.table())
    notes = []
    if args.out:
        paths = results.write_csv(args.out)
        try:
            paths += results.plot(args.out)
        except ImportError:
            notes.append("matplotlib is not installed: plots skipped (pip install matplotlib to get them)")
        notes.insert(0, "wrote " + ", ".join(str(p) for p in paths))
    notes.append(f"simulated in {results.wall_seconds:.2f}s")
    if not args.quiet:
        print()
        for note in notes:
            print(note)
    return 0
