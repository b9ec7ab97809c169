#!/usr/bin/python3
"""Write an IDX image file of N rows (the shipped test split repeated) and
its labels, for the flat-memory benchmark of lk-infer.

    /usr/bin/python3 pipelines/bench/make_idx.py OUTDIR N
"""
import gzip
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
fm = os.path.join(here, "..", "..", "testdata", "fashion-mnist")
out, n = sys.argv[1], int(sys.argv[2])
with gzip.open(os.path.join(fm, "t10k-images-idx3-ubyte.gz")) as f:
    imgs = f.read()[16:]
with gzip.open(os.path.join(fm, "t10k-labels-idx1-ubyte.gz")) as f:
    labs = f.read()[8:]
reps = -(-n // 10000)
with open(os.path.join(out, "big-images-idx3-ubyte"), "wb") as f:
    f.write(struct.pack(">IIII", 0x803, n, 28, 28))
    f.write((imgs * reps)[: n * 784])
with open(os.path.join(out, "big-labels-idx1-ubyte"), "wb") as f:
    f.write(struct.pack(">II", 0x801, n))
    f.write((labs * reps)[:n])
