#!/usr/bin/python3
"""Makes the tiny ImageNet-P tree the dataset tests read.

PERTURBATION/WNID/NAME.mp4, encoded with ffmpeg's libx264 as the ImageNet-P
generator encodes (-r 1 -framerate 1 -preset veryslow; -tune grain for the
noise sequences, -crf 20 for the others), from synthetic 32x32 frames:

    pixel(x, y, c, k) = 20 + 3x + 2y + 20c + 8k   (k: frame index)

Next to each video, NAME.cv2.png holds its frames as OpenCV's VideoCapture
decodes them (BGR turned to RGB), stacked top to bottom: the frames the
reference evaluation (ImageNet-P/test.py) sees.

Run from the repository root: /usr/bin/python3 testdata/imagenet-p/make_p.py
Needs ffmpeg, numpy, Pillow and OpenCV (Debian: ffmpeg python3-pil python3-opencv).
"""
import os
import subprocess
import tempfile

import cv2
import numpy as np
from PIL import Image

ROOT = os.path.join("testdata", "imagenet-p")
VIDEOS = [  # folder, wnid, name, frames
    ("gaussian_noise", "n01440764", "a", 6),
    ("gaussian_noise_2", "n01440764", "a", 6),
    ("rotate", "n01443537", "b", 8),
    ("rotate", "n01443537", "c", 5),
]


def frame(k):
    y, x, c = np.meshgrid(np.arange(32), np.arange(32), np.arange(3), indexing="ij")
    return (20 + 3 * x + 2 * y + 20 * c + 8 * k).astype(np.uint8)


def encode(frames, out, noise):
    with tempfile.TemporaryDirectory() as tmp:
        for k, f in enumerate(frames):
            Image.fromarray(f).save(os.path.join(tmp, "img%d.png" % k))
        tune = ["-tune", "grain"] if noise else ["-crf", "20"]
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-r", "1", "-framerate", "1",
                        "-i", os.path.join(tmp, "img%d.png"), "-vcodec", "libx264",
                        "-preset", "veryslow"] + tune + [out], check=True)


def cv2_frames(path):
    cap = cv2.VideoCapture(path)
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    return out


for folder, wnid, name, n in VIDEOS:
    d = os.path.join(ROOT, folder, wnid)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name + ".mp4")
    encode([frame(k) for k in range(n)], path, "noise" in folder)
    got = cv2_frames(path)
    assert len(got) == n, (path, len(got))
    Image.fromarray(np.concatenate(got, axis=0)).save(os.path.join(d, name + ".cv2.png"))
    print(path, n, "frames")
