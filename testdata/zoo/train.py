#!/usr/bin/python3
"""Train the embedded model zoo on Fashion-MNIST classes 0-7 and export it to ONNX.

Run with Debian's PyTorch (python3-torch 1.13) and Debian's Fashion-MNIST
(dataset-fashion-mnist, which has the training split the repository does not):

    /usr/bin/python3 testdata/zoo/train.py

Every model gets the same recipe and budget: 12 epochs of AdamW (lr 2e-3, weight
decay 0.05, one-cycle schedule with 15% warm-up), batch 128, label smoothing 0.1,
random flips and shifts of up to 2 pixels. Twelve epochs because the ViT needs
them: the first zoo's ViT reached 81.8% after 8 epochs and 86.0% after 18, while
the CNNs had converged within 8. Each model is trained from three seeds
(--seeds 0,1,2; index 0 is the seed the first zoo used); seed index I goes to
seeds/sI/.

Every model takes a 3x32x32 image in [0,1] pixel space normalised with the
mean and std of its sidecar JSON (the 28x28 Fashion-MNIST image zero-padded by
2 pixels on each side, the grey channel copied to three channels). Classes 8
(bag) and 9 (ankle boot) are held out for the out-of-distribution experiments.

For each model NAME the script writes NAME.onnx (opset 17, dynamic batch),
NAME.json (the sidecar config lk-infer reads) and NAME.ref.json (PyTorch
logits of the first 64 test images, which the Go tests compare ONNX Runtime
against). seeds/train.log records seeds, epochs, losses and test accuracy.

Training is long on two cores (about 2.3 hours per seed index), so every
model is checkpointed after each epoch in ckpt/NAME-sI.pt and a rerun of the
same command resumes where the last epoch ended, bit for bit (a checkpoint
made with another recipe is refused). Two single-threaded workers train two
models at once: on two cores that is faster than one worker on both.

Large depthwise kernels are slow to train in PyTorch 1.13 eager mode, so during
training a depthwise convolution whose padding keeps the map size is computed
as a per-channel dense (Toeplitz) matrix product, which is the same linear map;
check_toeplitz() asserts the two agree, and the exported graph and the
reference logits use the ordinary Conv.
"""
import argparse
import gzip
import json
import math
import multiprocessing
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NUM_CLASSES = 8
# Fashion-MNIST's class names, of the classes the zoo is trained on
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker"]
MEAN = 0.2860
STD = 0.3530


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


def load_split(root, split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(root, prefix + "-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(root, prefix + "-labels-idx1-ubyte.gz"))
    return x, y


def to_input(x_uint8):
    """uint8 Nx28x28 -> float Nx3x32x32 in [0,1], zero-padded, grey to 3 channels."""
    x = torch.from_numpy(x_uint8.astype(np.float32) / 255.0)
    x = F.pad(x, (2, 2, 2, 2))
    return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


# ---------------------------------------------------------------- layers

class DWConv(nn.Conv2d):
    """Depthwise 'same' convolution with a fast training path (see module doc)."""

    def __init__(self, channels, kernel, bias=False):
        super().__init__(channels, channels, kernel, padding=kernel // 2,
                         groups=channels, bias=bias)
        self.fast = False
        self._idx = {}

    def toeplitz_index(self, h, w):
        key = (h, w)
        if key not in self._idx:
            k = self.kernel_size[0]
            r = k // 2
            py, px = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
            py, px = py.reshape(-1), px.reshape(-1)
            dy = py[None, :] - py[:, None] + r  # input row minus output row, shifted
            dx = px[None, :] - px[:, None] + r
            valid = (dy >= 0) & (dy < k) & (dx >= 0) & (dx < k)
            flat = torch.where(valid, dy * k + dx, torch.full_like(dy, k * k))
            self._idx[key] = flat
        return self._idx[key]

    def forward(self, x):
        if not self.fast:
            return super().forward(x)
        b, c, h, w = x.shape
        idx = self.toeplitz_index(h, w)
        wflat = torch.cat([self.weight.reshape(c, -1), self.weight.new_zeros(c, 1)], 1)
        t = wflat[:, idx]  # c x (hw) x (hw): out position x in position
        y = torch.einsum("cpq,bcq->bcp", t, x.reshape(b, c, h * w)).reshape(b, c, h, w)
        if self.bias is not None:
            y = y + self.bias.view(1, c, 1, 1)
        return y


def conv_bn(cin, cout, k, stride=1, groups=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout))


def conv_bn_relu(cin, cout, k, stride=1, groups=1):
    return nn.Sequential(*conv_bn(cin, cout, k, stride, groups), nn.ReLU())


class LargeKernel(nn.Module):
    """RepLKNet's re-parameterisable large kernel: a KxK depthwise conv+BN with,
    when K > small, a parallel small depthwise conv+BN; the outputs are summed.
    Exported unmerged."""

    def __init__(self, c, k, small=5):
        super().__init__()
        self.lkb_origin = nn.Sequential(DWConv(c, k), nn.BatchNorm2d(c))
        self.small_conv = nn.Sequential(DWConv(c, small), nn.BatchNorm2d(c)) if k > small else None

    def forward(self, x):
        y = self.lkb_origin(x)
        if self.small_conv is not None:
            y = y + self.small_conv(x)
        return y


class RepLKBlock(nn.Module):
    def __init__(self, c, k):
        super().__init__()
        self.prelkb_bn = nn.BatchNorm2d(c)
        self.pw1 = conv_bn_relu(c, c, 1)
        self.large_kernel = LargeKernel(c, k)
        self.lk_nonlinear = nn.ReLU()
        self.pw2 = conv_bn(c, c, 1)

    def forward(self, x):
        y = self.pw2(self.lk_nonlinear(self.large_kernel(self.pw1(self.prelkb_bn(x)))))
        return x + y


class ConvFFN(nn.Module):
    def __init__(self, c, ratio=4):
        super().__init__()
        self.preffn_bn = nn.BatchNorm2d(c)
        self.pw1 = conv_bn(c, c * ratio, 1)
        self.nonlinear = nn.GELU()
        self.pw2 = conv_bn(c * ratio, c, 1)

    def forward(self, x):
        return x + self.pw2(self.nonlinear(self.pw1(self.preffn_bn(x))))


class LKNet(nn.Module):
    """A two-stage RepLKNet in miniature: stem to 16x16, stage 1 (16x16, width
    32), transition to 8x8 and width 64, stage 2; each stage is two
    (RepLKBlock, ConvFFN) pairs. kernels gives the depthwise kernel per stage."""

    def __init__(self, kernels, widths=(32, 64), depths=(2, 2)):
        super().__init__()
        self.stem = conv_bn_relu(3, widths[0], 3, stride=2)
        self.stages = nn.ModuleList()
        self.transitions = nn.ModuleList()
        for i, (k, c, d) in enumerate(zip(kernels, widths, depths)):
            blocks = []
            for _ in range(d):
                blocks += [RepLKBlock(c, k), ConvFFN(c)]
            self.stages.append(nn.Sequential(*blocks))
            if i + 1 < len(widths):
                self.transitions.append(nn.Sequential(
                    conv_bn_relu(c, widths[i + 1], 1),
                    conv_bn_relu(widths[i + 1], widths[i + 1], 3, stride=2, groups=widths[i + 1])))
        self.norm = nn.BatchNorm2d(widths[-1])
        self.head = nn.Linear(widths[-1], NUM_CLASSES)

    def forward(self, x):
        x = self.stem(x)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.transitions):
                x = self.transitions[i](x)
        x = self.norm(x).mean((2, 3))
        return self.head(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = conv_bn_relu(cin, cout, 3, stride)
        self.conv2 = conv_bn(cout, cout, 3)
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return F.relu(self.shortcut(x) + self.conv2(self.conv1(x)))


class ResNet(nn.Module):
    """Small-kernel baseline: 3x3 convs with BatchNorm, two stages of two basic blocks."""

    def __init__(self, widths=(32, 64)):
        super().__init__()
        self.stem = conv_bn_relu(3, widths[0], 3, stride=2)
        self.layer1 = nn.Sequential(BasicBlock(widths[0], widths[0]), BasicBlock(widths[0], widths[0]))
        self.layer2 = nn.Sequential(BasicBlock(widths[0], widths[1], 2), BasicBlock(widths[1], widths[1]))
        self.head = nn.Linear(widths[1], NUM_CLASSES)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        return self.head(x.mean((2, 3)))


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        h = self.heads
        qkv = self.qkv(x).reshape(b, n, 3, h, c // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * (c // h) ** -0.5
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class ViTBlock(nn.Module):
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """Tiny ViT: 4x4 patches (8x8 grid), class token, learned positions."""

    def __init__(self, dim=64, depth=4, heads=2, mlp=128, patch=4, size=32):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
        n = (size // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[ViTBlock(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, NUM_CLASSES)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


ZOO = {
    # name: (constructor, epochs, description)
    "lk3": (lambda: LKNet((3, 3)), "LKNet, depthwise kernels 3-3"),
    "lk7": (lambda: LKNet((7, 7)), "LKNet, depthwise kernels 7-7 with parallel 5x5"),
    "lk13": (lambda: LKNet((13, 13)), "LKNet, depthwise kernels 13-13 with parallel 5x5"),
    "lk31": (lambda: LKNet((31, 15)), "LKNet, depthwise kernels 31-15 (2H-1 per stage, as RepLKNet-31B's 31-29-27-13) with parallel 5x5"),
    "resnet": (lambda: ResNet(), "ResNet-style baseline, 3x3 convs with BatchNorm"),
    "vit": (lambda: ViT(), "tiny ViT, patch 4, class token, dim 64, depth 4, 2 heads"),
}


def set_fast(model, on):
    # Below kernel 15 PyTorch's own depthwise conv is the faster of the two.
    for m in model.modules():
        if isinstance(m, DWConv):
            m.fast = on and m.kernel_size[0] >= 15


def check_toeplitz(model, x):
    model.eval()
    with torch.no_grad():
        set_fast(model, False)
        a = model(x)
        for m in model.modules():
            if isinstance(m, DWConv):
                m.fast = True
        b = model(x)
    set_fast(model, False)
    err = (a - b).abs().max().item()
    assert err < 1e-4, "Toeplitz path disagrees with Conv: %g" % err
    return err


def augment(x, gen):
    """Random horizontal flip and random shift of up to 2 pixels (zero fill)."""
    b = x.shape[0]
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip.view(b, 1, 1, 1), x.flip(3), x)
    pad = F.pad(x, (2, 2, 2, 2))
    dy, dx = torch.randint(0, 5, (2,), generator=gen).tolist()
    return pad[:, :, dy:dy + 32, dx:dx + 32]


def evaluate(model, x, y, bs=500):
    model.eval()
    correct, n = 0, 0
    with torch.no_grad():
        for i in range(0, len(x), bs):
            out = model((x[i:i + bs] - MEAN) / STD)
            correct += (out.argmax(1) == y[i:i + bs]).sum().item()
            n += len(out)
    return correct / n


def model_seed(name, seed, index):
    """Seed index 0 keeps the seed the first zoo was trained with."""
    return seed + sum(map(ord, name)) + 1000 * index


def channels_last(model, name):
    # Measured on two cores: NHWC is faster for PyTorch's own depthwise and
    # dense convolutions, slower for the Toeplitz path's einsum and the ViT.
    return name != "vit" and not any(isinstance(m, DWConv) and m.fast for m in model.modules())


def train_one(name, index, args, xtr, ytr, xte, yte, log):
    """Train one model for args.epochs epochs, checkpointing after each epoch
    to args.ckpt/NAME-sINDEX.pt; an existing checkpoint is resumed, so a killed
    run continues where its last epoch ended."""
    make, desc = ZOO[name]
    seed = model_seed(name, args.seed, index)
    tag = "%s seed %d" % (name, index)
    torch.manual_seed(seed)
    model = make()
    nparams = sum(p.numel() for p in model.parameters())
    err = check_toeplitz(model, (xte[:8] - MEAN) / STD)
    set_fast(model, True)
    nhwc = channels_last(model, name)
    fmt = torch.channels_last if nhwc else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    steps = args.epochs * math.ceil(len(xtr) / args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.15)
    gen = torch.Generator().manual_seed(seed)
    ckpt = os.path.join(args.ckpt, "%s-s%d.pt" % (name, index))
    first, spent, acc = 0, 0.0, float("nan")
    if os.path.exists(ckpt):
        st = torch.load(ckpt)
        if st["epochs"] != args.epochs or st["seed"] != seed or st["batch"] != args.batch or st["lr"] != args.lr:
            raise SystemExit("%s: checkpoint %s was made with another recipe (epochs %d, batch %d, lr %g, seed %d)" % (
                tag, ckpt, st["epochs"], st["batch"], st["lr"], st["seed"]))
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        gen.set_state(st["gen"])
        first, spent, acc = st["done"], st["seconds"], st["acc"]
        log("%s: resumed from %s after epoch %d/%d" % (tag, ckpt, first, args.epochs))
    else:
        log("%s: %s; %d parameters; seed %d; toeplitz check max diff %.2e; %s; %d threads" % (
            tag, desc, nparams, seed, err, "channels-last" if nhwc else "NCHW", torch.get_num_threads()))
    for ep in range(first, args.epochs):
        t0 = time.time()
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        tot, cnt = 0.0, 0
        for i in range(0, len(xtr), args.batch):
            idx = perm[i:i + args.batch]
            xb = augment(xtr[idx], gen).contiguous(memory_format=fmt)
            loss = F.cross_entropy(model((xb - MEAN) / STD), ytr[idx], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
            cnt += len(idx)
        acc = evaluate(model, xte, yte)  # fast path too: check_toeplitz showed it is the same map
        spent += time.time() - t0
        tmp = ckpt + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "gen": gen.get_state(), "done": ep + 1, "seconds": spent, "acc": acc,
                    "epochs": args.epochs, "seed": seed, "batch": args.batch, "lr": args.lr}, tmp)
        os.replace(tmp, ckpt)
        log("%s: epoch %d/%d loss %.4f test top-1 %.4f (%.0f s)" % (tag, ep + 1, args.epochs, tot / cnt, acc, spent))
    set_fast(model, False)
    model = model.to(memory_format=torch.contiguous_format)
    model.eval()
    return model, acc, nparams


def export(name, model, acc, nparams, args, xall, log, out, index):
    path = os.path.join(out, name + ".onnx")
    dummy = torch.zeros(1, 3, 32, 32)
    torch.onnx.export(model, dummy, path, opset_version=17, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    cfg = {
        "name": name,
        "description": ZOO[name][1],
        "input": "input",
        "output": "logits",
        "input_size": [3, 32, 32],
        "mean": [MEAN] * 3,
        "std": [STD] * 3,
        "num_classes": NUM_CLASSES,
        "label_space": "fashion-mnist-0-7",
        "classes": CLASSES,
        "interpolation": "none",
        "crop_pct": 1.0,
        "parameters": nparams,
        "test_top1": round(acc, 4),
        # lk-infer adds the seed index as a key column, so that the
        # predictions of one model's seeds can be scored together
        # (lk-metrics --over seed)
        "columns": {"seed": str(index)},
    }
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with torch.no_grad():
        ref = model((xall[:64] - MEAN) / STD)
    with open(os.path.join(out, name + ".ref.json"), "w") as f:
        json.dump({"images": "t10k-images-idx3-ubyte.gz first 64, padded to 32, grey to 3 channels",
                   "torch": torch.__version__,
                   "logits": [[float(v) for v in row] for row in ref.tolist()]}, f)
        f.write("\n")
    log("%s: exported %s (%d bytes)" % (name, path, os.path.getsize(path)))


def out_dir(args, index):
    return os.path.join(args.out, "s%d" % index)


def run_job(job):
    """One (seed index, model) job in its own process, single-threaded by
    default: on two cores two such jobs train faster than one on both cores."""
    index, name, args = job
    torch.set_num_threads(args.threads)
    out = out_dir(args, index)
    os.makedirs(out, exist_ok=True)

    def log(msg):
        line = time.strftime("%Y-%m-%d %H:%M:%S ") + msg
        print(line, flush=True)
        with open(os.path.join(args.out, "train.log"), "a") as f:
            f.write(line + "\n")

    xtr, ytr, xin, yin, xall = load_data(args)
    model, acc, nparams = train_one(name, index, args, xtr, ytr, xin, yin, log)
    export(name, model, acc, nparams, args, xall, log, out, index)
    ckpt = os.path.join(args.ckpt, "%s-s%d.pt" % (name, index))
    if os.path.exists(ckpt) and not args.keep_ckpt:
        os.remove(ckpt)
    return name, index, acc


def load_data(args):
    xtr, ytr = load_split(args.data, "train")
    xte, yte = load_split(args.data, "test")
    keep = ytr < NUM_CLASSES
    xtr, ytr = to_input(xtr[keep]), torch.from_numpy(ytr[keep].astype(np.int64))
    if args.limit:
        xtr, ytr = xtr[:args.limit], ytr[:args.limit]
    xall = to_input(xte)
    keep = yte < NUM_CLASSES
    xin, yin = xall[torch.from_numpy(keep)], torch.from_numpy(yte[keep].astype(np.int64))
    return xtr, ytr, xin, yin, xall


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--out", default=os.path.join(here, "seeds"), help="models go to OUT/sINDEX/")
    p.add_argument("--ckpt", default=os.path.join(here, "ckpt"), help="per-epoch checkpoints (resumed)")
    p.add_argument("--models", default="lk31,lk13,vit,lk7,lk3,resnet")
    p.add_argument("--seeds", default="0,1,2", help="seed indices; index 0 is the default zoo's seed")
    p.add_argument("--epochs", type=int, default=12, help="the one budget every model gets")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=20240712)
    p.add_argument("--workers", type=int, default=2, help="models trained at once")
    p.add_argument("--threads", type=int, default=1, help="threads per worker")
    p.add_argument("--keep-ckpt", action="store_true", help="keep the last checkpoint of a finished model")
    p.add_argument("--limit", type=int, default=0, help="train on the first N images (smoke test)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.ckpt, exist_ok=True)
    with open(os.path.join(args.out, "train.log"), "a") as f:
        f.write(time.strftime("%Y-%m-%d %H:%M:%S ") + "torch %s, args %s\n" % (torch.__version__, vars(args)))
    jobs = [(int(i), name, args) for i in args.seeds.split(",") for name in args.models.split(",")
            if not os.path.exists(os.path.join(out_dir(args, int(i)), name + ".onnx"))]
    ctx = multiprocessing.get_context("spawn")  # fork after torch's thread pools start can hang
    with ctx.Pool(args.workers, maxtasksperchild=1) as pool:
        for name, index, acc in pool.imap_unordered(run_job, jobs):
            print("done %s seed %d: test top-1 %.4f" % (name, index, acc), flush=True)


if __name__ == "__main__":
    sys.exit(main())
