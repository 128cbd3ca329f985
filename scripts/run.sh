#!/usr/bin/env bash
# The main job: install what is missing, build, and generate text with the
# default model (stories260K from ../shared, or $NAGI_MODEL).
# Extra arguments go to `nagi run`, e.g. scripts/run.sh -p "Once upon a time" -n 100
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release
if [ $# -eq 0 ]; then
  set -- -p "Once upon a time" -n 200 --temp 0.8 --seed 42
fi
exec build/bin/nagi run "$@"
