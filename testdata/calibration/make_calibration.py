#!/usr/bin/python3
"""Calibration errors computed with numpy, the reference for lk-metrics
--measure calibration and reliability (lib/metrics/calibration_test.go).

    /usr/bin/python3 testdata/calibration/make_calibration.py

Two groups of seeded random float32 logits over 6 classes (model "a": 450
predictions, "b": 333), with labels drawn so that the models are neither
perfectly calibrated nor useless. For each group:

- ECE (Guo et al. 2017): 15 bins with bounds np.linspace(0, 1, 16), a
  prediction in the bin (lower, upper] of its confidence (max softmax),
  sum over bins of |B|/n * |accuracy(B) - mean confidence(B)|;
- the RMS calibration error as hendrycks' calib_err(confidence, correct,
  p='2', beta=100) computes it: sorted by confidence, bins of 100 with the
  remainder joined to the last, the loop over all bins but the last,
  sqrt(sum |B|/n * (mean confidence - accuracy)^2) with n all predictions;
- the reliability diagram: per bin its count, mean confidence and accuracy.
"""
import base64
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
K = 6


def softmax_max(logits):
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).max(axis=1)


def ece(conf, correct, bins=15):
    bounds = np.linspace(0, 1, bins + 1)
    total = 0.0
    rel = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        inb = (conf > lo) & (conf <= hi)
        n = int(inb.sum())
        if n:
            a, c = correct[inb].mean(), conf[inb].mean()
            total += n / len(conf) * abs(a - c)
            rel.append({"n": n, "confidence": 100 * c, "accuracy": 100 * a})
        else:
            rel.append({"n": 0})
    return 100 * total, rel


def calib_err_rms(conf, correct, beta=100):
    idx = np.argsort(conf, kind="stable")
    conf, correct = conf[idx], correct[idx]
    bins = [[i * beta, (i + 1) * beta] for i in range(len(conf) // beta)]
    bins[-1] = [bins[-1][0], len(conf)]
    err = 0.0
    for lo, hi in bins[:-1]:
        d = np.abs(np.nanmean(conf[lo:hi]) - np.nanmean(correct[lo:hi]))
        err += (hi - lo) / len(conf) * d * d
    return 100 * np.sqrt(err)


def main():
    rng = np.random.default_rng(2024)
    out = {"classes": K, "groups": {}}
    for model, n, temp in (("a", 450, 1.7), ("b", 333, 0.6)):
        labels = rng.integers(0, K, n)
        logits = rng.normal(0, 1, (n, K)).astype(np.float32)
        # a signal towards the label, of varying strength
        logits[np.arange(n), labels] += (rng.uniform(0, 3, n) * temp).astype(np.float32)
        conf = softmax_max(logits)
        correct = (logits.argmax(axis=1) == labels).astype(np.float64)
        e, rel = ece(conf, correct)
        out["groups"][model] = {
            "labels": labels.tolist(),
            "logits": base64.b64encode(logits.astype("<f4").tobytes()).decode(),
            "top1": 100 * correct.mean(),
            "confidence": 100 * conf.mean(),
            "ece": e,
            "rms_calibration_error": calib_err_rms(conf, correct),
            "reliability": rel,
        }
    with open(os.path.join(HERE, "calibration.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
