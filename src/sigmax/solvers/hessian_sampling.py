r"""When Newton-CG's inner solve uses a random sample of the rows (subsampled Newton).

Newton-CG on sparse text spends most of a fit in Hessian-vector products:
sparse_text (CSR tf-idf, n=100k, d=50k, K=20, L2 at C=1) took 41 of them in 3
Newton steps at ``tol=1e-4``, 80 in 4 at the default ``tol=1e-6`` (``python
benchmarks/hessian_sample.py``). The Newton system needs only an approximate Hessian: the
gradient stays exact, so the line search and the convergence test are those
of the full problem (Byrd, Chin, Neveitt and Nocedal, "On the use of
stochastic Hessian information in optimization methods for machine
learning", SIAM J. Optim. 21(3), 2011). With the Hessian of a random
:data:`~sigmax.solvers.newton.NewtonCG.hessian_sample` share of the rows
(:meth:`~sigmax.objective.Objective.hessian_sample`: unbiased, the penalty's
part exact) each product costs that share of a full one; the steps then
converge linearly instead of superlinearly, at a rate set by the sample's
error.

That trade pays only where the sample is accurate: where the L2 term
outweighs the data's curvature along the directions a sample under-represents
(the features a few rows use). So :class:`HessianSampling` decides, per solve:

- **where it may**: sparse ``X`` (on dense ``X`` the products are cheap
  matrix products and L-BFGS is ``auto``'s choice), an L2 penalty on every
  coefficient (without one a feature no sampled row uses has no curvature at
  all), at least :data:`SAMPLE_MIN_ROWS` sampled rows;
- **whether the sample agrees** (:meth:`HessianSampling.agrees`), once, at
  the first step: the full Hessian's curvature along the sampled step against
  the sample's (one product of each). Over :data:`MAX_CURVATURE` times the
  sample's, the sampled step is dropped and this step and the rest are full
  Newton steps: the solve then takes exactly the plain solver's iterates, one
  sampled inner solve and two products later. The ratio on sparse_text at half
  its rows (``python benchmarks/hessian_sample.py --scale 0.5 --C 1 3 10 100``):
  1.05 at ``C=1``, 1.19 at ``C=3``, 1.65 at ``C=10``, 7.30 at ``C=100``;
- **when to stop** (:meth:`HessianSampling.accepted`): once a sampled step
  decreases the objective by more than :data:`MAX_RATE` of the previous
  step's decrease, linear convergence has become slower than full Newton
  steps, dearer each but superlinear, would be from there (``C=3`` in the same
  run: the check passes, the solve ends on full products, 33 sampled and 43
  full ones, 0.94x of the full solve's time).

Each step draws a new sample (a fixed generator seed per solve: the same fit
twice gives the same coefficients). Measured by ``python
benchmarks/hessian_sample.py``, see :class:`~sigmax.solvers.newton.NewtonCG`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..dataterms.row_sample import draw_rows

__all__ = ["MAX_CURVATURE", "MAX_RATE", "SAMPLE_MIN_ROWS", "HessianSampling"]

#: Fewest sampled rows: below it a share's sample misses too much (and the
#: products are cheap anyway).
SAMPLE_MIN_ROWS = 10_000
#: The sample is kept when, along its first step, the full Hessian's curvature
#: is at most this many times the sample's.
MAX_CURVATURE = 1.5
#: ... and while each sampled step decreases the objective by at most this
#: share of the previous step's decrease.
MAX_RATE = 0.2


class HessianSampling:
    """The sampling state of one Newton-CG solve.

    Parameters
    ----------
    share : float
        Share of the rows per sample (0: none, the full Hessian throughout).
    float32 : bool
        Form the sample's products in float32 (a float64 solve with float32
        Hessian products, :attr:`~sigmax.solvers.newton.NewtonCG.float32_products`).

    Attributes
    ----------
    share : float
        0 once the solve has gone over to the full Hessian.
    ratio : float or None
        The check's full over sampled curvature along the first sampled step
        (None before it).
    """

    def __init__(self, share: float, float32: bool) -> None:
        self.share = float(share)
        self.float32 = float32
        self._rng = np.random.default_rng(0)  # the same samples in every solve
        self._checked = False
        self._last_drop: float | None = None
        self.ratio: float | None = None

    @classmethod
    def of(cls, objective: Any, share: float, float32: bool) -> HessianSampling:
        """The sampling of a solve of ``objective`` with samples of ``share`` of the rows,
        where it may sample (see the module docstring), else none."""
        if not cls.may(objective, share):
            share = 0.0
        return cls(share, float32)

    @staticmethod
    def may(objective: Any, share: float) -> bool:
        """Whether a solve of ``objective`` may sample ``share`` of the rows."""
        if not 0 < share < 1 or not sp.issparse(objective.X):
            return False
        if share * objective.n_samples < SAMPLE_MIN_ROWS:
            return False
        lam = objective.penalty_diag(objective.zeros())
        return lam is not None and bool(np.all(np.asarray(lam) > 0))

    def sample(self, objective: Any, w: np.ndarray) -> Any:
        """This step's sampled objective at ``w`` (``objective.hessian_sample``), or None."""
        if not self.share:
            return None
        n = objective.n_samples
        rows = draw_rows(n, round(self.share * n), self._rng)
        sampled = objective.hessian_sample(w, rows, float32=self.float32)
        if sampled is not None:
            objective.hessp_sample_share = self.share
        return sampled

    def agrees(self, objective: Any, sampled: Any, w: np.ndarray, x: np.ndarray) -> bool:
        """Whether the sampled step ``x`` may be taken: True after the first check.

        At the first sampled step, one product of the full Hessian and one of
        the sample along ``x``; where the full curvature is over
        :data:`MAX_CURVATURE` times the sample's, sampling stops (False).
        """
        if self._checked:
            return True
        self._checked = True
        full = float(x @ objective.hessp(w, x))
        est = float(x @ sampled.hessp(w, x))
        self.ratio = full / est if est > 0 else np.inf
        if self.ratio <= MAX_CURVATURE:
            return True
        self.share = 0.0
        return False

    def accepted(self, before: float, after: float) -> None:
        """A step took the objective from ``before`` to ``after``: stop sampling once
        the decreases shrink by less than :data:`MAX_RATE` a step."""
        if not self.share:
            return
        drop, last = before - after, self._last_drop
        self._last_drop = drop
        if last is not None and drop > MAX_RATE * last:
            self.share = 0.0
