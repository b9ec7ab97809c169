#!/usr/bin/env python3
"""PyTorch on the GPU, the reference the GPU benchmark compares lk with:
images/s of inference (eval, float32, no autocast) and of PGD-10 (random
start, step eps/4, projection and clamping as torchattacks does; the
normalisation inside the graph, as lk's gradient models have it) for a
torchvision architecture at 224 px, batches of --batch random images.

    python3 pipelines/bench/gpu_torch.py resnet50 --batch 64 --what infer
"""
import argparse
import os
import sys
import time

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_pgd import pgd  # noqa: E402  (the same PGD as the CPU benchmark)

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--images", type=int, default=2048)
    p.add_argument("--what", choices=["infer", "pgd"], default="infer")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--device", default="cuda")
    a = p.parse_args()
    dev = torch.device(a.device)
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    m = getattr(torchvision.models, a.model)().eval().to(dev)
    for q in m.parameters():
        q.requires_grad_(False)
    x = torch.rand(a.batch, 3, 224, 224, device=dev)
    y = torch.randint(0, 1000, (a.batch,), device=dev)
    mean, std = MEAN.to(dev), STD.to(dev)

    def step():
        if a.what == "infer":
            with torch.no_grad():
                m((x - mean) / std)
        else:
            pgd(m, x, y, 0.03, a.steps, mean, std)

    step()  # warm-up: cuDNN's algorithm search
    step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    n = 0
    while n < a.images:
        step()
        n += a.batch
    if dev.type == "cuda":
        torch.cuda.synchronize()
    print("%.1f" % (n / (time.perf_counter() - t)))


if __name__ == "__main__":
    main()
