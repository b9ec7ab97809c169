#!/usr/bin/python3
"""PyTorch CPU eager inference speed for a zoo architecture, the reference
lk-infer is compared against in make bench.

Speed does not depend on the weights, so the architecture from
testdata/zoo/train.py is built with its random initialisation, in eval mode,
and run on batches of 64 3x32x32 images with the given thread count.

    /usr/bin/python3 pipelines/bench/torch_infer.py lk31 --threads 2 --images 2560
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "zoo"))
import train  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--images", type=int, default=2560)
    p.add_argument("--batch", type=int, default=64)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = train.ZOO[a.model][0]().eval()
    x = torch.rand(a.batch, 3, 32, 32)
    with torch.no_grad():
        m(x)  # warm-up
        t = time.perf_counter()
        n = 0
        while n < a.images:
            m(x)
            n += a.batch
        el = time.perf_counter() - t
    print("%.1f" % (n / el))


if __name__ == "__main__":
    main()
