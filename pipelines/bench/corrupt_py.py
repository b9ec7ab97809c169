#!/usr/bin/python3
"""Seconds per image of the deterministic ImageNet-C corruptions in Python
(numpy, scipy, skimage, OpenCV, Pillow, as testdata/corrupt/make_corrupt.py
computes them), severity 3, at 224 and 32 pixels: the reference make bench
compares lk-corrupt's Go benchmark with. Prints "name size seconds" lines.
"""
import os
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "corrupt"))
import make_corrupt as mc  # noqa: E402

img = Image.fromarray((np.arange(224 * 224 * 3).reshape(224, 224, 3) * 7919 % 256).astype(np.uint8))
for size, table in ((224, mc.P224), (32, mc.P32)):
    im = img if size == 224 else img.resize((32, 32), Image.BOX)
    for name in sorted(table):
        n, t0 = 0, time.perf_counter()
        while n < 3 or time.perf_counter() - t0 < 0.5:
            mc.corrupt(name, im, table[name][2])
            n += 1
        print(name, size, "%.6f" % ((time.perf_counter() - t0) / n))
