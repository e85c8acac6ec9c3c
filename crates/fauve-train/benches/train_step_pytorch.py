"""PyTorch peer of a `fauve train` step, for throughput comparisons (CPU or CUDA).

One Johnson et al. step as fauve's shipped configs take it: the transformer network (same
layout as crates/fauve-train/src/transformer.rs) on a batch of 256² crops, a frozen VGG19 to
relu4_1 (content at relu2_2, Gram style loss at relu1_1…relu4_1), Adam. The weights are
random: speed does not depend on their values. Prints images/s as the median of several
timed steps after warm-up.

    python3 train_step_pytorch.py [--device cuda] [--batch 4] [--size 256] [--steps 30]
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvLayer(nn.Module):
    def __init__(self, c_in, c_out, k, stride=1):
        super().__init__()
        self.pad = k // 2
        self.conv2d = nn.Conv2d(c_in, c_out, k, stride)

    def forward(self, x):
        return self.conv2d(F.pad(x, [self.pad] * 4, mode="reflect"))


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.in1 = ConvLayer(c, c, 3), nn.InstanceNorm2d(c, affine=True)
        self.conv2, self.in2 = ConvLayer(c, c, 3), nn.InstanceNorm2d(c, affine=True)

    def forward(self, x):
        return x + self.in2(self.conv2(F.relu(self.in1(self.conv1(x)))))


class TransformerNet(nn.Module):
    def __init__(self):
        super().__init__()
        norm = lambda c: nn.InstanceNorm2d(c, affine=True)  # noqa: E731
        self.down = nn.ModuleList([ConvLayer(3, 32, 9), ConvLayer(32, 64, 3, 2), ConvLayer(64, 128, 3, 2)])
        self.down_norm = nn.ModuleList([norm(32), norm(64), norm(128)])
        self.res = nn.Sequential(*[Residual(128) for _ in range(5)])
        self.up = nn.ModuleList([ConvLayer(128, 64, 3), ConvLayer(64, 32, 3)])
        self.up_norm = nn.ModuleList([norm(64), norm(32)])
        self.out = ConvLayer(32, 3, 9)

    def forward(self, x):
        for conv, norm in zip(self.down, self.down_norm):
            x = F.relu(norm(conv(x)))
        x = self.res(x)
        for conv, norm in zip(self.up, self.up_norm):
            x = F.relu(norm(conv(F.interpolate(x, scale_factor=2, mode="nearest"))))
        return self.out(x)


# VGG19 `features` up to relu4_1; the indices are the ReLUs read by the losses.
VGG19_TO_RELU4_1 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512]
STYLE_RELUS, CONTENT_RELU = (1, 6, 11, 20), 8  # relu1_1, relu2_1, relu3_1, relu4_1; relu2_2


def vgg_features():
    layers, c = [], 3
    for v in VGG19_TO_RELU4_1:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
            c = v
    vgg = nn.Sequential(*layers)
    for p in vgg.parameters():
        p.requires_grad_(False)
    return vgg.eval()


def taps(vgg, x):
    out = {}
    for i, layer in enumerate(vgg):
        x = layer(x)
        if i in STYLE_RELUS or i == CONTENT_RELU:
            out[i] = x
    return out


def gram(f):
    b, c, h, w = f.shape
    f = f.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    a = ap.parse_args()
    dev = torch.device(a.device)
    net, vgg = TransformerNet().to(dev), vgg_features().to(dev)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    style = taps(vgg, torch.rand(1, 3, a.size, a.size, device=dev) * 255)
    style_grams = {i: gram(style[i]) for i in STYLE_RELUS}
    photos = torch.rand(a.batch, 3, a.size, a.size, device=dev) * 255

    def step():
        opt.zero_grad()
        out = taps(vgg, net(photos))
        with torch.no_grad():
            target = taps(vgg, photos)[CONTENT_RELU]
        loss = 1e5 * F.mse_loss(out[CONTENT_RELU], target)
        for i in STYLE_RELUS:
            loss = loss + 5e7 * F.mse_loss(gram(out[i]), style_grams[i].expand(a.batch, -1, -1))
        loss.backward()
        opt.step()
        return loss.item()  # waits for the GPU, like fauve's per-step loss read-back

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(f"torch {torch.__version__} on {name}: batch {a.batch} at {a.size}², median step "
          f"{med * 1e3:.1f} ms over {a.steps} steps, {a.batch / med:.1f} images/s")


if __name__ == "__main__":
    main()
