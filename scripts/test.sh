#!/usr/bin/env bash
# Sets up (if needed) and runs the whole test suite, then the quality gate (answer and retrieval
# accuracy on eval/dev.jsonl against eval/baseline.json). `.ci/run` calls exactly this.
# With arguments (e.g. -m "not slow"), only pytest runs, with them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/python -m pytest -ra "$@"
if [ "$#" -eq 0 ]; then
    .venv/bin/python scripts/quality_gate.py
fi
