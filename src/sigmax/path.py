r"""Regularization paths: one model fitted at many ``C``, each fit warm-started.

:func:`regularization_path` fits a copy of a sigmax estimator (its parameters
kept) at every ``C`` of a grid, from the most regularized (smallest ``C``) to
the least, each fit starting from the previous solution: the optimum moves
little between neighbouring ``C``, so most fits take a few iterations.
Without screening, ``X`` is validated and the data term built once for the
whole path (:class:`sigmax._path_fitter.PathFitter`), and the solver is
chosen per point (Newton-CG where ``"auto"`` would pick L-BFGS; on the
softmax, block-preconditioned where plain CG gets expensive:
:mod:`sigmax._path_newton`).

Screening (L1 and elastic net)
------------------------------
The estimators minimize :math:`F_C(W) = C \sum_i s_i \ell_i(W) + r(W)` with
:math:`r(W) = \rho \|W\|_1 + \frac{1-\rho}{2}\|W\|_F^2`. Dividing by ``C``
gives glmnet's form :math:`L(W) + \lambda r(W)` with :math:`L = \sum_i s_i
\ell_i` and :math:`\lambda = 1/C`. Write :math:`c_j = \nabla_{W_j} L` for the
gradient of the data term in the coefficients of feature ``j`` (one entry per
output). Where :math:`W_j = 0` the optimality (KKT) condition is
:math:`\max_k |c_{jk}| \le \rho \lambda` (the L2 part has no gradient at 0).
glmnet's *sequential strong rule* assumes :math:`c_j` moves at most
:math:`\rho |\lambda - \lambda'|` between two path points, and so discards
feature ``j`` at the next point :math:`\lambda` when, at the previous solution
(:math:`\lambda'`),

.. math:: \max_k |c_{jk}(\lambda')| < \rho \, (2\lambda - \lambda').

The fit then runs on the kept columns only; afterwards the KKT condition is
checked on every discarded column, at the new solution (one product
:math:`X^\top R` over all columns), and violators (a gradient past
:math:`\rho\lambda` by more than the estimator's ``tol`` in its normalized
units) are added back and the fit repeated. The rule can be wrong; the check
makes the result exact. On a coarse grid (:math:`\lambda' > 1.5\lambda`, e.g.
scikit-learn's ten points over eight decades) the rule's bar is negative and
would keep every feature; there the bar is :math:`\rho\lambda/2` instead, a
working-set guess that the same KKT check keeps exact. The gradient at the
accepted solution is also the input of the rule at the next ``C``, so a path
costs one full product per ``C`` plus fits on few columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import _num_samples, check_array

from . import _parallel
from ._path_fitter import PathFitter
from .objective import LinearObjective
from .penalties import make_penalty
from .solvers import SOLVERS

__all__ = ["RegularizationPath", "regularization_path"]


@dataclass(frozen=True)
class RegularizationPath:
    """The fits of one model along a grid of ``C`` (arrays in the caller's order of ``Cs``).

    Attributes
    ----------
    Cs : ndarray of shape (n_Cs,)
    coefs : ndarray of shape (n_Cs, *coef_.shape)
        ``coef_`` of the model fitted at each ``C``.
    intercepts : ndarray of shape (n_Cs, *intercept_.shape)
    n_iter : ndarray of shape (n_Cs,)
        Solver iterations at each ``C`` (summed over the refits that screening
        needed).
    objective : ndarray of shape (n_Cs,)
        :math:`C \\sum_i s_i \\ell_i + r(W)` at each point, scikit-learn's scale
        (NaN for a model whose sample weights cannot be read from its hooks).
    n_active : ndarray of shape (n_Cs,)
        Feature columns the final fit at each ``C`` used (all of them without
        screening).
    n_violations : ndarray of shape (n_Cs,)
        Discarded features added back by the KKT check at each ``C``.
    """

    Cs: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    n_iter: np.ndarray
    objective: np.ndarray
    n_active: np.ndarray
    n_violations: np.ndarray


def _check_Cs(Cs: Any) -> np.ndarray:
    arr = np.asarray(Cs, dtype=np.float64).reshape(-1)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"Cs must be a non-empty list of finite positive floats; got {Cs!r}. "
                         "For example Cs=np.logspace(-4, 4, 10).")
    return arr


def _l1_weight(model: BaseEstimator) -> float:
    """:math:`\\rho`, the weight of the L1 norm in the model's penalty (0: smooth)."""
    penalty = getattr(model, "penalty", None)
    if penalty == "l1":
        return 1.0
    if penalty == "elasticnet":
        return float(getattr(model, "l1_ratio", 0.0) or 0.0)
    return 0.0


def _has_core_hooks(model: BaseEstimator) -> bool:
    """True for the single-loss estimators whose targets and weights the path can rebuild."""
    return (all(hasattr(model, h) for h in ("_encode_targets", "_sample_class_weights",
                                            "_loss", "_coef_matrix", "_intercept_vector"))
            and "heads" not in model.get_params())


class _DataTerm:
    """The data term :math:`L(W) = \\sum_i s_i \\ell_i` of ``model`` on ``(X, y)``.

    Rebuilt from the estimator's own hooks (target encoding, class weights,
    loss), so it is the same function its ``fit`` minimizes.
    """

    def __init__(self, model: BaseEstimator, X: Any, y: Any, sample_weight: Any,
                 offset: Any = None) -> None:
        # X is only read (as NumPy / CSR) when the gradient is asked for: screening.
        from .estimators._offset import check_offset, loss_offset

        helper = clone(model)
        n = _num_samples(X)
        Y, classes, k = helper._encode_targets(y, n_samples=n)
        helper.classes_ = classes
        # The offset in the loss's columns, as the estimator's fit adds it.
        self._offset = loss_offset(helper, check_offset(
            helper, offset, n, helper._n_coef_rows(len(classes))))
        sw = (np.ones(n) if sample_weight is None
              else np.asarray(sample_weight, dtype=np.float64).reshape(-1))
        cw = helper._sample_class_weights(Y)
        weights = sw if cw is None else cw * (sw if cw.ndim == 1 else sw[:, None])
        self.k = k
        self._args = (helper._loss(), X, Y, weights, k, bool(model.fit_intercept))
        self._objective: LinearObjective | None = None
        w = np.asarray(weights)
        #: Total weight S (as LinearObjective counts it): the estimators'
        #: normalized objective is F / (C S).
        self.total = float(w.sum(dtype=np.float64)) / (w.shape[1] if w.ndim == 2 else 1)

    @property
    def objective(self) -> LinearObjective:
        """The data term as an objective (no penalty), built on first use."""
        if self._objective is None:
            loss, X, Y, weights, k, fit_intercept = self._args
            self._objective = LinearObjective(loss, X, Y, weights, k, C=1.0,
                                              penalty=make_penalty("none"),
                                              fit_intercept=fit_intercept,
                                              offset=self._offset)
        return self._objective

    def gradient(self, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        """:math:`\\nabla_W L` of shape (d, k) at coefficients ``W`` (d, k), intercepts ``b``."""
        obj = self.objective
        P = np.zeros((obj.n_rows, obj.k))
        P[: obj.n_features] = W
        if obj.fit_intercept and b is not None:
            P[obj.n_features] = b
        _, grad = obj.value_and_grad(P.ravel())
        return grad.reshape(obj.n_rows, obj.k)[: obj.n_features] * self.total


def _warm_solver(model: BaseEstimator) -> str:
    """The solver for the warm-started points: Newton-CG where ``"auto"`` meets a smooth penalty.

    A warm start lands next to the new optimum, where Newton's steps converge
    quadratically; L-BFGS (what ``"auto"`` often picks from zero) restarts its
    curvature memory at every fit. Along ``np.logspace(-3, 2, 8)`` on a digits
    fold (239 x 64, K = 10) Newton-CG takes 4-6 iterations per point and 0.20 s
    for the path, L-BFGS 26-45 and 0.41 s; many_classes (666 x 200, K = 100):
    3.9 s against 5.2 s. An explicit solver is kept.
    """
    params = model.get_params()
    solver = params.get("solver", "auto")
    smooth = make_penalty(params.get("penalty"), params.get("l1_ratio")).smooth
    if solver == "auto" and smooth and "newton-cg" in SOLVERS:
        return "newton-cg"
    return solver


def _columns(X: Any, keep: np.ndarray) -> Any:
    return X[:, keep] if sp.issparse(X) else np.take(X, keep, axis=1)


def _widen(A: np.ndarray, keep: np.ndarray, d: int) -> np.ndarray:
    """``A`` (..., len(keep)) placed in columns ``keep`` of zeros (..., d)."""
    out = np.zeros((*A.shape[:-1], d), dtype=np.float64)
    out[..., keep] = A
    return out


def regularization_path(model: BaseEstimator, X: Any, y: Any, Cs: Sequence[float] | np.ndarray,
                        sample_weight: Any = None, *, screening: bool | str = "auto",
                        callback: Callable[[int, BaseEstimator], Any] | None = None,
                        start: tuple[np.ndarray, np.ndarray] | None = None,
                        offset: Any = None) -> RegularizationPath:
    """Fit ``model`` at every ``C`` in ``Cs``, most regularized first, each fit warm-started.

    Parameters
    ----------
    model : sigmax estimator
        Any sigmax estimator; its parameters are kept (a clone is fitted, with
        ``warm_start=True``), only ``C`` changes.
    X : array-like or sparse CSR of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
    Cs : sequence of float, shape (n_Cs,)
        Positive inverse penalty strengths, in any order.
    sample_weight : array-like of shape (n_samples,), optional
    screening : {'auto', True, False}, default='auto'
        Sequential strong rules with a KKT check (module docstring). ``'auto'``
        screens L1 / elastic-net models on NumPy or CSR ``X``.
    callback : callable ``(i, estimator)``, optional
        Called after the fit at ``Cs[i]`` with a fitted estimator over all
        features (do not modify it; it is reused for the next ``C``). A true
        return value stops the path there: the ``C`` values not reached have
        NaN coefficients, intercepts and objective and 0 iterations
        (early stopping on a held-out score, as the CV estimators'
        ``patience`` does).
    start : (coef, intercept), optional
        Warm start of the first (smallest) ``C``, in the estimator's ``coef_`` /
        ``intercept_`` shapes (e.g. another fold's solution there); default zero.
        Not used with screening.
    offset : array-like of shape (n_samples,) or (n_samples, K), optional
        Known logits passed to every fit (see the estimators' ``fit``); each
        point is then the estimator's own ``fit`` (warm-started).

    Returns
    -------
    RegularizationPath
        Coefficients, intercepts, iterations and objective values per ``C``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sigmax import LogisticRegression, regularization_path
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> path = regularization_path(LogisticRegression(penalty="l1"), X, y, [0.01, 0.1, 1.0])
    >>> path.coefs.shape
    (3, 1, 30)
    >>> [int(np.count_nonzero(c)) for c in path.coefs] == sorted(
    ...     int(np.count_nonzero(c)) for c in path.coefs)
    True
    """
    Cs_arr = _check_Cs(Cs)
    order = np.argsort(Cs_arr, kind="stable")  # small C (strong penalty) first
    est = clone(model).set_params(warm_start=True)
    rho = _l1_weight(model)
    core = _has_core_hooks(model)
    plain = isinstance(X, np.ndarray) or sp.issparse(X) or hasattr(X, "iloc") \
        or isinstance(X, list)
    if screening == "auto":
        screening = rho > 0 and core and plain
    if screening and not (rho > 0 and core):
        raise ValueError("screening=True needs a penalty with an L1 part (penalty='l1', or "
                         "'elasticnet' with l1_ratio > 0) on a sigmax estimator with one "
                         "loss; use screening=False.")
    if screening:
        X = check_array(X, accept_sparse="csr", dtype=(np.float64, np.float32))
    n = len(Cs_arr)
    coefs: list[Any] = [None] * n
    intercepts: list[Any] = [None] * n
    n_iter = np.zeros(n, dtype=np.int64)
    n_active = np.zeros(n, dtype=np.int64)
    n_viol = np.zeros(n, dtype=np.int64)
    objective = np.full(n, np.nan)
    total = np.nan  # S, the total sample weight (NaN: unknown for this model)
    fit_kw = {} if offset is None else {"offset": offset}
    if screening:
        term = _DataTerm(model, X, y, sample_weight, offset)
        total = term.total
        _screened(est, X, y, sample_weight, Cs_arr, order, rho, term, coefs, intercepts,
                  n_iter, n_active, n_viol, objective, callback, fit_kw)
    else:
        # One data term for the whole path (PathFitter); with an offset every point
        # is the estimator's own fit, which takes it.
        fitter = (PathFitter.build(est, X, y, sample_weight)
                  if core and plain and offset is None else None)
        if fitter is not None:
            total = fitter.weight_total
        elif core and plain:
            total = _DataTerm(model, X, y, sample_weight, offset).total
        if start is not None:
            if fitter is not None:
                fitter.start_from(*start)
            else:
                est.coef_, est.intercept_ = start
        for rank, i in enumerate(order):
            est.set_params(C=float(Cs_arr[i]))
            if fitter is not None:
                with _parallel.fit_scope():
                    fitter.fit(float(Cs_arr[i]))
            else:
                if rank > 0 or start is not None:
                    est.set_params(solver=_warm_solver(model))
                est.fit(X, y, sample_weight=sample_weight, **fit_kw)
            coefs[i] = np.array(est.coef_, dtype=np.float64)
            intercepts[i] = np.array(est.intercept_, dtype=np.float64)
            n_iter[i] = int(est.fit_record_.n_iter)
            objective[i] = float(est.fit_record_.objective)
            n_active[i] = est.n_features_in_
            if callback is not None and callback(int(i), est):
                break
    _fill_unreached(coefs, intercepts)
    # The fits report the normalized objective F / (C S); S is the total weight.
    objective = objective * Cs_arr * total
    return RegularizationPath(Cs=Cs_arr.copy(), coefs=np.stack(coefs),
                              intercepts=np.stack(intercepts), n_iter=n_iter,
                              objective=objective, n_active=n_active, n_violations=n_viol)


def _screened(est, X, y, sample_weight, Cs, order, rho, term, coefs, intercepts, n_iter,
              n_active, n_viol, objective, callback, fit_kw) -> None:
    """The path with sequential strong rules and KKT checks (module docstring)."""
    d = X.shape[1]
    # A discarded feature violates the KKT condition when its gradient passes
    # rho * lam by more than the fit's own stopping tolerance (normalized units,
    # the objective divided by C S: a gradient in L divided by S).
    slack = float(est.tol) * term.total
    # Gradient at W = 0, b = 0 stands in for the previous solution at the first
    # C (lam_prev = the lam at which it would be one: lam_max).
    grad = term.gradient(np.zeros((d, term.k)), np.zeros(term.k))
    score = np.abs(grad).max(axis=1)
    lam_prev = float(score.max()) / rho if score.max() > 0 else np.inf
    prev_coef = prev_int = None
    active_prev = np.zeros(d, dtype=bool)
    view = None
    for i in order:
        lam = 1.0 / float(Cs[i])
        # glmnet's rule; on a coarse grid (lam_prev > 1.5 lam) it discards
        # nothing, so there the bar is rho * lam / 2 (a working-set guess that
        # the KKT check below makes safe all the same).
        keep = (score >= rho * max(2 * lam - lam_prev, lam / 2)) | active_prev
        if not keep.any():
            keep[int(np.argmax(score))] = True  # a fit needs one column
        est.set_params(C=float(Cs[i]))
        total_iter = violations = 0
        while True:
            cols = np.flatnonzero(keep)
            if prev_coef is not None:
                est.coef_ = prev_coef[..., cols]
                est.intercept_ = prev_int
            est.fit(_columns(X, cols), y, sample_weight=sample_weight, **fit_kw)
            total_iter += int(est.fit_record_.n_iter)
            W = np.zeros((d, term.k))
            W[cols] = est._coef_matrix()
            grad = term.gradient(W, est._intercept_vector())
            score = np.abs(grad).max(axis=1)
            add = ~keep & (score > rho * lam + slack)
            full_coef = _widen(np.asarray(est.coef_, dtype=np.float64), cols, d)
            prev_coef, prev_int = full_coef, np.array(est.intercept_, dtype=np.float64)
            if not add.any():
                break
            violations += int(add.sum())
            keep |= add
        coefs[i], intercepts[i] = full_coef, prev_int.copy()
        objective[i] = float(est.fit_record_.objective)  # zero columns add nothing
        n_iter[i], n_active[i], n_viol[i] = total_iter, len(cols), violations
        active_prev = np.any(W != 0, axis=1)
        lam_prev = lam
        if callback is not None:
            view = _full_view(est, full_coef, d, view)
            if callback(int(i), view):
                return


def _fill_unreached(coefs: list[Any], intercepts: list[Any]) -> None:
    """NaN in place of the points a stopping callback left unfitted (in place)."""
    done = next((j for j, c in enumerate(coefs) if c is not None), None)
    if done is None:
        return
    for j, c in enumerate(coefs):
        if c is None:
            coefs[j] = np.full_like(coefs[done], np.nan)
            intercepts[j] = np.full_like(np.asarray(intercepts[done], dtype=np.float64),
                                         np.nan)


def _full_view(est: BaseEstimator, coef: np.ndarray, d: int,
               view: BaseEstimator | None) -> BaseEstimator:
    """A copy of the column-subset fit ``est`` that predicts from all ``d`` features."""
    if view is None:
        view = clone(est)
    for key, value in vars(est).items():
        if key.endswith("_") and not key.startswith("__"):
            setattr(view, key, value)
    view.coef_ = coef
    view.n_features_in_ = d
    return view
