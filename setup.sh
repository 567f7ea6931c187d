#!/usr/bin/env bash
# Sets reelpoet up in ./.venv and runs the main job. Safe to run again.
#   bash setup.sh                 set up, then run `reelpoet demo`
#   bash setup.sh --install-only  set up only (what .ci/run uses)
#   bash setup.sh --training-data also install the Debian packages the audio tokenizer's training
#                                 data comes from (speech synthesis, recorded sounds; needs root)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
pip_install() { .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@"; }

pip_install --upgrade "pip>=23" "setuptools>=69" wheel
# The CPU build of torch: a bare `torch` requirement would pull the CUDA build (gigabytes).
# On a machine with a GPU, install the CUDA torch you want first; this line then keeps it.
.venv/bin/python -c "import torch" 2>/dev/null || pip_install "torch==2.13.0"
pip_install -e ".[train,server,panel,dev]"

echo "reelpoet is set up in .venv (activate it with: source .venv/bin/activate)"
if [ "${1:-}" = "--training-data" ]; then
  apt-get update -qq
  apt-get install -y -qq espeak-ng fluid-soundfont-gm alsa-utils sound-icons \
    sound-theme-freedesktop gnome-audio
  exit 0
fi
if [ "${1:-}" != "--install-only" ]; then
  # The main job, offline, on the default bundle shipped inside the package.
  exec .venv/bin/reelpoet demo --out reelpoet-demo
fi
