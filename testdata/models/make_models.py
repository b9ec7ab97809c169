#!/usr/bin/python3
"""Tiny ONNX models that exercise lk-infer's input handling, exported with
Debian's python3-torch (seeded, so re-running writes the same weights):

    /usr/bin/python3 testdata/models/make_models.py

  tiny_dynamic.onnx  3x32x32 -> 3 classes, dynamic batch axis
  tiny_batch4.onnx   the same weights traced with a fixed batch of 4: lk-infer
                     must pad a short last batch and give tiny_dynamic's logits
  fp16_input.onnx    takes float16 images: lk-infer casts its float32 ones at
                     the input and gives tiny_dynamic's logits to float16 precision
  two_inputs.onnx    two inputs: lk-infer must ask which one is the image
Each has a sidecar NAME.json with mean and std.
"""
import json
import os

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


class Half(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x.float())


class Two(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x, y):
        return self.m(x) + self.m(y)


def export(model, args, name, names, dynamic):
    path = os.path.join(HERE, name + ".onnx")
    axes = {n: {0: "batch"} for n in names + ["logits"]} if dynamic else None
    torch.onnx.export(model, args, path, opset_version=17, input_names=names,
                      output_names=["logits"], dynamic_axes=axes)
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump({"name": name, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}, f)
        f.write("\n")


def main():
    torch.manual_seed(1)
    m = Tiny().eval()
    x = torch.zeros(4, 3, 32, 32)
    export(m, (x,), "tiny_dynamic", ["input"], True)
    export(m, (x,), "tiny_batch4", ["input"], False)
    export(Half(m), (x.half(),), "fp16_input", ["input"], True)
    export(Two(m), (x, x), "two_inputs", ["a", "b"], True)


if __name__ == "__main__":
    main()
