#!/bin/bash
# On the GPU machine: print every run's newest metrics row each minute for SECONDS (default 540,
# inside a call's 10 minutes).
cd "$(dirname "$0")/../.."
. scripts/gpu/common.sh
end=$(( $(date +%s) + ${1:-540} ))
status
while [ "$(date +%s)" -lt $end ]; do sleep 60; status; done
