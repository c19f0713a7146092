#!/usr/bin/env bash
# Installs everything radars_tf needs into ./.venv (Python 3.11) and prepares the
# offline Fashion-MNIST data. With --test also installs Bazel and the test-only
# packages (tools/requirements-test.txt) for the test suite.
# With --bench also the benchmark-only packages (KerasTuner).
# Idempotent: a second run only checks. Usage: bash tools/setup.sh [--test] [--bench]
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0 want_bench=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    --bench) want_bench=1 ;;   # benchmark-only packages (tools/requirements-bench.txt)
    *) echo "setup: unknown option $arg (use --test, --bench)" >&2; exit 2 ;;
  esac
done

apt_pkgs=(dataset-fashion-mnist)
(( want_test )) && apt_pkgs+=(bazel-bootstrap)
if command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${apt_pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if (( ${#missing[@]} )); then
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    echo "setup: installing ${missing[*]} with apt"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
else
  echo "setup: no apt-get here; install Bazel 4.x yourself and pass --manual_dir for Fashion-MNIST" >&2
fi

python=${PYTHON:-}
if [[ -z "$python" ]]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && \
       "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      python=$cand; break
    fi
  done
fi
if [[ -z "$python" ]]; then
  echo "setup: Python 3.11 not found (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

if [[ ! -x .venv/bin/python ]]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    command -v apt-get >/dev/null 2>&1 && \
      DEBIAN_FRONTEND=noninteractive ${sudo:-} apt-get install -y -qq python3.11-venv >/dev/null
    "$python" -m venv .venv
  fi
fi

reqs=(requirements.txt)
(( want_test )) && reqs+=(tools/requirements-test.txt)
(( want_bench )) && reqs+=(tools/requirements-bench.txt)
stamp=.venv/.radars_tf_installed
digest=$(cat "${reqs[@]}" constraints.txt | sha256sum | cut -d' ' -f1)
if [[ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]]; then
  echo "setup: installing Python packages into .venv (a few minutes the first time)"
  .venv/bin/python -m pip install -q --disable-pip-version-check \
    "${reqs[@]/#/-r}" -c constraints.txt
  echo "$digest" > "$stamp"
fi

.venv/bin/python tools/prepare_data.py --dataset=fashion_mnist
