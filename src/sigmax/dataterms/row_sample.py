r"""A data term's Hessian estimated on a random sample of its rows (subsampled Newton).

The Hessian of a loss sum is a sum over rows,

.. math:: \nabla^2 D(w) = \sum_{i=1}^n \tilde x_i^\top H_i(w)\, \tilde x_i ,

so the same sum over ``m`` rows drawn at random, times ``n / m`` (the ratio of
the weight totals where rows are weighted), estimates it without bias at
``m / n`` of the work of a Hessian-vector product. Newton-CG spends most of a
fit on sparse text in those products (sparse_text: 41 products in 3 Newton
steps), and its inner solve needs only a direction of descent, not the
exact Newton step: with the gradient exact, the line search and the
convergence test are those of the full problem, and a sampled Hessian only
changes the rate (Byrd, Chin, Neveitt and Nocedal, "On the use of stochastic
Hessian information in optimization methods for machine learning", SIAM J.
Optim. 21(3), 2011). Where an L2 term is present it enters exactly, so a
feature that no sampled row uses keeps the penalty's curvature.

:func:`sample_term` builds the data term of the sampled rows at one iterate
``w``: the rows of ``X`` copied (a CSR's values, in float32 where the products
are asked for in float32, and its indices), and the per-sample Hessian state
taken from the full term's, which the evaluation at ``w`` has just formed,
so the sample costs no pass over ``X`` of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .float32_hessp import flush_tiny

__all__ = ["draw_rows", "sample_term"]


def draw_rows(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """``m`` distinct rows of ``n``, drawn uniformly, in increasing order (``(m,)`` int64).

    Sorted, so that the sampled rows are read in the order of ``X`` (a sorted
    ``X`` keeps its locality, and the copy is one forward sweep).
    """
    return np.sort(rng.choice(n, size=m, replace=False))


def sample_term(term: Any, w: np.ndarray, rows: np.ndarray, float32: bool) -> Any:
    """The data term of ``rows`` of ``term``, its Hessian state that of ``term`` at ``w``.

    Parameters
    ----------
    term : NumpyData
        The full data term, ``X`` of shape (n, d).
    w : ndarray of shape (n_params,)
        The iterate whose Hessian is estimated.
    rows : ndarray of shape (m,)
        Sorted row indices (:func:`draw_rows`).
    float32 : bool
        Form the sample's products in float32 (a float64 term's float32 Hessian
        products, :mod:`sigmax.dataterms.float32_hessp`).

    Returns
    -------
    NumpyData
        Of the class of ``term``, on ``X[rows]``, ``Y[rows]`` and
        ``weights[rows]``; its Hessian products and diagonal are sums over the
        sampled rows only (unscaled: the objective scales them by its own
        weight total).
    """
    X = term.X[rows]
    if float32 and X.dtype != np.float32:
        if sp.issparse(X):  # the sample's own arrays: its values converted in place of a copy
            X = sp.csr_matrix((X.data.astype(np.float32), X.indices, X.indptr),
                              shape=X.shape, copy=False)
        else:
            X = X.astype(np.float32)
    offset = None if term.offset is None else term.offset[rows]
    sub = type(term)(term.loss, X, term.Y[rows], term.weights[rows], term.k,
                    term.fit_intercept, offset=offset)
    St = term._state(w)[:, rows].astype(sub.dtype, copy=False)
    if sub.dtype == np.float32:  # as Float32Hessp.state: no subnormal operands
        flush_tiny(St)
    sub._St = St
    # float32 products leave a symmetric softmax's product rows summing to
    # rounding instead of zero: projected out, as Float32Hessp does.
    sub.project_flat = True
    sub._track_state = True
    sub._St_at.mark(w)
    return sub
