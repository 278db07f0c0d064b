#!/usr/bin/env python3
"""promptsel benchmarks: the library (through its Python API) against Python ports of
the reference samplers (bench/reference_samplers.py), plus scale measurements.

    python3 bench/run.py --smoke                    # tiny sizes, < 20 s, part of `make test`
    python3 bench/run.py --out bench/RESULTS.md     # full run (`make bench`), a few minutes

The machine is shared and noisy, so every comparison is a RATIO against a reference
measured in the same run: repetitions of ours and of the reference are interleaved
(alternating which goes first), each side's time is the median of its repetitions.
Steps are timed in two cache regimes: "hot" (steps back to back) and "cold" (a
64 MiB buffer is rewritten before every step, as the rollouts between two steps of a
real trainer would). See bench/README.md for what each number means.
"""

import argparse
import gc
import math
import sys
from pathlib import Path

_BENCH = str(Path(__file__).resolve().parent)
if _BENCH not in sys.path:
    sys.path.insert(0, _BENCH)

# harness first: it limits BLAS to one thread and pins the library before numpy and promptsel load.
import harness  # noqa: E402
import numpy as np  # noqa: E402

from dps_bench import bench_dps_step, dps_gap_cost, worker_dps_profile  # noqa: E402
from harness import FULL, REGIMES, SMOKE, Flusher, fmt_ms, fmt_x, perf_counter, perf_profile  # noqa: E402
from mopps_bench import (TORCH_PARITY_TOL, bench_mopps_step, load_torch, mopps_breakdown,  # noqa: E402
                         torch_hidden, worker_mopps_profile)
from report import report, targets_of  # noqa: E402
from scale_bench import bench_scale, worker_scale_dps, worker_scale_mopps  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (< 20 s); checks that everything runs")
    ap.add_argument("--out", help="write the Markdown report here (e.g. bench/RESULTS.md)")
    ap.add_argument("--no-perf", action="store_true", help="skip the perf profiles of missed targets")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--pool", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--reps", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=8.0, help=argparse.SUPPRESS)
    args, extra = ap.parse_known_args()  # the profile workers take their sizes as positional extras

    if args.worker:
        if args.worker == "scale-mopps":
            return worker_scale_mopps(args.n, args.pool, args.reps)
        if args.worker == "scale-dps":
            return worker_scale_dps(args.n, args.pool, args.reps)
        if args.worker == "mopps-profile":
            return worker_mopps_profile(int(extra[0]), args.seconds)
        if args.worker == "dps-profile":
            return worker_dps_profile(int(extra[0]), float(extra[1]), args.seconds)
        ap.error(f"unknown worker {args.worker}")
    if extra:
        ap.error(f"unrecognized arguments: {' '.join(extra)}")

    plan = SMOKE if args.smoke else FULL
    t_start = perf_counter()
    mach = harness.machine()
    flush = Flusher(plan.flush_mib)

    def log(msg):
        print(f"[{perf_counter() - t_start:6.1f}s] {msg}", flush=True)

    log(f"plan {plan.name}; libpromptsel {mach['lib']} ({mach['commit']}); load {mach['load']}")

    torch_mod = load_torch()
    if torch_mod is None:
        torch_note = "hidden by PROMPTSEL_BENCH_NO_TORCH=1" if torch_hidden() else "torch is not importable"
        log(f"MoPPS: {torch_note}; timing the numpy-only port only")
    else:
        torch_note = f"torch {torch_mod.__version__}"
        log(f"MoPPS: {torch_note}; timing both reference variants")
    rng = np.random.default_rng(2024)
    m1 = bench_mopps_step(plan, rng, flush, torch_mod)
    m1["torch_note"] = torch_note
    for variant, vrows in m1["variants"].items():
        for r in vrows:
            log(f"MoPPS vs {variant} B̂={r['pool']}: " + "; ".join(
                f"{g}: ours {fmt_ms(r[g]['ours'])} ms, ref {fmt_ms(r[g]['ref'])} ms, {fmt_x(r[g]['speedup'])}"
                for g in REGIMES) + f"; allocator settle after ours {r['settle_after_ours'] * 1e6:.0f} us, "
                f"after ref {r['settle_after_ref'] * 1e6:.0f} us")
    log("MoPPS parity (max rel diff): " + ", ".join(f"{k} {v:.1e}" for k, v in m1["parity"].items()))
    prof = mopps_breakdown(plan, m1, rng, flush)
    log(f"MoPPS breakdown at B̂={prof['pool']}: " + ", ".join(
        f"{k} {v * 1e6:.1f}us" for k, v in prof.items()
        if isinstance(v, float) and k != "shape_mean" and (k != "update_torch" or prof["has_torch"])))
    del m1["sel"], m1["torch"]
    gc.collect()

    d2 = bench_dps_step(plan, rng, flush)
    for r in d2["rows"]:
        log(f"DPS {r['n']:,} prompts: ours hot {fmt_ms(r['hot'])} ms, cold {fmt_ms(r['cold'])} ms, "
            f"λ_T<1 cold {fmt_ms(r['slow_decay'])} ms; ref {fmt_ms(r['ref'])} ms"
            f"{'' if r['ref_measured'] else ' (extrapolated)'}; {fmt_x(r['speedup_hot'])} / {fmt_x(r['speedup_cold'])}")
    log(f"DPS flatness {d2['flat']}; parity {d2['parity']}")
    gap = dps_gap_cost(plan)
    log("DPS ns/candidate by steps since observed: " + "; ".join(
        f"λ_T={d}: " + " ".join(f"{g}:{v * 1e9:.0f}/{v2 * 1e9:.0f}" for g, v, v2 in res) for d, res in gap.items()))

    sc = bench_scale(plan)
    for name in ("mopps", "dps"):
        r = sc[name]
        log(f"scale {name} {r['n']:,}: {r['rss_delta'] / r['n']:.1f} B/prompt, bulk {r['t_bulk']:.2f} s, "
            f"step@{r['pool']} {fmt_ms(r['step'])} ms" +
            (f", save {r['t_save']:.2f} s, load {r['t_load']:.2f} s, {r['file_size'] / r['n']:.1f} B/prompt on disk"
             if name == "mopps" else ""))

    perfs = {}
    if plan.perf and not args.no_perf:
        missed = {t["key"] for t in targets_of(m1, d2, sc) if not t["ok"]}
        if "mopps_speed" in missed:
            perfs["mopps"] = perf_profile("mopps-profile", prof["pool"])
        if "dps_flat" in missed or "dps_speed" in missed:
            perfs["dps_big"] = perf_profile("dps-profile", d2["rows"][-1]["n"], 1.0)
            perfs["dps_mid"] = perf_profile("dps-profile", d2["at_100k"]["n"], 1.0)
            perfs["dps_small"] = perf_profile("dps-profile", d2["rows"][0]["n"], 1.0)
            perfs["dps_slow"] = perf_profile("dps-profile", d2["at_100k"]["n"], plan.dps_slow_decay)
        if perfs:
            log("perf profiles: " + ", ".join(f"{k} {'ok' if v.get('rows') else v.get('error')}"
                                              for k, v in perfs.items()))

    # Sanity: everything measured, every ratio finite; the ports agree with promptsel.
    ratios = [r[g]["speedup"] for vrows in m1["variants"].values() for r in vrows for g in REGIMES]
    ratios += [r[f"speedup_{g}"] for r in d2["rows"] for g in REGIMES] + list(d2["flat"].values())
    problems = [f"non-finite or non-positive ratio {x}" for x in ratios if not (math.isfinite(x) and x > 0)]
    for k, v in m1["parity"].items():
        if not v <= (1e-12 if k == "numpy" else TORCH_PARITY_TOL):
            problems.append(f"MoPPS {k} reference disagrees with promptsel (max rel diff {v})")
    if d2["parity"]["max_pi_diff"] > 1e-9 or d2["parity"]["max_score_diff"] > 1e-9:
        problems.append(f"DPS port disagrees with promptsel ({d2['parity']})")
    if not sc["mopps"]["load_roundtrip_ok"]:
        problems.append("MoPPS checkpoint round trip changed posteriors")

    mach["lib_changed"] = harness.lib_changed()
    if mach["lib_changed"]:
        log("note: the library was rebuilt during the run; this run used the copy taken at start")
    elapsed = perf_counter() - t_start
    if args.out:
        load_end = harness.load_average()
        Path(args.out).write_text(report(plan, mach, m1, prof, d2, gap, sc, perfs, elapsed, load_end) + "\n")
        log(f"wrote {args.out}")
    log(f"done in {elapsed:.1f} s" + ("" if not problems else f"; {len(problems)} problem(s)"))
    for p in problems:
        print("bench: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
