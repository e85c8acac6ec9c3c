#!/usr/bin/env python3
"""Time a fauve ONNX model with the onnxruntime Python package, to compare with `fauve bench`.

Same protocol as `fauve bench`'s "run" column: square inputs of each size, float32 NCHW on the
0-255 scale, `--warmup` untimed runs then `--runs` timed ones; prints median (min-max) in ms
as a markdown table. Session options are onnxruntime's defaults (graph optimisation level
ORT_ENABLE_ALL, intra-op threads = physical cores) unless --threads is given, which sets
intra_op_num_threads exactly like `fauve bench --threads`.

Needs only `python3 -m pip install onnxruntime==1.32.0` (numpy comes with it).

    python3 crates/fauve-infer/benches/ort_python.py MODEL.onnx --sizes 256,512,1024 --threads 2
"""

import argparse
import statistics
import time

import numpy as np
import onnxruntime as ort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: onnxruntime's)")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5")

    options = ort.SessionOptions()
    if args.threads is not None:
        options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    print(f"onnxruntime {ort.__version__}, threads: {args.threads or 'ORT default'}, "
          f"{args.warmup} warm-up + {args.runs} timed runs")

    rng = np.random.default_rng(0)
    print("| size | Python ORT run, ms: median (min–max) |")
    print("|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        x = (rng.random((1, 3, size, size), dtype=np.float32) * 255.0).astype(np.float32)
        for _ in range(args.warmup):
            session.run(None, {input_name: x})
        samples = []
        for _ in range(args.runs):
            start = time.perf_counter()
            session.run(None, {input_name: x})
            samples.append((time.perf_counter() - start) * 1000.0)
        print(f"| {size}×{size} | {statistics.median(samples):.1f} ({min(samples):.1f}–{max(samples):.1f}) |")


if __name__ == "__main__":
    main()
