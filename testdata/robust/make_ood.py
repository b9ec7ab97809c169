#!/usr/bin/python3
"""scikit-learn's AUPR and AUROC (Debian python3-sklearn) and the
anomaly-detection reference's FPR at 95% recall on random fixtures with
ties, for lib/robust's tests:

    /usr/bin/python3 testdata/robust/make_ood.py
"""
import json
import os

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def fpr_at_recall(y, s, level=0.95):
    # as fpr_and_fdr_at_recall in the outlier-exposure code
    order = np.argsort(s, kind="mergesort")[::-1]
    s, y = s[order], y[order]
    distinct = np.where(np.diff(s))[0]
    idx = np.r_[distinct, y.size - 1]
    tps = np.cumsum(y)[idx]
    fps = 1 + idx - tps
    recall = tps / tps[-1]
    last = tps.searchsorted(tps[-1])
    sl = slice(last, None, -1)
    recall, fps = np.r_[recall[sl], 1], np.r_[fps[sl], 0]
    return fps[np.argmin(np.abs(recall - level))] / np.sum(np.logical_not(y))


def main():
    rng = np.random.default_rng(20241128)
    cases = []
    for n, pos, ties in ((50, 0.3, False), (400, 0.17, True), (1000, 0.5, True)):
        y = (rng.random(n) < pos).astype(int)
        s = rng.normal(size=n) + y * 0.8
        if ties:
            s = np.round(s, 1)
        cases.append({"labels": y.tolist(), "scores": s.tolist(),
                      "aupr": average_precision_score(y, s), "auroc": roc_auc_score(y, s),
                      "fpr95": float(fpr_at_recall(y, s))})
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ood.json"), "w") as f:
        json.dump(cases, f)
        f.write("\n")


if __name__ == "__main__":
    main()
