#!/usr/bin/python3
"""Make the JPEG/PNG fixtures and Pillow reference outputs for lib/preprocess.

Run with Debian's python3-pil and python3-numpy:

    /usr/bin/python3 testdata/images/make_fixtures.py

The photos are collages of real Fashion-MNIST test images (the shipped
split), tinted and upscaled, with gradients and fine texture so that
chroma subsampling and antialiasing are exercised. For each fixture the
script writes Pillow's view of it, which the Go tests compare against:

  NAME.decoded.png            Image.open(NAME).convert("RGB"), the decoder's output
  NAME.FILTER.png             torchvision-style Resize(256, FILTER) + CenterCrop(224),
                              done with Pillow on the decoded image
"""
import gzip
import os

import numpy as np
from PIL import Image
import PIL

HERE = os.path.dirname(os.path.abspath(__file__))
FMNIST = os.path.join(HERE, "..", "fashion-mnist", "t10k-images-idx3-ubyte.gz")


def fmnist():
    with gzip.open(FMNIST) as f:
        b = f.read()
    return np.frombuffer(b[16:], np.uint8).reshape(-1, 28, 28)


def collage(w, h, seed):
    rng = np.random.default_rng(seed)
    imgs = fmnist()
    canvas = np.zeros((h, w, 3), np.float64)
    yy, xx = np.mgrid[0:h, 0:w]
    canvas[..., 0] = 255 * xx / w
    canvas[..., 1] = 255 * yy / h
    canvas[..., 2] = 128 + 100 * np.sin(xx / 7.0) * np.cos(yy / 5.0)
    tile = 56
    for ty in range(0, h, tile):
        for tx in range(0, w, tile):
            if rng.random() < 0.3:
                continue
            im = imgs[rng.integers(len(imgs))].astype(np.float64)
            im = np.kron(im, np.ones((2, 2)))[: min(tile, h - ty), : min(tile, w - tx)]
            tint = rng.uniform(0.3, 1.0, 3)
            for c in range(3):
                region = canvas[ty:ty + im.shape[0], tx:tx + im.shape[1], c]
                region[:] = np.where(im > 20, im * tint[c], region)
    # a sharp checkerboard corner brings out aliasing and chroma edges
    canvas[: h // 4, : w // 4] = np.where(((yy[: h // 4, : w // 4] // 3 + xx[: h // 4, : w // 4] // 3) % 2)[..., None] == 0,
                                          [250, 20, 20], [20, 20, 250])
    canvas += rng.normal(0, 6, canvas.shape)
    return Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")


def torchvision_resize_crop(img, size, crop, resample):
    w, h = img.size
    if w <= h:
        ow, oh = size, int(size * h / w)
    else:
        ow, oh = int(size * w / h), size
    img = img.resize((ow, oh), resample)
    left = int(round((ow - crop) / 2.0))
    top = int(round((oh - crop) / 2.0))
    return img.crop((left, top, left + crop, top + crop))


def main():
    fixtures = {
        "collage-500x375.jpg": (collage(500, 375, 1), dict(quality=90, subsampling=2)),  # 4:2:0
        "collage-333x500.jpg": (collage(333, 500, 2), dict(quality=75, subsampling=1)),  # 4:2:2, portrait
        "collage-gray-300x200.jpg": (collage(300, 200, 3).convert("L"), dict(quality=85)),
        "collage-rgba-240x180.png": (collage(240, 180, 4).convert("RGBA"), {}),
        # CMYK, as print workflows write JPEGs (Pillow stores it Adobe-inverted)
        "collage-cmyk-260x180.jpg": (collage(260, 180, 5).convert("CMYK"), dict(quality=90)),
    }
    for name, (img, kw) in fixtures.items():
        path = os.path.join(HERE, name)
        img.save(path, **kw)
        base = os.path.splitext(path)[0]
        dec = Image.open(path).convert("RGB")
        dec.save(base + ".decoded.png")
        for filt, res in (("bilinear", Image.BILINEAR), ("bicubic", Image.BICUBIC)):
            torchvision_resize_crop(dec, 256, 224, res).save(base + "." + filt + ".png")
    # a truncated JPEG for the bad-input tests
    with open(os.path.join(HERE, "collage-500x375.jpg"), "rb") as f:
        data = f.read()
    with open(os.path.join(HERE, "truncated.jpg"), "wb") as f:
        f.write(data[: len(data) // 2])
    print("Pillow", PIL.__version__)


if __name__ == "__main__":
    main()
