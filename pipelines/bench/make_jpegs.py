#!/usr/bin/python3
"""Write N real-size (500x375, q90, 4:2:0) JPEG photos for the preprocessing
benchmark: collages of the shipped Fashion-MNIST images, as the test fixtures;
with --224, 224x224 ones (Pillow's default quality, 4:2:0) as ImageNet-C's
files are, into OUTDIR/c224.

    /usr/bin/python3 pipelines/bench/make_jpegs.py [--224] OUTDIR N
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "images"))
import make_fixtures  # noqa: E402

args = [a for a in sys.argv[1:] if a != "--224"]
out, n = args[0], int(args[1])
if "--224" in sys.argv:
    os.makedirs(os.path.join(out, "c224"), exist_ok=True)
    for i in range(n):
        make_fixtures.collage(224, 224, 100 + i).save(os.path.join(out, "c224", "%04d.jpg" % i))
else:
    os.makedirs(os.path.join(out, "photos"), exist_ok=True)
    for i in range(n):
        make_fixtures.collage(500, 375, 100 + i).save(os.path.join(out, "photos", "%04d.jpg" % i), quality=90, subsampling=2)
