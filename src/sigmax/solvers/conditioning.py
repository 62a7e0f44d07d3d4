r"""Cheap estimates of how ill-conditioned an objective is, before any solve.

The softmax's Hessian at the optimum is
:math:`\sum_i s_i (\mathrm{diag}(p_i) - p_i p_i^\top) \otimes \tilde x_i
\tilde x_i^\top / S` plus the L2 weight :math:`\lambda` on the coefficients.
Its diagonal block of class ``a`` is about :math:`\pi_a (1 - \pi_a)\,
\tilde\Sigma` with :math:`\pi_a` the (weighted) share of class ``a``
(the fitted probabilities average to the class shares, exactly so for the
intercepts at the optimum) and :math:`\tilde\Sigma` the second moments of
``[X, 1]``. So the class shares alone spread the curvature by

.. math:: \kappa_{\mathrm{class}} = \frac{\max_a \pi_a (1 - \pi_a)}
          {\max(\min_a \pi_a (1 - \pi_a),\ \lambda)},

a factor on top of the conditioning of the features (:math:`\lambda = 0` with an
intercept, which the penalty does not touch). A class seen once in
``n`` rows at ``C = 1`` (:math:`\lambda = 1 / n`) gives :math:`\kappa` of
about ``n / 5``: the 79 label sets of R's ggplot2movies genres (n = 58,788)
have :math:`\kappa_{\mathrm{class}} = 1.1 \times 10^4`, the benchmark's
many_classes problem (K = 100, classes of similar size) 8.0. Counting the labels is one pass over
``y``, nothing over ``X``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["RARE_CLASS_SPREAD", "class_spread", "mean_curvature", "preconditions"]

#: From this :func:`class_spread` on, a softmax objective counts as having
#: rare classes: ``solver="auto"`` prefers Newton-CG, which preconditions its
#: inner solve (see :func:`sigmax.solvers.choose_solver` for the measurements).
RARE_CLASS_SPREAD = 100.0


def preconditions(objective: Any) -> bool:
    """Whether ``objective``'s data term forms a preconditioner (Hessian diagonal or blocks).

    Without one, Newton-CG on rare classes runs plain CG, which needs more
    passes than L-BFGS (film label sets at 25% of the rows: 837 Hessian
    products against 502 L-BFGS evaluations).
    """
    return bool(getattr(getattr(objective, "data", None), "forms_preconditioner", False))


def class_spread(objective: Any) -> float:
    r""":math:`\kappa_{\mathrm{class}}` of a softmax objective (module docstring); 1 otherwise.

    The larger of the spreads of the weighted class shares and of the
    shares of rows (see the comment in the code).

    Parameters
    ----------
    objective : Objective
        With integer class codes ``Y`` of shape ``(n,)`` (``loss.softmax_hessian``).

    Returns
    -------
    float
        At least 1; ``inf`` where a class has no (weighted) row and no L2
        holds its parameters.
    """
    loss = objective.loss
    sigmoids = bool(getattr(loss, "diagonal_hessian", False))
    if not (getattr(loss, "softmax_hessian", False) or sigmoids):
        return 1.0
    try:
        Y = np.asarray(objective.Y)
        sw = np.asarray(objective.weights)
    except (TypeError, ValueError, RuntimeError):  # a device array: no estimate
        return 1.0
    if sigmoids:
        return _spread(_once(objective, Y, sw, _sigmoid_shares), _l2_weight(objective))
    if Y.ndim != 1 or not np.issubdtype(Y.dtype, np.integer) or Y.size == 0:
        return 1.0
    return _spread(_softmax_shares(objective, Y, sw), _l2_weight(objective))


def mean_curvature(objective: Any) -> float:
    r""":math:`\bar c`, the mean of :math:`\pi (1 - \pi)` over the outputs' weighted shares.

    The class shares of a softmax, the positive shares of sigmoid outputs (a
    single binary one included; unknown labels left out). A coefficient of a
    column of variance :math:`v` has data curvature about :math:`v \bar c`
    (:mod:`sigmax.solvers.coordinates`). ``1/4`` (the largest) where the
    targets do not say.
    """
    loss = objective.loss
    try:
        Y = np.asarray(objective.Y)
        sw = np.asarray(objective.weights)
    except (TypeError, ValueError, RuntimeError):  # a device array: no estimate
        return 0.25
    shares: list[np.ndarray] = []
    if getattr(loss, "diagonal_hessian", False) and Y.ndim in (1, 2) and Y.size:
        shares = _sigmoid_shares(Y.reshape(Y.shape[0], -1), sw, single=True)
    elif getattr(loss, "softmax_hessian", False) and Y.ndim == 1 and Y.size \
            and np.issubdtype(Y.dtype, np.integer):
        shares = _softmax_shares(objective, Y, sw)
    if not shares:
        return 0.25
    c = float(np.mean(shares[0] * (1 - shares[0])))
    return c if c > 0 else 0.25


def _softmax_shares(objective: Any, Y: np.ndarray, sw: np.ndarray) -> list[np.ndarray]:
    """The class shares of integer codes ``Y``: weighted, then of rows (those with a total)."""
    loss = objective.loss
    n_classes = max(int(Y.max()) + 1, objective.k + int(bool(getattr(loss, "reference", False))))
    if sw.ndim == 2:  # per-entry weights: a row's weight is their mean
        sw = sw.mean(axis=1)
    # Weighted shares, and the shares of rows: weights that lift a rare class
    # (class_weight="balanced") even out the shares but not the rows, and a
    # class of few rows keeps curvature lambda in all but a few directions
    # (film label sets, balanced weights: L-BFGS 419 iterations, as unweighted).
    shares = []
    for weights in (np.broadcast_to(sw, Y.shape).astype(np.float64), None):
        share = np.bincount(Y, weights=weights, minlength=n_classes).astype(np.float64)
        total = float(share.sum())
        if total > 0:
            shares.append(share / total)
    return shares


def _l2_weight(objective: Any) -> float:
    """:math:`\\lambda`, the penalty's curvature on every parameter (0 when it has none).

    0 with an intercept: the penalty leaves the intercepts alone, so a rare
    class's intercept keeps its own curvature :math:`\\pi_a (1 - \\pi_a)`
    however strong the penalty (film label sets at ``C = 1e-3``, where
    :math:`\\lambda` hid the spread: plain CG took 288 Hessian products in 6
    Newton steps, 4.7 s; with the output blocks 18 products, 0.4 s).
    """
    if getattr(objective, "fit_intercept", False):
        return 0.0
    lam = objective.penalty_diag(objective.zeros())
    return float(lam) if lam is not None and not np.ndim(lam) else 0.0


def _spread(shares: list[np.ndarray], lam: float) -> float:
    r"""The spread :math:`\max h / \max(\min h, \lambda)`, :math:`h = \pi (1 - \pi)`,
    largest over ``shares``."""
    spread = 1.0
    for share in shares:
        h = share * (1 - share)
        low = max(float(h.min()), lam)
        if not low > 0:
            return float("inf")
        spread = max(spread, float(h.max()) / low)
    return spread


def _once(objective: Any, Y: np.ndarray, sw: np.ndarray,
          shares_of: Any) -> list[np.ndarray]:
    """``shares_of(Y, sw)``, computed once per data term (:meth:`DataTerm.memo`).

    The shares depend on ``y`` and the weights only, and a C path asks at every
    point over one data term. An objective without a data term computes them.
    """
    data = getattr(objective, "data", None)
    if data is None:
        return shares_of(Y, sw)
    return data.memo(f"class_shares:{shares_of.__name__}", lambda: shares_of(Y, sw))


def _sigmoid_shares(Y: np.ndarray, sw: np.ndarray, single: bool = False) -> list[np.ndarray]:
    r"""Shares of positives :math:`\pi_a` of ``k`` sigmoid outputs (weighted, and of rows):
    output ``a``'s block is about :math:`\pi_a (1 - \pi_a) \tilde\Sigma`.

    ``Y`` is ``(n, k)`` in [0, 1] (NaN: unknown, left out); weights per row or per entry.
    No shares (so no spread) for a single output, unless ``single``.
    """
    if Y.ndim != 2 or Y.size == 0 or (Y.shape[1] < 2 and not single):
        return []  # one output: nothing to spread
    if sw.ndim == 1 and sw.strides == (0,) and sw.size and sw[0] > 0 \
            and not np.isnan(Y).any():
        # Equal weights (a broadcast: no sample or class weights) and every label
        # known, the common case: both shares are the column means, one pass.
        share = Y.mean(axis=0)
        return [share, share]
    known = ~np.isnan(Y)
    Yk = np.where(known, Y, 0.0)
    shares = []
    for weights in (np.broadcast_to(sw if sw.ndim == 2 else sw[:, None], Y.shape), None):
        w = known if weights is None else weights * known
        total = w.sum(axis=0)
        if np.all(total > 0):
            shares.append((Yk * w).sum(axis=0) / total)
    return shares
