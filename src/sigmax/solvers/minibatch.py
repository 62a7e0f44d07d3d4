r"""Mini-batch solver for data read in pieces: proximal SVRG over row batches.

For data that do not fit in memory, even a cluster's: each step reads one group
of row batches (dask chunks), and the full data are read twice per epoch, so
the fit makes ``n_batches / batch_group`` steps per two passes instead of the
one step per pass of a full-gradient method.

Algorithm (prox-SVRG, Xiao & Zhang 2014, over batches). Each epoch:

1. at the snapshot :math:`\tilde w`, one full pass gives the exact objective,
   its gradient :math:`\mu = \nabla F(\tilde w)` and the optimality measure;
   the fit stops when that measure is ``<= tol``: **the same stopping test as
   every other solver**, so a converged mini-batch fit is as exact as an
   L-BFGS one;
2. one pass in random order over groups :math:`B` of batches: with the
   unbiased, variance-reduced gradient estimate

   .. math:: v = \frac{m}{|B|}\,\mathrm{scale}\,
             \left(\nabla D_B(w) - \nabla D_B(\tilde w)\right) + \mu,

   (``m`` batches, :math:`D_B` the loss sum over the rows of :math:`B`, both
   gradients from one read of those rows), step
   :math:`w \leftarrow \mathrm{prox}_{\eta r}(w - \eta v)`.

The noise of :math:`v` vanishes as :math:`w` and :math:`\tilde w` approach the
optimum, so a constant step converges (linearly when the objective is strongly
convex: with an L2 part), unlike plain SGD whose steps must decay.

Step size :math:`\eta = 1 / (2 (\hat L + \lambda))`: :math:`\lambda` is the L2
curvature, :math:`\hat L` a running estimate of the data term's curvature from
the secants :math:`\|v_B(w) - v_B(\tilde w)\| / \|w - \tilde w\|` that every step
computes anyway (first from a tiny probe step). An epoch whose snapshot
objective does not decrease is rejected and the step divided by 4; an accepted
epoch lets it grow by 1/0.8.

Cost per epoch: 2 passes over the data (one full evaluation, one of batch
steps), plus one batch read per group for the steps. ``n_iter`` counts epochs.
"""

from __future__ import annotations

import numpy as np

from ..objective import LinearObjective
from .base import STALL_EPS, FitResult, History, Solver, register_solver, working_eps

#: An epoch counts as no decrease below this relative change of the objective.
RTOL_DECREASE = 1e-13
#: Consecutive rejected epochs after which the solver stops (the step is then
#: 4**12 = 1.7e7 times smaller than when it last made progress).
MAX_REJECTS = 12


@register_solver
class MiniBatch(Solver):
    """Proximal SVRG over row batches (dask chunks); handles any penalty with a prox.

    Needs an objective that can evaluate row batches (see
    :mod:`sigmax.backends.batches`): dask objectives use their chunks, in-memory
    objectives are cut into up to 64 contiguous batches of at least 32 rows.
    The batch order is drawn from a generator seeded with :attr:`seed`, so fits
    are reproducible.
    """

    name = "minibatch"
    requires = ("prox",)
    seed = 0

    def solve(self, objective: LinearObjective, w0: np.ndarray, *, tol: float,
              max_iter: int, verbose: int = 0) -> FitResult:
        from ..backends.batches import batched

        self.check(objective)
        data = batched(objective)
        m = int(data.n_batches)
        q = max(1, min(int(data.batch_group), m))
        rng = np.random.default_rng(self.seed)
        hist = History(self.name, verbose)
        pen = objective.penalty_term
        # Curvature of the penalty's smooth part (the step size's lambda): its
        # largest Hessian diagonal entry at the start.
        diag = objective.penalty_diag(np.asarray(w0, dtype=float))
        lam = 0.0 if diag is None else float(np.max(diag))

        def smooth_penalty_grad(w: np.ndarray) -> np.ndarray:
            g = np.zeros(objective.n_params)
            pg = pen.smooth_value_and_grad(objective.unpack(w)[0])[1]
            if pg is not None:
                G = g.reshape(objective.n_rows, objective.k)
                G[: objective.n_features] = pg
            return g

        def full(w: np.ndarray) -> tuple[float, np.ndarray]:
            # f = smooth part (loss + the penalty's smooth part) + the non-smooth part.
            f, g = objective.value_and_grad(w)
            return f + pen.nonsmooth_value(objective.unpack(w)[0]), g

        snap = np.array(w0, dtype=float)
        F, g = full(snap)
        opt = objective.optimality(snap, g)
        hist.add(0, F, opt)
        mu = g - smooth_penalty_grad(snap)  # data part of the exact gradient at the snapshot
        L: float | None = None
        epoch, rejects, n_steps = 0, 0, 0
        converged, message = opt <= tol, ""
        # A float32 objective is only exact to ~1e-7 relative: decreases below
        # its rounding level cannot be told from noise.
        eps = working_eps(objective)
        rtol = max(RTOL_DECREASE, 8 * eps)
        while not converged and epoch < max_iter:
            epoch += 1
            groups = np.array_split(rng.permutation(m), -(-m // q))
            if L is None:
                L = self._probe(data, objective, snap, mu + smooth_penalty_grad(snap),
                                groups[0], m)
            w = snap.copy()
            ok = True
            for i, B in enumerate(groups):
                factor = m / len(B) * objective.scale
                if i == 0:
                    v = mu  # w is the snapshot: the two batch gradients cancel
                else:
                    (_, gw), (_, gs) = data.batch_sums([w, snap], B)
                    diff = factor * (gw - gs)
                    step_norm = float(np.linalg.norm(w - snap))
                    if step_norm > 0:
                        L = max(L, float(np.linalg.norm(diff)) / step_norm)
                    v = diff + mu
                    n_steps += 1
                eta = 0.5 / (L + lam)
                w = objective.prox(w - eta * (v + smooth_penalty_grad(w)), eta)
                if not np.all(np.isfinite(w)):
                    ok = False
                    break
            F_new, g_new = full(w) if ok else (np.inf, None)
            if not F_new <= F + rtol * abs(F):
                # The step was too long for this problem: discard the epoch.
                L *= 4.0
                rejects += 1
                hist.add(epoch, F, opt)
                if rejects >= MAX_REJECTS:
                    message = ("stopped: no decrease of the objective in the last "
                               f"{MAX_REJECTS} epochs (rounding level of the working precision)")
                    converged = opt <= max(tol, STALL_EPS * eps)
                    break
                continue
            rejects = 0
            snap, F, g = w, F_new, g_new
            mu = g - smooth_penalty_grad(snap)
            opt = objective.optimality(snap, g)
            hist.add(epoch, F, opt)
            L *= 0.8
            converged = opt <= tol
        if not message:
            message = "converged" if converged else f"reached max_iter={max_iter} epochs"
        message += f" ({m} batches, {q} per step, {n_steps} mini-batch steps)"
        return hist.result(objective, snap, F, opt, epoch, converged, message)

    @staticmethod
    def _probe(data, objective: LinearObjective, w: np.ndarray, grad: np.ndarray,
               B: np.ndarray, m: int) -> float:
        """Curvature of the data term along ``-grad`` at ``w``, from a tiny secant step."""
        gnorm = float(np.linalg.norm(grad))
        if not gnorm > 0:
            return 1.0
        t = 1e-4 * max(1.0, float(np.linalg.norm(w))) / gnorm
        (_, g0), (_, g1) = data.batch_sums([w, w - t * grad], B)
        L = m / len(B) * objective.scale * float(np.linalg.norm(g1 - g0)) / (t * gnorm)
        return L if np.isfinite(L) and L > 0 else 1.0
