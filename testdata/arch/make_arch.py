#!/usr/bin/python3
"""Fixtures for lk's architecture tools (block discovery, lk-attn-dist,
lk-featvar, lk-lesion), computed with PyTorch and numpy, independently of lk.

Run with Debian's PyTorch (python3-torch 1.13, python3-torchvision 0.14,
python3-onnx 1.12):

    /usr/bin/python3 testdata/arch/make_arch.py            # the committed fixtures
    /usr/bin/python3 testdata/arch/make_arch.py --big DIR  # torchvision resnet50 and vit_b_16

Committed (small):
  replknet_s.onnx  RepLKNet-style, random weights: kernels 31-29-27-13, the
                   paper's depths 2-2-18-2 (RepLKBlock+ConvFFN pairs), narrow
                   widths 8-16-32-64, 224x224 input, 1000 classes.
  convnext_s.onnx  ConvNeXt-style, random weights: 7x7 depthwise, LayerNorm,
                   inverted bottleneck, layer scale, depths 3-3-9-3, widths
                   8-16-32-64.
  blocks.json      per model, the residual blocks PyTorch runs (module and
                   output shape from forward hooks), zoo models included.
  attn_dist.json   kernel attention distance of every depthwise conv with a
                   kernel of at least 3 in lk31, lk3 and replknet_s, computed
                   with numpy from the ONNX initializers: per layer the
                   sorted scores, both normalisations, large branch alone and
                   merged with its parallel small kernel.
  featvar.json     feature-map variance per layer of the zoo models on the
                   first 64 Fashion-MNIST test images, from PyTorch forward
                   hooks: Park & Kim's definition and the batch-mean variant
                   over groups of 16 images.
  lesion.json      logits of the first 8 test images of zoo models with
                   residual blocks replaced by the identity in PyTorch.

The zoo's PyTorch weights are not kept; the zoo's PyTorch models are rebuilt
here from the ONNX initializers (a Conv that the exporter fused with its
BatchNorm gets the fused weight, and its BatchNorm becomes a pure bias), and
the rebuilt models must reproduce the training-time reference logits
(testdata/zoo/NAME.ref.json) before anything is computed from them.

--replknet31b DIR exports a RepLKNet-31B-sized model (random weights, about
79M parameters) for the benchmarks.

--big DIR exports torchvision's resnet50 and vit_b_16 with random weights
(about 100 and 330 MB; the ViT's zero-initialised head given random
weights), their blocks.json and grad.json (PyTorch autograd input gradients
of one hash-noise image, as testdata/grad/make_grad.py records them), and
the zoo's ViT exported at opset 13 into DIR; the Go tests call it into a cache folder when PyTorch is present.
"""
import argparse
import base64
import copy
import gzip
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "testdata", "zoo"))
import train  # noqa: E402  the zoo's architectures


def test_images(n):
    with gzip.open(os.path.join(ROOT, "testdata", "fashion-mnist", "t10k-images-idx3-ubyte.gz"), "rb") as f:
        data = f.read()
    x = np.frombuffer(data[16:16 + n * 784], dtype=np.uint8).reshape(n, 28, 28)
    return train.to_input(x)


# ---------------------------------------------------------------- rebuilding the zoo

def onnx_weights(path):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    consts = {}
    for n in m.graph.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return m, inits, consts


def execution_order(model, types, x):
    order = []
    hooks = [mod.register_forward_hook(lambda mod, i, o: order.append(mod))
             for mod in model.modules() if isinstance(mod, types)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return order


def following_bn(model):
    """conv module -> the BatchNorm2d that directly follows it in a Sequential."""
    out = {}
    for mod in model.modules():
        if isinstance(mod, nn.Sequential):
            ch = list(mod)
            for a, b in zip(ch, ch[1:]):
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    out[a] = b
    return out


def rebuild(name):
    """The zoo model NAME with the weights of its ONNX export."""
    path = os.path.join(ROOT, "testdata", "zoo", name + ".onnx")
    m, inits, consts = onnx_weights(path)
    model = train.ZOO[name][0]()
    model.eval()
    sd = model.state_dict()
    with torch.no_grad():
        for k, v in inits.items():  # parameters the exporter kept by name
            if k in sd and tuple(sd[k].shape) == v.shape:
                sd[k].copy_(torch.from_numpy(v.copy()))
        x = torch.zeros(1, 3, 32, 32)
        convs = execution_order(model, nn.Conv2d, x)
        nodes = [n for n in m.graph.node if n.op_type == "Conv"]
        assert len(convs) == len(nodes), (name, len(convs), len(nodes))
        bns = following_bn(model)
        model.onnx_conv = {}  # ONNX weight initializer -> the Conv2d holding it
        for mod, n in zip(convs, nodes):
            model.onnx_conv[n.input[1]] = mod
            w = torch.from_numpy(inits[n.input[1]].copy())
            assert w.shape == mod.weight.shape, (n.name, w.shape, mod.weight.shape)
            mod.weight.copy_(w)
            b = torch.from_numpy(inits[n.input[2]].copy()) if len(n.input) > 2 else None
            bn = bns.get(mod)
            if bn is not None:  # the exporter fused it into the conv
                bn.weight.fill_(1)
                bn.running_mean.zero_()
                bn.running_var.fill_(1)
                bn.eps = 0.0
                bn.bias.copy_(b if b is not None else torch.zeros_like(bn.bias))
            elif b is not None:
                mod.bias.copy_(b)
        # Linear layers: Gemm (transB=1, weight as in PyTorch) or MatMul (transposed weight)
        lins = execution_order(model, nn.Linear, x)
        mm = [n for n in m.graph.node if n.op_type in ("Gemm", "MatMul") and n.input[1] in inits]
        assert len(lins) == len(mm), (name, len(lins), len(mm))
        for mod, n in zip(lins, mm):
            w = inits[n.input[1]]
            if n.op_type == "MatMul":
                w = w.T
            mod.weight.copy_(torch.from_numpy(w.copy()))
            if n.op_type == "Gemm" and len(n.input) > 2:
                mod.bias.copy_(torch.from_numpy(inits[n.input[2]].copy()))
    ref = json.load(open(os.path.join(ROOT, "testdata", "zoo", name + ".ref.json")))["logits"]
    with torch.no_grad():
        got = model((test_images(64) - train.MEAN) / train.STD)
    err = (got - torch.tensor(ref)).abs().max().item()
    assert err < 1e-4, "%s: rebuilt model differs from the reference logits by %g" % (name, err)
    print("%s: rebuilt from ONNX, max |logit - reference| %.2e" % (name, err))
    return model


# ---------------------------------------------------------------- residual units per architecture

def units(name, model, x):
    """Run model on x by hand and return (logits, [(unit name, output)]) for
    the layers lk-featvar reports: the stem output, every residual unit's
    output, and transition outputs. skip lists unit names to replace by the
    identity (lesion)."""
    return run_units(name, model, x, ())


def run_units(name, model, x, skip):
    out = []
    if isinstance(model, train.LKNet):
        h = model.stem(x)
        out.append(("stem", h))
        for i, stage in enumerate(model.stages):
            for j, blk in enumerate(stage):
                u = "stages.%d.%d" % (i, j)
                if u not in skip:
                    h = blk(h)
                out.append((u, h))
            if i < len(model.transitions):
                h = model.transitions[i](h)
                out.append(("transitions.%d" % i, h))
        logits = model.head(model.norm(h).mean((2, 3)))
    elif isinstance(model, train.ResNet):
        h = model.stem(x)
        out.append(("stem", h))
        for li, layer in enumerate([model.layer1, model.layer2]):
            for j, blk in enumerate(layer):
                u = "layer%d.%d" % (li + 1, j)
                if u not in skip:
                    h = blk(h)
                out.append((u, h))
        logits = model.head(h.mean((2, 3)))
    elif isinstance(model, train.ViT):
        h = model.patch_embed(x).flatten(2).transpose(1, 2)
        h = torch.cat([model.cls_token.expand(h.shape[0], -1, -1), h], 1) + model.pos_embed
        out.append(("embed", h))
        for i, blk in enumerate(model.blocks):
            u = "blocks.%d" % i
            if u + ".attn" not in skip and u not in skip:
                h = h + blk.attn(blk.norm1(h))
            out.append((u + ".attn", h))
            if u + ".mlp" not in skip and u not in skip:
                h = h + blk.mlp(blk.norm2(h))
            out.append((u + ".mlp", h))
        logits = model.head(model.norm(h)[:, 0])
    else:
        raise ValueError(name)
    return logits, out


def as_maps(t):
    """(B,C,H,W) as is; ViT tokens (B,N,C): class token dropped, laid on the grid."""
    if t.dim() == 4:
        return t
    b, n, c = t.shape
    g = int(math.isqrt(n - 1))
    assert g * g == n - 1
    return t[:, 1:].transpose(1, 2).reshape(b, c, g, g)


def featvar(name, model, x, group):
    with torch.no_grad():
        _, out = units(name, model, (x - train.MEAN) / train.STD)
    layers = []
    for i, (u, t) in enumerate(out):
        f = as_maps(t).double()
        park = f.var(dim=(2, 3), unbiased=True).mean().item()
        means = torch.stack([f[k:k + group].mean(0) for k in range(0, f.shape[0], group)])
        bm = means.var(dim=(2, 3), unbiased=True).mean().item()
        layers.append({"unit": u, "depth": i / (len(out) - 1), "variance": park, "batch_mean_variance": bm,
                       "shape": list(t.shape[1:])})
    return layers


# ---------------------------------------------------------------- kernel attention distance (numpy)

def distances(k):
    r = (k - 1) / 2
    j, i = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    if r == 0:
        return np.zeros((k, k))
    return np.sqrt((j - r) ** 2 + (i - r) ** 2) / (r * math.sqrt(2))


def attn_dist(path, min_kernel):
    m, inits, consts = onnx_weights(path)
    by_out = {}
    for n in m.graph.node:
        for o in n.output:
            by_out[o] = n
    dw = []
    for n in m.graph.node:
        if n.op_type != "Conv" or n.input[1] not in inits:
            continue
        w = inits[n.input[1]]
        groups = [a.i for a in n.attribute if a.name == "group"]
        if not groups or groups[0] != w.shape[0] or w.shape[1] != 1 or w.shape[2] < min_kernel:
            continue
        dw.append(n)
    names = {n.name for n in dw}
    layers = []
    for n in dw:
        w = inits[n.input[1]][:, 0].astype(np.float64)
        k = w.shape[-1]
        # the parallel small kernel: another depthwise conv reading the same
        # input whose output is summed with this one's
        merged = None
        for a in m.graph.node:
            if a.op_type == "Add" and n.output[0] in a.input:
                other = [v for v in a.input if v != n.output[0]][0]
                s = by_out.get(other)
                if s is not None and s.name in names and s.input[0] == n.input[0] and inits[s.input[1]].shape[-1] < k:
                    ws = inits[s.input[1]][:, 0].astype(np.float64)
                    ks = ws.shape[-1]
                    o = (k - ks) // 2
                    merged = w.copy()
                    merged[:, o:o + ks, o:o + ks] += ws
        if merged is None and any(a.op_type == "Add" and n.output[0] in a.input and
                                  by_out.get([v for v in a.input if v != n.output[0]][0]) is not None and
                                  by_out[[v for v in a.input if v != n.output[0]][0]].name in names and
                                  inits[by_out[[v for v in a.input if v != n.output[0]][0]].input[1]].shape[-1] > k
                                  for a in m.graph.node):
            continue  # this is the small branch of a larger kernel
        d = distances(k)

        def scores(ww):
            a = np.abs(ww)
            sd = (a * d).sum((1, 2))
            s = a.sum((1, 2))
            return sorted(sd / np.where(s == 0, 1, s)), sorted(sd)

        paper, code = scores(w)
        entry = {"node": n.name, "kernel": k, "paper": paper, "code": code}
        if merged is not None:
            entry["merged_paper"], entry["merged_code"] = scores(merged)
        layers.append(entry)
    return layers


# ---------------------------------------------------------------- random-weight architectures

class ConvNeXtBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dwconv = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.pwconv1 = nn.Linear(c, 4 * c)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.rand(c))

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y)))) * self.gamma
        return x + y.permute(0, 3, 1, 2)


class LayerNorm2d(nn.Module):
    """ConvNeXt's channels-first LayerNorm, written out as in its reference code."""

    def __init__(self, c):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c) + 0.1 * torch.randn(c))
        self.bias = nn.Parameter(0.1 * torch.randn(c))

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + 1e-6)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class ConvNeXt(nn.Module):
    def __init__(self, depths=(3, 3, 9, 3), widths=(8, 16, 32, 64), classes=1000):
        super().__init__()
        self.downsample_layers = nn.ModuleList()
        self.downsample_layers.append(nn.Sequential(nn.Conv2d(3, widths[0], 4, stride=4), LayerNorm2d(widths[0])))
        for i in range(3):
            self.downsample_layers.append(nn.Sequential(LayerNorm2d(widths[i]), nn.Conv2d(widths[i], widths[i + 1], 2, stride=2)))
        self.stages = nn.ModuleList([nn.Sequential(*[ConvNeXtBlock(w) for _ in range(d)]) for d, w in zip(depths, widths)])
        self.norm = nn.LayerNorm(widths[-1], eps=1e-6)
        self.head = nn.Linear(widths[-1], classes)

    def forward(self, x):
        for i in range(4):
            x = self.stages[i](self.downsample_layers[i](x))
        return self.head(self.norm(x.mean((-2, -1))))


class RepLKNetLike(train.LKNet):
    """train.LKNet with RepLKNet's stem: 3x3 stride 2, depthwise 3x3,
    1x1, depthwise 3x3 stride 2 (to a quarter of the input size)."""

    def __init__(self, kernels, widths, depths):
        super().__init__(kernels, widths=widths, depths=depths)
        c = widths[0]
        self.stem = nn.Sequential(train.conv_bn_relu(3, c, 3, stride=2), train.conv_bn_relu(c, c, 3, groups=c),
                                  train.conv_bn_relu(c, c, 1), train.conv_bn_relu(c, c, 3, stride=2, groups=c))


def randomise_bn(model, gen):
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            c = mod.num_features
            mod.weight.data = 1 + 0.2 * torch.randn(c, generator=gen)
            mod.bias.data = 0.1 * torch.randn(c, generator=gen)
            mod.running_mean = 0.1 * torch.randn(c, generator=gen)
            mod.running_var = 0.5 + torch.rand(c, generator=gen)


def block_shapes(model, types, x):
    """(module name, output shape without batch) of every residual module, in run order."""
    names = {mod: n for n, mod in model.named_modules()}
    rec = []
    hooks = [mod.register_forward_hook(lambda mod, i, o: rec.append((names[mod], list(o.shape[1:]))))
             for mod in model.modules() if isinstance(mod, types)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return [{"module": n, "shape": s} for n, s in rec]


def export(model, path, size, sidecar):
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 3, size, size), path, opset_version=17, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    with open(path[:-5] + ".json", "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))


IMAGENET = {"input_size": [3, 224, 224], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
            "num_classes": 1000, "label_space": "imagenet-1k"}


def small_models():
    """The committed random-weight models, made the same way every time."""
    torch.manual_seed(20241128)
    gen = torch.Generator().manual_seed(20241128)
    rep = RepLKNetLike((31, 29, 27, 13), widths=(8, 16, 32, 64), depths=(2, 2, 18, 2))
    rep.head = nn.Linear(64, 1000)
    randomise_bn(rep, gen)
    rep.eval()
    cnx = ConvNeXt()
    cnx.eval()
    return [("replknet_s", rep), ("convnext_s", cnx)]


def small(out):
    blocks = {}
    (_, rep), (_, cnx) = small_models()
    x = torch.zeros(1, 3, 224, 224)
    blocks["replknet_s"] = block_shapes(rep, (train.RepLKBlock, train.ConvFFN), x)
    export(rep, os.path.join(out, "replknet_s.onnx"), 224,
           dict(name="replknet_s", description="RepLKNet-style, random weights (testdata/arch/make_arch.py)", **IMAGENET))
    blocks["convnext_s"] = block_shapes(cnx, ConvNeXtBlock, x)
    export(cnx, os.path.join(out, "convnext_s.onnx"), 224,
           dict(name="convnext_s", description="ConvNeXt-style, random weights (testdata/arch/make_arch.py)", **IMAGENET))

    x32 = test_images(64)
    feat, les = {}, {}
    lesions = {"lk31": [["stages.1.0", "stages.1.1"], ["stages.0.2"]],
               "resnet": [["layer1.1"], ["layer2.1"]],
               "vit": [["blocks.2"], ["blocks.0.mlp", "blocks.3.attn"]]}
    for name in train.ZOO:
        model = rebuild(name)
        _, out_units = units(name, model, x32[:1])
        blocks[name] = [{"module": u, "shape": list(t.shape[1:])} for u, t in out_units
                        if u not in ("stem", "embed") and not u.startswith("transitions")]
        feat[name] = featvar(name, model, x32, 16)
        for skip in lesions.get(name, []):
            with torch.no_grad():
                logits, _ = run_units(name, model, (x32[:8] - train.MEAN) / train.STD, set(skip))
            les.setdefault(name, []).append({"bypass": skip, "logits": logits.tolist()})
    dump(os.path.join(out, "blocks.json"), blocks)
    dump(os.path.join(out, "featvar.json"), {"images": "t10k first 64", "group": 16, "models": feat})
    dump(os.path.join(out, "lesion.json"), {"images": "t10k first 8", "models": les})
    ad = {}
    for name, path in [("lk31", "testdata/zoo/lk31.onnx"), ("lk3", "testdata/zoo/lk3.onnx"),
                       ("replknet_s", os.path.join(out, "replknet_s.onnx"))]:
        ad[name] = attn_dist(os.path.join(ROOT, path), 3)
    dump(os.path.join(out, "attn_dist.json"), {"min_kernel": 3, "models": ad})


# ---------------------------------------------------------------- input gradients (PyTorch autograd)

def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode()


def hash_pixels(n):
    """Pixel i is (i * 2654435761 mod 2^32) / 2^32: noise in [0,1) that any
    language computes exactly (lib/grad's tests do it in Go)."""
    i = np.arange(n, dtype=np.uint64)
    return (((i * np.uint64(2654435761)) % np.uint64(2 ** 32)).astype(np.float64) / 2.0 ** 32).astype(np.float32)


def grads(model, x, labels, mean, std):
    out = {}
    for obj in ("cross_entropy", "true_logit"):
        xx = x.clone().requires_grad_(True)
        z = model((xx - mean) / std)
        if obj == "cross_entropy":
            loss = torch.nn.functional.cross_entropy(z, labels, reduction="sum")
        else:
            loss = z.gather(1, labels[:, None]).sum()
        loss.backward()
        out[obj] = xx.grad.detach().numpy()
    return out


def record(g, rng, k=256):
    n = g.shape[0]
    flat = g.reshape(n, -1)
    idx = rng.choice(flat.shape[1], size=k, replace=False)
    idx.sort()
    return {"index": idx.tolist(),
            "values": [b64(flat[i, idx]) for i in range(n)],
            "norm": [float(np.linalg.norm(flat[i].astype(np.float64))) for i in range(n)],
            "sum": [float(flat[i].astype(np.float64).sum()) for i in range(n)]}


def big(out):
    import torchvision
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    x = torch.zeros(1, 3, 224, 224)
    blocks = {}
    r50 = torchvision.models.resnet50()
    r50.eval()
    blocks["resnet50"] = block_shapes(r50, torchvision.models.resnet.Bottleneck, x)
    export(r50, os.path.join(out, "resnet50.onnx"), 224, dict(name="resnet50", **IMAGENET))
    vit = torchvision.models.vit_b_16()
    with torch.no_grad():  # torchvision zero-initialises the head: give it weights, or every gradient is 0
        vit.heads.head.weight.normal_(0, 0.02)
    vit.eval()
    enc = block_shapes(vit, torchvision.models.vision_transformer.EncoderBlock, x)
    blocks["vit_b_16"] = [u for e in enc for u in (e, e)]  # attention and MLP residuals
    export(vit, os.path.join(out, "vit_b_16.onnx"), 224, dict(name="vit_b_16", **IMAGENET))
    dump(os.path.join(out, "blocks.json"), blocks)
    x224 = torch.from_numpy(hash_pixels(3 * 224 * 224).reshape(1, 3, 224, 224))
    lab = torch.tensor([3])
    mean = torch.tensor(IMAGENET["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET["std"]).view(1, 3, 1, 1)
    rng = np.random.default_rng(1)
    ref = {}
    for name, model in (("resnet50", r50), ("vit_b_16", vit)):
        g = grads(model, x224, lab, mean, std)
        # float32 itself is not exact on a deep random network (ReLUs near
        # their kink flip): float64 gradients say how far PyTorch's own
        # float32 ones are from the exact ones
        g64 = grads(copy.deepcopy(model).double(), x224.double(), lab, mean.double(), std.double())
        ref[name] = {"images": "hash pixels", "labels": lab.tolist()}
        for k, v in g.items():
            rec = record(v, rng)
            flat64 = g64[k].reshape(1, -1)
            rec["values64"] = [b64(flat64[0, rec["index"]])]
            rec["float32_error"] = float(np.linalg.norm(v.reshape(-1).astype(np.float64) - flat64[0]) / np.linalg.norm(flat64[0]))
            ref[name][k] = rec
    dump(os.path.join(out, "grad.json"), {"models": ref})
    # the zoo's ViT exported at opset 13, where LayerNorm is written out
    # (ReduceMean, Sub, Pow, Sqrt, Div): lib/grad compares its gradients
    # with the opset-17 reference of testdata/grad/grad.json
    vz = rebuild("vit")
    torch.onnx.export(vz, torch.zeros(1, 3, 32, 32), os.path.join(out, "vit_op13.onnx"), opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    with open(os.path.join(ROOT, "testdata", "zoo", "vit.json")) as f:
        side = json.load(f)
    with open(os.path.join(out, "vit_op13.json"), "w") as f:
        json.dump(side, f)


def replknet31b(out):
    """RepLKNet-31B's size (widths 128-256-512-1024, about 79M parameters)
    with random weights, for benchmarks."""
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    m = RepLKNetLike((31, 29, 27, 13), widths=(128, 256, 512, 1024), depths=(2, 2, 18, 2))
    m.head = nn.Linear(1024, 1000)
    randomise_bn(m, gen)
    print("replknet31b-like: %d parameters" % sum(p.numel() for p in m.parameters()))
    export(m, os.path.join(out, "replknet31b.onnx"), 224, dict(name="replknet31b", **IMAGENET))


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)
        f.write("\n")
    print("wrote", path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=HERE)
    p.add_argument("--big", default="", help="folder for torchvision resnet50 and vit_b_16")
    p.add_argument("--replknet31b", default="", help="folder for a RepLKNet-31B-sized model (benchmarks)")
    args = p.parse_args()
    torch.set_num_threads(2)
    if args.replknet31b:
        replknet31b(args.replknet31b)
    elif args.big:
        big(args.big)
    else:
        small(args.out)


if __name__ == "__main__":
    main()
