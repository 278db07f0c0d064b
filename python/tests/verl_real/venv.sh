#!/usr/bin/env bash
# Builds (or reuses) a virtualenv outside the source tree holding a real verl release
# and what its sampler path imports, on CPU: the CPU torch wheel from pip's local
# find-links (never a CUDA download), verl --no-deps and its small dependencies.
# Prints the venv's python on the last line of stdout.
#   usage: venv.sh 0.7.1|0.8.0|0.9.1
# The venv lives in $PROMPTSEL_VERL_VENVS (default ~/.cache/promptsel) under a name
# that hashes this script, so editing the pins rebuilds it and a re-run reuses it.
set -euo pipefail
version=${1:?usage: venv.sh VERL_VERSION}
python=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
root=${PROMPTSEL_VERL_VENVS:-$HOME/.cache/promptsel}
stamp=$(cat "$0" | sha256sum | cut -c1-12)
venv="$root/verl-$version-$stamp"
if [ -x "$venv/bin/python" ] && [ -f "$venv/.complete" ]; then
  echo "test-verl: reusing $venv" >&2
  echo "$venv/bin/python"; exit 0
fi

links=$("$python" -m pip config list 2>/dev/null | sed -n "s/.*find-links='\(.*\)'/\1/p" | head -n1)
torch_wheel=$(ls "${links:-/nonexistent}"/torch-2.13.0*cpu*cp311*.whl 2>/dev/null | head -n1 || true)
if [ -z "$torch_wheel" ]; then
  echo "test-verl: FAILED: no CPU torch wheel (torch-2.13.0+cpu) in pip's local find-links" \
       "(${links:-none configured}). Refusing to let pip download a multi-GB CUDA build;" \
       "put the CPU wheel there or point pip's find-links at it." >&2
  exit 1
fi

rm -rf "$venv"; mkdir -p "$root"
echo "test-verl: building $venv (a few minutes, once)" >&2
"$python" -m venv "$venv"
# Every later install is constrained to this torch, so a dependency can never pull a CUDA build.
echo "torch==2.13.0" > "$venv/constraints.txt"
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check -c "$venv/constraints.txt")
"${pip[@]}" "$torch_wheel"
case "$version" in
  0.7.1)
    # verl's base requirements pull GPU-sized extras; install what the sampler path,
    # RLHFDataset and main_ppo import, pinned to what 0.7.1 accepts (numpy<2).
    "${pip[@]}" --no-deps "verl==0.7.1" "numpy<2" "tensordict>=0.8,<=0.10,!=0.9.0" "omegaconf==2.3.0" \
      torchdata packaging "pyvers<0.2" cloudpickle importlib_metadata orjson pyyaml \
      "antlr4-python3-runtime==4.9.3" "hydra-core==1.3.2" codetiming "datasets<4" multiprocess dill xxhash \
      "fsspec<=2025.3.0" "pandas==2.2.3" python-dateutil pytz tzdata "pyarrow==21.0.0" pillow
    # verl.trainer.main_ppo (create_rl_sampler) also imports pydantic, peft and accelerate.
    "${pip[@]}" "transformers<5" "ray" aiohttp requests tqdm "pytest>=7" pydantic peft accelerate
    ;;
  0.8.0)
    # The legacy trainer's layout before 0.9 (TaskRunner in main_ppo.py): 0.7.1's pins
    # (numpy<2) plus what 0.8.0's trainer imports.
    "${pip[@]}" --no-deps "verl==0.8.0" "numpy<2" "tensordict>=0.8,<=0.10,!=0.9.0" "pyvers<0.2" \
      "omegaconf==2.3.0" torchdata packaging cloudpickle importlib_metadata orjson pyyaml \
      "antlr4-python3-runtime==4.9.3" "hydra-core==1.3.2" codetiming "datasets<4" multiprocess dill xxhash \
      "fsspec<=2025.3.0" "pandas==2.2.3" python-dateutil pytz tzdata "pyarrow==21.0.0" pillow
    "${pip[@]}" "transformers<5" ray aiohttp requests tqdm peft accelerate cachetools fastapi uvicorn \
      "pytest>=7"
    ;;
  0.9.1)
    # 0.9.1's own pins (numpy>=2, tensordict<=0.10 which needs pyvers<0.2), then what
    # main_ppo_v0 / ray_trainer / RLHFDataset import on the legacy-trainer path
    # (peft, accelerate, cachetools, fastapi, uvicorn); no rollout engine.
    "${pip[@]}" --no-deps "verl==0.9.1" "numpy>=2,<2.3" "tensordict>=0.8,<=0.10,!=0.9.0" "pyvers<0.2" \
      "omegaconf==2.3.0" torchdata packaging cloudpickle importlib_metadata orjson pyyaml \
      "antlr4-python3-runtime==4.9.3" "hydra-core==1.3.2" codetiming datasets multiprocess dill xxhash \
      fsspec pandas python-dateutil pytz tzdata "pyarrow>=19" pillow
    "${pip[@]}" "transformers>=5.5.3,<5.11,!=5.6.0" ray aiohttp requests tqdm peft accelerate cachetools \
      fastapi uvicorn "pytest>=7"
    ;;
  *) echo "test-verl: no recipe for verl $version" >&2; exit 1 ;;
esac
"$venv/bin/python" -c "import verl, torch; print('test-verl: verl', verl.__version__, 'torch', torch.__version__)" >&2
touch "$venv/.complete"
echo "$venv/bin/python"
