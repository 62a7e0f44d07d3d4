r"""Linear logits :math:`Z = X W^\top + b` that stay finite for any finite input.

With features near 1e300 the product overflows: a row of ``X @ W.T`` holds
``inf`` (or ``nan``, where ``+inf`` and ``-inf`` terms meet), and the
softmax of such a row is ``inf - inf = nan``. The rows that overflow are
recomputed from ``X`` and ``W`` each divided by their largest magnitude,
``Z = t \, Z' + b`` with :math:`t = s_x s_w` and :math:`|Z'| \le d`; where
:math:`t |Z'|` itself exceeds the float range, the row is scaled down to a
largest magnitude of a quarter of the float maximum. Softmax and sigmoid
depend on differences of logits, and at that size every difference that is
not a tie already gives probabilities of exactly 0 and 1, so the scaled row
has the same probabilities as the exact one, to float precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["finite_logits"]


def _row_max_abs(X: Any) -> np.ndarray:
    if sp.issparse(X):
        return np.asarray(abs(X).max(axis=1).todense()).ravel()
    return np.abs(X).max(axis=1)


def finite_logits(X: Any, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Logits ``X @ coef.T + intercept``, shape (n_samples, k), finite where X is finite.

    Parameters
    ----------
    X : ndarray or sparse CSR, shape (n_samples, n_features)
    coef : ndarray, shape (k, n_features)
    intercept : ndarray, shape (k,)
    """
    Wt = np.asarray(coef).T.astype(X.dtype, copy=False)
    b = np.asarray(intercept).astype(X.dtype, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):
        Z = np.asarray(X @ Wt)
        Z += b
    bad = ~np.isfinite(Z).all(axis=1)
    if not bad.any():
        return Z
    Xb = X[np.flatnonzero(bad)]
    sx = _row_max_abs(Xb).astype(np.float64)
    sx[sx == 0] = 1.0
    sw = float(np.abs(Wt).max()) or 1.0
    Xs = (sp.diags(1.0 / sx) @ Xb) if sp.issparse(Xb) else Xb / sx[:, None]
    Zs = np.asarray(Xs @ (Wt / sw), dtype=np.float64)  # |Zs| <= n_features
    cap = np.finfo(Z.dtype).max / 4
    with np.errstate(over="ignore"):
        t = sx * sw  # may be inf: then the row is only scaled down below
    m = np.abs(Zs).max(axis=1)
    m[m == 0] = 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        exact = t * m <= cap
        rows = np.where(exact[:, None], Zs * t[:, None], Zs * (cap / m)[:, None])
    Z[bad] = (rows + b).astype(Z.dtype, copy=False)
    return Z
