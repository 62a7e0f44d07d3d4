r"""Standardized coordinates: first-order steps that do not see the units of the features.

A user's table comes in its own units: pixel intensities 0-16 next to
near-constant border pixels, a price in dollars next to a depth in percent.
In those units the Hessian's diagonal spreads over orders of magnitude and
the columns with a large mean are nearly collinear with the intercept;
L-BFGS, whose first steps are the gradient's, then crawls, and Newton-CG's
inner CG with it (``python benchmarks/badly_scaled.py``: scikit-learn's
digits as loaded, softmax at ``C = 1``, L-BFGS stopped at ``max_iter=1000``
1.6e-3 above the optimum). Standardizing ``X`` fixes that, but leaves the
model unchanged only when the penalty is changed along with it. So the
solvers standardize their own coordinates instead: with :math:`\mu_j` and
:math:`v_j` the (weighted) mean and variance of column ``j``, steps are taken
in ``u`` with

.. math:: W_{j\cdot} = s_j\, U_{j\cdot}, \qquad
          b = U_b - \sum_j \mu_j s_j\, U_{j\cdot}, \qquad
          s_j = (v_j + \lambda / \bar c)^{-1/2},

that is :math:`w = A u`: the logits :math:`X W + b = \sum_j (x_j - \mu_j)
s_j U_{j\cdot} + U_b` are those of standardized columns. The objective, its
gradient, the line search and the stopping test stay those of ``w`` (the
same optimum, the same tolerance); only L-BFGS's quasi-Newton model lives in
``u`` (gradient :math:`A^\top \nabla f`, step :math:`A\, d_u`),
Newton-CG's CG is preconditioned by :math:`A A^\top`, and FISTA's iterates
live in ``u`` where the penalty is separable (the L1 norm becomes
:math:`\lambda \sum_j s_j \|U_{j\cdot}\|_1`: the intercept, which carries the
centring, is not penalized; :mod:`sigmax.solvers.proximal`). Without an intercept
the columns are not centred (:math:`\mu = 0`, :math:`v_j` their second
moments). :math:`\lambda` is the L2 penalty's curvature per coefficient and
:math:`\bar c` the outputs' mean curvature :math:`\pi (1 - \pi)` at the
class shares: a coefficient's data curvature is about :math:`v_j \bar c`,
so a near-constant column is scaled up only until the penalty, not the
data, decides its curvature.

Statistics come from at most :data:`SAMPLE_ROWS` rows taken at a fixed
stride (a preconditioner needs the scales, not their last digit), and
L-BFGS and Newton-CG use the coordinates only where they change the
conditioning: the columns' :math:`v_j + \lambda / \bar c` spanning more
than :data:`SPREAD`, or a column mean over :data:`OFFSET` standard
deviations. Standardized data keeps their plain steps (the benchmark's
digits at 10% of its rows, whose few columns that are constant in the
sample do not count: ``benchmarks/badly_scaled.py``).

FISTA takes them on any spread (``always``: its iterations grow with any),
and on sparse ``X`` too (``sparse``), whose columns are scaled by their
second moments but not centred, which would make ``X`` dense: the map is
then diagonal (:func:`sparse_column_scales`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .conditioning import mean_curvature

_UNSET = object()

__all__ = ["IDENTITY", "OFFSET", "SAMPLE_ROWS", "SPREAD", "ColumnScales", "Identity",
           "Standardized", "badly_scaled", "column_scales", "sparse_column_scales"]

#: Rows (at most, at a fixed stride) from which the column statistics are taken.
SAMPLE_ROWS = 8192
#: Entries converted to float64 at a time while the statistics are taken.
CHUNK = 1 << 20
#: Spread of the columns' ``v_j + lambda / c_bar`` above which the coordinates
#: are standardized: standard deviations spanning a factor of 10 where the
#: penalty does not floor them. :func:`~sigmax.solvers.choose_solver` asks the
#: same rule (:func:`badly_scaled`).
SPREAD = 100.0
#: Column means beyond this many standard deviations make the column nearly
#: collinear with the intercept (curvature ratio about ``1 + (mu / sd)^2``).
OFFSET = 10.0


class Standardized:
    """The map :math:`w = A u` of the module docstring, for a ``(D, k)`` layout of ``w``.

    Parameters
    ----------
    scale : ndarray of shape (d,)
        :math:`s_j`.
    mean : ndarray of shape (d,) or None
        :math:`\\mu_j`; None: the columns are not centred (no intercept, or
        sparse ``X``, which centring would make dense), and the intercept row,
        if any, maps to itself.
    k : int
        Outputs (columns of the ``(D, k)`` parameter layout; ``D = d + 1``
        with an intercept row).
    """

    def __init__(self, scale: np.ndarray, mean: np.ndarray | None, k: int) -> None:
        self.scale, self.k = scale, k
        self.mean = mean
        self._ms = None if mean is None else mean * scale  # mu_j s_j

    @classmethod
    def of(cls, objective: Any, *, sparse: bool = False,
           always: bool = False) -> Standardized | None:
        """The coordinates for ``objective`` where its dense ``X`` is badly scaled, else None.

        NumPy ``X`` only (a device or chunked array keeps the plain steps);
        with ``sparse``, also SciPy sparse ``X``, whose columns are scaled
        but not centred (:func:`sparse_column_scales`: a diagonal map). With
        ``always``, wherever the statistics exist, badly scaled or not
        (FISTA, whose iterations grow with any spread; on columns
        standardized over the same rows the map is the identity). The
        statistics are measured once per objective (``solver="auto"`` asks,
        then the solver).
        """
        key = "_scales_sparse" if sparse and sp.issparse(getattr(objective, "X", None)) \
            else "_scales"
        cols = getattr(objective, key, _UNSET)
        if cols is _UNSET:
            cols = (sparse_column_scales if key == "_scales_sparse" else column_scales)(objective)
            try:
                setattr(objective, key, cols)
            except AttributeError:  # pragma: no cover - an objective with __slots__
                pass
        if cols is None or not (always or cols.spread > SPREAD or cols.offset > OFFSET):
            return None
        return cls(cols.scale, cols.mean, objective.k)

    def grad(self, g: np.ndarray) -> np.ndarray:
        r""":math:`A^\top g`: the gradient in ``u`` (``(n_params,)`` -> ``(n_params,)``)."""
        G = g.reshape(-1, self.k)
        d = self.scale.size
        out = np.empty_like(G)
        if self.mean is not None:
            np.subtract(G[:d], np.outer(self.mean, G[d]), out=out[:d])
            out[:d] *= self.scale[:, None]
        else:
            np.multiply(G[:d], self.scale[:, None], out=out[:d])
        out[d:] = G[d:]
        return out.reshape(-1)

    def point(self, w: np.ndarray) -> np.ndarray:
        r""":math:`A^{-1} w`: a point of ``w`` in ``u`` (``U_j = W_j / s_j``,
        :math:`U_b = b + \sum_j \mu_j W_j`)."""
        Wb = w.reshape(-1, self.k)
        d = self.scale.size
        out = np.empty_like(Wb, dtype=np.float64)
        np.divide(Wb[:d], self.scale[:, None], out=out[:d])
        out[d:] = Wb[d:]
        if self.mean is not None:
            out[d] += self.mean @ Wb[:d]
        return out.reshape(-1)

    def step(self, du: np.ndarray) -> np.ndarray:
        r""":math:`A\, d_u`: a step in ``u`` as a step in ``w``."""
        U = du.reshape(-1, self.k)
        d = self.scale.size
        out = np.empty_like(U)
        np.multiply(U[:d], self.scale[:, None], out=out[:d])
        out[d:] = U[d:]
        if self.mean is not None:
            out[d] -= self._ms @ U[:d]
        return out.reshape(-1)


class Identity:
    """The map :math:`w = u`: the plain steps, where :meth:`Standardized.of` gives None.

    Same methods as :class:`Standardized`, so a solver takes its steps
    through one map either way.
    """

    def grad(self, g: np.ndarray) -> np.ndarray:
        """``g`` itself."""
        return g

    def point(self, w: np.ndarray) -> np.ndarray:
        """A float copy of ``w``."""
        return np.array(w, dtype=float)

    def step(self, du: np.ndarray) -> np.ndarray:
        """``du`` itself."""
        return du


#: The plain steps' map (:class:`Identity`).
IDENTITY = Identity()


@dataclass(frozen=True)
class ColumnScales:
    r"""What :func:`column_scales` measures on the sampled rows of ``X``.

    Attributes
    ----------
    scale : ndarray of shape (d,)
        :math:`s_j = (v_j + \lambda / \bar c)^{-1/2}`.
    mean : ndarray of shape (d,) or None
        :math:`\mu_j` (None where the columns are not centred: no intercept,
        or sparse ``X``).
    spread : float
        Largest over smallest :math:`v_j + \lambda / \bar c`, over the
        columns not constant in the sample.
    offset : float
        Largest :math:`|\mu_j| / \sqrt{v_j}` over the same columns (0 where
        the columns are not centred).
    """

    scale: np.ndarray
    mean: np.ndarray | None
    spread: float
    offset: float


def column_scales(objective: Any) -> ColumnScales | None:
    """The column statistics behind :class:`Standardized`; None where ``X`` is not a
    dense NumPy array (or has no usable row)."""
    X = getattr(objective, "X", None)
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[0] < 2 or X.shape[1] == 0:
        return None
    sampled = _sampled_weights(objective, X.shape[0])
    if sampled is None:
        return None
    step, sw = sampled
    moments = _moments(X, step, sw, bool(objective.fit_intercept))
    if moments is None:
        return None
    return _scales(objective, *moments)


def sparse_column_scales(objective: Any) -> ColumnScales | None:
    """:func:`column_scales` for SciPy sparse ``X``: second moments, no centring.

    Centring would make ``X`` dense, so the map is diagonal (``mean`` None,
    ``offset`` 0): it evens out the columns' scales (a rare word next to a
    frequent one) but not their means' collinearity with the intercept.
    None where ``X`` is not sparse.
    """
    X = getattr(objective, "X", None)
    if not sp.issparse(X) or X.ndim != 2 or X.shape[0] < 2 or X.shape[1] == 0:
        return None
    sampled = _sampled_weights(objective, X.shape[0])
    if sampled is None:
        return None
    step, sw = sampled
    rows = sp.csr_matrix(X)[::step]
    second = np.asarray(rows.multiply(rows).T @ sw, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(second)):
        return None
    return _scales(objective, None, second)


def _sampled_weights(objective: Any, n: int) -> tuple[int, np.ndarray] | None:
    """The stride of the sampled rows and their sample weights (summing to 1)."""
    step = max(1, n // SAMPLE_ROWS)
    sw = np.asarray(getattr(objective, "weights", np.ones(n)))
    sw = (sw.mean(axis=1) if sw.ndim == 2 else sw)[::step].astype(np.float64)
    total = float(sw.sum())
    if not total > 0:
        return None
    return step, sw / total


def _scales(objective: Any, mean: np.ndarray | None, var: np.ndarray) -> ColumnScales | None:
    """The scales, spread and offset of columns with these means and variances."""
    h = var + _l2_curvature(objective) / mean_curvature(objective)
    # Columns constant in the sample do not count: centred, they carry
    # nothing (their variance is rounding, not data), and the penalty alone
    # holds their coefficients.
    seen = var > 1e-20 * (mean * mean if mean is not None else 0.0) + 1e-300
    if not np.any(seen):
        return None
    spread = float(h[seen].max() / h[seen].min())
    offset = 0.0 if mean is None else float(np.max(np.abs(mean[seen]) / np.sqrt(var[seen])))
    # A constant column without L2 has no curvature and no gradient in u;
    # any scale will do, the typical one is taken.
    scale = np.full(var.size, 1.0 / np.sqrt(np.median(h[seen])))
    live = h > 0
    scale[live] = 1.0 / np.sqrt(h[live])
    return ColumnScales(scale, mean, spread, offset)


def badly_scaled(objective: Any) -> bool:
    """Whether ``objective``'s dense ``X`` is badly scaled (:meth:`Standardized.of` applies)."""
    return Standardized.of(objective) is not None


def _l2_curvature(objective: Any) -> np.ndarray | float:
    """The penalty's curvature per feature (its smallest over the outputs), 0 without L2."""
    lam = objective.penalty_diag(objective.zeros())
    if lam is None:
        return 0.0
    lam = np.asarray(lam, dtype=np.float64)
    return lam.min(axis=1) if lam.ndim == 2 else float(lam)


def _moments(X: np.ndarray, step: int, sw: np.ndarray, centre: bool
             ) -> tuple[np.ndarray | None, np.ndarray] | None:
    """Weighted mean (None unless ``centre``) and variance (second moment without
    ``centre``) of the rows ``X[::step]``; None where one is not finite.

    In slices of at most :data:`CHUNK` entries, each converted to float64:
    on wide ``X`` the sampled rows would otherwise be copied whole, twice.
    """
    d = X.shape[1]
    rows = max(1, CHUNK // d)
    m = sw.size

    def chunks():
        for a in range(0, m, rows):
            yield a, np.asarray(X[a * step:(a + rows) * step:step], dtype=np.float64)

    mean = None
    if centre:
        mean = np.zeros(d)
        for a, R in chunks():
            mean += sw[a:a + rows] @ R
    var = np.zeros(d)
    for a, R in chunks():
        if mean is not None:
            R = R - mean  # not in place: R may be a view of the caller's X
        var += sw[a:a + rows] @ (R * R)
    if not (np.all(np.isfinite(var)) and (mean is None or np.all(np.isfinite(mean)))):
        return None
    return mean, var
