#!/usr/bin/env python3
"""How close `fauve stylize DIR` gets to the network's own time (issue #6, item 5).

Runs `fauve stylize --model M DIR -o OUT --json` several times (the first one untimed, as a
warm-up of the page cache and ONNX Runtime) and, per timed pass, compares the process's wall
time (start-up and model loading included) with the sum of the `run_ms` of every image: the
time the ONNX Runtime session alone took. The goal is wall ≤ 1.1 × Σ run.

Σ(decode + run + encode) is what a loop doing one image at a time would take (the stages'
own times, measured inside the pipeline, so if anything inflated by sharing the CPU).

    python3 crates/fauve-infer/benches/dir_pipeline.py target/release/fauve models/starry_night.onnx /tmp/photos512 --passes 3

Make the photos with `--make N` (crops of assets/photos resized to --size, JPEG), e.g.
`--make 100 --size 512`; never commit them.
"""

import argparse
import json
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def make_photos(directory: pathlib.Path, count: int, size: int) -> None:
    from PIL import Image  # only needed to make the photos
    import random

    random.seed(6)
    root = pathlib.Path(__file__).resolve().parents[3]
    photos = [Image.open(p).convert("RGB") for p in sorted((root / "assets/photos").glob("*.jpg"))]
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = photos[i % len(photos)]
        w, h = image.size
        side = random.randint(min(w, h) // 2, min(w, h))
        x, y = random.randint(0, w - side), random.randint(0, h - side)
        crop = image.crop((x, y, x + side, y + side)).resize((size, size), Image.LANCZOS)
        if i % 2:
            crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
        crop.save(directory / f"photo{i:03d}.jpg", quality=90)


def one_pass(fauve: str, model: str, photos: pathlib.Path, extra: list[str]) -> dict:
    out = pathlib.Path(tempfile.mkdtemp(prefix="fauve-dir-bench-"))
    try:
        started = time.perf_counter()
        result = subprocess.run(
            [fauve, "stylize", "--model", model, str(photos), "-o", str(out), "--json", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        wall = time.perf_counter() - started
    finally:
        shutil.rmtree(out, ignore_errors=True)
    report = json.loads(result.stdout)
    times = [image["times"] for image in report["images"]]
    total = lambda key: sum(t[key] for t in times) / 1000.0  # noqa: E731
    return {
        "images": len(times),
        "wall_s": wall,
        "run_s": total("run_ms"),
        "decode_s": total("decode_ms"),
        "encode_s": total("encode_ms"),
        "sequential_s": total("run_ms") + total("decode_ms") + total("encode_ms"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fauve")
    parser.add_argument("model")
    parser.add_argument("photos", type=pathlib.Path)
    parser.add_argument("--passes", type=int, default=3, help="timed passes (after one warm-up)")
    parser.add_argument("--make", type=int, metavar="N", help="first write N photos into PHOTOS")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("extra", nargs="*", help="more `fauve stylize` flags (after --)")
    args = parser.parse_args()
    if args.make:
        make_photos(args.photos, args.make, args.size)

    one_pass(args.fauve, args.model, args.photos, args.extra)  # warm-up
    passes = []
    for i in range(args.passes):
        p = one_pass(args.fauve, args.model, args.photos, args.extra)
        p["ratio"] = p["wall_s"] / p["run_s"]
        passes.append(p)
        print(
            f"pass {i + 1}: {p['images']} images, wall {p['wall_s']:.2f} s, Σ run {p['run_s']:.2f} s, "
            f"Σ decode {p['decode_s']:.2f} s, Σ encode {p['encode_s']:.2f} s, "
            f"one-at-a-time Σ {p['sequential_s']:.2f} s, wall / Σ run = {p['ratio']:.3f}",
            file=sys.stderr,
        )
    median = lambda key: statistics.median(p[key] for p in passes)  # noqa: E731
    print("| images | wall, s | Σ run, s | Σ decode, s | Σ encode, s | wall / Σ run |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {passes[0]['images']} | {median('wall_s'):.2f} | {median('run_s'):.2f} | "
        f"{median('decode_s'):.2f} | {median('encode_s'):.2f} | {median('ratio'):.3f} |"
    )
    print(f"(median of {len(passes)} passes after a warm-up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
