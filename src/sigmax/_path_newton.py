r"""Newton-CG for the softmax path points, preconditioned by the per-class Hessian blocks.

Along a path the expensive points are the weakly regularized ones: there the
softmax Hessian

.. math:: H = \frac1S \sum_i s_i (\mathrm{diag}(p_i) - p_i p_i^\top) \otimes
          \tilde x_i \tilde x_i^\top + \lambda I

is ill-conditioned and plain conjugate gradients need many Hessian-vector
products per Newton step (digits, 1437 x 64, K = 10: 44 at ``C = 0.005``
rising to 182 at ``C = 100``, tol 1e-7). Its ``K`` diagonal blocks
:math:`H_{aa} = \tilde X^\top \mathrm{diag}(s\, p_a (1 - p_a)) \tilde X / S +
\lambda I` hold the feature correlations of each class, and the off-diagonal
blocks :math:`-\tilde X^\top \mathrm{diag}(s\, p_a p_c) \tilde X` are small
where the model is confident: CG preconditioned by the block-diagonal part
took 12-35 products per point on the same path (162 instead of 725 with the
blocks at every point; as the path uses them, from the fifth point on, 22-36
per point there instead of 99-182).

Building the blocks costs :math:`\sum_a m_a D^2` (``D = d + 1``), where
``m_a`` counts the rows that carry class ``a``'s curvature: rows with
:math:`h_{ia} = s_i p_{ia}(1 - p_{ia})` below 5% of the class's mean
:math:`\bar h_a` are left out (together at most 5% of the block's weight, so
the preconditioner stays close; CG stays exact whatever it is). A confident
model keeps few rows per class (many_classes, K = 100: about 5% of the
``(row, class)`` pairs from ``C = 0.7`` on). At ``w = 0`` every class has the
same weights and the blocks are one Gram matrix. :func:`block_cost`
expresses the build in Hessian-vector products (``2 n D K`` multiply-adds
each), and the path uses this solver at a point only where the previous
point's plain CG products were at least twice that cost
(:class:`sigmax._path_fitter.PathFitter`).

The symmetric softmax has flat directions (a constant added to a parameter
row): as in Newton-CG's Jacobi mode, the row means of the step are solved in
closed form (``_RowMeans``) and CG runs on rows that sum to zero with the
projected preconditioner :math:`P M^{-1} P`.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .numerics import softmax
from .solvers.compiled_cg import kernel_args_blocks, kernel_args_cholesky
from .solvers.newton import NewtonCG, _RowMeans

__all__ = ["BlockNewtonCG", "applies", "block_cost", "curvature_weights"]

#: Rows whose curvature weight for a class is below this share of the class's
#: mean weight are left out of that class's block (at most this share of it).
KEEP_SHARE = 0.05
#: Rows of ``X`` per product when the probabilities are formed (bounds memory).
_ROWS = 8192


def applies(objective: Any) -> bool:
    """True for the symmetric softmax (``K >= 3``) on dense ``X`` with per-row weights and
    an isotropic (L2) penalty."""
    loss = objective.loss
    if not getattr(loss, "softmax_hessian", False) or getattr(loss, "reference", False):
        return False
    if not isinstance(objective.X, np.ndarray) or objective.k < 3 \
            or np.ndim(objective.weights) != 1:
        return False
    diag = objective.penalty_diag(objective.zeros())
    return objective.penalty_term.smooth and (diag is None or np.ndim(diag) == 0)


def curvature_weights(objective: Any, w: np.ndarray) -> np.ndarray:
    r""":math:`h_{ia} = s_i p_{ia} (1 - p_{ia})` at ``w``, shape (n, k), float64 (one pass)."""
    X = objective.X
    W, b = objective.unpack(w)
    sw = np.broadcast_to(np.asarray(objective.weights, dtype=np.float64), (X.shape[0],))
    h = np.empty((X.shape[0], objective.k))
    for lo in range(0, X.shape[0], _ROWS):
        Z = np.asarray(X[lo:lo + _ROWS] @ W, dtype=np.float64)
        if b is not None:
            Z += b
        P = softmax(Z, axis=1)
        h[lo:lo + _ROWS] = P * (1.0 - P) * sw[lo:lo + _ROWS, None]
    return h


def _kept(h: np.ndarray) -> np.ndarray:
    """Boolean (n, k): the (row, class) pairs that enter the blocks."""
    return h >= KEEP_SHARE * h.mean(axis=0)


def block_cost(objective: Any, h: np.ndarray) -> float:
    """Cost of building and inverting the blocks from ``h``, in Hessian-vector products.

    A product costs ``2 n D k`` multiply-adds; the blocks ``pairs * D^2`` and
    their ``k`` inverses ``k D^3``, counted three times: ``k`` small inverses
    run far below the products' speed (many_classes at 6% of its rows, K = 100,
    D = 201: the inverses alone took about 20 products' time).
    """
    D, k, n = objective.n_rows, objective.k, objective.n_samples
    pairs = float(np.count_nonzero(_kept(h))) if np.ptp(h, axis=0).max() > 0 else n
    return pairs * D * D / (2.0 * n * D * k) + 3.0 * D * D / (2.0 * n)


def _block_hessians(objective: Any, w: np.ndarray, h: np.ndarray,
                    dtype: type = np.float32) -> np.ndarray:
    """:math:`H_{aa}` for every class, float64 (k, D, D), from the kept rows of ``h``.

    The Gram products in ``dtype``: float32 by default (a preconditioner needs
    a few digits; CG stays exact whatever it is); the build's time in
    ``python benchmarks/compiled_cg.py``.
    """
    X, d, k, D = objective.X, objective.n_features, objective.k, objective.n_rows
    H = np.zeros((k, D, D))

    def gram(rows: np.ndarray | slice, weight: np.ndarray) -> np.ndarray:
        R = np.empty((weight.shape[0], D), dtype=dtype)
        R[:, :d] = X[rows]
        if objective.fit_intercept:
            R[:, d] = 1.0
        R *= np.sqrt(weight).astype(dtype)[:, None]
        return R.T @ R

    if np.ptp(h, axis=0).max() == 0:  # w = 0: every class has the same weights
        H[:] = gram(slice(None), h[:, 0])
    else:
        keep = _kept(h)
        for a in range(k):
            rows = np.flatnonzero(keep[:, a])
            H[a] = gram(rows, h[rows, a])
    H *= objective.scale
    lam = objective.penalty_diag(w)
    idx = np.arange(d)
    if lam is not None:
        H[:, idx, idx] += float(lam)
    # A block without curvature in some direction (a constant feature, an
    # unpenalized intercept of a class nobody has): a ridge relative to the block.
    idx = np.arange(D)
    H[:, idx, idx] += 1e-10 * np.maximum(H[:, idx, idx].mean(axis=1, keepdims=True), 1e-300)
    return H


def _factor_blocks(objective: Any, w: np.ndarray, h: np.ndarray) -> _Blocks:
    """The preconditioner of the blocks at ``w``: their Cholesky factors, else inverses.

    Factors cost a fraction of the inverses (ten 65 x 65 blocks on a digits
    fold: ``python benchmarks/compiled_cg.py``) and apply in the same work
    (two triangular solves per block in the compiled CG). Where float32 Grams leave a block
    numerically indefinite they are formed again in float64; a block that
    is still not positive definite falls back to the inverses.
    """
    for dtype in (np.float32, np.float64):
        H = _block_hessians(objective, w, h, dtype)
        try:
            return _Blocks(objective.n_rows, objective.k, chol=np.linalg.cholesky(H))
        except np.linalg.LinAlgError:
            continue
    return _Blocks(objective.n_rows, objective.k, inv=np.linalg.inv(H))


class BlockNewtonCG(NewtonCG):
    """Newton-CG whose CG is preconditioned by the per-class Hessian blocks (module docstring).

    The blocks are built at the solve's starting point, from ``h`` when given
    (the caller's :func:`curvature_weights` there), and rebuilt at a later
    iterate only when the last CG took at least twice the products a build
    costs: a warm start lies next to the optimum, where the weights hardly
    change, while a cold start moves far. Not in
    :data:`~sigmax.solvers.SOLVERS`: the path uses it where :func:`applies`
    and the cost rule say so. Its results name themselves ``"newton-cg"``.
    """

    def __init__(self, h: np.ndarray | None = None) -> None:
        self._h = h

    def solve(self, objective, w0, *, tol, max_iter, verbose=0):
        solver = copy.copy(self)  # the blocks of this solve live on its own copy
        solver._pre = None
        solver._cg_steps, solver._cost = 0, np.inf
        return NewtonCG.solve(solver, objective, w0, tol=tol, max_iter=max_iter,
                              verbose=verbose)

    def preconditioner(self, objective, w):
        """The per-class blocks (built or reused, see the class docstring), or NewtonCG's own."""
        if _RowMeans.of(objective, w) is None:
            return super().preconditioner(objective, w)
        if self._pre is None or self._cg_steps >= 2 * self._cost:
            # First step, or the blocks went stale (the last CG took more products
            # than two rebuilds would cost): build them at this iterate.
            h = self._h if self._pre is None and self._h is not None \
                else curvature_weights(objective, w)
            self._pre = _factor_blocks(objective, w, h)
            self._cost = block_cost(objective, h)
        return self._pre


class _Blocks:
    """``M^{-1} r`` by the per-class blocks: NewtonCG's preconditioner interface.

    Holds the blocks' lower Cholesky factors ``chol`` (k, D, D), or their
    inverses ``inv`` where a block had no factor. The compiled CG applies the
    factors by triangular solves; :meth:`apply` (the Python iteration, on
    ``X`` of several blocks) forms the inverses once from them.
    """

    def __init__(self, n_rows: int, k: int, chol: np.ndarray | None = None,
                 inv: np.ndarray | None = None) -> None:
        self.n_rows, self.k, self.chol, self._inv = n_rows, k, chol, inv

    @property
    def inv(self) -> np.ndarray:
        """The inverse blocks (k, D, D), formed from the factors on first use."""
        if self._inv is None:
            L = self.chol
            Linv = np.linalg.inv(L)
            self._inv = np.matmul(Linv.transpose(0, 2, 1), Linv)
        return self._inv

    def apply(self, r: np.ndarray, out: np.ndarray) -> np.ndarray:
        # One batched product: block a times column a of the (D, k) layout. NewtonCG
        # centers the result (the symmetric softmax's row means are solved apart).
        Z = np.matmul(self.inv, r.reshape(self.n_rows, self.k).T[:, :, None])[:, :, 0].T
        out.reshape(self.n_rows, self.k)[...] = Z
        return out

    def kernel_args(self) -> tuple[int, np.ndarray, np.ndarray]:
        """These blocks as arrays of the compiled CG (:mod:`sigmax.solvers.compiled_cg`)."""
        if self.chol is not None and self._inv is None:
            return kernel_args_cholesky(self.chol)
        return kernel_args_blocks(self.inv)
