#!/bin/sh
# Runs an OpenMolcas MECI optimisation in the background: one thread, work directory on the RAM
# disk, log next to this script. MECI=meci (default, meci.input) or MECI=meci_twisted.
set -eu
cd "$(dirname "$0")"
NAME=${MECI:-meci}
W=/dev/shm/fh-$NAME
rm -rf "$W"; mkdir -p "$W"
export MOLCAS_WORKDIR=$W MOLCAS_MEM=2000 OMP_NUM_THREADS=1 MOLCAS_NPROCS=1 MOLCAS_PROJECT=$NAME
nohup /usr/bin/python3 /usr/bin/pymolcas "$NAME.input" > "$NAME.log" 2> "$NAME.err" &
echo $! > "/tmp/fh-$NAME.pid"
echo "pid $! (log $(pwd)/$NAME.log)"
