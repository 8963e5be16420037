#!/bin/sh
# Install the dependencies (Debian packages, idempotent) and build fusionhop into ./build.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
