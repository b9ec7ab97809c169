#!/usr/bin/python3
"""Seconds per image of ImageNet-C corruptions in Python, severity 3, at
224 and 32 pixels: the reference make bench compares lk-corrupt's Go
benchmark with. Prints "name size seconds" lines.

The deterministic corruptions run as testdata/corrupt/make_corrupt.py
computes them (numpy, scipy, skimage, OpenCV, Pillow). The noises and glass
blur are written here from their definitions (../shared/notes/corruptions.md
§2: numpy draws, skimage's gaussian, glass blur's pixel loop in Python), for
timing only. The other six are written the same way, at 224 px only:
motion blur and snow through ImageMagick (Debian's python3-wand), as the
reference calls it; frost reads one of five files of the sizes and formats
of the reference's frost photographs on every call, as the reference does
(synthetic pixels: the photographs are not redistributed); fog's plasma
fractal, elastic's affine warp and displacement, and spatter's water mode
follow §2 step by step.
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


def plasma(mapsize, decay):
    m = np.zeros((mapsize, mapsize))
    step, wibble = mapsize, 100.

    def wm(a):
        return a / 4 + wibble * np.random.uniform(-wibble, wibble, a.shape)
    while step >= 2:
        h = step // 2
        c = m[0:mapsize:step, 0:mapsize:step]
        sq = c + np.roll(c, -1, axis=0)
        sq = sq + np.roll(sq, -1, axis=1)
        m[h:mapsize:step, h:mapsize:step] = wm(sq)
        d = m[h:mapsize:step, h:mapsize:step]
        u = m[0:mapsize:step, 0:mapsize:step]
        m[0:mapsize:step, h:mapsize:step] = wm(d + np.roll(d, 1, axis=0) + u + np.roll(u, -1, axis=1))
        m[h:mapsize:step, 0:mapsize:step] = wm(d + np.roll(d, 1, axis=1) + u + np.roll(u, -1, axis=0))
        step //= 2
        wibble /= decay
    m -= m.min()
    return m / m.max()


def fog(x, t, decay):
    mx = x.max()
    x = x + t * plasma(256, decay)[:224, :224][..., None]
    return np.clip(x * mx / (mx + t), 0, 1) * 255


def wand_motion(u8, radius, sigma, angle):
    import cv2
    from io import BytesIO
    from wand.image import Image as WandImage
    buf = BytesIO()
    Image.fromarray(u8).save(buf, format="PNG")
    w = WandImage(blob=buf.getvalue())
    w.motion_blur(radius=radius, sigma=sigma, angle=angle)
    return cv2.imdecode(np.frombuffer(w.make_blob(), np.uint8), cv2.IMREAD_UNCHANGED)


def motion(x, radius, sigma):
    return wand_motion(np.uint8(x * 255), radius, sigma, np.random.uniform(-45, 45))


def snow(x, loc, scale, zoom, thr, mbr, mbs, blend):
    import cv2
    x = np.float32(x)
    layer = np.random.normal(loc, scale, x.shape[:2])[..., None]
    layer = mc.clipped_zoom(layer, zoom)
    layer[layer < thr] = 0
    layer = wand_motion(np.uint8(np.clip(layer.squeeze(), 0, 1) * 255), mbr, mbs,
                        np.random.uniform(-135, -45)) / 255.
    layer = layer[..., None]
    gray = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).reshape(224, 224, 1)
    x = blend * x + (1 - blend) * np.maximum(x, gray * 1.5 + .5)
    return np.clip(x + layer + np.rot90(layer, k=2), 0, 1) * 255


FROST_DIR = None


def frost_files():
    import cv2
    import tempfile
    global FROST_DIR
    if FROST_DIR is None:
        FROST_DIR = tempfile.mkdtemp()
        g = np.random.default_rng(1)
        for i, (w, h, ext, ch) in enumerate([(900, 600, "png", 4), (560, 315, "png", 4), (560, 315, "png", 4),
                                              (527, 350, "jpg", 3), (660, 495, "jpg", 3)]):
            yy, xx = np.mgrid[0:h, 0:w]
            px = (128 + 60 * np.sin(xx / 7.) * np.cos(yy / 5.))[..., None] + g.normal(0, 20, (h, w, ch))
            cv2.imwrite(os.path.join(FROST_DIR, "frost%d.%s" % (i + 1, ext)), np.uint8(np.clip(px, 0, 255)))
    return FROST_DIR


def frost(x, a, b):
    import cv2
    d = frost_files()
    i = np.random.randint(5)
    name = ["frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg"][i]
    f = cv2.imread(os.path.join(d, name))
    r, c = np.random.randint(0, f.shape[0] - 224), np.random.randint(0, f.shape[1] - 224)
    f = f[r:r + 224, c:c + 224][..., [2, 1, 0]]
    return np.clip(a * x * 255 + b * f, 0, 255)


def elastic(x, alpha, sigma, amax):
    import cv2
    from scipy.ndimage import map_coordinates
    img = np.float32(x)
    ctr = np.float32((224, 224)) // 2
    sq = 224 // 3
    pts1 = np.float32([ctr + sq, [ctr[0] + sq, ctr[1] - sq], ctr - sq])
    pts2 = pts1 + np.random.uniform(-amax, amax, size=pts1.shape).astype(np.float32)
    m = cv2.getAffineTransform(pts1, pts2)
    img = cv2.warpAffine(img, m, (224, 224), borderMode=cv2.BORDER_REFLECT_101)
    dx = (gaussian(np.random.uniform(-1, 1, (224, 224)), sigma, mode="reflect", truncate=3) * alpha).astype(np.float32)
    dy = (gaussian(np.random.uniform(-1, 1, (224, 224)), sigma, mode="reflect", truncate=3) * alpha).astype(np.float32)
    yy, xx, zz = np.meshgrid(np.arange(224), np.arange(224), np.arange(3), indexing="ij")
    ind = np.reshape(yy + dy[..., None], (-1, 1)), np.reshape(xx + dx[..., None], (-1, 1)), np.reshape(zz, (-1, 1))
    return np.clip(map_coordinates(img, ind, order=1, mode="reflect").reshape(img.shape), 0, 1) * 255


def spatter_water(x, loc, scale, sigma, thr, intensity):
    import cv2
    x = np.float32(x)
    liq = gaussian(np.random.normal(loc, scale, x.shape[:2]), sigma=sigma, mode="nearest", truncate=4)
    liq[liq < thr] = 0
    l8 = (liq * 255).astype(np.uint8)
    d = 255 - cv2.Canny(l8, 50, 150)
    d = cv2.distanceTransform(d, cv2.DIST_L2, 5)
    _, d = cv2.threshold(d, 20, 20, cv2.THRESH_TRUNC)
    d = cv2.blur(d, (3, 3)).astype(np.uint8)
    d = cv2.equalizeHist(d)
    d = cv2.filter2D(d, cv2.CV_8U, np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]))
    d = np.float32(cv2.blur(d, (3, 3)))
    m = l8 * d
    m = m / np.max(m) * intensity
    color = np.float32([175 / 255., 238 / 255., 238 / 255.]) * m[..., None]
    return np.clip(x + color, 0, 1) * 255


RANDOM = {  # name -> (224 parameter, 32 parameter, function of x in [0,1] and the parameter)
    "gaussian_noise": (.18, .08, lambda x, c: np.clip(x + rng.normal(size=x.shape, scale=c), 0, 1) * 255),
    "shot_noise": (12, 100, lambda x, c: np.clip(rng.poisson(x * c) / c, 0, 1) * 255),
    "impulse_noise": (.09, .03, lambda x, c: np.clip(random_noise(x, mode="s&p", amount=c), 0, 1) * 255),
    "speckle_noise": (.35, .12, lambda x, c: np.clip(x + x * rng.normal(size=x.shape, scale=c), 0, 1) * 255),
    "glass_blur": ((1, 2, 3), (.4, 1, 1), lambda x, p: glass(x, *p)),
    # severity 3 at 224 only (None: not timed at 32)
    "motion_blur": ((15, 8), None, lambda x, p: motion(x, *p)),
    "snow": ((.55, .3, 4, .9, 12, 8, .7), None, lambda x, p: snow(x, *p)),
    "frost": ((.7, .7), None, lambda x, p: frost(x, *p)),
    "fog": ((2.5, 1.7), None, lambda x, p: fog(x, *p)),
    "elastic_transform": ((12.2, 2.44, 4.88), None, lambda x, p: elastic(x, *p)),
    "spatter": ((.65, .3, 2, .68, .5), None, lambda x, p: spatter_water(x, *p)),
}


def main():
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
            if (p224 if size == 224 else p32) is None:
                continue
            x = np.array(im) / 255.
            n, t0 = 0, time.perf_counter()
            while n < 1 or time.perf_counter() - t0 < 0.5:
                fn(x, p224 if size == 224 else p32)
                n += 1
            print(name, size, "%.6f" % ((time.perf_counter() - t0) / n))


if __name__ == "__main__":
    main()
