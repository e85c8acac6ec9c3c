"""Copies a torchvision-layout VGG safetensors file keeping only `features.N` with N <= LAST.

The shipped styles read VGG19 up to relu4_1 (features.19 is conv4_1), so the 80 MB file
becomes 14 MB, which matters when a device call may carry 64 MiB in all. The metadata
(preprocessing) is kept. Plain Python: no numpy, no safetensors package.

    python3 truncate_vgg.py IN.safetensors OUT.safetensors [LAST=19]
"""
import json
import struct
import sys

src, dst = sys.argv[1], sys.argv[2]
last = int(sys.argv[3]) if len(sys.argv) > 3 else 19
with open(src, "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(n))
    base = 8 + n
    kept, blobs, offset = {"__metadata__": header.get("__metadata__", {})}, [], 0
    names = [k for k in header if k.startswith("features.") and int(k.split(".")[1]) <= last]
    for name in sorted(names, key=lambda k: (int(k.split(".")[1]), k)):
        entry = header[name]
        start, end = entry["data_offsets"]
        f.seek(base + start)
        blobs.append(f.read(end - start))
        kept[name] = {**entry, "data_offsets": [offset, offset + end - start]}
        offset += end - start
if not names:
    sys.exit(f"{src}: no features.N tensors with N <= {last}")
text = json.dumps(kept, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
with open(dst, "wb") as out:
    out.write(struct.pack("<Q", len(text)) + text)
    for blob in blobs:
        out.write(blob)
print(f"{dst}: {len(names)} tensors up to features.{last}, {offset / 1e6:.1f} MB of weights")
