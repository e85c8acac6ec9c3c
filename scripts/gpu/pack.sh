#!/bin/bash
# Packs what `fauve train --device cuda` needs on the lent GPU machine into .gpu/ (git-ignored),
# for the device tool's `carry` (see DEVELOPERS.md): the CUDA build, VGG19 up to relu4_1, the
# COCO-style sample re-encoded at 256 px, and optionally the newest checkpoint of some runs.
#
#   scripts/gpu/pack.sh                       # binary, weights, dataset
#   scripts/gpu/pack.sh --runs DIR STYLE...   # only DIR/STYLE's newest checkpoints, into .gpu/runs
set -euo pipefail
cd "$(dirname "$0")/../.."
shared=${FAUVE_SHARED:-../shared}
mkdir -p .gpu

if [ "${1:-}" = --runs ]; then
    runs=$2; shift 2
    rm -rf .gpu/runs
    for style in "$@"; do
        ckpt=$(ls "$runs/$style"/checkpoints/step-*.ckpt 2>/dev/null | sort | tail -1)
        [ -n "$ckpt" ] || { echo "$runs/$style: no checkpoint" >&2; exit 1; }
        mkdir -p ".gpu/runs/$style/checkpoints" && cp "$ckpt" ".gpu/runs/$style/checkpoints/"
        echo "$style: $(basename "$ckpt")"
    done
    du -sh .gpu/runs
    exit 0
fi

python3 -c 'import PIL' 2>/dev/null || { echo "pack.sh needs Pillow: python3 -m pip install pillow" >&2; exit 1; }
# CUDA 13.0: the lent machines' driver. Without it (and without nvcc here) cudarc would bind
# the newest CUDA it knows.
CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13000} cargo build --release --features cuda --target-dir target/cuda
strip -o .gpu/fauve target/cuda/release/fauve && xz -T0 -6 -f .gpu/fauve
python3 scripts/gpu/truncate_vgg.py "$shared/weights/vgg19-imagenet-caffe.safetensors" .gpu/vgg19.safetensors 19
xz -T0 -6 -f .gpu/vgg19.safetensors
# The photos at 256 px on the shorter side, as the loader would resize them for 256² crops.
rm -rf .gpu/coco && mkdir -p .gpu/coco/train2014
python3 - "$shared/datasets/coco-style-sample/train2014" .gpu/coco/train2014 <<'PY'
import os, sys
from PIL import Image
src, dst = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    image = Image.open(os.path.join(src, name)).convert("RGB")
    w, h = image.size
    scale = 256 / min(w, h)
    if scale < 1:
        image = image.resize((round(w * scale), round(h * scale)), Image.LANCZOS)
    image.save(os.path.join(dst, os.path.splitext(name)[0] + ".jpg"), quality=85)
PY
du -sh .gpu
echo "A call carries at most 64 MiB, tracked files included (models/ alone is ~40 MB): see DEVELOPERS.md."
