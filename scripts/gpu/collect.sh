#!/bin/bash
# On the GPU machine, after stop.sh: for each STYLE, its newest checkpoint exported to
# $OUT/STYLE.onnx and the checkpoint itself in 15 MB parts ($OUT/STYLE.ckpt.partNN: a returned
# file may have 16 MB), plus every run's logs in $OUT/runs.tgz. At most 8 files come back per
# call: two styles per call.
#   here: cat STYLE.ckpt.part* > runs/STYLE/checkpoints/step-N.ckpt
#
# `collect.sh --kernels` instead brings back the kernel cache (autotune results and compiled
# kernels, $FAUVE_KERNEL_CACHE) as $OUT/kernels.tar.xz.partNN, for the next session's start.sh:
#   here: cat kernels.tar.xz.part* > .gpu/kernels.tar.xz
cd "$(dirname "$0")/../.."
. scripts/gpu/common.sh
if [ "${1:-}" = --kernels ]; then
    # A copy taken while a run writes the store is corrupt (session 25): stop.sh first.
    if runs_alive; then
        echo "collect.sh --kernels: a fauve run is still writing $W/kernels; run stop.sh first" >&2
        exit 1
    fi
    tar cJf - -C $W/kernels . | split -b 15M -d - "$OUT/kernels.tar.xz.part"
    ls -la "$OUT"
    exit 0
fi
for style in "$@"; do
    ckpt=$(ls $W/runs/$style/checkpoints/step-*.ckpt | sort | tail -1)
    echo "$style: $ckpt"
    $W/fauve export --checkpoint "$ckpt" -o "$OUT/$style.onnx" 2>&1 | tail -1
    split -b 15M -d "$ckpt" "$OUT/$style.ckpt.part"
done
(cd $W && tar czf "$OUT/runs.tgz" runs/*/metrics.csv runs/*/train.log runs/*/loss.png runs/*/samples ./*.out 2>/dev/null)
ls -la "$OUT"
