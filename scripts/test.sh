#!/bin/sh
# The whole test suite: install dependencies, build, run every test, then build the unit tests
# with AddressSanitizer + UndefinedBehaviorSanitizer and run them again. CI calls exactly this.
set -eu
cd "$(dirname "$0")/.."
./scripts/build.sh
# Open MPI refuses to run as root (CI does) unless told it is fine.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI and HDF5 keep some allocations for the life of the process: not leaks of ours.
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir build --output-on-failure -j"$(nproc)"
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DFH_SANITIZE=ON >/dev/null
cmake --build build-sanitize -j"$(nproc)"
# The sanitizer pass covers the unit tests; tests labelled 'external' spend their time in other
# programs (OpenMolcas, mpirun) and gain nothing from it.
ctest --test-dir build-sanitize --output-on-failure -j"$(nproc)" -LE external
echo "test.sh: all tests passed" >&2
