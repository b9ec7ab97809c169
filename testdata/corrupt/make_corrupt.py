#!/usr/bin/python3
"""Reference outputs of the deterministic ImageNet-C corruptions, computed
with the libraries the reference generators use (numpy, scipy, skimage,
OpenCV, Pillow from Debian: python3-scipy, python3-skimage, python3-opencv,
python3-pil), written from the definitions in the notes, for lib/corrupt's
tests:

    /usr/bin/python3 testdata/corrupt/make_corrupt.py

Inputs: testdata/images/collage-500x375.bilinear.png (224x224, the
ImageNet table) and input32.png, its Pillow BOX reduction to 32x32 (the
CIFAR table), written here. Output corrupt.json: for 32 pixels every
output pixel (uint8, base64), for 224 pixels the per-channel sums and 256
sampled pixels, per corruption and severity.
"""
import base64
import io
import json
import os

import cv2
import numpy as np
from PIL import Image
from scipy.ndimage import zoom as scizoom
from skimage.color import hsv2rgb, rgb2hsv
from skimage.filters import gaussian

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

P224 = {
    "gaussian_blur": [1, 2, 3, 4, 6],
    "defocus_blur": [(3, .1), (4, .5), (6, .5), (8, .5), (10, .5)],
    "zoom_blur": [np.arange(1, 1.11, .01), np.arange(1, 1.16, .01), np.arange(1, 1.21, .02),
                  np.arange(1, 1.26, .02), np.arange(1, 1.31, .03)],
    "brightness": [.1, .2, .3, .4, .5],
    "contrast": [.4, .3, .2, .1, .05],
    "saturate": [(.3, 0), (.1, 0), (2, 0), (5, .1), (20, .2)],
    "pixelate": [.6, .5, .4, .3, .25],
    "jpeg_compression": [25, 18, 15, 10, 7],
}
P32 = {
    "gaussian_blur": [.4, .6, .7, .8, 1],
    "defocus_blur": [(.3, .4), (.4, .5), (.5, .6), (1, .2), (1.5, .1)],
    "zoom_blur": [np.arange(1, 1.06, .01), np.arange(1, 1.11, .01), np.arange(1, 1.16, .01),
                  np.arange(1, 1.21, .01), np.arange(1, 1.26, .01)],
    "brightness": [.05, .1, .15, .2, .3],
    "contrast": [.75, .5, .4, .3, .15],
    "saturate": [(.3, 0), (.1, 0), (1.5, 0), (2, .1), (2.5, .2)],
    "pixelate": [.95, .9, .85, .75, .65],
    "jpeg_compression": [80, 65, 58, 50, 40],
}


def disk(radius, alias_blur):
    if radius <= 8:
        L = np.arange(-8, 8 + 1)
        ksize = (3, 3)
    else:
        L = np.arange(-radius, radius + 1)
        ksize = (5, 5)
    X, Y = np.meshgrid(L, L)
    k = np.array((X ** 2 + Y ** 2) <= radius ** 2, dtype=np.float32)
    k /= np.sum(k)
    return cv2.GaussianBlur(k, ksize=ksize, sigmaX=alias_blur)


def clipped_zoom(img, z):
    h = img.shape[0]
    ch = int(np.ceil(h / z))
    top = (h - ch) // 2
    img = scizoom(img[top:top + ch, top:top + ch], (z, z, 1), order=1)
    trim = (img.shape[0] - h) // 2
    return img[trim:trim + h, trim:trim + h]


def corrupt(name, img, p):
    x = np.array(img) / 255.
    if name == "gaussian_blur":
        return np.clip(gaussian(x, sigma=p, channel_axis=-1), 0, 1) * 255
    if name == "defocus_blur":
        k = disk(*p)
        return np.clip(np.array([cv2.filter2D(x[:, :, d], -1, k) for d in range(3)]).transpose((1, 2, 0)), 0, 1) * 255
    if name == "zoom_blur":
        x = (np.array(img) / 255.).astype(np.float32)
        out = np.zeros_like(x)
        for z in p:
            out += clipped_zoom(x, z)
        return np.clip((x + out) / (len(p) + 1), 0, 1) * 255
    if name in ("brightness", "saturate"):
        h = rgb2hsv(x)
        if name == "brightness":
            h[:, :, 2] = np.clip(h[:, :, 2] + p, 0, 1)
        else:
            h[:, :, 1] = np.clip(h[:, :, 1] * p[0] + p[1], 0, 1)
        return np.clip(hsv2rgb(h), 0, 1) * 255
    if name == "contrast":
        m = np.mean(x, axis=(0, 1), keepdims=True)
        return np.clip((x - m) * p + m, 0, 1) * 255
    if name == "pixelate":
        w = img.size[0]
        small = img.resize((int(w * p), int(w * p)), Image.BOX)
        return np.array(small.resize((w, w), Image.BOX)).astype(np.float64)
    if name == "jpeg_compression":
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=p)
        return np.array(Image.open(buf)).astype(np.float64)
    raise ValueError(name)


def spatter_steps():
    """The OpenCV chain of spatter's water mode on a fixed 8-bit layer of
    blobs (spatter is random; its image processing is not)."""
    y, x = np.mgrid[0:64, 0:64]
    layer = (np.sin(x / 3.0) * np.cos(y / 4.0) + 1) * 127.5
    layer[layer < 150] = 0
    l8 = layer.astype(np.uint8)
    edges = cv2.Canny(l8, 50, 150)
    dist = cv2.distanceTransform(255 - edges, cv2.DIST_L2, 5)
    _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
    dist = cv2.blur(dist, (3, 3)).astype(np.uint8)
    eq = cv2.equalizeHist(dist)
    emb = cv2.filter2D(eq, cv2.CV_8U, np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]))
    final = cv2.blur(emb, (3, 3))
    enc = lambda a: base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode()
    return {"layer": enc(l8), "canny": enc(edges), "dist": enc(dist), "equalized": enc(eq), "final": enc(final)}


def main():
    big = Image.open(os.path.join(ROOT, "testdata", "images", "collage-500x375.bilinear.png")).convert("RGB")
    small = big.resize((32, 32), Image.BOX)
    small.save(os.path.join(HERE, "input32.png"))
    rng = np.random.default_rng(5)
    idx = np.sort(rng.choice(224 * 224 * 3, 256, replace=False))
    out = {"index224": idx.tolist(), "cifar": {}, "imagenet": {}}
    for name in P224:
        for s in range(5):
            a = np.uint8(corrupt(name, small, P32[name][s]))
            out["cifar"]["%s/%d" % (name, s + 1)] = base64.b64encode(a.tobytes()).decode()
            b = np.uint8(corrupt(name, big, P224[name][s]))
            flat = b.reshape(-1)
            out["imagenet"]["%s/%d" % (name, s + 1)] = {
                "sums": b.reshape(-1, 3).astype(np.int64).sum(0).tolist(),
                "sampled": flat[idx].tolist()}
    out["spatter_water"] = spatter_steps()
    with open(os.path.join(HERE, "corrupt.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")
    print("wrote", os.path.join(HERE, "corrupt.json"))


if __name__ == "__main__":
    main()
