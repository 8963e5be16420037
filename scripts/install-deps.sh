#!/bin/sh
# Installs every build, test and run-time dependency of fusionhop from Debian 12 packages.
# Idempotent: apt-get skips what is already installed. Run as root (or via sudo).
# python3-h5py is used only by the test that reads an H5MD file the way h5py/MDAnalysis users do.
set -eu
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then exec sudo "$0" "$@"; fi
    echo "install-deps.sh: must run as root (apt-get)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
PKGS="build-essential cmake pkg-config git
      libgsl-dev libhdf5-openmpi-dev hdf5-tools libopenmpi-dev openmpi-bin
      libcriterion-dev librandom123-dev gnuplot-nox openmolcas python3 python3-h5py"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends $missing
fi
echo "install-deps.sh: all dependencies present" >&2
