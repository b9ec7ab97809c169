#!/usr/bin/python3
"""Effective receptive fields computed by PyTorch autograd, the reference
for lk-erf (tools/erf_test.go).

Run with Debian's PyTorch (python3-torch 1.13, python3-onnx):

    /usr/bin/python3 testdata/erf/make_erf.py

As RepLKNet's erf/visualize_erf.py: per image (one at a time), the
gradient with respect to the normalised input of the sum over channels of
the ReLU of the centre element (h//2, w//2) of the last residual block's
output, its positive part summed over channels, averaged over the images;
then as erf/analyze_erf.py: log10(score + 1) / max, and per threshold the
side of the smallest centred odd square (3 to h-1) whose sum is more than
the threshold's share of the total. The zoo models (rebuilt from their
ONNX weights) take the first 8 Fashion-MNIST test images; the 224-pixel
random-weight RepLKNet- and ConvNeXt-style fixtures 2 images of hash noise.
The zoo's maps are stored whole, the fixtures' at 256 positions with their
sum and L2 norm.
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "testdata", "arch"))
import make_arch  # noqa: E402
from make_arch import train, record, hash_pixels  # noqa: E402

THRESHOLDS = (0.2, 0.3, 0.5, 0.99)


def erf(model, block, x, mean, std):
    feats = {}
    hook = block.register_forward_hook(lambda m, i, o: feats.__setitem__("f", o))
    total = np.zeros(x.shape[2:], dtype=np.float64)
    for i in range(x.shape[0]):
        xi = ((x[i:i + 1] - mean) / std).detach().requires_grad_(True)
        model(xi)
        f = feats["f"]
        centre = torch.relu(f[:, :, f.shape[2] // 2, f.shape[3] // 2]).sum()
        g, = torch.autograd.grad(centre, xi)
        total += torch.relu(g).sum((0, 1)).double().numpy()
    hook.remove()
    return total / x.shape[0]


def areas(score):
    data = np.log10(score + 1)
    data = data / data.max()
    h, w = data.shape
    out = {}
    for t in THRESHOLDS:
        for i in range(1, h // 2):
            s = data[h // 2 - i:h // 2 + 1 + i, w // 2 - i:w // 2 + 1 + i].sum()
            if s / data.sum() > t:
                out[str(t)] = 2 * i + 1
                break
    return out


def main():
    torch.set_num_threads(2)
    rng = np.random.default_rng(20261202)
    out = {"zoo": {}, "fixtures": {}}
    x = make_arch.test_images(8)
    for name in ("lk3", "lk7", "lk13", "lk31", "resnet"):
        model = make_arch.rebuild(name)
        block = model.layer2[-1] if name == "resnet" else model.stages[-1][-1]
        s = erf(model, block, x, train.MEAN, train.STD)
        out["zoo"][name] = {"images": 8, "score": s.ravel().tolist(), "areas": areas(s)}
        print(name, areas(s))
    x224 = torch.from_numpy(hash_pixels(2 * 3 * 224 * 224).reshape(2, 3, 224, 224))
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    for name, model in make_arch.small_models():
        s = erf(model, model.stages[-1][-1], x224, mean, std)
        out["fixtures"][name] = {"images": 2, **record(s.reshape(1, -1), rng), "areas": areas(s)}
        print(name, areas(s))
    with open(os.path.join(HERE, "erf.json"), "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
