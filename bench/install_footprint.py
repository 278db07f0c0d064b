"""What an install costs: wheel size, `import promptsel` time and the library's load
time, for the wheel's static build against the dynamic `make lib` build. Each time is
the median of fresh interpreters (the first run warms the page cache and is dropped).

    python bench/install_footprint.py --wheel-dir dist --dynamic .build/release/libpromptsel.so
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOAD = "import ctypes, sys, time; t = time.perf_counter(); ctypes.CDLL(sys.argv[1]); print(time.perf_counter() - t)"
IMPORT = "import time; t = time.perf_counter(); import promptsel; print(time.perf_counter() - t)"


def median_seconds(args, env, runs):
    times = []
    for _ in range(runs + 1):
        out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, check=True).stdout
        times.append(float(out))
    return statistics.median(times[1:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel-dir", type=Path, required=True)
    ap.add_argument("--dynamic", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    [wheel] = args.wheel_dir.glob("promptsel-*.whl")
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as z:
        z.extractall(tmp)
        static = Path(tmp) / "promptsel" / "libpromptsel.so"
        base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PROMPTSEL_LIB")}
        rows = []
        for name, lib, path in (("static (wheel)", static, tmp), ("dynamic (make lib)", args.dynamic,
                                                                  str(REPO / "python"))):
            load = median_seconds(["-c", LOAD, str(lib)], base, args.runs)
            imp = median_seconds(["-c", IMPORT], dict(base, PYTHONPATH=path, PROMPTSEL_LIB=str(lib.resolve())),
                                 args.runs)
            rows.append((name, lib.stat().st_size, load, imp))
    print(f"wheel {wheel.name}: {wheel.stat().st_size / 1e6:.2f} MB")
    print("| build | libpromptsel.so | library load | import promptsel (numpy included) |")
    print("|---|---|---|---|")
    for name, size, load, imp in rows:
        print(f"| {name} | {size / 1e6:.1f} MB | {load * 1e3:.1f} ms | {imp * 1e3:.0f} ms |")
    numpy = median_seconds(["-c", IMPORT.replace("promptsel", "numpy")], base, args.runs)
    print(f"(median of {args.runs} fresh interpreters each, {os.cpu_count()} cores; `import numpy` alone: "
          f"{numpy * 1e3:.0f} ms)")


if __name__ == "__main__":
    main()
