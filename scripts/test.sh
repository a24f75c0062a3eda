#!/usr/bin/env bash
# Sets everything up on first use, then runs the evaluation gate (the full dev set against the
# floors in evals/thresholds.json) and the whole test suite, both against the real index.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
.venv/bin/policy-assistant eval --check-thresholds --out eval_out --quiet
exec .venv/bin/python -m pytest -q "$@"
