# Sourced by the GPU-machine scripts (start, watch, stop, collect). Everything the runs need
# lives in $W, outside the repository copy that each device call replaces.
W=/root/fv
[ -f $W/env.sh ] && . $W/env.sh

# Matches every `fauve train` ("[f]auve": the pattern must not match pgrep's caller).
RUN_PATTERN="[f]auve train"
runs_alive() { pgrep -f "$RUN_PATTERN" >/dev/null; }
# Signals every run (INT: stop at the next step boundary, checkpoint saved; KILL: now).
signal_runs() { pkill "-$1" -f "$RUN_PATTERN"; }

# Each running style's newest metrics row (step, epoch, elapsed, images/s, losses).
status() {
    printf '%s  GPU %s\n' "$(date +%T)" "$(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader)"
    for run in $W/runs/*/; do
        style=$(basename "$run")
        row=$(tail -1 "$run/metrics.csv" 2>/dev/null || echo "no steps yet")
        # "[f]auve": the pattern must not match this shell's own command line.
        pgrep -f "[f]auve train.*runs/$style/" >/dev/null && state=running || state=stopped
        printf '  %-30s %-8s %s\n' "$style" "$state" "$row"
    done
}
