#!/usr/bin/env bash
# Sets everything up on first use, then runs the whole test suite against the real index.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
exec .venv/bin/python -m pytest -q "$@"
