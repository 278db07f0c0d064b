"""What every benchmark shares: the pinned library and the promptsel import, the sizes
(Plan), formatting, timing helpers (cache flushing, allocator settling, interleaving),
resident-memory readings, worker subprocesses and perf profiles, and the machine
description.

Import this module before numpy or promptsel: it limits BLAS to one thread and pins a
private copy of the library before promptsel loads it.
"""

import os

# One BLAS thread: the reference's tiny 3x3 products must not wake a BLAS thread pool
# that spins on the second core (it would also slow down whatever runs beside us).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import atexit  # noqa: E402
import dataclasses  # noqa: E402
import datetime  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from reference_samplers import candidate_batch  # noqa: E402

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
ENTRY = BENCH / "run.py"  # what worker processes run (`run.py --worker ...`)
os.environ.setdefault("PROMPTSEL_LIB", str(REPO / ".build" / "release" / "libpromptsel.so"))


def file_id(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        return dict(path=str(path), sha256=hashlib.sha256(f.read()).hexdigest()[:16], mtime=st.st_mtime)


def _pin_library():
    """Runs the whole benchmark, workers included, on a private copy of the library:
    others may rebuild .build/release/libpromptsel.so while we run, and one run must
    not mix two builds."""
    if os.environ.get("PROMPTSEL_BENCH_PINNED"):
        return None  # a worker: the parent pinned it already
    src = os.environ["PROMPTSEL_LIB"]
    if not os.path.isfile(src):
        return None  # promptsel's import reports the missing library
    d = tempfile.mkdtemp(prefix="promptsel-bench-lib-")
    atexit.register(shutil.rmtree, d, True)
    dst = os.path.join(d, "libpromptsel.so")
    shutil.copy2(src, dst)
    os.environ["PROMPTSEL_LIB"] = dst
    os.environ["PROMPTSEL_BENCH_PINNED"] = "1"
    return file_id(src)


LIB_AT_START = _pin_library()
try:
    import promptsel  # noqa: E402
except ImportError:
    sys.path.insert(0, str(REPO / "python"))
    import promptsel  # noqa: E402


def lib_changed():
    """True when the library file the run pinned at start was rebuilt since (None if
    nothing was pinned or the file is gone)."""
    if not LIB_AT_START or not os.path.isfile(LIB_AT_START["path"]):
        return None
    return file_id(LIB_AT_START["path"])["sha256"] != LIB_AT_START["sha256"]


perf_counter = time.perf_counter
K = 8  # rollouts per prompt
REGIMES = ("hot", "cold")


# ---------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Plan:
    name: str
    mopps_dataset: int = 50_000
    mopps_history: int = 300          # steps applied before measuring
    mopps_history_pool: int = 4096
    mopps_pools: tuple = (1024, 4096, 16384)
    mopps_reps: int = 31              # per regime and side
    mopps_warmup: int = 3
    dps_sizes: tuple = (10_000, 100_000, 1_000_000)
    dps_pool: int = 4096
    dps_batch: int = 256
    dps_history: int = 100
    dps_ours_reps: int = 31           # per regime
    dps_ref_reps: dict = dataclasses.field(default_factory=lambda: {10_000: 5, 100_000: 3, 1_000_000: 1})
    dps_ref_limit_s: float = 60.0     # a reference step predicted slower than this is extrapolated
    dps_slow_decay: float = 0.7       # extra column: ours with lambda_T < 1 (the MATH scripts' value)
    gap_steps: tuple = (0, 1, 4, 16, 32, 64, 128, 256, 1024)
    gap_prompts: int = 4096
    scale_mopps: int = 10_000_000
    scale_dps: int = 10_000_000
    scale_pool: int = 65536
    scale_reps: int = 15
    profile_pool: int = 4096          # pool size of the MoPPS cost breakdown
    profile_reps: int = 31
    perf: bool = True
    flush_mib: int = 64


FULL = Plan("full")
SMOKE = Plan(
    "smoke", mopps_dataset=5_000, mopps_history=10, mopps_history_pool=1024,
    mopps_pools=(256, 1024), mopps_reps=3, mopps_warmup=1,
    dps_sizes=(1_000, 4_000), dps_pool=512, dps_batch=32, dps_history=5, dps_ours_reps=3,
    dps_ref_reps={1_000: 1, 4_000: 1}, gap_steps=(0, 1, 16, 128), gap_prompts=512,
    scale_mopps=200_000, scale_dps=100_000, scale_pool=4096, scale_reps=3,
    profile_pool=1024, profile_reps=3, perf=False, flush_mib=16,
)


# ---------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------

def median(xs):
    return float(np.median(np.asarray(xs, dtype=np.float64)))


def fmt_ms(seconds):
    v = seconds * 1e3
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 0.1:
        return f"{v:.3f}"
    return f"{v:.4f}"


def fmt_x(ratio):
    if not math.isfinite(ratio):
        return str(ratio)
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.1f}x"


def verdict(ok):
    return "PASS" if ok else "MISS"


# ---------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------

class Flusher:
    """Evicts the CPU caches by rewriting a buffer larger than the L3 (the 'cold'
    regime: what the rollouts between two training steps do to the caches)."""

    def __init__(self, mib):
        self.buf = np.ones(mib * 2**20 // 8)

    def __call__(self):
        self.buf += 1.0


def settle_allocator():
    """One 32 KiB allocation and free, untimed, standing for the trainer's own work
    between two sampler calls. glibc defers merging the small blocks freed since the
    last request of at least 1 KiB (fastbins) until the next such request; the torch
    reference frees thousands of small blocks per step (its 0-d tensors), and without
    this the merge lands in whichever timed call allocates next, often the other
    side's. Returns its duration (the deferred work)."""
    t0 = perf_counter()
    np.empty(4096)
    return perf_counter() - t0


def interleave(ours, ref, n_ours, n_ref, before=None):
    """Runs n_ours calls of ours(i) and n_ref calls of ref(i), interleaved evenly and
    alternating which one goes first; `before(last)` runs untimed before each call,
    with last = "o", "r" or None: the side that ran just before.
    Returns (ours_results, ref_results)."""
    r_ours, r_ref = [], []
    last = None
    total = max(n_ours, n_ref)
    io = ir = 0
    for slot in range(total):
        order = [("o", int(round((slot + 1) * n_ours / total)) - io),
                 ("r", int(round((slot + 1) * n_ref / total)) - ir)]
        if slot % 2:
            order.reverse()
        for who, count in order:
            for _ in range(count):
                if before is not None:
                    before(last)
                if who == "o":
                    r_ours.append(ours(io))
                    io += 1
                else:
                    r_ref.append(ref(ir))
                    ir += 1
                last = who
    return r_ours, r_ref


def loop_for(seconds, step):
    """Calls step(0), step(1), ... for `seconds`; returns the number of calls."""
    t_end = perf_counter() + seconds
    steps = 0
    while perf_counter() < t_end:
        step(steps)
        steps += 1
    return steps


# ---------------------------------------------------------------------------------
# Selectors and trainer-side inputs
# ---------------------------------------------------------------------------------

def index_column(batch):
    """What a trainer hands promptsel: the collated 'index' column as int64."""
    return np.asarray(batch["index"], dtype=np.int64)


def trainer_batches(pools):
    """Collated candidate batches: 'index' (object ints, as verl's collate_fn makes it)
    and a 'row' column that tells, after slicing, which candidates were chosen."""
    out = []
    for pool in pools:
        b = candidate_batch(pool)
        b["row"] = np.arange(len(pool))
        out.append(b)
    return out


def mopps(seed=0, strategy="topk", decay=1.0):
    return promptsel.Selector("mopps", seed=seed, strategy=strategy, target=0.5, decay=decay, prior=(1.0, 1.0))


def dps(decay=1.0, seed=0):
    return promptsel.Selector("dps", seed=seed, prior_alpha=1.0, prior_pi="uniform",
                              transition_decay=decay, strategy="topk")


def clone(sel):
    return promptsel.Selector.from_bytes(sel.to_bytes())


# ---------------------------------------------------------------------------------
# Resident memory (/proc)
# ---------------------------------------------------------------------------------

def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def hwm_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def reset_hwm():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------
# Worker processes and perf profiles
# ---------------------------------------------------------------------------------

def child_env():
    """The environment of a worker: the pinned library, and the promptsel package this
    process imported first on the path (so both sides run the same shim)."""
    env = dict(os.environ)
    package_root = str(Path(promptsel.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return env


def run_worker(kind, n, pool_n=0, reps=0, timeout=600):
    """`run.py --worker kind` in a fresh process; returns the JSON of its last line."""
    cmd = [sys.executable, str(ENTRY), "--worker", kind, "--n", str(n), "--pool", str(pool_n), "--reps", str(reps)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"worker {kind} n={n} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def perf_profile(kind, *args, seconds=8):
    """perf record of a worker process; returns the top self-time symbols, demangled."""
    perf = shutil.which("perf")
    if not perf:
        return {"error": "perf not installed"}
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "perf.data")
        cmd = [perf, "record", "-F", "2000", "-o", data, "--", sys.executable, str(ENTRY),
               "--worker", kind, "--seconds", str(seconds)] + [str(a) for a in args]
        r = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), timeout=300)
        if r.returncode != 0:
            return {"error": ((r.stderr or r.stdout).strip().splitlines() or ["?"])[-1]}
        rep = subprocess.run([perf, "report", "-i", data, "--no-children", "--sort", "dso,symbol",
                              "--stdio", "-g", "none", "--percent-limit", "0.5"],
                             capture_output=True, text=True, timeout=300)
        out = r.stdout.strip().splitlines()
        worker = json.loads(out[-1]) if out else {}
    demangle = shutil.which("swift-demangle") or next(
        (p for p in ("/opt/swift/usr/bin/swift-demangle",) if os.path.exists(p)), None)
    rows = []
    for line in rep.stdout.splitlines():
        parts = line.strip().split(None, 3)
        if len(parts) < 4 or not parts[0].endswith("%") or line.lstrip().startswith("#"):
            continue
        pct, dso, _kind, sym = parts
        sym = re.split(r"\s{2,}", sym.strip())[0]  # perf pads the column and appends more
        if demangle and sym.startswith("$s"):
            dm = subprocess.run([demangle, "--simplified", "--compact", sym], capture_output=True, text=True)
            sym = dm.stdout.strip() or sym
        rows.append((float(pct.rstrip("%")), dso, sym))
    return {"rows": rows, "worker": worker}


# ---------------------------------------------------------------------------------
# Machine
# ---------------------------------------------------------------------------------

def git_commit():
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "Sources", "include"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (head or "unknown") + (" + uncommitted changes in Sources/include" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def load_average():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine():
    cpu, l3 = "unknown", None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        l3 = Path("/sys/devices/system/cpu/cpu0/cache/index3/size").read_text().strip()
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            mem = next(line for line in f if line.startswith("MemTotal")).split()[1]
        mem = f"{int(mem) / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        mem = "unknown"
    return dict(
        cpu=cpu, l3=l3 or "unknown", cores=os.cpu_count(), usable=len(os.sched_getaffinity(0)), mem=mem,
        python=platform.python_version(), numpy=np.__version__, lib=promptsel.__version__,
        kernel=platform.release(), date=datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        load=load_average(), commit=git_commit(),
    )
