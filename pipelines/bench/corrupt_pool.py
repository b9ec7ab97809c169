#!/usr/bin/python3
"""The CPU side a GPU would need, done the reference's way: a process pool
of N workers (as many as lk uses), each taking an image file, decoding it
with Pillow, Resize(256) + CenterCrop(224) as torchvision, and producing
all 19 corruptions at 5 severities (95 images) with the Python libraries
the reference calls (corrupt_py.py's functions). The deterministic eight
run each severity's own parameters; the eleven random ones have one
parameter set written for timing (severity 3's) and run it five times,
which for glass blur, the slowest, is close to the mean of the five
(its iterations go 2, 1, 3, 2, 2). Prints "outputs seconds".

    /usr/bin/python3 pipelines/bench/corrupt_pool.py WORKERS FILE...
"""
import multiprocessing
import os
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import corrupt_py as cp  # noqa: E402


def prep(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    ow, oh = (256, int(256 * h / w)) if w <= h else (int(256 * w / h), 256)
    img = img.resize((ow, oh), Image.BILINEAR)
    left, top = int(round((ow - 224) / 2.0)), int(round((oh - 224) / 2.0))
    return img.crop((left, top, left + 224, top + 224))


def one(path):
    img = prep(path)
    n = 0
    for name in sorted(cp.mc.P224):
        for p in cp.mc.P224[name]:
            np.uint8(cp.mc.corrupt(name, img, p))
            n += 1
    x = np.array(img) / 255.
    for name, (p224, _, fn) in sorted(cp.RANDOM.items()):
        for _ in range(5):
            np.uint8(fn(x, p224))
            n += 1
    return n


def main():
    workers, files = int(sys.argv[1]), sys.argv[2:]
    t0 = time.perf_counter()
    with multiprocessing.Pool(workers) as pool:
        n = sum(pool.map(one, files, chunksize=1))
    print(n, "%.3f" % (time.perf_counter() - t0))


if __name__ == "__main__":
    main()
