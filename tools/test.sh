#!/usr/bin/env bash
# Set-up for the tests (Bazel included), then the whole suite with Bazel.
# Extra arguments go to `bazel test` (e.g. --test_tag_filters=-slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --test
export PATH="$PWD/.venv/bin:$PATH"
exec bazel test //tests/... "$@"
