#!/usr/bin/python3
"""Seconds per image of ImageNet-C corruptions in Python, severity 3, at
224 and 32 pixels: the reference make bench compares lk-corrupt's Go
benchmark with. Prints "name size seconds" lines.

The deterministic corruptions run as testdata/corrupt/make_corrupt.py
computes them (numpy, scipy, skimage, OpenCV, Pillow). The noises and glass
blur are written here from their definitions (../shared/notes/corruptions.md
§2: numpy draws, skimage's gaussian, glass blur's pixel loop in Python), for
timing only. Motion blur and snow need ImageMagick through Wand, frost the
reference's photographs, fog, elastic and spatter longer code: not timed.
"""
import os
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "corrupt"))
import make_corrupt as mc  # noqa: E402

from skimage.filters import gaussian  # noqa: E402
from skimage.util import random_noise  # noqa: E402

rng = np.random.default_rng(0)


def glass(x, sigma, d, iters):
    n = x.shape[0]
    x = np.uint8(gaussian(x, sigma=sigma, channel_axis=-1) * 255)
    for _ in range(iters):
        for h in range(n - d, d, -1):
            for w in range(n - d, d, -1):
                dx, dy = np.random.randint(-d, d, size=(2,))
                x[h, w], x[h + dy, w + dx] = x[h + dy, w + dx], x[h, w]
    return np.clip(gaussian(x / 255., sigma=sigma, channel_axis=-1), 0, 1) * 255


RANDOM = {  # name -> (224 parameter, 32 parameter, function of x in [0,1] and the parameter)
    "gaussian_noise": (.18, .08, lambda x, c: np.clip(x + rng.normal(size=x.shape, scale=c), 0, 1) * 255),
    "shot_noise": (12, 100, lambda x, c: np.clip(rng.poisson(x * c) / c, 0, 1) * 255),
    "impulse_noise": (.09, .03, lambda x, c: np.clip(random_noise(x, mode="s&p", amount=c), 0, 1) * 255),
    "speckle_noise": (.35, .12, lambda x, c: np.clip(x + x * rng.normal(size=x.shape, scale=c), 0, 1) * 255),
    "glass_blur": ((1, 2, 3), (.4, 1, 1), lambda x, p: glass(x, *p)),
}

img = Image.fromarray((np.arange(224 * 224 * 3).reshape(224, 224, 3) * 7919 % 256).astype(np.uint8))
for size, table in ((224, mc.P224), (32, mc.P32)):
    im = img if size == 224 else img.resize((32, 32), Image.BOX)
    for name in sorted(table):
        n, t0 = 0, time.perf_counter()
        while n < 3 or time.perf_counter() - t0 < 0.5:
            mc.corrupt(name, im, table[name][2])
            n += 1
        print(name, size, "%.6f" % ((time.perf_counter() - t0) / n))
    for name, (p224, p32, fn) in sorted(RANDOM.items()):
        x = np.array(im) / 255.
        n, t0 = 0, time.perf_counter()
        while n < 1 or time.perf_counter() - t0 < 0.5:
            fn(x, p224 if size == 224 else p32)
            n += 1
        print(name, size, "%.6f" % ((time.perf_counter() - t0) / n))
