"""Reference intervals for lib/metrics' confidence intervals, computed with
scipy and numpy on predictions defined here and rebuilt the same way by
lib/metrics/bootstrap_test.go (Debian's python3-scipy; run from the
repository root: /usr/bin/python3 testdata/stats/make_stats.py).

  accuracy: 400 images, image i right when (37 i mod 100) < 80 (80%):
    scipy.stats.bootstrap percentile interval of the mean, and scipy's
    Wilson interval (binomtest(...).proportion_ci).
  mce: 60 images x the 15 standard corruptions x 5 severities; image i is
    wrong under corruption c (its index in ImageNet-C's order) and
    severity s when i < 20, or when s >= 4 and (i + c) mod 3 == 0; every
    corruption's baseline error 0.5. The interval resamples images, the
    same draw for every corruption and severity (an image is in or out
    of a resample everywhere), in numpy.
  paired: 400 images, model a right when (37 i mod 100) < 80, model b right
    when (37 i mod 100) < 70 or i mod 10 == 3: the difference of their
    top-1 with numpy's paired bootstrap (one draw of images for both), and
    scipy's exact binomial test of the discordant pairs (McNemar's exact
    test).
  mcnemar: scipy's exact two-sided p-values of a few discordant counts.
  holm: statsmodels' Holm adjustment of a family of p-values.
  effective: 5 models m0..m4; model k is right on clean image i (of 400)
    when (37 i mod 100) < 70 + 5k, and on shifted image j (of 300, other
    images) when (53 j mod 100) < 20 + 4k + (k == 2) * 10; the line
    fitted by numpy's least squares on logit (and probit) axes, each
    model's effective robustness, and its bootstrap interval resampling
    the clean and the shifted images apart (numpy).
"""
import json
import os

import numpy as np
from scipy import stats

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "intervals.json")
B = 10000

right = np.array([(37 * i) % 100 < 80 for i in range(400)], dtype=float)
res = stats.bootstrap((right,), np.mean, confidence_level=0.95, n_resamples=B,
                      method="percentile", random_state=np.random.default_rng(1))
wilson = stats.binomtest(int(right.sum()), len(right)).proportion_ci(confidence_level=0.95, method="wilson")

n, C, S = 60, 15, 5
wrong = np.zeros((n, C, S))
for i in range(n):
    for c in range(C):
        for s in range(1, S + 1):
            wrong[i, c, s - 1] = 1.0 if (i < 20 or (s >= 4 and (i + c) % 3 == 0)) else 0.0


def mce(w):
    # errors per corruption over severities and images, / baseline 0.5, mean
    return 100 * np.mean(w.mean(axis=(0, 2)) / 0.5)


rng = np.random.default_rng(2)
reps = np.array([mce(wrong[rng.integers(0, n, n)]) for _ in range(B)])
lo, hi = np.percentile(reps, [2.5, 97.5])

a = right
b = np.array([(37 * i) % 100 < 70 or i % 10 == 3 for i in range(400)], dtype=float)
rng = np.random.default_rng(3)
diffs = []
for _ in range(B):
    idx = rng.integers(0, 400, 400)
    diffs.append(100 * (a[idx].mean() - b[idx].mean()))
dlo, dhi = np.percentile(diffs, [2.5, 97.5])
nb, nc = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
pair_p = stats.binomtest(min(nb, nc), nb + nc, 0.5).pvalue

counts = [[30, 15], [15, 30], [7, 7], [0, 5], [1, 0], [120, 95], [0, 0]]
mcn = [[bb, cc, (stats.binomtest(min(bb, cc), bb + cc, 0.5).pvalue if bb + cc else 1.0)] for bb, cc in counts]

from statsmodels.stats.multitest import multipletests
family = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04]
holm = multipletests(family, method="holm")[1].tolist()

from scipy.special import logit, expit
K = 5
clean = np.array([[(37 * i) % 100 < 70 + 5 * k for i in range(400)] for k in range(K)], dtype=float)
shift = np.array([[(53 * j) % 100 < 20 + 4 * k + (10 if k == 2 else 0) for j in range(300)] for k in range(K)], dtype=float)


def eff(c, s, scale):
    f, finv = (logit, expit) if scale == "logit" else (stats.norm.ppf, stats.norm.cdf)
    x, y = f(c.mean(axis=1)), f(s.mean(axis=1))
    A = np.vstack([np.ones_like(x), x]).T
    (a, b), *_ = np.linalg.lstsq(A, y, rcond=None)
    base = finv(a + b * x)
    return a, b, 100 * s.mean(axis=1), 100 * base, 100 * (s.mean(axis=1) - base)


effective = {}
for scale in ["logit", "probit"]:
    ia, sl, sh, base, er = eff(clean, shift, scale)
    effective[scale] = {"intercept": ia, "slope": sl, "baseline": base.tolist(), "effective": er.tolist()}
rng = np.random.default_rng(4)
reps = []
for _ in range(B):
    ci, si = rng.integers(0, 400, 400), rng.integers(0, 300, 300)
    reps.append(eff(clean[:, ci], shift[:, si], "logit")[4])
reps = np.array(reps)
effective["logit"]["interval"] = np.percentile(reps, [2.5, 97.5], axis=0).T.tolist()

json.dump({
    "effective": effective,
    "paired": {"a": 100 * a.mean(), "b": 100 * b.mean(), "diff": [dlo, dhi], "discordant": [nb, nc], "p": pair_p},
    "mcnemar": mcn, "holm": {"p": family, "adjusted": holm},
    "accuracy": {"value": 100 * right.mean(), "bootstrap": [100 * res.confidence_interval.low, 100 * res.confidence_interval.high],
                 "wilson": [100 * wilson.low, 100 * wilson.high]},
    "mce": {"value": mce(wrong), "bootstrap": [lo, hi]},
    "resamples": B, "scipy": stats.__name__ and __import__("scipy").__version__, "numpy": np.__version__,
}, open(OUT, "w"), indent=1)
print(open(OUT).read())
