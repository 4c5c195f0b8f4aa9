#!/usr/bin/env bash
# Runs Panelist with embedded defaults on a fresh machine: installs the build tools the native
# parts need (libopus, cmake and clang for whisper.cpp and llama.cpp), then `panelist serve`.
# Extra arguments go to panelist, e.g. `./scripts/run.sh sync --full`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/transcription-deps.sh
exec cargo run --release --bin panelist -- "$@"
