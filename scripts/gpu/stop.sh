#!/bin/bash
# On the GPU machine: Ctrl-C every run (each finishes its step, checkpoints and exits); a run
# that has not stopped after 2 min is killed.
cd "$(dirname "$0")/../.."
. scripts/gpu/common.sh
signal_runs INT
for _ in $(seq 60); do runs_alive || break; sleep 2; done
# Ctrl-C is honoured at a step boundary; a run still autotuning may be minutes from its first.
if runs_alive; then
    echo "still running after 2 min (tuning?): killing" >&2
    signal_runs KILL; sleep 2
fi
status
