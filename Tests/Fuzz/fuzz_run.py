"""Runs the fuzz harnesses for mk/fuzz.mk and reports what they did.

    fuzz_run.py fuzz    --name N --kind c|python --seconds S --corpus DIR --seeds DIR
                        --findings DIR --summary DIR [--dict F] [--max-len L] [--timeout T] -- CMD...
    fuzz_run.py regress --name N --kind c|python --summary DIR --inputs DIR -- CMD...
    fuzz_run.py triage  --kind c|python -- CMD... FILE...
    fuzz_run.py minimize --kind c|python --out FILE -- CMD... FILE
    fuzz_run.py summary DIR

`fuzz` runs CMD (a libFuzzer binary, or `python fuzz_json_importers.py`) for S
seconds. C harnesses run in libFuzzer's fork mode with -ignore_crashes, so one run
collects every crash, leak and timeout it meets instead of stopping at the first
(--fork 0: stop at the first, as CI does);
the Python harness keeps going by itself (PROMPTSEL_FUZZ_FINDINGS). Crash inputs are
left in --findings; each is re-run once to name its cause (the invariant message,
the sanitizer report, or the first frame of the Swift sources for a trap), and
duplicates are grouped. Prints executions, coverage (libFuzzer's `cov:` at the start
and the end) and the findings; exits 1 if there is any.

`regress` runs CMD once over each file of --inputs (libFuzzer with a file argument
runs it and exits) and exits 1 if any of them still fails.

`minimize` shrinks a failing input while keeping its signature (C: libFuzzer's
-minimize_crash, which uses the structure-aware mutator, so the frame stays valid;
Python: deletes JSON nodes, then byte ranges, testing in-process), and writes it to
--out: how the inputs under Tests/Fuzz/regressions/ were made.

`summary` prints the table of the last runs' summaries (json files in DIR) and exits
1 if any run had findings.
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

ENV = dict(os.environ, SWIFT_BACKTRACE="enable=no")  # Swift's crash handler fights ASan's and libFuzzer's


def _rel(path):
    i = path.find("/Sources/")
    return path[i + 1:] if i >= 0 else os.path.basename(path)


_demangled = {}


def _demangle(symbol):
    if symbol not in _demangled:
        name = symbol
        swift = shutil.which(os.environ.get("SWIFT", "swift")) or shutil.which("swift")
        if symbol.startswith("$s") and swift:
            try:
                out = subprocess.run([swift, "demangle", "--simplified", "--compact", symbol], capture_output=True,
                                     text=True, timeout=30, env=ENV)
                name = out.stdout.strip() or symbol
            except (OSError, subprocess.SubprocessError):
                pass
        _demangled[symbol] = name
    return _demangled[symbol]


def _normalize(msg):
    msg = msg.split("; row [")[0]
    msg = re.sub(r"-?\b(nan|inf|\d+(\.\d+)?(e[+-]?\d+)?)\b", "#", msg)
    prev = None
    while prev != msg:
        prev, msg = msg, re.sub(r"\([^()]*\)", "(…)", msg)
    return msg[:240]


def signature_c(output, rc, path):
    """One line naming why a C harness failed on an input."""
    name = os.path.basename(path)
    if name.startswith("timeout-") or "ALARM: working on the last Unit" in output:
        where = _first_source_frame(output)
        return "timeout" + (f" in {where}" if where else "")
    if name.startswith("oom-") or "out-of-memory" in output:
        return "out of memory"
    m = re.search(r"==promptsel-fuzz== INVARIANT BROKEN: (.*)", output)
    if m:
        return "invariant: " + _normalize(m.group(1))
    m = re.search(r"ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer): ?([\w-]*)", output)
    if m:
        return f"{m.group(1)} {m.group(2)} at {_first_source_frame(output) or _first_frame(output)}"
    m = re.search(r"(Fatal error|runtime error): (.*)", output)
    if m:
        return f"{m.group(1)}: {m.group(2)[:160]} at {_first_source_frame(output)}"
    if "deadly signal" in output:
        return f"trap (deadly signal) at {_first_source_frame(output) or _first_frame(output)}"
    if rc == 0:
        return "does not reproduce"
    return f"exit status {rc}"


def _first_source_frame(output):
    for m in re.finditer(r"#\d+ 0x[0-9a-f]+ in (\S+) (\S*/Sources/[^\s:]+):(\d+)", output):
        return f"{_rel(m.group(2))}:{m.group(3)} ({_demangle(m.group(1))})"
    return None


def _first_frame(output):
    for m in re.finditer(r"#\d+ 0x[0-9a-f]+ in (\S+) (\S+)", output):
        if "compiler-rt" in m.group(2) or "libFuzzer" in m.group(2) or m.group(1).startswith(("__", "fuzzer::")):
            continue
        return f"{m.group(1)} {os.path.basename(m.group(2))}"
    return "?"


def signature_python(output, rc, path):
    m = re.search(r"==promptsel-fuzz== FINDING (\S+)", output)
    if m:
        return m.group(1)
    lines = [l for l in output.splitlines() if l.strip()]
    for i, l in enumerate(lines):
        if l.startswith(" === Uncaught Python exception: ===") and i + 1 < len(lines):
            frames = [x for x in lines[i:] if x.strip().startswith("File ") and "/promptsel/" in x]
            where = re.sub(r'.*File ".*/(promptsel/[^"]+)", line (\d+).*', r"\1:\2", frames[-1]) if frames else "?"
            exc = next((x for x in lines[i + 1:] if re.match(r"^[A-Za-z_.]+(Error|Exception|Finding)\b", x)), "?")
            return f"{exc[:160]} at {where}"
    if "timeout" in os.path.basename(path) or "ALARM" in output:
        return "timeout"
    return "does not reproduce" if rc == 0 else f"exit status {rc}"


def reproduce(kind, cmd, path, timeout=60):
    """Runs CMD once on `path` (libFuzzer's -timeout: `timeout` seconds); (signature, status, output)."""
    args = cmd + [f"-timeout={timeout}", path]
    env = dict(ENV)
    env.pop("PROMPTSEL_FUZZ_FINDINGS", None)
    try:
        p = subprocess.run(args, capture_output=True, text=True, errors="replace", timeout=3 * timeout + 60, env=env)
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(errors="replace"), -9
        out += "\nALARM: working on the last Unit (reproduction timed out)"
    sig = (signature_c if kind == "c" else signature_python)(out, rc, path)
    return sig, rc, out


def triage(kind, cmd, files):
    groups = {}
    for f in sorted(files, key=lambda f: (os.path.getsize(f), f)):
        sig, _, _ = reproduce(kind, cmd, f)
        groups.setdefault(sig, []).append(f)
    return groups


# ---- libFuzzer output ------------------------------------------------------------

def parse_stats(log):
    s = {"execs": None, "cov_start": None, "cov_end": None, "ft": None, "corpus": None, "lib_counters": None}
    m = re.search(r"Loaded \d+ modules\s+\((\d+) inline 8-bit counters\): (.*)", log)
    if m:
        sizes = [int(x) for x in re.findall(r"(\d+) \[", m.group(2))]
        s["lib_counters"] = sizes
    fork = re.findall(r"^#(\d+): cov: (\d+) ft: (\d+) corp: (\d+) exec/s: \d+ oom/timeout/crash: (\d+)/(\d+)/(\d+)",
                      log, re.M)
    if fork:
        s["cov_start"] = int(fork[0][1])
        last = fork[-1]
        s.update(execs=int(last[0]), cov_end=int(last[1]), ft=int(last[2]), corpus=int(last[3]))
        return s
    inited = re.search(r"^#\d+\s+INITED\s+cov: (\d+)", log, re.M)
    if inited:
        s["cov_start"] = int(inited.group(1))
    status = re.findall(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)", log, re.M)
    if status:
        last = status[-1]
        s.update(execs=int(last[0]), cov_end=int(last[1]), ft=int(last[2]), corpus=int(last[3]))
    m = re.search(r"stat::number_of_executed_units: (\d+)", log)
    if m:
        s["execs"] = int(m.group(1))
    return s


def cmd_fuzz(a, cmd):
    os.makedirs(a.corpus, exist_ok=True)
    shutil.rmtree(a.findings, ignore_errors=True)
    os.makedirs(a.findings)
    os.makedirs(a.summary, exist_ok=True)
    log_path = os.path.join(a.summary, f"{a.name}.log")
    flags = [f"-max_total_time={a.seconds}", f"-timeout={a.timeout}", f"-max_len={a.max_len}",
             f"-artifact_prefix={os.path.join(a.findings, '')}", "-print_final_stats=1", "-rss_limit_mb=4096"]
    if a.dict:
        flags.append(f"-dict={a.dict}")
    env = dict(ENV)
    if a.kind == "c" and a.fork:
        flags += ["-fork=1", "-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1"]
    else:
        env["PROMPTSEL_FUZZ_FINDINGS"] = a.findings
    dirs = [a.corpus] + [d for d in a.seeds if os.path.isdir(d)]
    print(f"fuzz {a.name}: {a.seconds} s, corpus {a.corpus}, seeds {' '.join(a.seeds)}", flush=True)
    t0 = time.time()
    with open(log_path, "w") as log:
        p = subprocess.run(cmd + flags + dirs, stdout=log, stderr=subprocess.STDOUT, env=env)
    elapsed = time.time() - t0
    with open(log_path, errors="replace") as f:
        text = f.read()
    stats = parse_stats(text)

    # Findings: libFuzzer artifacts (crash-, leak-, timeout-, oom-, slow-unit-) and the Python harness's own.
    artifacts = [f for f in glob.glob(os.path.join(a.findings, "*"))
                 if re.match(r"(crash|leak|timeout|oom)-", os.path.basename(f))]
    groups = triage(a.kind, cmd, artifacts) if artifacts else {}
    for txt in sorted(glob.glob(os.path.join(a.findings, "*.txt"))):
        groups.setdefault(os.path.basename(txt)[:-4], []).append(txt[:-4] + ".json")
    groups = {k: v for k, v in groups.items() if k != "does not reproduce"} if a.kind == "python" else groups
    if p.returncode != 0 and not groups and a.kind == "python":
        groups[f"harness exited with status {p.returncode} (see {log_path})"] = []

    summary = dict(name=a.name, seconds=round(elapsed, 1), returncode=p.returncode, log=log_path,
                   findings={k: v for k, v in groups.items()}, **stats)
    with open(os.path.join(a.summary, f"{a.name}.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print_run(summary)
    return 1 if groups else 0


def print_run(s):
    execs = s.get("execs")
    rate = f" ({execs / s['seconds']:.0f}/s)" if execs and s["seconds"] else ""
    counters = s.get("lib_counters")
    na = lambda k: "-" if s.get(k) is None else s.get(k)  # noqa: E731 - not reached when a seed fails at once
    cov = f"cov {na('cov_start')} -> {na('cov_end')}, ft {na('ft')}, corpus {na('corpus')}"
    if counters:
        cov += f"; instrumented counters per module {'+'.join(map(str, counters))}"
    print(f"fuzz {s['name']}: {execs} executions in {s['seconds']} s{rate}; {cov}")
    if not s["findings"]:
        print(f"fuzz {s['name']}: no findings")
    for sig, files in s["findings"].items():
        print(f"fuzz {s['name']}: FINDING {sig}")
        for f in files[:3]:
            print(f"    {f}")
        if len(files) > 3:
            print(f"    ... and {len(files) - 3} more")


def cmd_regress(a, cmd):
    files = sorted(f for f in glob.glob(os.path.join(a.inputs, "*")) if os.path.isfile(f) and not f.endswith(".md"))
    failed = []
    for f in files:
        sig, rc, out = reproduce(a.kind, cmd, f, timeout=a.timeout)
        ok = rc == 0
        print(f"regress {a.name}: {'ok  ' if ok else 'FAIL'} {os.path.relpath(f)}" + ("" if ok else f"  <- {sig}"))
        if not ok:
            failed.append((f, sig))
    print(f"regress {a.name}: {len(files) - len(failed)}/{len(files)} inputs pass")
    return 1 if failed else 0


def cmd_summary(d):
    runs = []
    for f in sorted(glob.glob(os.path.join(d, "*.json"))):
        with open(f) as fh:
            runs.append(json.load(fh))
    if not runs:
        print("fuzz: no runs to summarize")
        return 0
    print("\nfuzz summary")
    print(f"  {'harness':<16} {'seconds':>7} {'executions':>11} {'exec/s':>7} {'cov start':>9} {'cov end':>8} "
          f"{'corpus':>6}  findings")
    bad = 0
    for s in runs:
        n = len(s["findings"])
        bad += n
        execs = s.get("execs") or 0
        print(f"  {s['name']:<16} {s['seconds']:>7} {execs:>11} {execs / max(s['seconds'], 1e-9):>7.0f} "
              f"{s.get('cov_start') or '-':>9} {s.get('cov_end') or '-':>8} {s.get('corpus') or '-':>6}  {n}")
        for sig in s["findings"]:
            print(f"      - {sig}")
    return 1 if bad else 0


def minimize_c(cmd, path, out, seconds=60, tolerate=None):
    """libFuzzer's -minimize_crash keeps any smaller input that crashes; a result whose
    signature differs from the original's is dropped. `tolerate` (the harness's
    PROMPTSEL_FUZZ_TOLERATE classes) keeps it from drifting to another open finding."""
    want, _, _ = reproduce("c", cmd, path)
    best = path
    env = dict(ENV, PROMPTSEL_FUZZ_TOLERATE=tolerate) if tolerate else ENV
    for attempt in range(3):
        tmp = f"{out}.try{attempt}"
        subprocess.run(cmd + ["-minimize_crash=1", f"-max_total_time={seconds}", f"-seed={attempt + 1}",
                              f"-exact_artifact_path={tmp}", best], capture_output=True, env=env, timeout=seconds * 4)
        if os.path.exists(tmp) and os.path.getsize(tmp) < os.path.getsize(best):
            sig, _, _ = reproduce("c", cmd, tmp)
            if sig == want:
                best = tmp
    shutil.copy(best, out)
    for f in glob.glob(f"{out}.try*"):
        os.remove(f)
    return want, os.path.getsize(path), os.path.getsize(out)


def minimize_python(cmd, path, out, budget=4000):
    """Greedy reduction of a JSON input that fails the Python harness, in-process."""
    script = next(c for c in cmd if c.endswith(".py"))
    os.environ.pop("PROMPTSEL_FUZZ_FINDINGS", None)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    import importlib
    h = importlib.import_module(os.path.splitext(os.path.basename(script))[0])

    def sig(data):
        try:
            h.TestOneInput(data)
        except Exception as e:  # noqa: BLE001
            return h._signature(e)
        return None

    with open(path, "rb") as f:
        best = f.read()
    want = sig(best)
    assert want, f"{path} does not fail the harness"
    tests = 0

    def keep(candidate):
        nonlocal best, tests
        tests += 1
        if len(candidate) < len(best) and sig(candidate) == want:
            best = candidate
            return True
        return False

    def strip_key(node, key, depth):
        if isinstance(node, dict):
            if depth == 0:
                node.pop(key, None)
            else:
                for v in node.values():
                    strip_key(v, key, depth - 1)
        elif isinstance(node, list) and depth > 0:
            for v in node:
                strip_key(v, key, depth - 1)

    # Structure, first: a key dropped from every object at its depth (the ids of
    # alphas, pis, pis_before, sampled_times go together).
    try:
        doc = json.loads(best)
        keys, queue = set(), [(0, doc)]
        while queue:
            depth, node = queue.pop(0)
            if isinstance(node, dict):
                keys.update((depth, k) for k in node)
            for v in (node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()):
                queue.append((depth + 1, v))
        for depth, key in sorted(keys, key=lambda x: (-x[0], str(x[1]))):
            if tests >= budget:
                break
            d = json.loads(best)
            strip_key(d, key, depth)
            keep(json.dumps(d).encode())
    except Exception:  # noqa: BLE001 - not parseable (e.g. too deep): bytes only
        pass
    # Then single object members and list elements, breadth first, until nothing goes.
    changed = True
    while changed and tests < budget:
        changed = False
        try:
            doc = json.loads(best)
        except Exception:  # noqa: BLE001 - not parseable (e.g. too deep): bytes only
            break
        paths, queue = [], [((), doc)]
        while queue:
            p, node = queue.pop(0)
            items = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
            for k, v in items:
                paths.append(p + (k,))
                queue.append((p + (k,), v))
        for p in paths:
            if tests >= budget:
                break
            d = json.loads(best)
            parent = d
            try:
                for k in p[:-1]:
                    parent = parent[k]
                del parent[p[-1]]
            except (KeyError, IndexError, TypeError):
                continue
            if keep(json.dumps(d).encode()):
                changed = True
                break
    # Bytes: remove ever smaller ranges.
    size = len(best) // 2
    while size >= 1 and tests < budget:
        i = 0
        while i < len(best) and tests < budget:
            if not keep(best[:i] + best[i + size:]):
                i += size
        size //= 2
    with open(out, "wb") as f:
        f.write(best)
    return want, os.path.getsize(path), len(best)


def main():
    argv = sys.argv[1:]
    cmd = []
    if "--" in argv:
        i = argv.index("--")
        argv, cmd = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["fuzz", "regress", "triage", "minimize", "summary"])
    ap.add_argument("--out")
    ap.add_argument("--tolerate", help="minimize: PROMPTSEL_FUZZ_TOLERATE for the minimizing runs")
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--name")
    ap.add_argument("--kind", choices=["c", "python"], default="c")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--corpus")
    ap.add_argument("--seeds", nargs="*", default=[])
    ap.add_argument("--findings")
    ap.add_argument("--summary")
    ap.add_argument("--inputs")
    ap.add_argument("--dict")
    ap.add_argument("--max-len", type=int, default=32768)
    ap.add_argument("--timeout", type=int, default=10)
    ap.add_argument("--fork", type=int, default=1,
                    help="fuzz, C harnesses: 1 = fork mode, every finding of the run (default); 0 = stop at the first")
    a = ap.parse_args(argv)
    if a.mode == "fuzz":
        return cmd_fuzz(a, cmd)
    if a.mode == "regress":
        return cmd_regress(a, cmd)
    if a.mode == "summary":
        return cmd_summary(a.dir)
    # triage, minimize: the files are the trailing arguments of CMD that exist
    files = [c for c in cmd if os.path.isfile(c) and not os.access(c, os.X_OK) and not c.endswith(".py")]
    base = [c for c in cmd if c not in files]
    if a.mode == "minimize":
        if a.kind == "c":
            sig, before, after = minimize_c(base, files[0], a.out, seconds=a.seconds, tolerate=a.tolerate)
        else:
            sig, before, after = minimize_python(base, files[0], a.out)
        print(f"minimize: {files[0]} ({before} bytes) -> {a.out} ({after} bytes): {sig}")
        return 0
    for sig, fs in triage(a.kind, base, files).items():
        print(f"{sig}\n    " + "\n    ".join(fs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
