#!/usr/bin/python3
"""ONNX files as today's PyTorch writes them, for lk's tests (run by hand,
inside the Debian trixie chroot that make.sh builds: torch 2.6,
torchvision 0.21, onnx 1.17, onnxruntime 1.21):

    testdata/modern/make.sh

Three small families with seeded random weights, 3x32x32 inputs, 10
classes:

  resnet  torchvision's BasicBlock ResNet, narrow (BatchNorm, ReLU, Add)
  lk      a RepLKNet/ConvNeXt-style large-kernel ConvNet: 13x13 depthwise
          convolutions with a parallel 3x3, BatchNorm, LayerNorm over
          channels, GELU (tanh-approximated in one block), layer scale
  vit     torchvision's VisionTransformer, 2 layers (Gelu, LayerNorm,
          MultiheadAttention)

each exported as a user would, as FAMILY-VARIANT.onnx:

  op17       legacy exporter, opset 17, dynamic batch
  op18       legacy exporter, opset 18 (Reduce* take axes as inputs)
  op20       legacy exporter, opset 20 (Gelu is an op)
  op17-b2    opset 17 without dynamic_axes: the input declares batch 2
  op20-b1    opset 20, batch 1 declared (the torch.onnx.export default
             example of most tutorials)
  baked      batch 2 without dynamic_axes, then the input and output
             relabelled dynamic by hand: the graph still holds batch 2
             in its constants (what the dynamo exporter writes)
  funcs      op20 with every BatchNormalization, LayerNormalization,
             Gelu, Softmax and Unsqueeze moved into model-local functions
             of domain pkg.onnxscript.torch_lib, nested two deep, with
             attribute references, a default attribute and CastLike, as
             torch.onnx.export(dynamo=True) writes them. onnxscript, which
             the dynamo exporter needs, is not in Debian trixie (only in
             experimental, and it needs ml_dtypes, which Debian lacks), so
             these are written with onnx's helper from the op18 export.
  extdata    op18 with its weights in FAMILY-extdata.onnx.data, as the
             dynamo exporter saves every model

and, of the ResNet, what users' exports do at the model's edges (the
sidecar says how to read each; its logits are still the ResNet's):

  resnet-half      model.half(): float16 images, weights and logits
  resnet-softmax   ends in Softmax: its output is probabilities
  resnet-twoout    two outputs, the pooled features first (sidecar
                   "output": "logits")
  resnet-bg        a head whose class 0 is a background class (as the 1001
                   classes of TF-slim ImageNet models)
                   (sidecar "class_offset": 1)
  resnet-bgr255    Caffe-style input: BGR, 0-255, mean and std in those
                   units (sidecar "input_scale": 255, "channel_order": "bgr")

and FAMILY.expect.json (resnet-half.expect.json for the float16 model:
its own weights, in float32): two seeded [0,1] images (float32, base64,
little-endian), their labels, PyTorch's logits and the input gradient of
the summed cross-entropy with respect to the [0,1] pixels through the
sidecar's normalisation. Every export is checked against PyTorch with
onnxruntime here before it is written. FAMILY-VARIANT.json is the sidecar.
"""
import base64
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import helper
from torchvision.models.resnet import BasicBlock
from torchvision.models.vision_transformer import VisionTransformer

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
CLASSES = 10


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        down = nn.Sequential(nn.Conv2d(16, 32, 1, stride=2, bias=False), nn.BatchNorm2d(32))
        self.layers = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 32, stride=2, downsample=down), BasicBlock(32, 32))
        self.fc = nn.Linear(32, CLASSES)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class LKBlock(nn.Module):
    def __init__(self, c, k, approximate):
        super().__init__()
        self.dw = nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False)
        self.small = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.bn = nn.BatchNorm2d(c)
        self.norm = nn.LayerNorm(c)
        self.pw1 = nn.Linear(c, 2 * c)
        self.pw2 = nn.Linear(2 * c, c)
        self.gamma = nn.Parameter(torch.full((c,), 0.5))
        self.approximate = approximate

    def forward(self, x):
        y = self.bn(self.dw(x) + self.small(x))
        y = self.norm(y.permute(0, 2, 3, 1))
        y = self.pw2(F.gelu(self.pw1(y), approximate=self.approximate))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


class LK(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 4, stride=2), nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.Sequential(LKBlock(16, 13, "none"), LKBlock(16, 13, "tanh"))
        self.head = nn.Linear(16, CLASSES)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.head(x.mean((2, 3)))


def vit():
    m = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                          mlp_dim=64, num_classes=CLASSES)
    # torchvision starts the head and the class token at zero: constant
    # logits would have no gradient to compare
    nn.init.normal_(m.heads.head.weight, std=0.3)
    nn.init.normal_(m.class_token, std=0.5)
    return m


def seeded(make, seed):
    torch.manual_seed(seed)
    m = make()
    # BatchNorm statistics that are not the identity, so that folding and
    # inference-mode batch norm are exercised
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)
    return m.eval()


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode()


def expected(model, seed):
    g = torch.Generator().manual_seed(seed)
    px = torch.rand(2, 3, 32, 32, generator=g)
    labels = torch.tensor([3, 7])
    p = px.clone().requires_grad_(True)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    logits = model((p - mean) / std)
    F.cross_entropy(logits, labels, reduction="sum").backward()
    return px, labels, logits.detach(), p.grad


def write_expect(name, px, labels, logits, grad):
    with open(os.path.join(OUT, name + ".expect.json"), "w") as f:
        json.dump({"shape": [2, 3, 32, 32], "labels": labels.tolist(), "pixels": b64(px),
                   "logits": b64(logits), "grad": b64(grad),
                   "torch": torch.__version__, "onnx": onnx.__version__}, f, indent=1)
        f.write("\n")


def relabel_dynamic(m):
    for vi in list(m.graph.input) + list(m.graph.output):
        d = vi.type.tensor_type.shape.dim[0]
        d.ClearField("dim_value")
        d.dim_param = "batch"


FUNC_DOMAIN = "pkg.onnxscript.torch_lib"


def into_functions(m):
    """Moves BatchNormalization, LayerNormalization, Gelu, Softmax and
    Unsqueeze nodes into model-local functions, as the dynamo exporter
    writes them: attribute references, a default attribute, CastLike,
    nested calls and a function-level opset import."""
    opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]
    funcs = {}
    # inner: y = CastLike(x, like) * 1 (a nested call every outer function makes)
    funcs["_lk_identity_like"] = helper.make_function(
        FUNC_DOMAIN, "_lk_identity_like", ["x", "like"], ["y"],
        [helper.make_node("CastLike", ["x", "like"], ["y"])],
        [helper.make_opsetid("", opset)])

    def wrap(op, n_in, attrs, defaults=None):
        name = "_aten_" + op.lower() + "_onnx"
        if name in funcs:
            return name
        ins = ["i%d" % k for k in range(n_in)]
        node = helper.make_node(op, ins, ["t"])
        for a in attrs:
            ref = onnx.AttributeProto()
            ref.name, ref.ref_attr_name, ref.type = a[0], a[0], a[1]
            node.attribute.append(ref)
        nodes = [node, helper.make_node("_lk_identity_like", ["t", "i0"], ["o"], domain=FUNC_DOMAIN)]
        f = helper.make_function(FUNC_DOMAIN, name, ins, ["o"], nodes,
                                 [helper.make_opsetid("", opset), helper.make_opsetid(FUNC_DOMAIN, 1)],
                                 attributes=[a[0] for a in attrs if not defaults or a[0] not in defaults])
        if defaults:
            for k, v in defaults.items():
                f.attribute_proto.append(helper.make_attribute(k, v))
        funcs[name] = f
        return name

    A = onnx.AttributeProto
    spec = {
        "BatchNormalization": [("epsilon", A.FLOAT), ("momentum", A.FLOAT)],
        "LayerNormalization": [("axis", A.INT), ("epsilon", A.FLOAT)],
        "Gelu": [("approximate", A.STRING)],
        "Softmax": [("axis", A.INT)],
        "Unsqueeze": [],
    }
    nodes = []
    for n in m.graph.node:
        if n.op_type not in spec:
            nodes.append(n)
            continue
        have = {a.name: a for a in n.attribute}
        attrs = spec[n.op_type]
        # Gelu's approximate and Softmax's axis come from the function's
        # default where the node gives the default value
        defaults = {"Gelu": {"approximate": "none"}, "Softmax": {"axis": -1}}.get(n.op_type)
        fname = wrap(n.op_type, len(n.input), attrs, defaults)
        call = helper.make_node(fname, list(n.input), list(n.output), name=n.name + "_call", domain=FUNC_DOMAIN)
        for a in attrs:
            if a[0] not in have:
                continue
            if defaults and a[0] in defaults and helper.get_attribute_value(have[a[0]]) in (defaults[a[0]], defaults[a[0]].encode() if isinstance(defaults[a[0]], str) else None):
                continue
            call.attribute.append(have[a[0]])
        nodes.append(call)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    m.functions.extend(funcs.values())
    m.opset_import.append(helper.make_opsetid(FUNC_DOMAIN, 1))


def check(path, px, want, side, tol):
    """ONNX Runtime's logits for the sidecar's reading of the model equal
    PyTorch's (read as lk reads them: by the sidecar's conventions)."""
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    scale = side.get("input_scale", 1)
    mean = np.array(side["mean"], "f4").reshape(1, 3, 1, 1)
    std = np.array(side["std"], "f4").reshape(1, 3, 1, 1)
    p = px.numpy()
    if side.get("channel_order") == "bgr":
        p = p[:, ::-1]
    x = ((p * scale - mean) / std).astype("f4")
    if s.get_inputs()[0].type == "tensor(float16)":
        x = x.astype("f2")
    input_name = "x"
    batch = s.get_inputs()[0].shape[0]
    names = [o.name for o in s.get_outputs()]
    k = names.index(side.get("output", names[0]))
    if isinstance(batch, int):
        rows = [s.run(None, {input_name: np.concatenate([x[i:i + 1]] * batch)})[k][0] for i in range(len(x))]
        got = np.stack(rows)
    else:
        got = s.run(None, {input_name: x})[k]
    got = got.astype("f4")
    if side.get("class_offset"):
        got = got[:, side["class_offset"]:]
    want = want.numpy()
    if "softmax" in path:  # probabilities: compare with PyTorch's
        want = torch.softmax(torch.tensor(want), 1).numpy()
    err = np.abs(got - want).max()
    assert err < tol * max(1, np.abs(want).max()), (path, err)
    return err


class Softmaxed(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return torch.softmax(self.m(x), dim=1)


class TwoOutputs(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        feats = torch.flatten(F.adaptive_avg_pool2d(self.m.layers(self.m.stem(x)), 1), 1)
        return feats, self.m.fc(feats)


class Background(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        z = self.m(x)
        return torch.cat([z.mean(1, keepdim=True) + 1, z], dim=1)


class CaffeInput(nn.Module):
    """Takes BGR images normalised as Caffe models are: 0-255 values minus
    a BGR mean pixel, over a BGR std, both in 0-255 units."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x.flip(1))


MEAN_BGR255 = [v * 255 for v in MEAN[::-1]]
STD_BGR255 = [v * 255 for v in STD[::-1]]


def export(model, family, variant, opset, batch, dynamic, px, want, post=None, external=False,
           outputs=("logits",), sidecar=None, example=None, tol=1e-4, fold=True):
    name = "%s-%s" % (family, variant)
    path = os.path.join(OUT, name + ".onnx")
    axes = {n: {0: "batch"} for n in ("x",) + tuple(outputs)} if dynamic else None
    if example is None:
        example = torch.rand(batch, 3, 32, 32)
    # fold=False keeps batch norms apart from the convolutions (their
    # weights are then exactly the model's parameters)
    mode = torch.onnx.TrainingMode.EVAL if fold else torch.onnx.TrainingMode.PRESERVE
    torch.onnx.export(model, example, path, opset_version=opset, input_names=["x"],
                      output_names=list(outputs), dynamic_axes=axes, dynamo=False, training=mode)
    m = onnx.load(path)
    if post:
        post(m)
    if external:
        data = name + ".onnx.data"
        if os.path.exists(os.path.join(OUT, data)):
            os.remove(os.path.join(OUT, data))
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data,
                        size_threshold=0)
    else:
        onnx.save(m, path)
    onnx.checker.check_model(path)
    side = {"name": name, "mean": MEAN, "std": STD, "num_classes": CLASSES}
    side.update(sidecar or {})
    err = check(path, px, want, side, tol)
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(side, f)
        f.write("\n")
    print("%-14s opset %d  %6d bytes  max |ORT - PyTorch| %s" % (name, opset, os.path.getsize(path), err))


def main():
    os.makedirs(OUT, exist_ok=True)
    for seed, (family, make) in enumerate([("resnet", ResNet), ("lk", LK), ("vit", vit)]):
        model = seeded(make, seed)
        px, labels, logits, grad = expected(model, 100 + seed)
        write_expect(family, px, labels, logits, grad)
        export(model, family, "op17", 17, 2, True, px, logits)
        export(model, family, "op18", 18, 2, True, px, logits)
        export(model, family, "op20", 20, 2, True, px, logits)
        export(model, family, "op17-b2", 17, 2, False, px, logits)
        export(model, family, "op20-b1", 20, 1, False, px, logits)
        export(model, family, "baked", 17, 2, False, px, logits, post=relabel_dynamic)
        export(model, family, "funcs", 20, 2, True, px, logits, post=into_functions)
        export(model, family, "extdata", 18, 2, True, px, logits, external=True)
        if family != "resnet":
            continue
        export(Softmaxed(model), family, "softmax", 17, 2, True, px, logits)
        export(TwoOutputs(model), family, "twoout", 17, 2, True, px, logits, outputs=("features", "logits"),
               sidecar={"output": "logits"})
        export(Background(model), family, "bg", 17, 2, True, px, logits, sidecar={"class_offset": 1, "num_classes": 10})
        export(CaffeInput(model), family, "bgr255", 17, 2, True, px, logits,
               sidecar={"input_scale": 255, "channel_order": "bgr", "mean": MEAN_BGR255, "std": STD_BGR255})
        # the half model's own reference: its float16 weights in float32
        half = seeded(make, seed).half()
        hpx, _, hlogits, hgrad = expected(half.float(), 100 + seed)
        write_expect("resnet-half", hpx, labels, hlogits, hgrad)
        export(half.half(), family, "half", 17, 2, True, px, hlogits, example=torch.rand(2, 3, 32, 32).half(), tol=2e-2,
               fold=False)


if __name__ == "__main__":
    main()
