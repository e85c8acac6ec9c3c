"""PyTorch reference for benches/vgg.rs: VGG16 to relu4_3, batch 4 at 256², forward plus the
gradient with respect to the input, CPU, median of several runs after a warm-up.

    python3 vgg_pytorch.py [batch] [size] [runs]
"""
import statistics
import sys
import resource
import time

import torch
import torch.nn as nn

batch, size, runs = (int(a) for a in (sys.argv[1:] + ["4", "256", "5"][len(sys.argv) - 1:])[:3])
cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512]  # up to relu4_3
layers, c = [], 3
for v in cfg:
    if v == "M":
        layers.append(nn.MaxPool2d(2, 2))
    else:
        layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
        c = v
vgg = nn.Sequential(*layers).eval()
for p in vgg.parameters():
    p.requires_grad_(False)
image = torch.rand(batch, 3, size, size) * 255


def step():
    x = image.clone().requires_grad_(True)
    vgg(x).sum().backward()
    return x.grad.sum().item()


print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
t = time.perf_counter(); step(); print(f"  warm-up {time.perf_counter() - t:.3f} s")
times = []
cpu0 = resource.getrusage(resource.RUSAGE_SELF)
for _ in range(runs):
    t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
print("  runs   ", " ".join(f"{t:.3f}" for t in sorted(times)))
cpu1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / runs
m = statistics.median(times)
print(f"  median  {m:.3f} s ({batch / m:.2f} images/s)")
print(f"  cpu time {cpu:.3f} s per run (all threads)")
