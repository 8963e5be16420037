#!/bin/sh
# Runs (or restarts from the last geometry) the OpenMolcas MECI optimisation in the background:
# one thread, work directory on the RAM disk, log next to this script.
set -eu
cd "$(dirname "$0")"
if [ -f last.xyz ]; then cp last.xyz start.xyz; fi
W=/dev/shm/fh-meci
rm -rf "$W"; mkdir -p "$W"
export MOLCAS_WORKDIR=$W MOLCAS_MEM=2000 OMP_NUM_THREADS=1 MOLCAS_NPROCS=1 MOLCAS_PROJECT=meci
export CurrDir=$(pwd)
nohup /usr/bin/python3 /usr/bin/pymolcas meci.input > meci.log 2> meci.err &
echo $! > /tmp/fh-meci.pid
