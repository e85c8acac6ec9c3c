#!/bin/bash
# On the GPU machine: Ctrl-C every run (each finishes its step, checkpoints and exits).
cd "$(dirname "$0")/../.."
. scripts/gpu/common.sh
pkill -INT -f "[f]auve train"
for _ in $(seq 60); do pgrep -f "[f]auve train" >/dev/null || break; sleep 2; done
status
