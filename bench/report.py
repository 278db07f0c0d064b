"""The Markdown report (bench/RESULTS.md): the targets and their verdicts, one section
per benchmark, and the analyses that explain the numbers with the perf profiles.
"""

import datetime

from harness import K, LIB_AT_START, REGIMES, fmt_ms, fmt_x, verdict
from mopps_bench import MOPPS_VARIANTS, TORCH_PARITY_TOL


def perf_table(w, title, prof, limit=14):
    if not prof:
        return
    if prof.get("error"):
        w(f"({title}: perf profile unavailable: {prof['error']})")
        w("")
        return
    w(f"{title} ({prof['worker'].get('steps', '?')} steps; self time; symbols ≥ 0.5 %):")
    w("")
    w("| % | object | symbol |")
    w("|---:|---|---|")
    for pct, dso, sym in prof["rows"][:limit]:
        sym = sym.replace("|", "\\|")
        if len(sym) > 100:
            sym = sym[:97] + "..."
        w(f"| {pct:.1f} | {dso} | `{sym}` |")
    w("")


def mopps_row_at(m1, variant, pool=4096):
    rows = m1["variants"][variant]
    return next((r for r in rows if r["pool"] == pool), rows[-1])


def targets_of(m1, d2, sc):
    judged = m1["judged"]
    r4096 = mopps_row_at(m1, judged)
    s4096 = min(r4096[g]["speedup"] for g in REGIMES)
    d100 = d2["at_100k"]
    s100 = min(d100[f"speedup_{g}"] for g in REGIMES)
    flat = max(d2["flat"][g] for g in REGIMES)
    mem = sc["mopps"]["rss_delta"] / sc["mopps"]["n"]
    if judged == "torch":
        m_name = (f"MoPPS step speedup at B̂ = {r4096['pool']:,} vs the reference as the trainer runs it "
                  "(torch tensors)")
    else:
        m_name = (f"MoPPS step speedup at B̂ = {r4096['pool']:,} vs the numpy-only port "
                  "(torch not available in this run, so judged against the generous port)")
    out = [dict(key="mopps_speed", name=m_name, goal="≥ 30x", got=fmt_x(s4096), ok=s4096 >= 30, judged=True)]
    if judged == "torch":
        rn = mopps_row_at(m1, "numpy")
        sn = min(rn[g]["speedup"] for g in REGIMES)
        out.append(dict(key="mopps_speed_numpy",
                        name=f"MoPPS step speedup at B̂ = {rn['pool']:,} vs the numpy-only port (generous lower bound)",
                        goal="≥ 30x (shown, not judged)", got=fmt_x(sn), ok=sn >= 30, judged=False))
    return out + [
        dict(key="dps_speed", name=f"DPS step speedup at {d100['n']:,} known prompts", goal="≥ 1000x",
             got=fmt_x(s100), ok=s100 >= 1000, judged=True),
        dict(key="dps_flat", name=f"DPS step flat: promptsel at {d2['rows'][-1]['n']:,} / at {d2['rows'][0]['n']:,} prompts",
             goal="close to 1 (≤ 1.5)", got=f"{flat:.2f}", ok=flat <= 1.5, judged=True),
        dict(key="mopps_mem", name=f"MoPPS memory per prompt at {sc['mopps']['n']:,} prompts", goal="≤ 48 B",
             got=f"{mem:.1f} B", ok=mem <= 48, judged=True),
    ]


def report(plan, mach, m1, prof, d2, gap, sc, perfs, elapsed, load_end):
    L = []
    w = L.append
    targets = targets_of(m1, d2, sc)
    w("# promptsel benchmark results")
    w("")
    w(f"Written by `python3 bench/run.py --out` ({plan.name} plan, {elapsed:.0f} s). Every comparison is a "
      "ratio of medians measured in the same run, with the repetitions of promptsel and of the reference "
      "port interleaved. Two cache regimes: **hot** (steps back to back) and **cold** (a "
      f"{plan.flush_mib} MiB buffer, larger than the L3, is rewritten before every step, as the rollouts "
      "between two steps of a real trainer would). In both regimes an untimed 32 KiB allocation runs between "
      "two timed calls, so that glibc's deferred merging of freed blocks is not charged to whichever side "
      "allocates next (it matters for the torch reference, §1). See bench/README.md.")
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    w(f"| CPU | {mach['cpu']}, L3 {mach['l3']} |")
    w(f"| cores | {mach['cores']} ({mach['usable']} usable by this process) |")
    w(f"| memory | {mach['mem']} |")
    w(f"| Python / numpy | {mach['python']} / {mach['numpy']} |")
    w(f"| libpromptsel | {mach['lib']} (sources at commit {mach['commit']}) |")
    if LIB_AT_START:
        w(f"| library file | {LIB_AT_START['path']} (sha256 {LIB_AT_START['sha256']}…, built "
          f"{datetime.datetime.fromtimestamp(LIB_AT_START['mtime']).astimezone().strftime('%Y-%m-%d %H:%M')}); "
          f"the run used a private copy taken at start{'; the file was REBUILT during the run' if mach.get('lib_changed') else ''} |")
    w(f"| kernel | {mach['kernel']} |")
    w(f"| date | {mach['date']} |")
    w(f"| load average (1/5/15 min) at start / end | {mach['load']} / {load_end} |")
    w("")
    w("The machine is shared with other jobs: absolute times are noisy, the ratios less so.")
    w("")
    w("## Targets")
    w("")
    w("Judged on the less favourable of the two cache regimes.")
    w("")
    w("| target | goal | measured | |")
    w("|---|---|---|---|")
    for t in targets:
        v = f"**{verdict(t['ok'])}**" if t["judged"] else f"{verdict(t['ok'])} (not judged)"
        w(f"| {t['name']} | {t['goal']} | {t['got']} | {v} |")
    w("")
    if m1["judged"] != "torch":
        w(f"torch was not available in this run ({m1['torch_note']}), so the MoPPS target is judged against the "
          "numpy-only port, which is cheaper than the reference as the trainer runs it.")
        w("")

    # -- 1 --
    w("## 1. MoPPS: one training step (select + update), promptsel vs the reference")
    w("")
    w(f"Warm state: {m1['dataset']:,} prompts warm-started from offline results (8 trials, weight 3), then "
      f"{m1['history']} select+update steps (B̂ = {m1['history_pool']}, B = B̂/16, k = {K}). Each pool size and "
      "reference variant starts both sides from the identical posterior (fresh copies); both get the same "
      "candidate pools and the same per-candidate success rates. Strategy topk, target 0.5, λ = 1. "
      "promptsel's time includes converting the collated `index` column (object ints) to int64 and slicing "
      "the batch by the chosen positions, as a trainer does; the reference slices the same batch. Times are "
      "select + update. Two reference variants (bench/reference_samplers.py):")
    w("")
    w("- **" + MOPPS_VARIANTS["torch"] + "** (mopps_reference.md §1.2–1.4, §2.4): the trainer hands `train` the "
      "success rates as a float32 torch tensor, so every posterior becomes a 0-d float32 tensor at its first "
      "update and is updated with torch scalar arithmetic from then on; `sample_batch` builds `np.array(list)` "
      "from a list mixing Python floats and 0-d tensors before `np.random.beta`, and returns "
      "`torch.tensor(r[chosen])`. The prompts the warm-up history updated start as 0-d tensors "
      f"({m1['updated_share']:.0%} of the {m1['dataset']:,} posteriors). Both sides get the same float32 tensor "
      "of rates; promptsel's `update` converts it with `np.asarray`, inside its timed part.")
    w("- **" + MOPPS_VARIANTS["numpy"] + "**: float64 Python/numpy scalars instead of 0-d tensors, a "
      "`dtype=float64` `np.array` over plain floats, a numpy score array, rates as a float64 numpy array. "
      "Cheaper than the real reference on each of these points: its speedups are a lower bound.")
    w("")
    for key, (variant, label) in enumerate(MOPPS_VARIANTS.items()):
        if variant not in m1["variants"]:
            w(f"### 1{'ab'[key]}. Against the {label}: not run ({m1['torch_note']})")
            w("")
            continue
        vrows = m1["variants"][variant]
        w(f"### 1{'ab'[key]}. Against the {label}")
        w("")
        w("| B̂ | B | regime | promptsel ms (select + update) | reference ms (select + update) | speedup |")
        w("|---:|---:|---|---:|---:|---:|")
        for r in vrows:
            for g in REGIMES:
                x = r[g]
                w(f"| {r['pool']:,} | {r['batch']:,} | {g} | {fmt_ms(x['ours'])} ({fmt_ms(x['ours_select'])} + "
                  f"{fmt_ms(x['ours_update'])}) | {fmt_ms(x['ref'])} ({fmt_ms(x['ref_select'])} + "
                  f"{fmt_ms(x['ref_update'])}) | **{fmt_x(x['speedup'])}** |")
        w("")
        if variant == "torch":
            w("Share of the reference's posteriors held as 0-d tensors at the start / end of each pool size: " +
              ", ".join(f"B̂ = {r['pool']:,}: {r['tensors_start']:.0%} / {r['tensors_end']:.0%}" for r in vrows) + ".")
            w("")
    reps = next(iter(m1["variants"].values()))[0]["reps"]
    par = m1["parity"]
    w(f"{reps} repetitions per side, regime, size and variant. Parity checks (10 steps in which both sides "
      "observe the same prompts of a 1,024-prompt subset with the same rates, from the same posterior; max "
      "relative difference of α and β over all prompts): numpy-only port vs promptsel "
      f"{par['numpy']:.1e} (float64, must be ≤ 1e-12)" +
      "".join(f"; {k} vs promptsel {v:.1e}" for k, v in par.items() if k != "numpy") +
      (" (the reference's arithmetic is float32 after the first update; must be ≤ "
       f"{TORCH_PARITY_TOL:.1e}, a few float32 ulps)" if len(par) > 1 else "") + ".")
    w("")
    per = prof["pool"]
    w(f"### Where promptsel's MoPPS step goes (B̂ = {per:,}, B = {prof['batch']})")
    w("")
    w(f"Medians of single calls through the public API on the warm state (mean α+β of the posteriors: "
      f"{prof['shape_mean']:.0f}). Hot: the call follows an untimed call on the same pool. Cold: the caches "
      "are flushed first and the pool is one the selector has not seen recently, as a new candidate pool "
      "after the rollouts. Differences of medians, so small parts are approximate.")
    w("")
    w("| part | how it is measured | hot µs | cold µs | hot ns per candidate | cold ns per candidate |")
    w("|---|---|---:|---:|---:|---:|")
    P = mopps_parts(prof)
    for name, how, hot, cold, per_c in P["rows"]:
        def cell(v, scale):
            return "" if v is None else f"{v * scale:.1f}"
        w(f"| {name} | {how} | {cell(hot, 1e6)} | {cell(cold, 1e6)} | {cell(hot, 1e9 / per) if per_c else ''} | "
          f"{cell(cold, 1e9 / per) if per_c else ''} |")
    w("")
    perf_table(w, "perf profile of a process running only promptsel MoPPS steps at this size", perfs.get("mopps"))
    w(mopps_analysis(m1, prof, perfs, targets))
    w("")

    # -- 2 --
    w("## 2. DPS: one training step against the number of known prompts")
    w("")
    r0 = d2["rows"][0]
    w(f"B̂ = {r0['pool']:,} candidates, B = {r0['batch']}, k = {K}, topk, constant prior 1.0, uniform π, "
      f"λ_T = 1. Each size: all prompts created by one bulk select, then {d2['history']} select+update steps; "
      "the reference port imports promptsel's state (identical beliefs and counts). The port's `train` "
      "walks every known prompt in Python, as the reference does; promptsel brings unobserved prompts "
      "forward lazily, when they are read. The reference is timed in the cold regime (its step takes long "
      "enough that the regime does not matter) and both speedups divide by it.")
    w("")
    w(f"| known prompts | promptsel ms, hot | promptsel ms, cold | reference ms (reps) | speedup hot | "
      f"speedup cold | promptsel ms, cold, λ_T = {plan.dps_slow_decay} |")
    w("|---:|---:|---:|---:|---:|---:|---:|")
    for r in d2["rows"]:
        ref_txt = (f"{fmt_ms(r['ref'])} ({r['ref_reps']})" if r["ref_measured"]
                   else f"{fmt_ms(r['ref'])} (extrapolated linearly from {r['ref_from']:,})")
        w(f"| {r['n']:,} | {fmt_ms(r['hot'])} | {fmt_ms(r['cold'])} | {ref_txt} | **{fmt_x(r['speedup_hot'])}** | "
          f"**{fmt_x(r['speedup_cold'])}** | {fmt_ms(r['slow_decay'])} |")
    w("")
    last = d2["rows"][-1]
    w(f"{r0['ours_reps']} repetitions of promptsel per regime and size.")
    if last["ref_measured"] and last["ref_reps"] == 1:
        w(f"At {last['n']:,} prompts the reference port ran ONE step (it walks all {last['n']:,} prompts in "
          "Python); that single repetition is its time.")
    w("")
    fl = d2["flat"]
    w(f"promptsel step time at {last['n']:,} / at {r0['n']:,} prompts: **{fl['hot']:.2f}** hot, "
      f"**{fl['cold']:.2f}** cold, {fl['slow_decay']:.2f} with λ_T = {plan.dps_slow_decay} (cold); the "
      f"reference's grows {last['ref'] / r0['ref']:.0f}x over the same range.")
    w("")
    p = d2["parity"]
    w(f"Parity check ({p['n']:,} prompts, 3 steps in which both observe the same prompts): max |Δπ| between "
      f"the port and promptsel {p['max_pi_diff']:.1e}; max difference of the selected top-B scores "
      f"{p['max_score_diff']:.1e}.")
    w("")
    w("### DPS read cost against the steps since a prompt was last observed")
    w("")
    w(f"Fresh sets of {plan.gap_prompts:,} prompts, each observed once, then g training steps that observe none "
      "of them, then a select over one set: ns per candidate of that first read since the observation, and "
      "of the same select repeated right after it (median of 3 sets; includes the fixed cost of the call).")
    w("")
    decays = list(gap)
    w("| steps since observed | " + " | ".join(f"λ_T = {d}: first read | next read" for d in decays) + " |")
    w("|---:|" + "---:|---:|" * len(decays))
    for i, (g, _, _) in enumerate(gap[decays[0]]):
        w(f"| {g} | " + " | ".join(f"{gap[d][i][1] * 1e9:.0f} | {gap[d][i][2] * 1e9:.0f}" for d in decays) + " |")
    w("")
    perf_table(w, f"perf profile, DPS steps at {d2['rows'][-1]['n']:,} prompts, λ_T = 1", perfs.get("dps_big"))
    perf_table(w, f"perf profile, DPS steps at {d2['at_100k']['n']:,} prompts, λ_T = 1", perfs.get("dps_mid"))
    perf_table(w, f"perf profile, DPS steps at {d2['rows'][0]['n']:,} prompts, λ_T = 1", perfs.get("dps_small"))
    perf_table(w, f"perf profile, DPS steps at {d2['at_100k']['n']:,} prompts, λ_T = {plan.dps_slow_decay}",
               perfs.get("dps_slow"))
    w(dps_analysis(plan, d2, gap, perfs, targets, mach))
    w("")

    # -- 3 --
    w("## 3. Scale")
    w("")
    m, d = sc["mopps"], sc["dps"]
    w("Each method in a fresh Python process: resident set size (/proc/self/statm) before and after creating "
      "every prompt in ONE bulk call (MoPPS: `warm_start`; DPS: one `select` over all ids with batch_size 1), "
      "divided by the count. The input arrays exist before the first reading. Peak is the high-water mark "
      "during the call (VmHWM, reset first), i.e. including the call's temporaries.")
    w("")
    w("| method | prompts | bytes/prompt (resident) | peak bytes/prompt during the call | bulk call s |")
    w("|---|---:|---:|---:|---:|")
    for name, r in (("MoPPS", m), ("DPS", d)):
        peak = f"{r['peak_delta'] / r['n']:.1f}" if r.get("peak_delta") else "n/a"
        w(f"| {name} | {r['n']:,} | **{r['rss_delta'] / r['n']:.1f}** | {peak} | {r['t_bulk']:.2f} |")
    w("")
    w(f"MoPPS checkpoint at {m['n']:,} prompts: save {m['t_save']:.2f} s (atomic: temp file, fsync, rename), "
      f"load {m['t_load']:.2f} s, file {m['file_size'] / 2**20:.1f} MiB ({m['file_size'] / m['n']:.1f} B/prompt); "
      f"reloaded posteriors identical: {'yes' if m['load_roundtrip_ok'] else 'NO'}.")
    w("")
    w(f"Per-step time (select + update, B̂ = {m['pool']:,}, B = {m['pool'] // 16:,}, k = {K}, pools drawn from "
      f"all tracked prompts, back to back, median of {plan.scale_reps}):")
    w("")
    w("| method | tracked prompts | ms/step |")
    w("|---|---:|---:|")
    w(f"| MoPPS | {m['n']:,} | {fmt_ms(m['step'])} |")
    w(f"| DPS | {d['n']:,} | {fmt_ms(d['step'])} |")
    w("")
    w(MEMORY_NOTE.format(lib=mach["lib"], mopps_n=m["n"], mopps_entry=m["entry_bytes"],
                         mopps_held=m["held"] / m["n"], mopps_b=m["rss_delta"] / m["n"],
                         dps_n=d["n"], dps_entry=d["entry_bytes"], dps_held=d["held"] / d["n"],
                         dps_b=d["rss_delta"] / d["n"], bulk_ns=m["t_bulk"] / m["n"] * 1e9,
                         load_ns=m["t_load"] / m["n"] * 1e9))
    w("")
    return "\n".join(L)


def mopps_parts(prof):
    """The breakdown's rows as (name, how, hot s, cold s or None, per candidate?)."""
    call = prof["call"]
    rows = [
        ("fixed cost of one call (shim, ctypes, lock, copies)", "select of 1 id from a pool of 1", call, None, False),
        ("id lookups and (α, β) gather", "predict over the pool − fixed cost",
         max(prof["predict"] - call, 0.0), max(prof["predict_cold"] - call, 0.0), True),
        ("Thompson draws Beta(α, β)", "select, strategy uniform − predict",
         max(prof["uniform"] - prof["predict"], 0.0), max(prof["uniform_cold"] - prof["predict_cold"], 0.0), True),
        ("top-B by distance to the target", "select topk − select uniform",
         max(prof["topk"] - prof["uniform"], 0.0), max(prof["topk_cold"] - prof["uniform_cold"], 0.0), True),
        ("select, total", "select topk", prof["topk"], prof["topk_cold"], True),
        ("update of B prompts", "update call, rates as float64 numpy", prof["update"], None, False),
    ]
    if prof.get("has_torch"):
        rows.append(("update of B prompts, rates as the trainer's tensor",
                     "update call, rates as float32 torch tensor", prof["update_torch"], None, False))
    rows += [
        ("trainer side: index column to int64", "np.asarray(object column, int64)", prof["convert"], None, True),
        ("for scale: numpy's C Beta sampler", "np.random.beta on the same (α, β)", prof["npbeta"], None, True),
    ]
    return {"rows": rows, "lookups": rows[1][2], "lookups_cold": rows[1][3], "draws": rows[2][2],
            "draws_cold": rows[2][3], "topk": rows[3][2], "topk_cold": rows[3][3]}


def _pct(prof, *needles):
    """Summed self-time % of the profile rows whose symbol contains one of `needles`."""
    if not prof or not prof.get("rows"):
        return None
    return sum(p for p, _dso, sym in prof["rows"] if any(n in sym for n in needles))


def mopps_analysis(m1, prof, perfs, targets):
    P = mopps_parts(prof)
    per = prof["pool"]
    pm = perfs.get("mopps")
    judged = m1["judged"]
    t = next(t for t in targets if t["key"] == "mopps_speed")
    r = mopps_row_at(m1, judged, per)
    rn = mopps_row_at(m1, "numpy", per)
    worst = min(REGIMES, key=lambda g: r[g]["speedup"])
    other = next(g for g in REGIMES if g != worst)

    def us(s):
        return f"{s * 1e6:.0f}"

    def ns(s):
        return f"{s / per * 1e9:.1f}"

    d_hot, d_cold = P["draws"], P["draws_cold"]
    iconv = prof["convert"] * (1 + 1 / 16)  # the pool's index column, then the selected batch's
    upd = prof["update_torch"] if prof.get("has_torch") else prof["update"]
    iso = prof["topk"] + iconv + upd
    floor = 2 * prof["call"] + iconv + d_hot
    L = []
    head = "**Why the MoPPS target is missed.**" if not t["ok"] else "**The MoPPS target is met.**"
    if judged == "torch":
        L.append(
            f"{head} Against the reference as the trainer runs it, the less favourable regime at B̂ = {per:,} "
            f"is {worst}: the reference takes {fmt_ms(r[worst]['ref'])} ms, so 30x allows {us(r[worst]['ref'] / 30)} µs "
            f"for promptsel's whole step; it took {us(r[worst]['ours'])} µs ({us(r[other]['ours'])} µs {other}). "
            f"With its state in the caches the step {'fits' if iso <= r[worst]['ref'] / 30 else 'would take'}: "
            f"select {us(prof['topk'])} µs, index conversions {us(iconv)} µs and update {us(upd)} µs in the "
            f"breakdown above, {us(iso)} µs in all. Next to the "
            f"numpy-only port (§1b) it took {us(rn['hot']['ours'])} µs hot and {us(rn['cold']['ours'])} µs cold. "
            "Beside the torch reference, whose step walks tens of thousands of scattered Python and tensor "
            "objects, even a back-to-back promptsel step finds much of its state evicted."
            + (" So what is missing is memory latency on promptsel's side, not arithmetic."
               if not t["ok"] and iso <= r[worst]["ref"] / 30 else ""))
        L.append("")
        L.append(
            f"- The breakdown above isolates it: a select costs {us(prof['topk'])} µs hot and "
            f"{us(prof['topk_cold'])} µs cold ({ns(prof['topk_cold'])} ns per candidate). "
            + (f"{(d_cold - d_hot) / max(prof['topk_cold'] - prof['topk'], 1e-12):.0%} of the difference is in the "
               f"draw loop: {us(d_hot)} µs with (α, β) cached, {us(d_cold)} µs when those loads miss. It is measured "
               "against `predict`, whose simple loop fetches the same (α, β) from cold memory, so this is what the "
               "same misses cost on top when the draw loop issues them: each candidate's (α, β) load waits behind "
               "the previous candidate's Beta variate (one serial generator), and the misses do not overlap. The "
               f"id lookups and gather themselves go from {us(P['lookups'])} to {us(P['lookups_cold'])} µs."
               if d_cold > 2 * d_hot else
               f"The difference is spread over the lookups ({us(P['lookups'])} → {us(P['lookups_cold'])} µs) and "
               f"the draws ({us(d_hot)} → {us(d_cold)} µs)."))
        L.append(
            "- Deferred allocator work is kept out of both sides' timings: glibc merges the small blocks the torch "
            "reference frees (its 0-d tensors) at the next request of 1 KiB or more, a median of "
            f"{us(r['settle_after_ref'])} µs after each reference step ({us(r['settle_after_ours'])} µs after a "
            "promptsel step). An untimed 32 KiB allocation between steps absorbs it, as the trainer's own work "
            "between two sampler calls would; left in place, it lands in whichever side allocates next, usually "
            "promptsel's index conversion.")
        L.append(
            f"- Against the numpy-only port promptsel is {fmt_x(min(rn[g]['speedup'] for g in REGIMES))} "
            f"(shown, not judged). That port's step takes {fmt_ms(rn['hot']['ref'])} ms hot, so 30x would need "
            f"{us(rn['hot']['ref'] / 30)} µs. promptsel's select alone takes {us(prof['topk'])} µs hot "
            f"({us(prof['call'])} µs fixed per call, {ns(P['lookups'])} ns per candidate of lookups, {ns(d_hot)} ns per "
            f"Thompson draw, {ns(P['topk'])} ns of top-B). The two calls' fixed cost, the index conversions and the "
            f"draws alone add up to {us(floor)} µs"
            + (". So 30x against that port needs draws several times cheaper or spread over cores."
               if floor >= rn['hot']['ref'] / 30 else
               f", leaving {us(rn['hot']['ref'] / 30 - floor)} µs for lookups, top-B and the Python side.")
            + " The row is shown so that the judged figure is not read as a speedup over an optimised Python "
            "baseline.")
    else:
        L.append(
            f"{head} torch is not available in this run ({m1['torch_note']}), so the target is judged against the "
            f"numpy-only port: at B̂ = {per:,} its {worst} step takes {fmt_ms(r[worst]['ref'])} ms, so 30x allows "
            f"{us(r[worst]['ref'] / 30)} µs. promptsel's select alone takes {us(prof['topk'])} µs hot and "
            f"{us(prof['topk_cold'])} µs cold ({us(prof['call'])} µs fixed per call, {ns(P['lookups'])} ns per "
            f"candidate of lookups, {ns(d_hot)} ns per Thompson draw, {ns(P['topk'])} ns of top-B). The two calls' "
            f"fixed cost, the index conversions and the draws alone add up to {us(floor)} µs"
            + (". So 30x against this port needs draws several times cheaper or spread over cores."
               if floor >= r[worst]['ref'] / 30 else
               f", leaving {us(r[worst]['ref'] / 30 - floor)} µs for lookups, top-B and the Python side.")
            + " The reference as the trainer runs it (torch tensors) is slower than this port; run with torch "
            "to measure it.")
    prof_txt = ""
    if _pct(pm, "MoPPSModel.draw") is not None:
        prof_txt = (f" In the profile, `MoPPSModel.draw` (ziggurat normals and Marsaglia–Tsang inlined) is "
                    f"{_pct(pm, 'MoPPSModel.draw'):.0f} % and libm's `log` (Marsaglia–Tsang's rare slow path) "
                    f"{_pct(pm, '__ieee754_log', 'log@@'):.0f} %.")
    L.append(
        f"- The Beta variate is no longer the limit: at {ns(d_hot)} ns per draw (hot) it is "
        f"{prof['npbeta'] / max(d_hot, 1e-12):.1f}x faster than numpy's C sampler ({ns(prof['npbeta'])} ns)."
        + prof_txt)
    L.append("")
    def share(*needles):
        v = _pct(pm, *needles)
        return "" if v is None else f", {v:.0f} % of the profile"

    L.append(
        "What would move the number, in order of payoff: (1) fetch the (α, β) of all candidates in a pass of "
        "their own before drawing (or prefetch a few candidates ahead), so the cold misses overlap the way "
        f"`PromptTable.resolve` already overlaps the slot and id misses: worth up to the {us(max(d_cold - d_hot, 0))} "
        "µs between the cold and the hot draw loop; (2) keep (α, β) next to the id in one 24 B record, so the id "
        "check in `resolve` brings them in and a cold candidate costs two misses instead of three "
        f"(`PromptTable.resolve`{share('PromptTable.resolve')}); (3) the top-B heap "
        f"(`SelectionRules.smallest`{share('SelectionRules.smallest')}; {ns(P['topk'])} ns per candidate hot): "
        "its comparator loads `key[h[i]]` through the position at every level, and the final `sort(by:)` is a "
        f"merge sort (`_stableSortImpl` and `_merge`{share('_stableSortImpl', '_merge')}). (key, position) "
        "pairs in the heap, or a quickselect of the distances followed by sorting the B winners, would avoid "
        "both.")
    return "\n".join(L)


def _top(prof, k=2):
    if not prof or not prof.get("rows"):
        return "(no profile)"
    rows = [r for r in prof["rows"] if r[1].startswith("libpromptsel")][:k]
    return ", ".join(f"`{sym}` {pct:.0f} %" for pct, _dso, sym in rows)


def dps_analysis(plan, d2, gap, perfs, targets, mach):
    rows, fl = d2["rows"], d2["flat"]
    small, big = rows[0], rows[-1]
    at = d2["at_100k"]
    t_flat = next(t for t in targets if t["key"] == "dps_flat")
    t_speed = next(t for t in targets if t["key"] == "dps_speed")
    g1 = {g: (a, b) for g, a, b in gap[1.0]}
    gs = gap[plan.dps_slow_decay]
    peaks = max(gs, key=lambda r: r[1])

    def pc(r, regime):
        return f"{r[regime] / r['pool'] * 1e9:.0f}"

    entry = d2["entry_bytes"]  # one prompt's table entry, as Selector.memory() reports it

    def mb(n):
        return f"{n * entry / 2**20:.1f}"

    def gns(g):
        return f"{g1[g][0] * 1e9:.0f}" if g in g1 else "?"

    L = []
    L.append(f"**Where the DPS time goes** (library {mach['lib']}, sources at {mach['commit']}). "
             f"promptsel's step does not grow with the number of known prompts the way the reference's does "
             f"({big['ref'] / small['ref']:.0f}x from {small['n']:,} to {big['n']:,}), but it is not flat: "
             f"{fl['hot']:.2f}x hot, {fl['cold']:.2f}x cold. Flatness target {verdict(t_flat['ok'])}; speedup at "
             f"{at['n']:,} prompts {verdict(t_speed['ok'])} (1000x needs ≤ {fmt_ms(at['ref'] / 1000)} ms per step, "
             f"i.e. {at['ref'] / 1000 / at['pool'] * 1e9:.0f} ns per candidate; promptsel takes {fmt_ms(at['cold'])} ms "
             f"cold and {fmt_ms(at['hot'])} ms hot, {pc(at, 'cold')} and {pc(at, 'hot')} ns per candidate).")
    if not perfs:
        L.append("")
        L.append("(No profiles in this run: they are taken by the full plan when a target is missed.)")
        return "\n".join(L)
    pb, pm, ps, pslow = perfs.get("dps_big"), perfs.get("dps_mid"), perfs.get("dps_small"), perfs.get("dps_slow")
    L.append("")
    L.append(f"- **Memory, not work, makes it grow.** The work per candidate is the same at every size (same pool, "
             f"batch and {d2['history']}-step history; a read's cost grows at most logarithmically with its gap, "
             f"table above). Yet hot it costs {pc(small, 'hot')} ns per candidate at {small['n']:,} prompts, "
             f"{pc(at, 'hot')} at {at['n']:,} and {pc(big, 'hot')} at {big['n']:,}. The table entries "
             f"({entry} B each) take {mb(small['n'])} MB at {small['n']:,}, which stays in the caches "
             f"between back-to-back steps, {mb(at['n'])} MB at {at['n']:,} and {mb(big['n'])} MB at {big['n']:,}; cold, "
             f"where the small state misses too, the ratio is {fl['cold']:.2f}. A read touches the slot array and "
             f"the prompt's {entry} B table entry (id and state, {-(-entry // 64)} cache lines or more); "
             "`PromptTable.resolve` loads the slots and then the entries of all candidates in separate passes and "
             "`DPSModel.current(_:)` gathers all records before propagating any, so the misses of different candidates overlap, but at "
             "the largest size they are still DRAM accesses. Profile at "
             f"{big['n']:,} prompts: {_top(pb, 4)}.")
    L.append(f"- **Propagation at λ_T = 1.** The settled phase is recomputed from the last observation at every "
             "read (never stored, so results depend only on the stored state and the step count): short gaps "
             "one step at a time, longer gaps by squaring P, stopping as soon as a power of P has converged to "
             "its rank-one limit. A read costs "
             f"{gns(0)} ns per candidate at g = 0, {gns(4)} at g = 4, {gns(16)} at g = 16 and {gns(1024)} at "
             f"g = 1024 (first-read column above, call overhead included). "
             f"In the profiles `advanceSettled` is {_pct(ps, 'advanceSettled') or 0:.0f} % at {small['n']:,} "
             f"prompts and {_pct(pm, 'advanceSettled') or 0:.0f} % at {at['n']:,}.")
    L.append(f"- **λ_T = {plan.dps_slow_decay}** (the MATH scripts): a step costs "
             f"{big['slow_decay'] / big['cold']:.1f}x the λ_T = 1 step at {big['n']:,} prompts and "
             f"{small['slow_decay'] / small['cold']:.1f}x at {small['n']:,}. After an observation the first "
             "unobserved steps are taken exactly, until the decayed counts equal the prior to double precision, "
             f"and that progress is stored, so the first read g steps later costs up to {peaks[1] * 1e9:.0f} ns per "
             f"candidate (g = {peaks[0]}), once per observation, and the next read {peaks[2] * 1e9:.0f} ns. Profile at {at['n']:,} prompts: "
             f"{_top(pslow, 3)}.")
    L.append("")
    L.append("What could still help on the Swift side: (1) a 128 B entry in a 64 B-aligned buffer (two cache "
             "lines instead of three; it needs π_before, read only by observations and exports, moved out of the "
             "entry); (2) an explicit prefetch of each candidate's entry (no portable intrinsic in Swift: it would "
             "need a C shim in the core). The remaining growth is the gap between cache and DRAM latency, not "
             "work that grows with the number of prompts.")
    return "\n".join(L)


MEMORY_NOTE = """The library's own count behind the numbers (`Selector.memory()` of libpromptsel {lib}, read
after the bulk call): one table entry per prompt, the id beside the model's state, plus the hash slots and
the spare capacity of both. MoPPS: {mopps_entry} B entry, {mopps_held:.1f} B per prompt held at {mopps_n:,}
prompts, {mopps_b:.1f} measured resident. DPS: {dps_entry} B entry, {dps_held:.1f} B per prompt held at
{dps_n:,} prompts, {dps_b:.1f} measured resident. Bulk creation costs {bulk_ns:.0f} ns per MoPPS prompt (one
hash insert each, a cache miss per insert at this size) and loading a checkpoint {load_ns:.0f} ns per prompt
(the table is rebuilt by inserting every id)."""
