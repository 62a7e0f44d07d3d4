"""Newton solvers: a template of named steps with two inner solves.

Each iteration: evaluate value and gradient, check convergence, compute a
direction (:meth:`_Newton.direction`), backtrack along it (Armijo), repeat.

- ``newton-cholesky`` forms the full Hessian and solves with a Cholesky
  factorization (least squares when the Hessian is singular, as for the
  unpenalized symmetric softmax): few iterations, ``O(n p^2 + p^3)`` each.
- ``newton-cg`` solves the Newton system inexactly with conjugate gradients on
  Hessian-vector products (two products with ``X`` each), never forming the
  Hessian: for many parameters.
"""

from __future__ import annotations

import copy

import numpy as np
import scipy.sparse as sp

from ..dataterms import tuning
from ..objective import LinearObjective
from ._linalg import jacobi_scaled, newton_step
from .base import STALL_EPS, FitResult, History, Solver, in_float64_at, register_solver, working_eps
from .cg_updates import updates
from .compiled_cg import CompiledCG
from .conditioning import RARE_CLASS_SPREAD, class_spread
from .coordinates import Standardized
from .hessian_sampling import HessianSampling
from .preconditioners import Jacobi, OutputBlocks, StandardizedCoordinates

#: Armijo sufficient-decrease constant.
ARMIJO = 1e-4
#: Halvings of the step before the line search gives up.
MAX_HALVINGS = 40
#: Newton-CG on sparse ``X`` preconditions by the Hessian's diagonal when, at
#: the first step, its largest coefficient entry is at least this many times
#: the median one. Measured on sparse_text (passes over X to a 1e-6 gap,
#: Jacobi vs plain CG): spread 1.9 (5% of the rows) 54 vs 34, 2.8 (20%) 64 vs
#: 56, 3.8 (50%) 51 vs ~50, 6.2 (full) 39 vs 58.
JACOBI_MIN_SPREAD = 4.5
#: The output blocks (``D = d + 1`` rows each) are formed up to this ``D``:
#: forming them takes ``n k D (D + 1) / 2`` multiply-adds, the work of about
#: ``D / 4`` Hessian products; above it, Jacobi. Zipf-sized classes (n=10k,
#: K=60, spread 580) at D=101: output blocks 28 products + 10 builds, 35 s;
#: Jacobi 125 products, 2.0 s; L-BFGS 318 evaluations, 3.3 s.
OUTPUT_BLOCKS_MAX_ROWS = 64


def _track_second_order(objective: LinearObjective) -> None:
    """Ask ``objective`` to keep its Hessian state from the first evaluation on (when it can)."""
    track = getattr(objective, "track_second_order", None)
    if track is not None:
        track()


class _Newton(Solver):
    needs_hessian = True

    def direction(self, objective: LinearObjective, w: np.ndarray, g: np.ndarray,
                  gnorm: float) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def accepted(self, objective: LinearObjective, before: float, after: float) -> None:
        """A step was taken, the objective going from ``before`` to ``after`` (a hook
        for the next directions)."""

    def solve(self, objective: LinearObjective, w0: np.ndarray, *, tol: float,
              max_iter: int, verbose: int = 0) -> FitResult:
        self.check(objective)
        objective = self.working_objective(objective)
        hist = History(self.name, verbose)
        w = np.array(w0, dtype=float)
        _track_second_order(objective)
        f, g = objective.value_and_grad(w)
        gnorm = float(np.max(np.abs(g))) if g.size else 0.0
        hist.add(0, f, gnorm)
        converged, message, it = gnorm <= tol, "", 0
        # Rounding level of f in the working precision (float32 objectives sum
        # float32 per-sample losses, so their value is only that exact).
        eps = working_eps(objective)
        while not converged and it < max_iter:
            it += 1
            step = self.direction(objective, w, g, gnorm)
            slope = float(g @ step)
            if not slope < 0:  # not a descent direction (numerical trouble): use -g
                step, slope = -g, -float(g @ g)
            t, accepted = 1.0, False
            noise = 8 * eps * max(1.0, abs(f))
            for _ in range(MAX_HALVINGS):
                w_new = np.multiply(step, t)  # w + t step, one parameter-sized array
                w_new += w
                f_new, g_new = objective.value_and_grad(w_new)
                gnorm_new = float(np.max(np.abs(g_new)))
                # Armijo only where the predicted decrease is above the rounding
                # level of f: below it, comparing f values compares noise and
                # would accept (and wander) forever.
                if -t * slope > noise and f_new <= f + ARMIJO * t * slope:
                    accepted = True
                    break
                # Where a decrease cannot be seen, a much smaller gradient still
                # shows progress (near the optimum Newton steps shrink it
                # quadratically); a merely smaller one is rounding noise.
                if abs(f_new - f) <= noise and gnorm_new <= 0.5 * gnorm:
                    accepted = True
                    break
                if -t * slope <= noise:
                    break  # shorter steps can only be less measurable
                t *= 0.5
            if not accepted and gnorm > tol and (
                    on := in_float64_at(objective, w, hist, second_order=True)) is not None:
                # A float32 fit that float32 cannot take further (features in their
                # own units: the decrease left is below its rounding) goes on in
                # float64 on the same float32 X rather than stop short. R tables as
                # loaded (Salaries, Prestige, Males, ...) stopped at gaps up to 1e-3
                # (benchmarks/one_hot_l1.py --penalty l2 --dtype float32 --former-precision).
                objective, f, g, gnorm = on
                eps = working_eps(objective)
                converged = gnorm <= tol
                continue
            if not accepted:
                message = ("line search failed: no decrease measurable in the working "
                           "precision")
                converged = gnorm <= max(tol, STALL_EPS * eps)
                break
            self.accepted(objective, f, f_new)
            w, f, g, gnorm = w_new, f_new, g_new, gnorm_new
            # Parameter-sized vectors are half an (n, k) buffer on text data: the
            # spent step is not kept through the next step's conjugate gradients.
            step = w_new = g_new = None
            hist.add(it, f, gnorm)
            converged = gnorm <= tol
        if not message:
            message = "converged" if converged else f"reached max_iter={max_iter}"
        return hist.result(objective, w, f, gnorm, it, converged, message)


@register_solver
class NewtonCholesky(_Newton):
    """Newton's method with the full Hessian and a Cholesky solve.

    For losses whose Hessian is block diagonal over outputs (binomial,
    multi-label, one-vs-rest: ``LinearObjective.hessian_blocks``) it solves
    the ``k`` systems of size ``D = d (+1)`` separately: ``O(n D^2 k + D^3 k)``
    per step instead of ``O(n D^2 k^2 + D^3 k^3)``.
    """

    name = "newton-cholesky"

    def direction(self, objective, w, g, gnorm):
        # for_step: blocks from float32 products where the data term forms them
        # (DataTerm.hessian_blocks); the step is checked against the exact gradient.
        blocks_of = getattr(objective, "hessian_blocks", None)
        blocks = blocks_of(w, for_step=True) if blocks_of is not None else None
        if blocks is None:
            return _without_flat(objective, newton_step(objective.hessian(w, for_step=True),
                                                        g))
        G = g.reshape(-1, blocks.shape[0])
        step, pivot = _block_steps(blocks, G)
        data = objective.data
        if pivot < 1.0 / (1.0 + tuning.FLOAT32_GRAMS_MAX_OFFSET ** 2) and not data.exact_grams:
            # A direction whose curvature, penalty included, is below what float32
            # grams resolve (collinear columns in their own units: boot's channing,
            # time = exit - entry next to each other, ~900, C = 100: 12 steps with
            # exact blocks, 200 without converging on float32 ones; python
            # benchmarks/float32_grams.py --part offset): exact blocks from here on.
            data.exact_grams = True
            step, _ = _block_steps(blocks_of(w, for_step=False), G)
        return step.ravel()


def _without_flat(objective: LinearObjective, step: np.ndarray) -> np.ndarray:
    """``step`` less its part along the symmetric softmax's flat directions (in place).

    A constant added to every entry of an unpenalized parameter row (the
    intercepts; every row without an L2 term) changes no probability, so the
    Hessian is singular there and a regularized solve may return any amount of
    it: the intercepts then drift together, step after step (a float32 torch fit
    from zero: 0 -> 1.5 -> 4.1 -> 4.3 in four steps), until float32 cannot tell
    the objective's values apart and the line search fails. The gradient has no
    part along those directions, so removing it leaves the step's decrease.
    """
    loss = objective.loss
    if not getattr(loss, "softmax_hessian", False) or getattr(loss, "reference", False) \
            or objective.k < 2:
        return step
    P = step.reshape(objective.n_rows, objective.k)
    lam = objective.penalty_diag(objective.zeros())
    flat = lam is None or not np.any(np.asarray(lam))
    rows = slice(None) if flat else slice(objective.n_features, objective.n_rows)
    P[rows] -= P[rows].mean(axis=1, keepdims=True)
    return step


def _block_steps(blocks: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, float]:
    """Newton steps ``-H_a^-1 g_a`` for ``k`` blocks ``(k, D, D)``; ``G`` is ``(D, k)``.

    All blocks in one stacked solve of their Jacobi-scaled systems (the
    per-call overhead of ``k`` small solves would dominate at small ``D``); a
    block that is not positive definite falls back to :func:`newton_step` one
    block at a time. Also returns the smallest squared pivot of the scaled
    blocks' Cholesky factors (0 where one is not positive definite): a bound on
    their smallest curvature relative to its diagonal, what float32 grams have to
    resolve (the pivot of a column ``r`` standard deviations from zero next to
    the intercept is ``1 / (1 + r^2)``).
    """
    k = blocks.shape[0]
    S, scale = jacobi_scaled(blocks)
    try:
        L = np.linalg.cholesky(S)  # raises unless every block is positive definite
    except np.linalg.LinAlgError:
        return np.stack([newton_step(blocks[a], G[:, a]) for a in range(k)], axis=1), 0.0
    pivot = float(np.min(np.diagonal(L, axis1=-2, axis2=-1))) ** 2
    # NumPy has no stacked Cholesky solve; its stacked LU solve costs about
    # the same at these sizes (D of a few hundred at most).
    return -(np.linalg.solve(S, (G.T / scale)[:, :, None])[:, :, 0] / scale).T, pivot


@register_solver
class NewtonCG(_Newton):
    r"""Truncated Newton: conjugate gradients on Hessian-vector products.

    Each Newton step solves :math:`H x = -g` inexactly by (preconditioned)
    CG; a Hessian-vector product costs two products with ``X`` (one pass).
    CG stops at the first of:

    - relative residual :math:`\|r\| \le \eta \|g\|` with
      :math:`\eta = \min(0.5, \sqrt{\|g\|})` (Eisenstat-Walker forcing term:
      superlinear convergence);
    - :math:`\max_j |r_j| \le \tfrac14 \mathrm{tol}`: the residual
      :math:`r = H x + g` is the quadratic model's gradient after the step, so
      solving further cannot matter to a fit that stops at
      :math:`\max|\nabla f| \le \mathrm{tol}`. It spares part of the
      accurate (longest) solves of the last steps (sparse_text, diagonal
      preconditioner, tol 1e-4: 31 instead of 34 products);
    - negative curvature, or 200 iterations.

    **Preconditioning** (``precondition``): CG's iteration count grows with
    the square root of the condition number of :math:`H`. On sparse text the
    diagonal of :math:`H` follows the feature frequencies, so CG may run on
    :math:`D^{-1/2} H D^{-1/2}` with :math:`D = \mathrm{diag}(H)`
    (``LinearObjective.hessian_diag``, about half a pass per Newton step).
    Whether that pays was measured, not assumed: on ``sparse_text`` (tf-idf,
    Zipf frequencies, K=20, L2, C=1) in passes over ``X`` to a 1e-6 gap,
    Jacobi against plain CG, 39 vs 58 at full size (n=100k, d=50k), about
    even at 50% of the rows, 64 vs 56 at 20% and 54 vs 34 at 5%. What
    separates them is the spread of the diagonal (largest / median
    coefficient entry at the first step: 6.2, 3.8, 2.8, 1.9): with
    ``precondition="sparse"`` (the default) sparse ``X`` is preconditioned
    when that spread is at least :data:`JACOBI_MIN_SPREAD`, decided once per
    solve. Time at full size (``benchmarks/sparse_newton_cg.py``, one
    thread, interleaved, best of 3): 4.11 s (float32: 2.44 s) where plain CG
    without the tolerance stop took 7.52 s and scikit-learn's SAG 4.15 s.
    Dense inputs keep plain CG (earlier measurements: many_classes
    157 vs 205 products but more outer steps, multilabel 15 vs 10), except
    a softmax with **rare classes** (``precondition="auto"``, the default):
    where the class shares spread the curvature by at least
    :data:`~sigmax.solvers.conditioning.RARE_CLASS_SPREAD`
    (:func:`~sigmax.solvers.conditioning.class_spread`), CG is
    preconditioned by the ``k`` diagonal ``(D, D)`` blocks of the Hessian
    over outputs (:class:`~sigmax.solvers.preconditioners.OutputBlocks`,
    rebuilt at every Newton step; Jacobi above ``D =``
    :data:`OUTPUT_BLOCKS_MAX_ROWS`). On the 79 label sets of R's
    ggplot2movies genres at 25% of the rows (n=14,697, D=15, C=1), Hessian
    products to ``tol=1e-6``: plain CG 837 (20 Newton steps), Jacobi 283
    (15), output blocks 41 plus 10 block builds (10 steps); L-BFGS needed
    474 iterations. On Zipf-sized classes (n=10k, D=15, K=60, L2 at C=1),
    L-BFGS evaluations against output-block Newton-CG's evaluations +
    products: spread 6: 42 vs 12 + 27; spread 116: 72 vs 14 + 27; spread
    500: 166 vs 14 + 23; spread 2400: 270 vs 17 + 31.
    ``precondition=True`` / ``False`` forces Jacobi / plain CG,
    ``"blocks"`` the output blocks, ``"sparse"`` only the sparse rule.

    **float32 Hessian products** (``float32_products``): a float64 solve asks its
    data term for Hessian-vector products formed in float32
    (:meth:`~sigmax.dataterms.base.DataTerm.float32_hessp`, where a float32 copy of
    ``X`` fits in memory, :mod:`sigmax.dataterms.float32_hessp`) for the length of
    the solve, as the regularization paths do: CG needs a few digits of each
    product, the gradient and the convergence test stay float64. Single fits at
    their defaults, the same Newton steps and about the same products, time
    against exact products at one thread / default threads (``python
    benchmarks/mixed_precision_hessp.py --fits``): sparse_text 0.60x / 0.87x;
    the film label sets and zipf_classes (rare classes) 0.74-0.83x /
    0.85-0.92x; dense_multinomial, multilabel and movies with
    ``solver="newton-cg"`` 0.64-0.81x; digits (one block that stays in cache,
    125 products instead of 117) 1.08-1.09x.

    **Subsampled Hessian** (``hessian_sample``, ``sample_forcing``): on sparse
    ``X`` with an L2 term, CG runs on the Hessian of a random 30% of the rows,
    drawn anew each step (:meth:`~sigmax.objective.Objective.hessian_sample`),
    to a relative residual of at least ``sample_forcing`` (0.2: the sample's own
    accuracy); the gradient stays exact. :mod:`~sigmax.solvers.hessian_sampling`
    says where it may, checks the first sampled step's curvature against the
    full Hessian's, and goes over to full products where the sample disagrees or
    its steps slow down. Measured on sparse_text (``python
    benchmarks/hessian_sample.py``, one thread, median of 3 interleaved fits;
    sampled / full): at ``C=1`` 3.20 / 5.17 s at ``tol=1e-4`` (4 steps, 48
    sampled products and the check's one, against 3 steps and 41 products; the
    gap 3.2e-6 against 7.4e-7) and 5.67 / 8.19 s at the default ``tol=1e-6``
    (0.69x); at ``C=100`` the check hands over at the first step and the fit
    takes the full solver's 8 steps, 14.98 / 13.80 s (1.09x). To the
    benchmark's 1e-6 gap (``sigmax bench sparse_text``, ``auto``): 3.82 s at one
    thread, 3.04 s at default threads, where full products took 4.64 / 4.25 s
    in the last full run; head to head 0.59 / 0.41 of scikit-learn's ``sag``
    (0.76 / 0.71 there).

    **Compiled inner solve**: where the data term offers its operands (``X``
    one dense row block, asked for by the regularization paths:
    :meth:`~sigmax.dataterms.base.DataTerm.compiled_passes`), the same
    iteration runs in one compiled call per Newton step
    (:class:`~sigmax.solvers.compiled_cg.CompiledCG`): on small problems the
    Python around each product costs more than the product.

    The symmetric softmax has flat directions (a constant added to all ``k``
    entries of a parameter row). A diagonal (or block-diagonal)
    preconditioner would mix them with the rest and make CG crawl along
    them; instead the system is split exactly (see :class:`_RowMeans`): row
    means in closed form, CG with the projected preconditioner
    :math:`P M^{-1} P` on rows that sum to zero. A step thus never moves
    along a flat direction, as with plain CG.

    **Badly scaled dense features** (:mod:`sigmax.solvers.coordinates`): where
    neither Jacobi nor the output blocks apply, CG is preconditioned by
    :math:`A A^\top`, the map to standardized columns
    (:class:`~sigmax.solvers.preconditioners.StandardizedCoordinates`):
    scikit-learn's digits as loaded took 455 Hessian products instead of 2555
    (``python benchmarks/badly_scaled.py``).
    """

    name = "newton-cg"
    max_inner = 200
    #: Preconditioning of CG: ``"auto"`` (the rules in the class docstring),
    #: ``"sparse"`` (only the sparse-text rule), ``"blocks"`` (always the
    #: output blocks where the objective forms them, else Jacobi), ``True``
    #: (always Jacobi, when the objective offers the diagonal) or ``False``.
    precondition: bool | str = "auto"
    #: Where no other preconditioner applies and dense ``X`` is badly scaled,
    #: CG in standardized coordinates (:mod:`sigmax.solvers.coordinates`).
    standardize = True
    #: CG stops once the model gradient's max-norm is below this share of ``tol``.
    tol_share = 0.25
    #: Hessian products in float32 during a float64 solve, where the data term
    #: offers them (see the class docstring).
    float32_products = True
    #: Share of the rows whose Hessian CG uses, where it may (see the class docstring).
    hessian_sample = 0.3
    #: Least forcing term of a sampled step: CG need not solve beyond the sample's accuracy.
    sample_forcing = 0.2

    def solve(self, objective: LinearObjective, w0: np.ndarray, *, tol: float,
              max_iter: int, verbose: int = 0) -> FitResult:
        # The instance in SOLVERS is shared: the state of this solve lives on a
        # per-call copy, so concurrent fits do not see each other's.
        solver = copy.copy(self)
        solver._tol = float(tol)
        solver._jacobi = None  # "sparse": decided at this solve's first step
        # Rare classes: from a count of y, once per solve.
        solver._rare = (solver.precondition == "auto" and not sp.issparse(objective.X)
                        and class_spread(objective) >= RARE_CLASS_SPREAD)
        solver._blocks = solver._use_blocks(objective)
        solver._sampling = HessianSampling.of(
            objective, self.hessian_sample,
            float32=self.float32_products and objective.dtype == np.float64)
        solver._asked32 = False
        if not solver._sampling.share:
            solver._full_products(objective)
        try:
            return _Newton.solve(solver, objective, w0, tol=tol, max_iter=max_iter,
                                 verbose=verbose)
        finally:
            if solver._asked32:  # the data term outlives the solve (diagnostics, inference)
                objective.data.float32_hessp(False)

    def _full_products(self, objective: LinearObjective) -> None:
        """Ask the data term for float32 products of the full Hessian, for this solve.

        At the start, or when a sampling solve goes over to the full Hessian
        (its samples carry their own float32 rows: the float32 copy of a CSR
        ``X`` is not made unless full products are formed).
        """
        data = getattr(objective, "data", None)
        self._asked32 = self._asked32 or (
            self.float32_products and data is not None
            and not data.float32_hessp(None) and data.float32_hessp(True))

    def _use_blocks(self, objective: LinearObjective) -> bool:
        """Whether this solve preconditions by the output blocks (decided once, from ``y``)."""
        if not hasattr(objective, "hessian_output_blocks") or sp.issparse(objective.X):
            return False
        if self.precondition == "blocks":
            return True
        return getattr(self, "_rare", False) and objective.n_rows <= OUTPUT_BLOCKS_MAX_ROWS

    def _use_jacobi(self, objective: LinearObjective) -> bool:
        """Whether this solve may precondition (the diagonal is then computed)."""
        if not hasattr(objective, "hessian_diag"):
            return False
        if self.precondition in ("sparse", "auto"):
            if getattr(self, "_jacobi", None) is False:
                return False
            if sp.issparse(objective.X):
                return True
            # Dense: only rare classes whose blocks are too large to form.
            return getattr(self, "_rare", False)
        return bool(self.precondition)

    def _jacobi_pays(self, objective: LinearObjective, diag: np.ndarray) -> bool:
        """The sparse rule: decided once per solve, at its first step."""
        if (self.precondition not in ("sparse", "auto") or not sp.issparse(objective.X)
                or getattr(self, "_jacobi", None) is not None):
            return True
        coef = diag[: objective.n_features * objective.k]
        coef = coef[coef > 0]
        spread = float(coef.max() / np.median(coef)) if coef.size else 1.0
        self._jacobi = spread >= JACOBI_MIN_SPREAD
        return self._jacobi

    def forcing(self, g: np.ndarray) -> float:
        r"""Forcing term :math:`\eta = \min(0.5, \sqrt{\|g\|})`.

        CG stops at :math:`\|r\| \le \eta \|g\|`.

        Passes over ``X`` to a 1e-6 gap on sparse_text
        (``python benchmarks/sparse_newton_cg.py --trajectory``), this choice
        against fixed 0.2 / 0.1 / 0.05 and :math:`\min(0.5, \sqrt{\|g\| /
        \|g_0\|})`: 41 vs 49.5 / 50 / 52 / 39.5 at full size; at 20% of the
        rows 62.5 vs 51.5 / 48 / 51 / 53 (fixed 0.5 does not get there in 7
        steps). No choice wins at both sizes, so the textbook one stays.
        """
        return min(0.5, float(np.sqrt(np.linalg.norm(g))))

    def preconditioner(self, objective: LinearObjective, w: np.ndarray
                       ) -> Jacobi | OutputBlocks | StandardizedCoordinates | None:
        """This step's preconditioner at ``w`` (None: plain CG)."""
        if getattr(self, "_blocks", False):
            blocks = OutputBlocks.of(objective, w)
            if blocks is not None:
                return blocks
        # Jacobi preconditioner: the Hessian's diagonal. Floored at a small
        # share of its mean so that an unused feature (zero column, no L2) or
        # the flat softmax directions do not make it singular.
        use = getattr(self, "_blocks", False) or self._use_jacobi(objective)
        diag = objective.hessian_diag(w) if use else None
        if diag is None or not self._jacobi_pays(objective, diag):
            return self._standardized(objective)
        return Jacobi(diag)

    def _standardized(self, objective: LinearObjective) -> StandardizedCoordinates | None:
        """CG in standardized coordinates where dense ``X`` is badly scaled, else None.

        Column statistics of a few thousand rows, taken once per objective
        (:mod:`sigmax.solvers.coordinates`).
        """
        use = self.standardize and self.precondition is not False
        coords = Standardized.of(objective) if use else None
        return StandardizedCoordinates(coords) if coords is not None else None

    def accepted(self, objective, before, after):
        sampling = getattr(self, "_sampling", None)
        if sampling is not None and sampling.share:
            sampling.accepted(before, after)
            if not sampling.share:
                self._full_products(objective)

    def direction(self, objective, w, g, gnorm):
        eta = self.forcing(g)
        sampling = getattr(self, "_sampling", None)
        sampled = sampling.sample(objective, w) if sampling is not None else None
        if sampled is None:
            return self._direction(objective, w, g, eta)
        try:
            # CG need not solve a sampled system beyond the sample's own accuracy.
            x = self._direction(sampled, w, g, max(eta, self.sample_forcing))
        finally:
            objective.n_sampled_hessp_evals += sampled.n_hessp_evals
        if sampling.agrees(objective, sampled, w, x):
            return x
        # The sample's curvature is not the full one's: this step and the rest full.
        self._full_products(objective)
        return self._direction(objective, w, g, eta)

    def _direction(self, objective, w, g, eta):
        """The CG solve of this step on ``objective``'s Hessian (a sample's, or the full one)."""
        pre = self.preconditioner(objective, w)
        split = _RowMeans.of(objective, w) if pre is not None else None
        r = -g.copy()
        # Symmetric softmax: the row-mean part of the step in closed form
        # (centering r); CG then adds the rest.
        x = split.solve_means(r) if split is not None else np.zeros_like(g)
        stop = (eta * np.linalg.norm(g)) ** 2
        enough = self.tol_share * getattr(self, "_tol", 0.0)
        compiled = CompiledCG.of(objective, w)
        if compiled is not None and (pre is None or hasattr(pre, "kernel_args")):
            # One dense block: the same iteration in one compiled call (compiled_cg).
            steps, flat = compiled.solve(r, x, pre, split is not None, stop, enough,
                                         self.max_inner)
            self._cg_steps = steps
            return -g if flat else x
        cg_steps = 0
        # In-place updates on preallocated vectors: on text data each is half
        # an (n, k) buffer, and a fresh one per step costs its page faults.
        z = pre.apply(r, np.empty_like(r)) if pre is not None else r
        if split is not None:
            split.center(z)
        p = z.copy()
        rz = float(r @ z)
        ops = updates(pre, split, objective.k, r.size)
        rr, rmax = ops.norms(r)
        for _ in range(self.max_inner):
            if rr <= stop or rmax <= enough:
                break
            Hp = objective.hessp(w, p)
            curv, pp = ops.curvature(p, Hp)
            if curv <= 1e-14 * pp:
                # Non-positive curvature along p: return what we have (or -g).
                if not cg_steps:
                    return -g
                break
            cg_steps += 1
            rz_new, rr, rmax = ops.update(x, r, p, Hp, z, rz / curv)
            Hp = None  # the product is let go before the next one is formed
            ops.turn(p, z, rz_new / rz)
            rz = rz_new
        self._cg_steps = cg_steps  # read by preconditioners that decide when to rebuild
        return x


class _RowMeans:
    r"""The symmetric softmax's Newton system split into row means and the rest.

    With the per-sample data Hessian :math:`\mathrm{diag}(p) - p p^\top`,
    adding a constant to the ``k`` entries of one parameter row changes no
    logit difference: the data Hessian maps row-constant vectors to 0 and
    rows summing to zero to rows summing to zero. So :math:`H` (data + L2
    weight :math:`\lambda` on the coefficient rows) is block diagonal over
    the two subspaces, and on row means it is :math:`\lambda I` (coefficient
    rows) or 0 (intercepts; every row without L2). The row-mean part of the
    step is thus exact in closed form (``-mean(g_row) / lambda``, or 0 where
    flat), and CG runs on the sum-zero rows with the projected Jacobi
    preconditioner :math:`P D^{-1} P` (``P`` centers each row).

    Plain Jacobi would instead mix the two subspaces: without L2 its steps
    drift along the flat directions (the coefficients then depend on the
    preconditioner, not only on the data); with L2 a frequent feature's row
    mean gets the tiny preconditioned curvature :math:`\lambda / D_{jj}`.
    The split is exact either way; on sparse_text it changed the CG counts
    little (full size: 32 vs 31 products, 5% of the rows: 54 vs 56 passes).
    """

    def __init__(self, objective: LinearObjective, lam: float) -> None:
        self.n_rows, self.k = objective.n_rows, objective.k
        self.n_features = objective.n_features
        self.lam = lam

    @classmethod
    def of(cls, objective: LinearObjective, w: np.ndarray) -> _RowMeans | None:
        loss = objective.loss
        if not getattr(loss, "softmax_hessian", False) or getattr(loss, "reference", False):
            return None
        if objective.k < 2:
            return None
        # The split is exact when the penalty's Hessian is lambda I (a ridge):
        # a scalar diagonal (None: no smooth penalty, lambda = 0).
        diag = objective.penalty_diag(w)
        if diag is not None and np.ndim(diag):
            return None
        return cls(objective, float(diag) if diag is not None else 0.0)

    def center(self, v: np.ndarray) -> None:
        """Project ``v`` (in place) onto rows that sum to zero."""
        V = v.reshape(self.n_rows, self.k)
        V -= V.mean(axis=1, keepdims=True)

    def solve_means(self, r: np.ndarray) -> np.ndarray:
        """Step along the row means for right-hand side ``r``; centers ``r`` in place."""
        R = r.reshape(self.n_rows, self.k)
        means = R.mean(axis=1, keepdims=True)
        R -= means
        x = np.zeros((self.n_rows, self.k))
        if self.lam:
            # Coefficient rows: H = lambda I there. Intercepts stay flat (0).
            x[: self.n_features] = means[: self.n_features] / self.lam
        return x.ravel()
