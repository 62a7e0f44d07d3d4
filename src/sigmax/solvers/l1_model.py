r"""The L1 model of proximal Newton: the step minimizing a quadratic plus a weighted L1 norm.

.. math:: q(d) = g^\top d + \tfrac12 d^\top H d + \sum_j \lambda_j |w_j + d_j|

by the feature-sign search (:func:`l1_quadratic`: small Cholesky solves on
the entries that are free under a guess of their signs). ``H`` must be
positive semi-definite to its last digits: proximal Newton builds it in
float64, because float32 grams leave the flat direction of collinear columns
(every level of a one-hot column next to the intercept) slightly indefinite,
and the solves then run off along it (``benchmarks/proximal_newton_inner.py``).
Where not one sign step moves from ``d = 0``, the step comes from coordinate
descent on the model instead (:func:`_coordinate_descent`).
"""

from __future__ import annotations

import numpy as np

from ._linalg import jacobi_scaled, solve_scaled

__all__ = ["l1_quadratic"]

#: Sweeps of :func:`_coordinate_descent`, the model's fallback step.
CD_SWEEPS = 10


def _model_values(Dm: np.ndarray, g: np.ndarray, H: np.ndarray, lam: np.ndarray,
                  w: np.ndarray) -> np.ndarray:
    """``q(d) = g.d + d.H d / 2 + lam.|w + d|`` for each row ``d`` of ``Dm``."""
    return Dm @ g + 0.5 * ((Dm @ H) * Dm).sum(axis=1) + np.abs(w + Dm) @ lam


def l1_quadratic(H: np.ndarray, g: np.ndarray, lam: np.ndarray, w: np.ndarray, *,
                 tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    r"""The step ``d`` minimizing :math:`q(d) = g^\top d + \tfrac12 d^\top H d + \sum_j
    \lambda_j |w_j + d_j|`, started at ``d = 0``.

    The feature-sign search of Lee, Battle, Raina & Ng (2007), an active-set
    method on :math:`u = w + d`: guess the signs of the nonzero entries of
    ``u`` (kept, or opposite to the gradient for a zero entry whose gradient
    exceeds its :math:`\lambda_j`), solve the smooth quadratic on those
    entries exactly (one small Cholesky solve), then keep the best point of
    the segment towards that solution among the points where an entry
    crosses zero (that entry becomes an exact zero). Every step lowers ``q``,
    and at most as many sign patterns as there are can be visited, so it ends
    at the exact minimizer; warm-started near the solution it needs one or
    two solves. The unknown is the step ``d``, not ``u``: the gradient
    :math:`g + H d` then has no cancellation (``H w`` is never formed), which
    keeps Newton's last digits. ``H`` must be positive semi-definite with
    ``g`` in its range.

    Returns the step and the number of solves. Stops when the largest
    minimum-norm subgradient of ``q`` is ``<= tol`` or after ``max_iter`` solves.
    """
    d = np.zeros_like(w)
    pen = lam > 0
    S, scale = jacobi_scaled(H)
    q_d = float(np.abs(w) @ lam)
    solves = 0
    while solves < max_iter:
        u = w + d
        grad = g + H @ d
        sign = np.sign(u)
        zero = pen & (sign == 0)
        # Minimum-norm subgradient, split: free entries |grad + lam sign(u)|,
        # zero entries max(|grad| - lam, 0) (their violation).
        free_res = np.abs(grad + lam * sign)
        free_res[zero] = 0.0
        viol = np.maximum(np.abs(grad) - lam, 0.0)
        viol[~zero] = 0.0
        worst_free, worst_zero = float(free_res.max()), float(viol.max())
        if max(worst_free, worst_zero) <= tol:
            break
        # While the free entries are not optimal, optimize them first; else
        # let zero entries with a violated condition enter: all at once, or
        # (when that gives no decrease: an entering entry may want the other
        # sign) the worst one alone, for which a decrease is guaranteed.
        # (A free step that cannot move means the free entries are optimal to
        # rounding: entering is tried next.)
        tries = []
        if worst_free > tol:
            tries.append(None)
        if worst_zero > 0:
            entering = viol > 0
            worst = np.zeros_like(zero)
            worst[int(np.argmax(viol))] = True
            if np.count_nonzero(entering) > 1:
                tries.append(entering)
            tries.append(worst)
        for enter in tries:
            solves += 1
            moved, d_new, q_new = _sign_step(H, S, scale, g, lam, pen, w, d, u, sign, q_d,
                                             grad, zero, enter)
            if moved:
                break
        if not moved:
            if solves == len(tries) and not np.any(d):
                # Not a single sign step moved from d = 0, far from the model's
                # optimum: see _coordinate_descent.
                return _coordinate_descent(H, g, lam, w), solves
            break  # no decrease left in floating point
        d, q_d = d_new, q_new
    return d, solves


def _coordinate_descent(H: np.ndarray, g: np.ndarray, lam: np.ndarray, w: np.ndarray,
                        sweeps: int = CD_SWEEPS) -> np.ndarray:
    r"""The model's step by cyclic coordinate descent from ``d = 0`` (glmnet's inner solver).

    Each entry in turn minimizes ``q`` exactly with the others held,
    :math:`u_j = S_{\lambda_j / H_{jj}}(u_j - \nabla_j q / H_{jj})`: every update
    lowers ``q``, whatever the conditioning of ``H``, and the step is a descent
    direction wherever ``d = 0`` is not the model's minimizer. The feature-sign
    search's solves on the free entries need that block's Cholesky factor to
    its last digits; on nearly collinear columns of very different scales
    (ggplot2's midwest as loaded: populations up to 5e6 next to their sum and
    percentages, L1 at C = 100) no sign step moved after 31 steps, and proximal
    Newton stopped 7% above the optimum; with this fallback it converges in 48
    (``python benchmarks/l1_auto.py [--former]``). ``sweeps`` passes over the
    entries, ``O(p)`` each.
    """
    d = np.zeros_like(w)
    grad = g.astype(np.float64, copy=True)  # g + H d
    diag = np.diagonal(H)
    for _ in range(sweeps):
        moved = 0.0
        for j in np.flatnonzero(diag > 0):
            h = diag[j]
            u = w[j] + d[j] - grad[j] / h
            u = np.sign(u) * max(abs(u) - lam[j] / h, 0.0)
            step = u - w[j] - d[j]
            if step:
                d[j] += step
                grad += step * H[:, j]
                moved = max(moved, abs(step) * np.sqrt(h))
        if not moved:
            break
    return d


def _sign_step(H, S, scale, g, lam, pen, w, d, u, sign, q_d, grad, zero, enter):
    """One feature-sign step of :func:`l1_quadratic`: ``(decreased, d_new, q(d_new))``.

    ``S`` and ``scale`` are the Jacobi-scaled ``H`` and its scale (:func:`jacobi_scaled`);
    ``enter`` marks the zero entries let in (``None``: none).
    """
    theta = sign
    act = ~zero
    if enter is not None:
        theta = sign.copy()
        theta[enter] = -np.sign(grad[enter])
        act |= enter
    # The minimizer over the free entries with these signs, as a step from d
    # (theta is 0 on unpenalized entries, where lam is 0 too).
    rhs = (grad + lam * theta) / scale
    if act.all():
        delta = -solve_scaled(S, rhs) / scale
    else:
        delta = np.zeros(d.size)
        # compress: the cheapest sub-matrix gather at these sizes (p ~ 30:
        # 1.7 us, np.ix_ 5.3 us; it runs a few times per outer step).
        delta[act] = -solve_scaled(S.compress(act, 0).compress(act, 1), rhs[act]) / scale[act]
    target = u + delta
    # Candidate points: the full step and every zero crossing of an entry
    # that is nonzero now (entering entries start at 0: no crossing).
    idx = np.flatnonzero(pen & ((sign * target < 0) | ((target == 0) & (sign != 0))))
    t_cross = u[idx] / (u[idx] - target[idx])
    inside = t_cross < 1
    idx, ts = idx[inside], t_cross[inside]
    Dm = np.empty((ts.size + 2, d.size))
    np.multiply(ts[:, None], delta, out=Dm[:-2])
    Dm[:-2] += d
    Dm[np.arange(idx.size), idx] = -w[idx]  # an entry at its crossing is an exact zero
    Dm[-2] = d + delta
    # One more candidate: the full step with every crossing entry at zero (the
    # orthant projection); often the lowest, it drops many entries in one solve.
    Dm[-1] = Dm[-2]
    Dm[-1, idx] = -w[idx]
    vals = _model_values(Dm, g, H, lam, w)
    best = int(np.argmin(vals))
    # A crossing right at u lowers q by less than its rounding, yet still
    # progresses: the entry leaves the free set.
    if float(vals[best]) < q_d or (best != idx.size and float(vals[best])
                                   <= q_d + 1e-13 * max(1.0, abs(q_d))):
        return True, Dm[best], float(vals[best])
    # No entry crosses zero and the entering ones take their guessed signs:
    # the full step is the exact minimizer of q on the closed orthant of
    # these signs, which holds the current point, so q
    # cannot rise, even where its decrease (about g^2/h near the optimum) is
    # below the rounding of q's value (dominated by lam.|u|). Taking it lets
    # proximal Newton finish its quadratic convergence (seen: an outer step
    # at a 2e-9 gradient with a model decrease of 1e-18 against q = 0.1).
    if idx.size == 0 and np.any(delta) and bool(np.all(theta[act] * target[act] >= 0)):
        return True, Dm[-2], min(q_d, float(vals[-2]))
    return False, d, q_d
