#!/usr/bin/python3
"""Input gradients computed by PyTorch autograd, the reference for lk's
ONNX gradient graphs (lib/grad).

Run with Debian's PyTorch (python3-torch 1.13, python3-onnx):

    /usr/bin/python3 testdata/grad/make_grad.py

For every zoo model (rebuilt from its ONNX weights, see
testdata/arch/make_arch.py) and the random-weight ConvNeXt- and
RepLKNet-style fixtures, the gradient with respect to [0,1] pixels (the
normalisation inside) of two objectives per image: the cross-entropy of the
true label and the true label's logit, summed over the batch. Zoo models
take the first 4 Fashion-MNIST test images (labels above 7 taken mod 8); the
224-pixel fixtures take 2 images of hash noise (hash_pixels). To keep the file small, each gradient is stored at 256
positions (from a fixed seed) together with its L2 norm and sum.
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
from make_arch import train, grads, record, hash_pixels, b64  # noqa: E402


def fgsm_reference(n=1000, eps=(0.002, 0.01, 0.03)):
    """Top-1 (percent) under FGSM in PyTorch, as torchattacks computes it
    with set_normalization_used: x + eps sign(grad CE) in [0,1] pixels,
    clamped; on the first n test images of classes 0-7 (what
    `lk-data --gray3 --crop 32 --keep-labels 0-7 --limit n` streams)."""
    import gzip
    with gzip.open(os.path.join(ROOT, "testdata", "fashion-mnist", "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        labels = np.frombuffer(f.read()[8:], dtype=np.uint8).astype(np.int64)
    keep = np.nonzero(labels < 8)[0][:n]
    x = make_arch.test_images(int(keep[-1]) + 1)[torch.from_numpy(keep)]
    y = torch.from_numpy(labels[keep])
    out = {"images": "first %d test images with label < 8" % n, "eps": list(eps), "top1": {}}
    for name in ("resnet", "lk31"):
        model = make_arch.rebuild(name)
        accs = []
        for e in eps:
            xx = x.clone().requires_grad_(True)
            loss = torch.nn.functional.cross_entropy(model((xx - train.MEAN) / train.STD), y, reduction="sum")
            loss.backward()
            adv = (x + e * xx.grad.sign()).clamp(0, 1)
            with torch.no_grad():
                pred = model((adv - train.MEAN) / train.STD).argmax(1)
            accs.append(100.0 * (pred == y).float().mean().item())
        out["top1"][name] = accs
        print(name, "FGSM top-1", accs)
    return out


def main():
    torch.set_num_threads(2)
    rng = np.random.default_rng(20241128)
    out = {"models": {}}
    x = make_arch.test_images(4)
    with open(os.path.join(ROOT, "testdata", "fashion-mnist", "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        import gzip
        labels = np.frombuffer(gzip.decompress(f.read())[8:12], dtype=np.uint8).astype(np.int64) % 8
    lab = torch.from_numpy(labels)
    for name in train.ZOO:
        model = make_arch.rebuild(name)
        g = grads(model, x, lab, train.MEAN, train.STD)
        out["models"][name] = {"images": "fashion-mnist", "labels": labels.tolist(),
                               **{k: record(v, rng) for k, v in g.items()}}
    # the 224-pixel random-weight fixtures, through their ONNX export's weights:
    # rebuilt in PyTorch with the same constructors and seeds as make_arch.py
    x224 = torch.from_numpy(hash_pixels(2 * 3 * 224 * 224).reshape(2, 3, 224, 224))
    lab224 = torch.tensor([3, 917])
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    for name, model in make_arch.small_models():
        g = grads(model, x224, lab224, mean, std)
        out["models"][name] = {"images": "hash pixels", "labels": lab224.tolist(),
                               **{k: record(v, rng) for k, v in g.items()}}
    # gradients with respect to weights: the resnet's classifier, summed CE
    model = make_arch.rebuild("resnet")
    loss = torch.nn.functional.cross_entropy(model((x - train.MEAN) / train.STD), lab, reduction="sum")
    loss.backward()
    out["weights"] = {"model": "resnet", "head.weight": b64(model.head.weight.grad.numpy()),
                      "head.bias": b64(model.head.bias.grad.numpy())}
    # and the lk7's Conv weights: the stem (group 1, stride 2), the first
    # 7x7 depthwise kernel, the transition's strided depthwise conv
    model = make_arch.rebuild("lk7")
    loss = torch.nn.functional.cross_entropy(model((x - train.MEAN) / train.STD), lab, reduction="sum")
    loss.backward()
    convs = {"stem": model.stem[0], "lkb": model.stages[0][0].large_kernel.lkb_origin[0],
             "transition": model.transitions[0][1][0]}
    out["conv_weights"] = {"model": "lk7", "layers": {name: b64(mod.weight.grad.numpy()) for name, mod in
                                                      ((k, v) for k, v in model.onnx_conv.items() if v in convs.values())}}
    out["fgsm"] = fgsm_reference()
    path = os.path.join(HERE, "grad.json")
    with open(path, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
