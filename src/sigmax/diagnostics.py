r"""Measured facts about a fitted linear classifier: derivatives, minima, equivalences.

Reusable functions behind the ``derivatives``, ``minima`` and ``K=2`` sections
of ``sigmax compare``; each works on plain arrays or on the
:class:`~sigmax.objective.LinearObjective` an estimator minimizes.

- :func:`objective_for`, :func:`params_of`: the exact objective an estimator
  minimizes on ``(X, y)`` and its fitted point in the objective's flat layout.
- :func:`check_derivatives`: central finite differences against the analytic
  gradient and Hessian-vector product.
- :func:`flat_directions`: the Hessian spectrum at a point and the dimension
  of its null space, split into coefficient and intercept directions, with
  the change of the predictions along it.
- :func:`random_starts`: solve from several random points; compare the
  solutions reached.
- :func:`separation`: whether the data are separated (complete or
  quasi-complete), i.e. whether the unpenalized model has no finite minimum,
  decided exactly by a linear program.
- :func:`k2_equivalence`: two-class softmax against logistic regression;
  :func:`k2_unpenalized`: the same without a penalty, where a minimum exists.
- :func:`full_rank_columns`: a subset of columns on which ``[X, 1]`` has full
  column rank (pivoted QR).

Conventions
-----------
Parameters are flat vectors in the layout of
:class:`~sigmax.objective.LinearObjective`: the C-order ravel of ``P`` of
shape ``(d + 1, k)``, coefficients in ``P[:d]`` and intercepts in ``P[d]``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from sklearn.base import clone

from .estimators import (
    LinearClassifierBase,
    LogisticRegression,
    OneVsRestLogistic,
    SeparableWarning,
    SoftmaxRegression,
)
from .objective import LinearObjective
from .solvers import SOLVERS

__all__ = [
    "check_derivatives",
    "flat_directions",
    "full_rank_columns",
    "k2_equivalence",
    "k2_unpenalized",
    "objective_for",
    "params_of",
    "random_starts",
    "separation",
]


# -- the objective of an estimator ---------------------------------------------------------
def objective_for(estimator: LinearClassifierBase, X: Any, y: Any,
                  sample_weight: Any = None) -> LinearObjective:
    """The objective ``estimator.fit(X, y)`` minimizes, built the same way ``fit`` builds it.

    Parameters
    ----------
    estimator : LinearClassifierBase
        Fitted or not; it is cloned, never modified.
    X : array-like of shape (n, d)
    y : array-like
        Targets as ``fit`` takes them.
    sample_weight : array-like of shape (n,), optional

    Returns
    -------
    LinearObjective
    """
    est = clone(estimator)
    est._validate_params()
    Xc = est._check_X(X, reset=True)
    Y, classes, k = est._encode_targets(y, n_samples=Xc.shape[0])
    est.classes_ = classes
    sw = (np.ones(Xc.shape[0]) if sample_weight is None
          else np.asarray(sample_weight, dtype=np.float64))
    cw = est._sample_class_weights(Y)
    weights = sw if cw is None else (cw * (sw if cw.ndim == 1 else sw[:, None]))
    return LinearObjective(est._loss(), Xc, Y, weights, k, C=float(est.C),
                           penalty=est._effective_penalty(), fit_intercept=est.fit_intercept)


def params_of(estimator: LinearClassifierBase, objective: LinearObjective) -> np.ndarray:
    """Flat parameters of a fitted ``estimator`` in ``objective``'s layout."""
    W = estimator._coef_matrix()
    if W.shape != (objective.n_features, objective.k):
        raise ValueError(f"The estimator has coefficients of shape {W.shape} but the objective "
                         f"expects {(objective.n_features, objective.k)}.")
    return estimator._pack(objective)


def _coef_intercept(objective: LinearObjective, w: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    W, b = objective.unpack(w)
    return W, (np.zeros(objective.k) if b is None else b)


def _proba(objective: LinearObjective, w: np.ndarray) -> np.ndarray:
    return objective.loss.predict_proba(objective.logits(w).astype(np.float64))


# -- derivatives -----------------------------------------------------------------------------
def check_derivatives(objective: LinearObjective, w: np.ndarray, *, n_directions: int = 8,
                      random_state: int | np.random.Generator | None = 0,
                      full_hessian_max_params: int = 1500) -> dict[str, Any]:
    r"""Compare the analytic gradient and Hessian-vector product with central differences.

    Along ``n_directions`` random unit directions :math:`v`:

    - gradient: :math:`\frac{f(w + hv) - f(w - hv)}{2h}` against :math:`\nabla f(w)^\top v`;
    - Hessian: :math:`\frac{\nabla f(w + hv) - \nabla f(w - hv)}{2h}` against
      ``hessp(w, v)`` (relative error in the 2-norm);

    and, when the parameter count is at most ``full_hessian_max_params``, the
    full Hessian times :math:`v` against ``hessp``. The step
    :math:`h = \epsilon^{1/3} \max(1, \|w\|)` balances the :math:`O(h^2)`
    truncation error against the :math:`O(\epsilon/h)` rounding error, so
    relative errors of about 1e-8 to 1e-10 mean the derivatives are right;
    a wrong derivative gives errors of order 1.

    Parameters
    ----------
    objective : LinearObjective
        Its smooth part is checked (L1 penalties are not differentiable).
    w : ndarray of shape (n_params,)
        Where to check. Not at an optimum: there the gradient is about 0 and
        a relative error is meaningless.
    n_directions : int
    random_state : int, Generator or None
    full_hessian_max_params : int

    Returns
    -------
    dict
        ``n_directions``, ``step``, ``grad_rel_errors`` (list),
        ``grad_max_rel_error``, ``hessp_rel_errors`` (list),
        ``hessp_max_rel_error``, ``hessian_vs_hessp_max_rel_error`` (``None``
        when skipped), ``n_params``, ``n_rows``.
    """
    rng = np.random.default_rng(random_state)
    w = np.asarray(w, dtype=np.float64)
    h = float(np.finfo(np.float64).eps ** (1 / 3) * max(1.0, np.linalg.norm(w)))
    f0, g0 = objective.value_and_grad(w)
    grad_err, hess_err, full_err = [], [], []
    H = objective.hessian(w) if objective.n_params <= full_hessian_max_params else None
    tiny = np.finfo(np.float64).tiny
    for _ in range(n_directions):
        v = rng.standard_normal(objective.n_params)
        v /= np.linalg.norm(v)
        fp, gp = objective.value_and_grad(w + h * v)
        fm, gm = objective.value_and_grad(w - h * v)
        fd = (fp - fm) / (2 * h)
        an = float(g0 @ v)
        grad_err.append(abs(fd - an) / max(abs(fd), abs(an), tiny))
        hv = objective.hessp(w, v)
        fd_h = (gp - gm) / (2 * h)
        hess_err.append(float(np.linalg.norm(fd_h - hv)
                              / max(np.linalg.norm(fd_h), np.linalg.norm(hv), tiny)))
        if H is not None:
            Hv = H @ v
            full_err.append(float(np.linalg.norm(Hv - hv)
                                  / max(np.linalg.norm(Hv), np.linalg.norm(hv), tiny)))
    return {
        "n_directions": int(n_directions),
        "step": h,
        "objective": float(f0),
        "grad_rel_errors": grad_err,
        "grad_max_rel_error": float(max(grad_err)),
        "hessp_rel_errors": hess_err,
        "hessp_max_rel_error": float(max(hess_err)),
        "hessian_vs_hessp_max_rel_error": float(max(full_err)) if full_err else None,
        "n_params": int(objective.n_params),
        "n_rows": int(objective.n_samples),
    }


# -- minima ------------------------------------------------------------------------------------
def flat_directions(objective: LinearObjective, w: np.ndarray, *, rtol: float = 1e-8,
                    step: float = 1.0) -> dict[str, Any]:
    r"""Hessian spectrum at ``w`` and the flat directions (null space) it reveals.

    An eigenvalue :math:`\lambda \le` ``rtol`` :math:`\cdot \lambda_\max` counts
    as zero. At a minimum of a convex objective the null space of the
    Hessian is the set of directions along which the objective stays flat to
    second order; for these linear models it is exactly flat (the loss only
    sees logit differences, or a column is redundant), so every point of
    :math:`w + \mathrm{null}(H)` is a minimum.

    The null space is split into

    - ``n_flat_coef``: the dimension of its projection on the coefficient
      block (directions that change the coefficients ``W``), and
    - ``n_flat_intercept``: the directions that move only intercepts (for a
      symmetric softmax with an unpenalized intercept: the common shift
      :math:`b \to b + c\mathbf 1`),

    so ``n_flat = n_flat_coef + n_flat_intercept``. Along each null direction
    the function steps ``step`` (in parameter norm) and reports the largest
    change of a predicted probability and of the objective: both at rounding
    level when the direction changes no prediction.

    Parameters
    ----------
    objective : LinearObjective
    w : ndarray of shape (n_params,)
        Usually the minimizer.
    rtol : float
        Relative threshold for a zero eigenvalue.
    step : float
        Length of the move along each null direction.

    Returns
    -------
    dict
        ``eigenvalues`` (ascending list), ``threshold``, ``n_params``,
        ``n_flat``, ``n_flat_coef``, ``n_flat_intercept``,
        ``smallest_nonzero_eigenvalue``, ``largest_eigenvalue``,
        ``largest_zero_eigenvalue`` (``None`` when no flat direction),
        ``condition_number`` (of the non-flat part), ``spectral_gap`` (smallest
        nonzero over largest zero eigenvalue, ``None`` when no flat
        direction), ``max_prob_change``, ``max_objective_change`` (along the
        null directions, ``0`` when there are none), ``null_basis`` (ndarray,
        columns; not JSON: drop it before storing).
    """
    w = np.asarray(w, dtype=np.float64)
    H = objective.hessian(w)
    H = 0.5 * (H + H.T)
    evals, evecs = la.eigh(H)
    lam_max = float(max(evals[-1], 0.0))
    thr = rtol * lam_max
    null = evals <= thr
    N = evecs[:, null]
    m = int(null.sum())
    d, k = objective.n_features, objective.k
    if m:
        coef_part = N.reshape(objective.n_rows, k, m)[:d].reshape(d * k, m)
        n_coef = int(np.linalg.matrix_rank(coef_part, tol=1e-6)) if coef_part.size else 0
    else:
        n_coef = 0
    p0 = _proba(objective, w)
    f0 = objective.objective(w)
    dp, df = 0.0, 0.0
    for j in range(m):
        wj = w + step * N[:, j]
        dp = max(dp, float(np.max(np.abs(_proba(objective, wj) - p0))))
        df = max(df, abs(objective.objective(wj) - f0))
    nonzero = evals[~null]
    small = float(nonzero[0]) if nonzero.size else None
    zero_max = float(evals[null][-1]) if m else None
    return {
        "eigenvalues": evals.tolist(),
        "threshold": float(thr),
        "n_params": int(objective.n_params),
        "n_flat": m,
        "n_flat_coef": n_coef,
        "n_flat_intercept": m - n_coef,
        "smallest_nonzero_eigenvalue": small,
        "largest_eigenvalue": lam_max,
        "largest_zero_eigenvalue": zero_max,
        "condition_number": (lam_max / small) if small else None,
        "spectral_gap": (small / max(abs(zero_max), np.finfo(float).tiny)
                         if (m and small) else None),
        "max_prob_change": dp,
        "max_objective_change": float(df),
        "null_basis": N,
    }


def random_starts(objective: LinearObjective, *, n_starts: int = 4, scale: float = 1.0,
                  solver: str = "lbfgs", tol: float = 1e-9, max_iter: int = 2000,
                  random_state: int | np.random.Generator | None = 0) -> dict[str, Any]:
    r"""Minimize ``objective`` from random starts; how different are the minima reached?

    Each start draws every parameter from :math:`N(0, \text{scale}^2)` and
    calls ``SOLVERS[solver].solve``. A gradient method never moves along a
    flat direction (the gradient has no component there), so when the
    minimum is not unique each start keeps its own flat component: the
    coefficients differ while the objective and the predictions agree.

    Returns
    -------
    dict
        ``n_starts``, ``solver``, ``objectives`` (list), ``objective_spread``
        (max - min), ``coef_spread`` (largest distance between the coefficient
        matrices ``W`` of two starts, Frobenius norm), ``coef_norm`` (mean
        Frobenius norm of ``W``), ``centered_coef_spread`` (the same after
        subtracting from each row of ``W`` its mean over outputs: zero when
        the starts differ only by a softmax flat direction),
        ``intercept_spread``, ``centered_intercept_spread``,
        ``max_prob_diff`` (largest change of a predicted probability between
        starts), ``converged`` (list of bool), ``n_iter`` (list).
    """
    rng = np.random.default_rng(random_state)
    sol = SOLVERS[solver]
    objs, Ws, bs, Ps, conv, iters = [], [], [], [], [], []
    for _ in range(n_starts):
        w0 = rng.normal(0.0, scale, objective.n_params)
        res = sol.solve(objective, w0, tol=tol, max_iter=max_iter)
        W, b = _coef_intercept(objective, res.coef)
        objs.append(float(objective.objective(res.coef)))
        Ws.append(W.copy())
        bs.append(b.copy())
        Ps.append(_proba(objective, res.coef))
        conv.append(bool(res.converged))
        iters.append(int(res.n_iter))

    def spread(arrs: list[np.ndarray]) -> float:
        return float(max((np.linalg.norm(a - b) for i, a in enumerate(arrs)
                          for b in arrs[i + 1:]), default=0.0))

    return {
        "n_starts": int(n_starts),
        "solver": solver,
        "scale": float(scale),
        "objectives": objs,
        "objective_spread": float(max(objs) - min(objs)),
        "coef_spread": spread(Ws),
        "coef_norm": float(np.mean([np.linalg.norm(W) for W in Ws])),
        "centered_coef_spread": spread([W - W.mean(axis=1, keepdims=True) for W in Ws]),
        "intercept_spread": spread(bs),
        "centered_intercept_spread": spread([b - b.mean() for b in bs]),
        "max_prob_diff": float(max((np.max(np.abs(P - Ps[0])) for P in Ps[1:]), default=0.0)),
        "converged": conv,
        "n_iter": iters,
    }


# -- separation ------------------------------------------------------------------------------
def _design(X: Any) -> np.ndarray:
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    return np.hstack([X, np.ones((X.shape[0], 1))])


def separation(X: Any, y: np.ndarray, *, time_limit: float = 10.0,
               max_size: float = 2e7) -> dict[str, Any]:
    r"""Are the classes of ``y`` separated by a linear model on ``X`` (with intercept)?

    For the multinomial (and binomial) likelihood a finite minimizer exists
    (up to the softmax's flat directions) exactly when the classes overlap:
    when no direction :math:`V` gives every row a margin
    :math:`m_{ik} = z_{i y_i} - z_{ik} \ge 0` (:math:`k \ne y_i`) with at
    least one margin :math:`> 0`. Along such a direction the loss decreases
    forever (complete separation when every margin can be made positive,
    quasi-complete otherwise; Albert & Anderson 1984). The linear program

    .. math:: \max_V \sum_{i, k \ne y_i} m_{ik}(V) \quad\text{s.t.}\quad
              m_{ik}(V) \ge 0,\; -1 \le V \le 1

    has optimum 0 exactly when the classes overlap (Konis 2007), so its
    value decides. Solved with HiGHS (``scipy.optimize.linprog``).

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : ndarray of shape (n,)
        Class codes ``0..K-1`` (use one column of a multi-label problem, or
        "class k vs rest", for a sigmoid model).
    time_limit : float
        Seconds for the LP; past it the answer is ``None`` (undetermined).
    max_size : float
        Skip the LP (answer ``None``) when constraints x variables exceed this.

    Returns
    -------
    dict
        ``separated`` (True / False / None), ``kind`` (``"complete"``,
        ``"quasi-complete"``, or ``None`` when not separated or undecided),
        ``lp_value``, ``n_constraints``, ``n_variables``, ``seconds``,
        ``method`` (a sentence).
    """
    import time

    from scipy.optimize import linprog

    y = np.asarray(y, dtype=np.intp)
    K = int(y.max()) + 1
    classes = np.unique(y)
    if len(classes) < 2:
        return {"separated": True, "kind": "complete", "lp_value": None, "n_constraints": 0,
                "n_variables": 0, "seconds": 0.0, "method": "one class only: trivially separated"}
    # Decide from the sizes before allocating anything: every row gives one
    # constraint per class other than its own.
    D = X.shape[1] + 1
    n_cons, n_vars = len(y) * (len(classes) - 1), D * K
    if n_cons * n_vars > max_size:
        return {"separated": None, "kind": None, "lp_value": None, "n_constraints": n_cons,
                "n_variables": n_vars, "seconds": 0.0,
                "method": f"undecided (size limit): the linear program ({n_cons} constraints "
                          f"x {n_vars} variables) is too large to solve here"}
    Xt = _design(X)
    # Margin m_ik = x_i (v_{y_i} - v_k) for k != y_i; variables V (D, K) in C order.
    rows, cols, vals = [], [], []
    r = 0
    for k in classes:
        idx = np.flatnonzero(y != k)
        if idx.size == 0:
            continue
        nr = idx.size
        ri = np.repeat(np.arange(r, r + nr), D)
        j = np.tile(np.arange(D), nr)
        xv = Xt[idx].ravel()
        rows += [ri, ri]
        cols += [j * K + np.repeat(y[idx], D), j * K + k]
        vals += [xv, -xv]
        r += nr
    M = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(n_cons, n_vars))
    c = -np.asarray(M.sum(axis=0)).ravel()
    t0 = time.perf_counter()
    res = linprog(c, A_ub=-M, b_ub=np.zeros(n_cons), bounds=(-1, 1), method="highs",
                  options={"time_limit": float(time_limit)})
    seconds = time.perf_counter() - t0
    if res.status != 0:
        # scipy's status 1 is an iteration or time limit; the solver's own text
        # ("HiGHS Status 13 ...") means nothing to a reader of the report.
        why = (f"time limit of {time_limit:g} s" if res.status == 1
               else "the linear program could not be solved")
        return {"separated": None, "kind": None, "lp_value": None, "n_constraints": n_cons,
                "n_variables": n_vars, "seconds": seconds, "method": f"undecided ({why})"}
    value = float(-res.fun)
    # The objective scales with the data: compare with the size of the margins' coefficients.
    scale = float(np.abs(c).sum()) + 1.0
    separated = value > 1e-9 * scale
    kind = None
    if separated:
        # Complete separation: every margin can be made >= 1 (feasibility LP).
        left = max(0.1, float(time_limit) - seconds)
        feas = linprog(np.zeros(n_vars), A_ub=-M, b_ub=-np.ones(n_cons), bounds=(None, None),
                       method="highs", options={"time_limit": left})
        seconds = time.perf_counter() - t0
        kind = {0: "complete", 2: "quasi-complete"}.get(feas.status)
    return {"separated": bool(separated), "kind": kind, "lp_value": value,
            "n_constraints": n_cons, "n_variables": n_vars, "seconds": seconds,
            "method": ("linear program (HiGHS): max total margin over directions with no "
                       "negative margin; > 0 means separation (complete: every row can get a "
                       "positive margin; quasi-complete: some rows stay on the boundary)")}


def separates(logits: np.ndarray, y: np.ndarray) -> bool:
    """True when the logits put every row's true class strictly on top (a separation proof)."""
    Z = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(y))
    true = Z[rows, y].copy()
    Z = Z.copy()
    Z[rows, y] = -np.inf
    return bool(np.all(true > Z.max(axis=1)))


# -- rank --------------------------------------------------------------------------------------
def full_rank_columns(X: Any, max_features: int | None = None, rtol: float = 1e-8
                      ) -> list[int]:
    """Columns of ``X`` (in pivoted-QR order, most independent first) with ``[X, 1]`` full rank.

    The columns are centered first, so that a constant column (collinear with
    the intercept) is excluded.
    """
    A = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    A = A - A.mean(axis=0)
    norms = np.linalg.norm(A, axis=0)
    if not np.any(norms > 0):
        return []
    _, R, piv = la.qr(A, mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    r = int(np.sum(diag > rtol * diag[0]))
    cols = [int(c) for c in piv[:r]]
    return cols if max_features is None else cols[:max_features]


def design_dependencies(X: Any, names: Sequence[str] | None = None, *,
                        fit_intercept: bool = True, rtol: float = 1e-9,
                        max_rows: int = 20_000, seed: int = 0) -> dict[str, Any]:
    r"""Rank of the design and the columns that are linearly dependent, by name.

    The unpenalized likelihood of every model here depends on ``X`` only
    through :math:`X W + \mathbf 1 b^\top`: a vector :math:`v` with
    :math:`[X, \mathbf 1] v = 0` moves the coefficients without changing a
    logit, so each such dependency is a flat direction of *every* output (for
    logistic regression too, where the softmax's own flat direction does not
    exist). The classic case: all one-hot levels of a text column next to the
    intercept, :math:`\sum_\ell x_{\text{Home}=\ell} = 1`.

    The null space comes from the SVD of the column-scaled design (rows
    subsampled to ``max_rows`` when more, which can only hide a dependency
    that the dropped rows break, never invent one: the result says how many
    rows were used).

    Parameters
    ----------
    X : array-like of shape (n, d)
    names : sequence of str, optional
        Column names (``x0``, ``x1``... when omitted).
    fit_intercept : bool, default=True
        Append the intercept column (named ``"intercept"``).

    Returns
    -------
    dict
        ``rank``, ``n_columns``, ``deficiency`` (= n_columns - rank),
        ``dependencies`` (one list of column names per null vector, largest
        coefficients first), ``rows_used``, ``n_rows``.
    """
    A = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
    n, d = A.shape
    cols = [str(c) for c in names] if names is not None else [f"x{j}" for j in range(d)]
    if n > max_rows:
        A = A[np.random.default_rng(seed).choice(n, max_rows, replace=False)]
    if fit_intercept:
        A = np.hstack([A, np.ones((A.shape[0], 1))])
        cols = [*cols, "intercept"]
    # Scale columns to unit norm: a dependency is about directions, not units.
    norms = np.linalg.norm(A, axis=0)
    zero = norms == 0
    A = A / np.where(zero, 1.0, norms)
    # Vt must span all columns; U only needs to be full when rows < columns (it is then
    # small): a full U of 20,000 rows would be a 3.2 GB matrix.
    _, sv, Vt = la.svd(A, full_matrices=A.shape[0] < A.shape[1], lapack_driver="gesvd")
    sv = np.concatenate([sv, np.zeros(A.shape[1] - len(sv))])
    null = sv <= rtol * (sv[0] if len(sv) else 1.0)
    deps = []
    for v in Vt[null]:
        big = np.flatnonzero(np.abs(v) > 1e-6 * np.abs(v).max())
        order = big[np.argsort(-np.abs(v[big]))]
        deps.append([cols[j] for j in order])
    return {"rank": int((~null).sum()), "n_columns": len(cols), "deficiency": int(null.sum()),
            "dependencies": deps, "rows_used": int(A.shape[0]), "n_rows": int(n)}


def smallest_eigenvalues(objective: LinearObjective, w: np.ndarray, k: int = 6,
                         tol: float = 1e-9, seed: int = 0) -> np.ndarray:
    r"""The ``k`` smallest eigenvalues of the Hessian at ``w``, from Hessian-vector products.

    For parameter counts where the dense Hessian (``objective.hessian``) is too
    large. A block method (LOBPCG, with a block wider than ``k``) rather than
    single-vector Lanczos: the smallest eigenvalue of an unpenalized softmax is
    0 with multiplicity :math:`d + 1`, and a single Krylov sequence finds one
    copy of a repeated eigenvalue, which would undercount the flat directions.
    Returns them in ascending order.
    """
    from scipy.sparse.linalg import LinearOperator, lobpcg

    w = np.asarray(w, dtype=np.float64)
    p = int(objective.n_params)
    k = min(k, p)

    def matmat(V: np.ndarray) -> np.ndarray:
        V = np.asarray(V).reshape(p, -1)
        return np.column_stack([objective.hessp(w, V[:, j]) for j in range(V.shape[1])])

    H = LinearOperator((p, p), matvec=lambda v: matmat(v).ravel(), matmat=matmat,
                       dtype=np.float64)
    block = min(p, k + max(4, k // 2))
    if 5 * block >= p:  # LOBPCG needs a small block: assemble H column by column instead
        dense = matmat(np.eye(p))
        return la.eigvalsh(0.5 * (dense + dense.T))[:k]
    X0 = np.random.default_rng(seed).normal(size=(p, block))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "did not converge to tol": checked by the caller
        vals = lobpcg(H, X0, largest=False, tol=tol, maxiter=1000)[0]
    return np.sort(vals)[:k]


# -- K = 2 -----------------------------------------------------------------------------------
def k2_equivalence(X: Any, y: np.ndarray, *, C: float = 1.0, tol: float = 1e-10,
                   unpenalized: bool = True) -> dict[str, Any]:
    r"""Show numerically that two-class softmax is logistic regression.

    For two classes :math:`\mathrm{softmax}(z_0, z_1)_1 = \sigma(z_1 - z_0)`,
    so the softmax model with rows :math:`w_0, w_1` is the logistic model
    with :math:`w = w_1 - w_0`. With the L2 penalty the optimum has
    :math:`w_0 = -w_1` and the penalty
    :math:`\tfrac12(\|w_0\|^2 + \|w_1\|^2) = \tfrac14\|w\|^2`: softmax at
    ``C / 2`` is logistic at ``C``. Fits logistic at ``C`` and softmax at
    ``C / 2`` (and, as a control, softmax at ``C``), Newton-Cholesky to
    ``tol``.

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : ndarray of shape (n,)
        Two classes.
    C : float
        ``C`` of the logistic model.
    tol : float
        Solver tolerance (max-norm of the normalized gradient).
    unpenalized : bool
        Also compare the unpenalized fits, unless the classes are separated
        (then neither has a finite minimum).

    Returns
    -------
    dict
        ``C_logistic``, ``C_softmax``, ``max_abs_prob_diff``,
        ``max_abs_coef_diff`` (:math:`|w - (w_1 - w_0)|`),
        ``abs_intercept_diff``, ``max_abs_symmetry`` (:math:`|w_0 + w_1|`),
        ``same_C_max_abs_prob_diff`` (softmax at ``C``: the wrong mapping),
        ``ovr_max_abs_prob_diff`` (one-vs-rest with two classes at ``C``),
        ``unpenalized`` (dict with ``max_abs_prob_diff``, ``max_abs_coef_diff``,
        or ``skipped``), ``holds`` (all differences <= 1e-6).
    """
    kw = {"solver": "newton-cholesky", "tol": tol, "max_iter": 200}
    lr = LogisticRegression(C=C, **kw).fit(X, y)
    sm = SoftmaxRegression(C=C / 2, **kw).fit(X, y)
    sm_same = SoftmaxRegression(C=C, **kw).fit(X, y)
    ovr = OneVsRestLogistic(C=C, **kw).fit(X, y)
    p_lr = lr.predict_proba(X)
    v = sm.coef_[1] - sm.coef_[0]
    c = sm.intercept_[1] - sm.intercept_[0]
    out: dict[str, Any] = {
        "C_logistic": float(C),
        "C_softmax": float(C / 2),
        "n_rows": int(np.shape(X)[0]),
        "n_features": int(np.shape(X)[1]),
        "max_abs_prob_diff": float(np.max(np.abs(sm.predict_proba(X) - p_lr))),
        "max_abs_coef_diff": float(np.max(np.abs(lr.coef_[0] - v))),
        "abs_intercept_diff": float(abs(lr.intercept_[0] - c)),
        "max_abs_symmetry": float(np.max(np.abs(sm.coef_[0] + sm.coef_[1]))),
        "max_abs_coef": float(np.max(np.abs(lr.coef_))),
        "same_C_max_abs_prob_diff": float(np.max(np.abs(sm_same.predict_proba(X) - p_lr))),
        "ovr_max_abs_prob_diff": float(np.max(np.abs(ovr.predict_proba(X) - p_lr))),
    }
    if unpenalized:
        out["unpenalized"] = k2_unpenalized(X, y, tol=tol)
    diffs = [out["max_abs_prob_diff"], out["max_abs_coef_diff"], out["abs_intercept_diff"]]
    out["holds"] = bool(max(diffs) <= 1e-6)
    return out


def k2_unpenalized(X: Any, y: np.ndarray, *, tol: float = 1e-10, time_limit: float = 5.0,
                   max_size: float = 2e7) -> dict[str, Any]:
    r"""Unpenalized logistic against unpenalized two-class softmax, when both have a minimum.

    Without a penalty there is no C to map: the two models must give the
    same probabilities, and :math:`w = w_1 - w_0`, wherever a finite minimum
    exists, i.e. when the classes are not separated (decided by
    :func:`separation`, within ``time_limit`` seconds and ``max_size``).

    Parameters
    ----------
    X : array-like of shape (n, d)
    y : ndarray of shape (n,)
        Two classes.
    tol : float
        Solver tolerance (Newton-Cholesky).
    time_limit, max_size : float
        Passed to :func:`separation`.

    Returns
    -------
    dict
        ``max_abs_prob_diff`` and ``max_abs_coef_diff`` when compared, else
        ``skipped`` (why, in words).
    """
    sep = separation(X, np.unique(y, return_inverse=True)[1], time_limit=time_limit,
                     max_size=max_size)
    if sep["separated"] is not False:
        return {"skipped": (
            f"the two classes are linearly separated ({sep['kind'] or 'undetermined'} "
            "separation): without a penalty neither model has a finite minimum"
            if sep["separated"] else
            f"separation could not be decided ({sep['method']})")}
    kw0 = {"solver": "newton-cholesky", "tol": tol, "max_iter": 200, "penalty": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeparableWarning)
        lr0 = LogisticRegression(**kw0).fit(X, y)
        sm0 = SoftmaxRegression(**kw0).fit(X, y)
    return {
        "max_abs_prob_diff": float(np.max(np.abs(sm0.predict_proba(X)
                                                 - lr0.predict_proba(X)))),
        "max_abs_coef_diff": float(np.max(np.abs(lr0.coef_[0]
                                                 - (sm0.coef_[1] - sm0.coef_[0])))),
    }
