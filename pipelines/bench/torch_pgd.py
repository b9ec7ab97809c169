#!/usr/bin/python3
"""PyTorch CPU autograd speed of PGD for a zoo architecture, the reference
lk-attack is compared against in make bench: images per second of PGD with
5 steps (random start, step eps/4, projection and clamping as torchattacks
does), batches of 32 3x32x32 images, the given thread count. Speed does not
depend on the weights, so the architecture of testdata/zoo/train.py is used
with its random initialisation, in eval mode.

    /usr/bin/python3 pipelines/bench/torch_pgd.py lk31 --threads 2 --images 1024
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "zoo"))
import train  # noqa: E402


def pgd(m, x, y, eps, steps, mean=None, std=None):
    """PGD as torchattacks runs it, the normalisation (default the zoo's)
    inside the model."""
    mean = train.MEAN if mean is None else mean
    std = train.STD if std is None else std
    alpha = eps / 4
    adv = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(m((adv - mean) / std), y)
        g, = torch.autograd.grad(loss, adv)
        adv = adv.detach() + alpha * g.sign()
        adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1)
    return adv


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--images", type=int, default=1024)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = train.ZOO[a.model][0]().eval()
    for q in m.parameters():
        q.requires_grad_(False)
    x = torch.rand(a.batch, 3, 32, 32)
    y = torch.randint(0, train.NUM_CLASSES, (a.batch,))
    pgd(m, x, y, 0.03, 1)  # warm-up
    t = time.perf_counter()
    n = 0
    while n < a.images:
        pgd(m, x, y, 0.03, a.steps)
        n += a.batch
    print("%.1f" % (n / (time.perf_counter() - t)))


if __name__ == "__main__":
    main()
