#!/usr/bin/env bash
# Installs (apt) what transcription needs that is not there yet: cmake + clang/libclang to build whisper.cpp
# (whisper-rs), libopus for Ogg/Opus, espeak-ng and sox for the tests' synthetic interviews.
# Idempotent and quiet when everything is present. Used by scripts/test.sh and .ci/run (before clippy, which
# builds whisper.cpp too).
set -euo pipefail
missing=()
for pair in cmake:cmake clang:clang espeak-ng:espeak-ng sox:sox pkg-config:pkg-config; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
[ -e /usr/include/opus/opus.h ] || missing+=(libopus-dev)
compgen -G "/usr/lib/llvm-*/lib/libclang*.so*" >/dev/null || compgen -G "/usr/lib/*/libclang*.so*" >/dev/null \
  || missing+=(libclang-dev)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "transcription-deps: installing ${missing[*]} (apt)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
