#!/usr/bin/python3
"""Pillow (torchvision's path) decoding and preprocessing speed on one core:
open, convert("RGB"), Resize(256) bilinear, CenterCrop(224), to float32 CHW
in [0,1] -- what lk-data does per image. Prints images per second. With
--decode-only, no resize and crop (ImageNet-C's files are 224 px already).

    /usr/bin/python3 pipelines/bench/pillow_preprocess.py [--decode-only] DIR
"""
import os
import sys
import time

import numpy as np
from PIL import Image


DECODE_ONLY = "--decode-only" in sys.argv


def prep(path):
    img = Image.open(path).convert("RGB")
    if DECODE_ONLY:
        return np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0
    w, h = img.size
    if w <= h:
        ow, oh = 256, int(256 * h / w)
    else:
        ow, oh = int(256 * w / h), 256
    img = img.resize((ow, oh), Image.BILINEAR)
    left, top = int(round((ow - 224) / 2.0)), int(round((oh - 224) / 2.0))
    img = img.crop((left, top, left + 224, top + 224))
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0


def main():
    d = [a for a in sys.argv[1:] if a != "--decode-only"][0]
    files = []
    for root, _, names in os.walk(d):
        files += [os.path.join(root, n) for n in names if n.lower().endswith((".jpg", ".jpeg"))]
    files.sort()
    prep(files[0])
    t = time.perf_counter()
    for f in files:
        prep(f)
    print("%.1f" % (len(files) / (time.perf_counter() - t)))


if __name__ == "__main__":
    main()
