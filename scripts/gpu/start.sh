#!/bin/bash
# On the GPU machine: unpack .gpu/ into $W (once per machine; with .gpu/kernels.tar.xz, the
# tuned and compiled kernels an earlier session's collect.sh --kernels brought back), then start one background
# `fauve train --device cuda` per STYLE at 256², resumed from a checkpoint carried in
# .gpu/runs/STYLE (or left in $W by an earlier call), else continuing the shipped
# models/STYLE.onnx (`--init-from`, 6.5 MB against a checkpoint's 20), else from scratch. The
# runs go on, across calls, until stop.sh or the machine's return.
#
#   bash scripts/gpu/start.sh STYLE...     (ITERATIONS, LR override 40000 and 3e-4 when continuing)
#
# LR_STEPS="STEP:LR STEP:LR" steps the rate down inside the run (`--learning-rate-step`), so
# the process need not be restarted for it: a new process retunes its kernels first.

cd "$(dirname "$0")/../.."
. scripts/gpu/common.sh
if [ ! -x $W/fauve ]; then
    mkdir -p $W
    xz -dc .gpu/fauve.xz > $W/fauve && chmod +x $W/fauve
    xz -dc .gpu/vgg19.safetensors.xz > $W/vgg19.safetensors
    cp -r .gpu/coco $W/coco
    mkdir -p $W/kernels
    [ -f .gpu/kernels.tar.xz ] && tar xJf .gpu/kernels.tar.xz -C $W/kernels && echo "kernel cache: $(du -sh $W/kernels | cut -f1)"
    ort=$(python3 -c 'import onnxruntime, os, glob; print(sorted(glob.glob(os.path.dirname(onnxruntime.__file__) + "/capi/libonnxruntime.so*"))[-1])')
    cuda=$(dirname "$(dirname "$(readlink -f "$(which nvcc)")")")
    # NVRTC compiles burn's kernels at run time; minimal autotuning still took 12 min (session 7).
    # FAUVE_KERNEL_CACHE keeps the tuning and the compiled kernels for the next process.
    cat > $W/env.sh <<ENV
export ORT_DYLIB_PATH=$ort CUDA_PATH=$cuda CUBECL_AUTOTUNE_LEVEL=minimal FAUVE_KERNEL_CACHE=$W/kernels
export LD_LIBRARY_PATH=$cuda/targets/x86_64-linux/lib:$cuda/lib64:\${LD_LIBRARY_PATH:-}
ENV
    . $W/env.sh
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
fi
for style in "$@"; do
    run=$W/runs/$style
    mkdir -p $run
    [ -d .gpu/runs/$style/checkpoints ] && cp -r .gpu/runs/$style/checkpoints $run/
    resume=()
    for lr_step in ${LR_STEPS:-}; do
        resume+=(--learning-rate-step "$lr_step")
    done
    if ls $run/checkpoints/step-*.ckpt >/dev/null 2>&1; then
        resume+=(--resume --learning-rate "${LR:-3e-4}")
    elif [ -f models/$style.onnx ]; then
        resume+=(--init-from models/$style.onnx --learning-rate "${LR:-3e-4}")
    fi
    # The flags name this machine's copies of the inputs; on resume they say where the
    # checkpoint's (other machine's) paths now are.
    setsid nohup $W/fauve train --device cuda --config configs/$style.toml "${resume[@]}" \
        --image-size 256 --dataset $W/coco --weights $W/vgg19.safetensors \
        --style-image assets/styles/$style.jpg --iterations "${ITERATIONS:-40000}" --no-export \
        --checkpoint-every 250 --keep-checkpoints 9 --sample-every 1000 --output-dir $run/ \
        > $W/$style.out 2>&1 < /dev/null &
    echo "$style: started ${resume[*]:-from scratch}"
done
