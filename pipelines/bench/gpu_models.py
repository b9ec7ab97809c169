#!/usr/bin/env python3
"""Export the GPU benchmark's models to ONNX with sidecars, in OUTDIR:
torchvision resnet50, convnext_tiny and vit_b_16 (random weights: speed
does not depend on them) and the RepLKNet-31B-sized model of
testdata/arch/make_arch.py (replknet31b). Every export has a dynamic batch
axis. A model already there is kept.

    python3 pipelines/bench/gpu_models.py OUTDIR [NAME ...]
"""
import json
import os
import sys

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "testdata", "arch"))

IMAGENET = {"input_size": [3, 224, 224], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
            "num_classes": 1000, "label_space": "imagenet-1k"}


def export(model, path, name):
    model.eval()
    x = torch.zeros(1, 3, 224, 224)
    kw = dict(opset_version=17, input_names=["input"], output_names=["logits"],
              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    try:  # the TorchScript exporter, as testdata/arch/make_arch.py uses
        torch.onnx.export(model, x, path, dynamo=False, **kw)
    except TypeError:  # a PyTorch without the dynamo argument
        torch.onnx.export(model, x, path, **kw)
    with open(path[:-5] + ".json", "w") as f:
        json.dump(dict(name=name, **IMAGENET), f)
    print("wrote %s (%d MB)" % (path, os.path.getsize(path) >> 20))


def main():
    out, names = sys.argv[1], sys.argv[2:] or ["resnet50", "convnext_tiny", "vit_b_16", "replknet31b"]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    for name in names:
        if os.path.exists(os.path.join(out, name + ".onnx")):
            continue
        if name == "replknet31b":
            import make_arch  # noqa: E402
            make_arch.export = lambda model, path, size, sidecar: export(model, path, sidecar["name"])
            make_arch.replknet31b(out)
            continue
        m = getattr(torchvision.models, name)()
        if name == "vit_b_16":
            with torch.no_grad():  # torchvision zero-initialises the head
                m.heads.head.weight.normal_(0, 0.02)
        export(m, os.path.join(out, name + ".onnx"), name)


if __name__ == "__main__":
    main()
