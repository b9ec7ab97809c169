#!/usr/bin/python3
"""Reference values for lk-occlude's salient and non-salient patch drop.

The zoo ViT (testdata/zoo/vit.onnx, rebuilt in PyTorch with its weights by
testdata/arch/make_arch.py) serves as the saliency model, as DINO ViT-S/16
does in the paper: its last block's self-attention from the class token to
the 8x8 patch tokens, head 1, on the first 16 Fashion-MNIST test images
(the stream lk-data --gray3 --crop 32 makes), normalised with vit.json's
mean and std. For each lambda in 0.1..1.0 the salient patches are the
highest-attention ones holding a fraction lambda of the attention mass:
ascending sort, normalise, cumulative sum > 1 - lambda (LKRobust's
occlusion_invariance/evaluate.py, protocols.md section 7).

The gradient saliency of the zoo resnet on the first 16 test images of
classes 0-7 (lk-data --keep-labels 0-7 --limit 16): per 4x4 patch,
the sum over pixels and channels of |d cross-entropy / d pixel| at the true
label, the pixels in [0,1] before normalisation (PyTorch autograd).

Writes testdata/occlude/saliency.json:
  {"attention": [[64 floats] x 16], "masks": {"0.1": [[64 0/1] x 16], ...},
   "grad": [[64 floats] x 16], "grad_masks": {...}}

Run from the repository root: /usr/bin/python3 testdata/occlude/make_occlude.py
Needs python3-torch, python3-onnx, numpy.
"""
import gzip
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "testdata", "arch"))
import make_arch  # noqa: E402

N, HEAD = 16, 1


def masks_of(sal):
    masks = {}
    for lam in [round(0.1 * i, 1) for i in range(1, 11)]:
        rows = []
        for a in sal:
            order = np.argsort(a, kind="stable")
            cum = np.cumsum(a[order] / a.sum())
            m = np.zeros(len(a), dtype=int)
            m[order[cum > 1 - lam]] = 1
            rows.append(m.tolist())
        masks[str(lam)] = rows
    return masks


def first_in_classes(n):
    """The first n Fashion-MNIST test images with labels 0-7, and their labels."""
    root = os.path.join(ROOT, "testdata", "fashion-mnist")
    with gzip.open(os.path.join(root, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        raw = np.frombuffer(f.read()[16:], dtype=np.uint8).reshape(-1, 28, 28)
    with gzip.open(os.path.join(root, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        lab = np.frombuffer(f.read()[8:], dtype=np.uint8)
    idx = np.nonzero(lab < 8)[0][:n]
    return make_arch.train.to_input(raw[idx]), lab[idx]


def gradient_saliency():
    x, lab = first_in_classes(N)
    model = make_arch.rebuild("resnet")
    with open(os.path.join(ROOT, "testdata", "zoo", "resnet.json")) as f:
        cfg = json.load(f)
    mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    labels = torch.from_numpy(lab.astype(np.int64))
    x = x.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(model((x - mean) / std), labels, reduction="sum")
    g, = torch.autograd.grad(loss, x)
    a = g.abs().sum(1)  # N x 32 x 32
    return a.reshape(N, 8, 4, 8, 4).sum((2, 4)).reshape(N, 64).numpy().astype(np.float64)


def main():
    model = make_arch.rebuild("vit")
    with open(os.path.join(ROOT, "testdata", "zoo", "vit.json")) as f:
        cfg = json.load(f)
    mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    x = make_arch.test_images(N)
    captured = {}
    last = model.blocks[-1].attn

    def forward(inp):  # the Attention module's forward, keeping the softmax
        b, n, c = inp.shape
        h = last.heads
        qkv = last.qkv(inp).reshape(b, n, 3, h, c // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * (c // h) ** -0.5).softmax(dim=-1)
        captured["attn"] = attn
        return last.proj((attn @ v).transpose(1, 2).reshape(b, n, c))

    last.forward = forward
    with torch.no_grad():
        model((x - mean) / std)
    att = captured["attn"][:, HEAD, 0, 1:].numpy().astype(np.float64)  # class token -> patches
    grad = gradient_saliency()
    with open(os.path.join(HERE, "saliency.json"), "w") as f:
        json.dump({"attention": att.tolist(), "masks": masks_of(att),
                   "grad": grad.tolist(), "grad_masks": masks_of(grad)}, f)
        f.write("\n")
    print("wrote", os.path.join(HERE, "saliency.json"))


if __name__ == "__main__":
    main()
