#!/usr/bin/python3
"""Write N real-size (500x375, q90, 4:2:0) JPEG photos for the preprocessing
benchmark: collages of the shipped Fashion-MNIST images, as the test fixtures.

    /usr/bin/python3 pipelines/bench/make_jpegs.py OUTDIR N
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "images"))
import make_fixtures  # noqa: E402

out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.join(out, "photos"), exist_ok=True)
for i in range(n):
    make_fixtures.collage(500, 375, 100 + i).save(os.path.join(out, "photos", "%04d.jpg" % i), quality=90, subsampling=2)
