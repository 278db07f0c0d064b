"""Regression tests of the defects found by attacking the library (reliability issue),
and the attack made part of the suite: saves killed at random moments, saves from a
signal handler while other threads work, hostile files. `make reliability` runs this
file with its summary lines shown (-s)."""

import json
import os
import pickle
import random
import signal
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

import promptsel
from conftest import SANITIZED
from promptsel import CheckpointError, OutOfRangeError, PromptSelError, TaskSampler

HEADER = 24


def _frame(data):
    """(version, method, payload) of checkpoint bytes."""
    version, method, length = struct.unpack_from("<IIQ", data, 8)
    return version, method, bytearray(data[HEADER:HEADER + length])


def _reframe(data, payload):
    """Checkpoint bytes with `payload` and a fresh length and CRC: a file whose only
    defect is what the payload says."""
    head = bytearray(data[:HEADER])
    struct.pack_into("<Q", head, 16, len(payload))
    body = bytes(head) + bytes(payload)
    return body + struct.pack("<I", zlib.crc32(body))


def _dps_offsets(sel):
    """Offsets into a DPS format-2 payload: observed, confusion, n, ids, alphas, pis."""
    _, _, payload = _frame(sel.to_bytes())
    text_len = struct.unpack_from("<I", payload, 0)[0]
    o = 4 + text_len + 32 + 8  # parameter text, generator, steps
    step, observed = o, o + 4
    confusion = observed + 8
    n_at = confusion + 72
    n = struct.unpack_from("<Q", payload, n_at)[0]
    ids = n_at + 8
    alphas = ids + 8 * n
    pis = alphas + 72 * n
    return {"step": step, "observed": observed, "confusion": confusion, "n": n, "alphas": alphas, "pis": pis}


def _dps_trained():
    sel = promptsel.Selector("dps", seed=1, transition_decay=0.8)
    for step in range(4):
        pos, _ = sel.select(np.arange(20), 5)
        sel.update(np.arange(20)[pos], [0.0, 0.5, 1.0, 0.25, 0.75], 4)
    return sel


# ---- 1. saving from a signal handler ---------------------------------------------------

SIGNAL_CHILD = r"""
import os, signal, sys, threading, numpy as np, promptsel
path = sys.argv[1]
sel = promptsel.Selector("dps", seed=3, transition_decay=0.7)
pool = np.arange(4096)
def on_term(*_):
    sel.save(path)
    os._exit(0)
signal.signal(signal.SIGTERM, on_term)
stop = False
def worker(offset):
    rng = np.random.default_rng(offset)
    while not stop:
        pos, _ = sel.select(pool + offset, 64)
        sel.update(pool[pos] + offset, rng.integers(0, 9, 64) / 8, 8)
threads = [threading.Thread(target=worker, args=(k * 10000,), daemon=True) for k in (1, 2)]
for t in threads: t.start()
print("ready", flush=True)
while True:
    pos, _ = sel.select(pool, 64)
"""


def test_a_sigterm_handler_saves_while_threads_select_and_update(tmp_path):
    import subprocess
    script = tmp_path / "child.py"
    script.write_text(SIGNAL_CHILD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(promptsel.__file__).parents[1]),
                                                                    os.environ.get("PYTHONPATH")])))
    hangs = 0
    runs = 4 if SANITIZED else 12
    for run in range(runs):
        path = tmp_path / f"ck{run}.bin"
        child = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE, env=env)
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(random.uniform(0.01, 0.2))
        child.send_signal(signal.SIGTERM)
        try:
            assert child.wait(timeout=30) == 0
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            hangs += 1
            continue
        assert len(promptsel.Selector.load(path)) > 0
    print(f"\nsignals: SIGTERM -> save while 2 threads select/update: {runs - hangs}/{runs} saved and exited, "
          f"{hangs} hung")
    assert hangs == 0


# ---- 2. huge or lying files --------------------------------------------------------------

def test_a_huge_sparse_or_lying_file_is_refused_without_allocating(tmp_path, run_python):
    sparse = tmp_path / "sparse.bin"
    with open(sparse, "wb") as f:
        f.truncate(1 << 40)
    lying = tmp_path / "lying.bin"
    good = _dps_trained().to_bytes()
    with open(lying, "wb") as f:
        head = bytearray(good[:HEADER])
        struct.pack_into("<Q", head, 16, (1 << 40) - HEADER - 4)  # says 1 TiB, and the file is that big
        f.write(head)
        f.truncate(1 << 40)
    code = f"""
import promptsel
for p in [{str(sparse)!r}, {str(lying)!r}]:
    try:
        promptsel.Selector.load(p)
    except promptsel.PromptSelError as e:
        print(type(e).__name__, str(e)[-80:])
"""
    r = run_python(code, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("CheckpointError") and "magic" in lines[0]
    assert lines[1].startswith("PromptSelMemoryError") and "exceeds this machine's memory" in lines[1]


# ---- 3. every reachable state saves and loads -------------------------------------------

def _round_trips(sel, tmp_path):
    """Native file, bytes, state_dict, pickle and the reference file all restore it."""
    path = tmp_path / "state.bin"
    sel.save(path)
    again = promptsel.Selector.load(path)
    assert again.to_bytes() == sel.to_bytes()
    assert promptsel.Selector.from_bytes(sel.to_bytes()).to_bytes() == sel.to_bytes()
    other = promptsel.Selector(sel.method)
    other.load_state_dict(sel.state_dict())
    assert other.to_bytes() == sel.to_bytes()
    assert pickle.loads(pickle.dumps(sel)).to_bytes() == sel.to_bytes()
    if promptsel.methods.spec(sel.method).reference_file is None:
        return  # gps / hybrid: no reference implementation to migrate from
    reference = sel.export_reference(tmp_path)
    fresh = promptsel.Selector.from_bytes(sel.to_bytes())
    fresh.import_reference(reference)
    # Imports renormalise beliefs, so the reference format agrees to rounding only.
    np.testing.assert_allclose(fresh.predict(sel.ids()), sel.predict(sel.ids()), rtol=1e-12, atol=0)


@pytest.mark.parametrize("build", [
    lambda: promptsel.Selector("mopps", prior=(1e15, 1.0)),
    lambda: promptsel.Selector("mopps", prior=(1e-12, 1e-12), decay=0.9190886196338225),
    lambda: promptsel.Selector("mopps", prior=(1e-12, 1e15), decay=1e-300),
    lambda: promptsel.Selector("dps", prior_alpha=1e15),
    lambda: promptsel.Selector("dps", prior_alpha=1e-12, transition_decay=1e-300),
    lambda: promptsel.Selector("dps", prior_alpha="local", transition_decay=0.5),
], ids=["mopps 1e15", "mopps 1e-12 decay", "mopps tiny decay", "dps 1e15", "dps 1e-12", "dps local"])
def test_the_reported_unloadable_states_now_save_and_load(build, tmp_path):
    sel = build()
    for rate in (1.0, 0.0, 0.5, 1.0):
        sel.update([1, 2], [rate, 1 - rate], rollouts=[1 << 20, 1])
    _round_trips(sel, tmp_path)


def test_a_warm_start_beyond_the_count_range_is_refused_not_stored():
    sel = promptsel.Selector("mopps")
    before = sel.to_bytes()
    with pytest.raises(OutOfRangeError, match="exceeds"):
        sel.warm_start([7], [1e15], [1e15], weight=1)
    assert sel.to_bytes() == before


def test_property_random_configs_and_updates_always_save_and_load(tmp_path):
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    counts = st.one_of(st.sampled_from([1e-12, 1e15, 1.0]), st.floats(1e-12, 1e15))
    decays = st.one_of(st.sampled_from([1.0, 1e-300, 0.9190886196338225]),
                       st.floats(1e-300, 1.0, exclude_min=False))
    mopps = st.builds(lambda a, b, d, s: promptsel.Selector("mopps", prior=(a, b), decay=d, strategy=s),
                      counts, counts, decays, st.sampled_from(["topk", "threshold", "uniform"]))
    dps_decays = st.one_of(st.sampled_from([1.0, 1e-300, 0.999]), st.floats(1e-300, 0.999))
    dps = st.builds(lambda a, shape, d, s, w: promptsel.Selector(
        "dps", prior_alpha=a if shape == "constant" else shape, transition_decay=d, strategy=s, entropy_weight=w),
        counts, st.sampled_from(["constant", "progress", "stability", "local"]), dps_decays,
        st.sampled_from(["topk", "topk+entropy", "uniform"]), st.floats(0, 1e3))
    steps = st.lists(st.tuples(st.lists(st.integers(-3, 3), min_size=1, max_size=6),
                               st.sampled_from([0.0, 1.0, 0.5, 1 / 3, 1e-300, 1 - 1e-16]),
                               st.sampled_from([1, 8, 1 << 20])), max_size=6)

    def featured(method, variance, forget, strategy):
        sel = promptsel.Selector(method, dim=4, rank=2, prior_variance=variance, forget=forget, strategy=strategy)
        sel.set_features(np.arange(-3, 4), np.random.default_rng(0).standard_normal((7, 4)) * 1e3)
        return sel
    features = st.builds(featured, st.sampled_from(["gps", "hybrid"]), st.sampled_from([1e-6, 4.0, 1e6]),
                         st.sampled_from([1.0, 1e-300, 0.5]), st.sampled_from(["uniform", "informative"]))

    @settings(max_examples=15 if SANITIZED else 80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(sel=st.one_of(mopps, dps, features), history=steps, warm=st.booleans())
    def check(sel, history, warm):
        if warm and sel.method == "mopps":
            try:
                sel.warm_start([0, 1], [3, 0], [8, 8], weight=1e13)
            except OutOfRangeError:
                pass  # refused with the state unchanged: also a reachable state
        for ids, rate, k in history:
            sel.select(ids, 1)
            sel.update(ids, [rate] * len(ids), k)
        _round_trips(sel, tmp_path)

    check()


# ---- 4. crafted checkpoints with a valid CRC ---------------------------------------------

@pytest.mark.parametrize("case", ["confusion overflow", "confusion != observed", "beliefs 0,0,0", "beliefs 1e308",
                                  "count NaN", "count above 1e15", "step behind"])
def test_a_crafted_dps_checkpoint_with_a_valid_crc_is_refused(case, tmp_path):
    sel = _dps_trained()
    data = sel.to_bytes()
    _, _, payload = _frame(data)
    at = _dps_offsets(sel)
    if case == "confusion overflow":
        struct.pack_into("<Q", payload, at["confusion"], 2**64 - 1)
        struct.pack_into("<Q", payload, at["confusion"] + 32, 1)
    elif case == "confusion != observed":
        struct.pack_into("<Q", payload, at["observed"], 12345)
    elif case == "beliefs 0,0,0":
        struct.pack_into("<3d", payload, at["pis"], 0.0, 0.0, 0.0)
    elif case == "beliefs 1e308":
        struct.pack_into("<3d", payload, at["pis"], 1e308, 1e308, 1e308)
    elif case == "count NaN":
        struct.pack_into("<d", payload, at["alphas"], float("nan"))
    elif case == "count above 1e15":
        struct.pack_into("<d", payload, at["alphas"], 2e15)
    elif case == "step behind":
        struct.pack_into("<I", payload, at["step"], 0)
    bad = _reframe(data, payload)
    other = promptsel.Selector("dps")
    before = other.to_bytes()
    with pytest.raises(CheckpointError):
        promptsel.Selector.from_bytes(bad)
    with pytest.raises(CheckpointError):
        other.load_state_dict({"state": bad})
    assert other.to_bytes() == before
    (tmp_path / "bad.bin").write_bytes(bad)
    with pytest.raises(CheckpointError):
        promptsel.Selector.load(tmp_path / "bad.bin")


def test_the_untouched_reframe_loads(tmp_path):
    sel = _dps_trained()
    data = sel.to_bytes()
    assert _reframe(data, _frame(data)[2]) == data  # the crafting above only changes what it says


# ---- 5. exact path bytes -------------------------------------------------------------------

def test_non_utf8_paths_are_used_byte_for_byte(tmp_path):
    sel = promptsel.Selector("mopps", seed=2)
    sel.select([1, 2, 3], 2)
    target = os.fsencode(tmp_path) + b"/ck\xff.bin"
    lookalike = tmp_path / "ck\ufffd.bin"
    lookalike.write_bytes(b"unrelated")
    sel.save(target)
    assert os.path.exists(target)
    assert lookalike.read_bytes() == b"unrelated"
    assert promptsel.Selector.load(target).to_bytes() == sel.to_bytes()


# ---- 6. no struct crosses the ABI ------------------------------------------------------------

def test_no_versioned_struct_crosses_the_abi(header_text):
    # 0.2's promptsel_config (read whole before its struct_size was checked) is gone:
    # configuration is text, so no struct size can be wrong.
    assert "typedef struct promptsel_selector promptsel_selector;" in header_text
    assert header_text.count("typedef struct") == 1


# ---- 7. a checkpoint of another method -------------------------------------------------------

def test_task_sampler_refuses_another_methods_checkpoint(tmp_path):
    config = {"data": {"train_batch_size": 4}, "actor_rollout_ref": {"rollout": {"n": 8}},
              "tasksampler": {"method": "dps"}}
    dps = TaskSampler(config)
    dps.sample_batch({"index": np.arange(16)})
    dps.save(tmp_path)
    mopps = TaskSampler(dict(config, tasksampler={"method": "mopps"}))
    before = mopps.selector.to_bytes()
    with pytest.raises(CheckpointError, match="holds a dps selector but this TaskSampler runs mopps"):
        mopps.load(tmp_path)
    with pytest.raises(CheckpointError, match="holds a dps selector"):
        mopps.load_state_dict(dps.state_dict())
    assert mopps.method == "mopps" and mopps.selector.to_bytes() == before
    mopps.save(tmp_path / "after")  # still a working MoPPS sampler


# ---- 8 / 12. killed saves, temporary files, long names ---------------------------------------

def _temporaries(directory):
    return sorted(p.name for p in Path(directory).iterdir() if p.name.startswith(".psel-"))


def _kill_during_saves(tmp_path, kills, save, states, within=0.15):
    """Forks a child that saves alternately forever; SIGKILLs it at a random moment
    (within `within` seconds), `kills` times."""
    target = tmp_path / "target"
    for run in range(kills):
        pid = os.fork()
        if pid == 0:  # the child: save until killed
            try:
                k = run
                while True:
                    save(states[k % 2], target)
                    k += 1
            finally:
                os._exit(0)
        time.sleep(random.uniform(0.0, within))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return target


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_kill_during_save_leaves_old_or_new_and_no_temporaries_pile_up(tmp_path):
    a = promptsel.Selector("dps", seed=5)
    a.select(np.arange(20_000), 100)
    b = promptsel.Selector.from_bytes(a.to_bytes())
    b.update(np.arange(100), np.full(100, 0.5), 8)
    states = (a, b)
    expected = {a.to_bytes(): "old", b.to_bytes(): "new"}
    target = tmp_path / "target"
    a.save(target)
    kills, seen = (30 if SANITIZED else 100), {"old": 0, "new": 0}
    for run in range(kills):
        _kill_during_saves(tmp_path, 1, lambda s, p: s.save(p), states)
        loaded = promptsel.Selector.load(target).to_bytes()
        assert loaded in expected, f"kill {run}: a torn checkpoint"
        seen[expected[loaded]] += 1
    left = _temporaries(tmp_path)
    assert len(left) <= kills  # at most one per kill, never more
    # The next save removes what killed saves left, once it is stale.
    old = time.time() - 60
    for name in left:
        os.utime(tmp_path / name, (old, old))
    a.save(target)
    remaining = _temporaries(tmp_path)
    print(f"\nkill-during-save: {kills} SIGKILLs of a process saving two states in turn: the target loaded "
          f"whole every time ({seen['old']} times the one, {seen['new']} the other); {len(left)} kills landed "
          f"inside a write and left a temporary file, {len(remaining)} remain after the next save")
    assert remaining == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_kill_during_task_sampler_save_loads_one_whole_checkpoint(tmp_path):
    config = {"data": {"train_batch_size": 4}, "actor_rollout_ref": {"rollout": {"n": 8}},
              "tasksampler": {"method": "mopps"}}
    samplers = [TaskSampler(config), TaskSampler(config)]
    samplers[1].sample_batch({"index": np.arange(5000)})
    samplers[1].train({"index": np.arange(4)}, np.full(4, 0.5))
    natives = {s.selector.to_bytes() for s in samplers}
    directory = tmp_path / "target"
    samplers[0].save(directory)
    for run in range(30):
        _kill_during_saves(tmp_path, 1, lambda s, p: s.save(p), samplers)
        # The manifest, renamed last, names a whole pair of one save (checked on load).
        resumed = TaskSampler(config)
        resumed.load(directory)
        assert resumed.selector.to_bytes() in natives
        files = promptsel.verl.manifest.read(directory)["files"]
        json.loads((directory / files["reference"]["name"]).read_text())  # whole JSON, never a torn one


def test_a_240_character_file_name_still_saves(tmp_path):
    sel = promptsel.Selector("mopps")
    name = "c" * 240
    sel.save(tmp_path / name)
    assert (tmp_path / name).exists() and _temporaries(tmp_path) == []
    sel.export_index_score(tmp_path / ("j" * 240))
    assert (tmp_path / ("j" * 240)).exists()


# ---- 9. FIFOs and other non-files ---------------------------------------------------------------

def test_loading_a_fifo_fails_at_once(tmp_path, run_python):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    r = run_python(f"""
import promptsel
try:
    promptsel.Selector.load({str(fifo)!r})
except promptsel.PromptSelIOError as e:
    print("refused:", e)
""", timeout=30)
    assert r.returncode == 0, r.stderr
    assert "not a regular file" in r.stdout


# ---- 10. sampled_times saturates ----------------------------------------------------------------

def test_dps_sampled_times_saturates_at_2_to_32_minus_1():
    sel = promptsel.Selector("dps")
    st = sel.dps_state([1])
    sel.set_dps_state([1], st["alpha"], st["pi"], st["pi_before"], [2**32 - 1])
    sel.update([1, 1], [0.5, 1.0], 8)
    assert sel.dps_state([1])["sampled_times"].tolist() == [2**32 - 1]
    promptsel.Selector.from_bytes(sel.to_bytes())


# ---- 11. importers raise promptsel errors only ---------------------------------------------------

def _hmm_params(sel, tmp_path):
    sel.update([1, 2], [0.5, 1.0], 8)
    return json.loads(Path(sel.export_hmm_params(tmp_path)).read_text())


@pytest.mark.parametrize("case", ["deep", "ragged prior", "huge int", "bool sampled", "bool alpha", "nested alpha"])
def test_importers_raise_checkpoint_errors_only(case, tmp_path):
    path = tmp_path / "in.json"
    if case == "deep":
        path.write_text("[" * 100_000 + "]" * 100_000)
        sel = promptsel.Selector("mopps")
        call = sel.import_index_score
    else:
        sel = promptsel.Selector("dps")
        doc = _hmm_params(promptsel.Selector("dps"), tmp_path)
        if case == "ragged prior":
            doc["prior_alpha"] = [[1, 1, 1], [1, 1], [1]]
        elif case == "huge int":
            doc["alphas"]["1"][0][0] = int("9" * 400)
        elif case == "bool sampled":
            doc["sampled_times"]["1"] = True
        elif case == "bool alpha":
            doc["alphas"]["1"][0][0] = True
        elif case == "nested alpha":
            doc["alphas"]["1"][0][0] = [[1.0]]
        path.write_text(json.dumps(doc))
        call = sel.import_hmm_params
    before = sel.to_bytes()
    with pytest.raises(PromptSelError) as info:
        call(path)
    assert isinstance(info.value, CheckpointError), type(info.value)
    assert sel.to_bytes() == before
    with pytest.raises(FileNotFoundError):  # not a verdict on a file: the standard error
        promptsel.Selector("mopps").import_index_score(tmp_path / "missing.json")


def test_a_strided_memoryview_is_read_as_its_bytes():
    sel = _dps_trained()
    data = sel.to_bytes()
    doubled = np.frombuffer(bytes(b for x in data for b in (x, 0)), dtype=np.uint8)
    strided = memoryview(doubled)[::2]
    assert not strided.c_contiguous
    other = promptsel.Selector("dps")
    other.load_state_dict({"state": strided})
    assert other.to_bytes() == data


# ---- memory: loading and the first sight of many ids ------------------------------------------------

MEMORY_CHILD = r"""
import sys, numpy as np, promptsel
def rss(): return int(open("/proc/self/statm").read().split()[1]) * 4096
def peak():  # VmHWM, the peak resident set since the last reset
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))
    return int(line.split()[1]) * 1024
def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
n, path = int(sys.argv[1]), sys.argv[2]
ids = np.arange(n, dtype=np.int64)
if sys.argv[3] == "select":
    sel = promptsel.Selector("dps", transition_decay=0.7)
    reset_peak(); base = rss()
    sel.select(ids, 256)
    print(sel.memory()["bytes"], peak() - base)
    sel.update(ids[:1000], np.full(1000, 0.5), 8)
    sel.save(path)
else:
    del ids
    reset_peak(); base = rss()
    sel = promptsel.Selector.load(path)
    print(sel.memory()["bytes"], peak() - base)
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc")
@pytest.mark.skipif(SANITIZED, reason="ASan / TSan allocators and shadow memory are in the resident set: measured in "
                                      "the plain run")
def test_memory_of_a_first_select_and_of_a_load_stays_near_the_final_state(tmp_path):
    import subprocess
    script = tmp_path / "child.py"
    script.write_text(MEMORY_CHILD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(promptsel.__file__).parents[1]),
                                                                    os.environ.get("PYTHONPATH")])))
    n, ckpt = 1_000_000, str(tmp_path / "big.bin")
    out = {}
    for mode in ("select", "load"):
        r = subprocess.run([sys.executable, str(script), str(n), ckpt, mode], capture_output=True, text=True,
                           env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        state, extra = map(int, r.stdout.split())
        out[mode] = extra / state
    print(f"\nmemory: DPS, {n:,} prompts: first select peaks at {out['select']:.2f}x the final state, "
          f"a load at {out['load']:.2f}x")
    assert out["select"] <= 1.5 and out["load"] <= 1.5


def test_dps_decays_that_would_make_reads_unbounded_are_refused():
    # Between 0.999 and 1 a read after a long gap steps through millions of exact
    # steps (the fuzzer's timeout: transition_decay 0.9999999999, a crafted step count).
    with pytest.raises(OutOfRangeError, match="at most 0.999 or exactly 1"):
        promptsel.Selector("dps", transition_decay=0.9999999999)
    promptsel.Selector("dps", transition_decay=0.999)
    promptsel.Selector("dps", transition_decay=1.0)
