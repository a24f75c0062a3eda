#!/usr/bin/env bash
# Sets everything up on first use, then starts the web chat on http://127.0.0.1:7860
# (the index is built on the first run, with a progress bar). Extra arguments go to `serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
exec .venv/bin/policy-assistant serve "$@"
