"""L-BFGS with value and gradient from one pass over ``X``.

The direction comes from the compact representation of the limited-memory
inverse Hessian (Byrd, Nocedal & Schnabel 1994): a handful of matrix-vector
products with the stored pairs instead of SciPy's reverse-communication
L-BFGS-B, whose per-iteration overhead (two calls into its Fortran driver and
the Python around them) was a quarter of the solve on digits (1797 x 64,
K=10, where one value+gradient evaluation takes about 0.24 ms) and most of
it on smaller problems. The step length satisfies the strong Wolfe conditions
(bracketing with cubic interpolation, as Nocedal & Wright's Algorithm 3.5/3.6).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dtrsv

from ..objective import LinearObjective
from .base import STALL_EPS, FitResult, History, Solver, in_float64_at, register_solver, working_eps
from .coordinates import IDENTITY, Standardized

#: Relative decrease below which L-BFGS stops (about 1.4e-14): progress is
#: then at the rounding level of a float64 objective, so stopping is right even
#: when the gradient is above ``tol``. (SciPy's ``ftol`` test.)
FTOL = 64 * np.finfo(float).eps
#: Stored pairs. More pairs, fewer passes over ``X``, for ``O(m p)`` vector
#: work per iteration (negligible next to a pass unless ``n`` is tiny). To the
#: benchmark's 1e-6 gap on digits (p=650) 5 / 10 / 20 / 30 / 50 pairs needed
#: 102 / 90 / 79 / 77 / 67 evaluations, on movies (p=140) 84 / 85 / 75 / 72
#: / 72; 30 was the fastest or within noise of it on both.
MAXCOR = 30
#: Wolfe constants (sufficient decrease, curvature): SciPy's and most L-BFGS codes'.
C1, C2 = 1e-4, 0.9
#: Function evaluations one line search may use.
MAX_LS = 20
#: Consecutive steps that neither resolve a decrease of ``f`` nor lower the
#: gradient's best max-norm before the solve ends (working precision reached).
MAX_BLIND = 10
#: Rounding units of the objective's value (``eps`` of its dtype times ``|f|``) a
#: decrease must exceed to count as progress that ``f`` resolves (see ``solve``).
RESOLVED = 1.0
#: Gradient max-norm at which the float32 phase hands over to float64 where the
#: tolerance is tighter: 50 float32 epsilons, the floor the estimators put under
#: a float32 fit's ``tol`` (its gradient is exact to about 1e-7 relative).
F32_SWITCH = 50 * float(np.finfo(np.float32).eps)


class _Memory:
    """The ``m`` most recent pairs ``(s, y)`` and the small matrices of the compact form.

    The pairs live in a ring of ``m`` slots: a new pair overwrites the oldest
    in place, and only the ``(m, m)`` matrices are kept in chronological
    order (shifted). Shifting the ``(m, p)`` pair arrays instead moved
    ``2 (m - 1) p`` values per iteration: 0.3 MB on digits (p = 650), about
    a tenth of an evaluation there. The products with the pairs run in slot
    order; their ``m``-vectors are permuted to chronological order (``order``).
    """

    def __init__(self, m: int, p: int) -> None:
        self.m, self.n = m, 0
        self.S = np.empty((m, p))       # slot j: one s (chronology in ``order``)
        self.Y = np.empty((m, p))
        self.order = np.arange(m)       # order[i]: slot of the i-th oldest pair
        self.StY = np.empty((m, m))     # S Y^T: s_i . y_j, chronological
        self.YtY = np.empty((m, m))
        self.gamma = 1.0

    def reset(self) -> None:
        """Forget every pair (a restart from steepest descent)."""
        self.n = 0
        self.order = np.arange(self.m)

    def push(self, s: np.ndarray, y: np.ndarray) -> None:
        m, n = self.m, self.n
        if n == m:  # drop the oldest pair: its slot takes the new one
            order = self.order  # rotate left in place (np.roll: 25 us here)
            oldest = order[0]
            order[:-1] = order[1:]
            order[-1] = oldest
            self.StY[: m - 1, : m - 1] = self.StY[1:, 1:]
            self.YtY[: m - 1, : m - 1] = self.YtY[1:, 1:]
            n -= 1
        slot = self.order[n]
        self.S[slot], self.Y[slot] = s, y
        self.n = n + 1
        # Slots 0..n are the ones in use (all of them once the ring is full).
        rows = self.order[: n + 1]
        ys, sy, yy = self.Y[: n + 1] @ s, self.S[: n + 1] @ y, self.Y[: n + 1] @ y
        if n + 1 == m:  # slot order differs from chronological order
            ys, sy, yy = ys[rows], sy[rows], yy[rows]
        self.StY[n, : n + 1] = ys
        self.StY[:n, n] = sy[:n]
        self.YtY[n, : n + 1] = yy
        self.YtY[: n + 1, n] = yy
        self.gamma = float(self.StY[n, n] / yy[n])

    def apply(self, g: np.ndarray) -> np.ndarray:
        """``H g`` with the compact inverse-Hessian approximation (Nocedal & Wright, eq. 7.24)."""
        n, m, gam = self.n, self.m, self.gamma
        if n == 0:
            return g.copy()
        S, Y = self.S[:n], self.Y[:n]
        a, b = S @ g, Y @ g
        full = n == m
        if full:
            rows = self.order
            a, b = a[rows], b[rows]
        StY = self.StY[:n, :n]
        # R = triu(S^T Y); BLAS reads only its upper triangle.
        # R^-1 a, then R^-T [(D + gamma Y^T Y) R^-1 a - gamma b].
        ra = dtrsv(StY, a, lower=0)
        inner = StY.diagonal() * ra
        inner += gam * (self.YtY[:n, :n] @ ra - b)
        top = dtrsv(StY, inner, lower=0, trans=1)
        ra *= gam
        if full:  # back to slot order
            top[rows], ra[rows] = top.copy(), ra.copy()
        out = top @ S
        out -= ra @ Y
        out += gam * g
        return out


def _cubic_min(a: float, fa: float, da: float, b: float, fb: float, db: float) -> float:
    """Minimizer of the cubic through ``(a, fa, da)`` and ``(b, fb, db)``, inside ``[a, b]``."""
    d1 = da + db - 3 * (fa - fb) / (a - b)
    disc = d1 * d1 - da * db
    lo, hi = min(a, b), max(a, b)
    if disc >= 0:
        d2 = np.sign(b - a) * np.sqrt(disc)
        t = b - (b - a) * (db + d2 - d1) / (db - da + 2 * d2)
        if np.isfinite(t) and lo < t < hi:
            return float(t)
    return 0.5 * (a + b)


@register_solver
class LBFGS(Solver):
    """Limited-memory BFGS with a strong-Wolfe line search.

    Each iteration costs one (rarely a few) value+gradient evaluations (two
    matrix products with ``X`` each) and ``O(m p)`` vector work with
    ``m = 30`` stored pairs. Stops when the max-norm of the gradient is
    ``<= tol``, or when the relative decrease of ``f`` is at its float64
    rounding level.

    **float32 phase** (``float32_start``): on a float64 problem whose data term
    offers a float32 twin (:mod:`sigmax.dataterms.float32_twin`: dense ``X``, two or
    more outputs, at least :data:`~sigmax.dataterms.tuning.FLOAT32_TWIN_MIN_WORK`
    multiply-adds per product, read as float32 blocks), the first iterates are
    taken on the twin until its gradient's max-norm is ``<= max(tol,``
    :data:`F32_SWITCH` ``)`` or float32 stops resolving progress; then the same
    iterate is evaluated in float64 and the solve goes on with the same pairs,
    so it stops by float64's tests.
    Fits whose ``auto`` is L-BFGS took 0.51-0.61x the time on dense_multinomial,
    many_classes and multilabel at one thread, 0.80-0.89x on digits and movies,
    with the same iterations to within one (``python
    benchmarks/float32_start.py``). :attr:`FitResult.n_float32_iter` counts them.
    A float32 fit (``dtype="float32"``) is taken the same way: where float32
    stops resolving progress short of the tolerance, it goes on in float64 on
    the same float32 ``X`` (:mod:`sigmax.dataterms.float64_view`). A decrease
    counts as progress only above :data:`RESOLVED` rounding units of ``f``:
    on R tables in their own units float32 noise passed for progress, and 11 of
    112 float32 fits ran to ``max_iter=1000`` at the float32 floor, 14,943
    iterations in all; now none, 5,542 (``python benchmarks/one_hot_l1.py
    --dtype float32 --penalty l2 --solver lbfgs [--former-precision]``).

    **Standardized coordinates** (``standardize``): where dense ``X`` is badly
    scaled (:mod:`sigmax.solvers.coordinates`: columns in their own units),
    the quasi-Newton model is kept in standardized coordinates ``u`` (``w = A
    u``): it sees the gradient :math:`A^\top g` and its steps are mapped back
    by ``A``; objective, line search and stopping test stay those of ``w``.
    Tables as loaded (``python benchmarks/badly_scaled.py``): R's birthwt 22
    iterations where the plain steps stopped at ``max_iter=1000``, airquality 31
    against 600, scikit-learn's digits 417 against 1000 (1.6e-3 above the
    optimum).
    """

    name = "lbfgs"
    maxcor = MAXCOR
    #: Take the first iterates on the data term's float32 twin where it offers one
    #: (:mod:`sigmax.dataterms.float32_twin`), then go on in float64.
    float32_start = True
    #: Take the quasi-Newton steps in standardized coordinates where dense ``X``
    #: is badly scaled (:mod:`sigmax.solvers.coordinates`).
    standardize = True

    def solve(self, objective: LinearObjective, w0: np.ndarray, *, tol: float,
              max_iter: int, verbose: int = 0) -> FitResult:
        self.check(objective)
        hist = History(self.name, verbose)
        w = np.array(w0, dtype=float)
        # The float32 phase (see _Phase): `obj` is the objective the steps are taken on.
        phase = first = _Phase.start(objective, tol) if self.float32_start else None
        obj = phase.twin if phase is not None else objective
        f, g = obj.value_and_grad(w)
        gnorm = float(np.max(np.abs(g))) if g.size else 0.0
        hist.add(0, f, gnorm)
        eps = working_eps(objective)
        mem = _Memory(self.maxcor, w.size)
        # Badly scaled dense X: the quasi-Newton model in standardized
        # coordinates u (w = A u, see coordinates.py); gu = A^T g.
        coords = (Standardized.of(objective) if self.standardize else None) or IDENTITY
        gu = coords.grad(g)
        converged, message, it = phase is None and gnorm <= tol, "", 0
        best_gnorm, blind = gnorm, 0
        while not converged and it < max_iter:
            # (not >: a float32 gradient that is not finite ends the phase too)
            if phase is not None and not gnorm > phase.switch:
                obj, f, g, gnorm = phase.end(objective, w, hist, it)
                gu = coords.grad(g)
                best_gnorm, blind, phase = gnorm, 0, None
            if phase is None and gnorm <= tol:
                converged = True
                break
            it += 1
            du = -mem.apply(gu)
            d = coords.step(du)
            gd = float(g @ d)
            if not gd < 0:  # lost descent (rounding): restart from steepest descent
                mem.reset()
                du = -gu
                d = coords.step(du)
                gd = -float(gu @ gu)
            t0 = 1.0 if mem.n else min(1.0, 1.0 / max(float(np.linalg.norm(gu)), 1e-300))
            step = self._line_search(obj, w, f, g, d, gd, t0, working_eps(obj))
            if step is None:
                if phase is not None:  # float32 resolves no more: on in float64
                    phase.switch, it = np.inf, it - 1
                    continue
                if (on := in_float64_at(objective, w, hist)) is not None:  # a float32 fit
                    objective, f, g, gnorm = on
                    obj, eps = objective, working_eps(objective)
                    gu, best_gnorm, blind, it = coords.grad(g), gnorm, 0, it - 1
                    continue
                message = "line search failed: no decrease measurable in the working precision"
                converged = gnorm <= max(tol, STALL_EPS * eps)
                break
            t, w_new, f_new, g_new = step
            gu_new = coords.grad(g_new)
            s = w_new - w if coords is IDENTITY else t * du
            y = gu_new - gu
            sy = float(s @ y)
            if sy > 1e-10 * float(y @ y):  # keep the approximation positive definite
                mem.push(s, y)
            armijo = f_new <= f + C1 * t * gd
            f_old = f
            w, f, g, gu = w_new, f_new, g_new, gu_new
            gnorm = float(np.max(np.abs(g)))
            hist.add(it, f, gnorm)
            flat = armijo and f_old - f <= FTOL * max(abs(f_old), abs(f), 1.0)
            # A decrease f resolves: above the rounding of a float32 objective's
            # value, whose noise otherwise passes for progress half the time (R's
            # Salaries as loaded in float32: 1,000 iterations at the float32
            # floor). In float64 that rounding is below FTOL: `flat` decides first.
            measured = armijo and f_old - f > RESOLVED * working_eps(obj) * max(abs(f_old), 1.0)
            # Steps accepted on the derivative alone (f no longer resolves the
            # decrease) must keep lowering the gradient, else progress has
            # reached the working precision.
            if measured or gnorm < best_gnorm:
                best_gnorm, blind = min(best_gnorm, gnorm), 0
            else:
                blind += 1
            if phase is not None:
                if flat or blind >= MAX_BLIND:  # float32's precision reached: on in float64
                    phase.switch = np.inf
                continue
            if gnorm <= tol:
                converged = True
                break
            if (flat or blind >= MAX_BLIND) and (
                    on := in_float64_at(objective, w, hist)) is not None:
                # A float32 fit at float32's floor goes on in float64 on the same
                # float32 X (sigmax.dataterms.float64_view), keeping its pairs.
                objective, f, g, gnorm = on
                obj, eps = objective, working_eps(objective)
                gu, best_gnorm, blind = coords.grad(g), gnorm, 0
                continue
            if flat:
                message, converged = "relative decrease of f at float64 rounding", True
                break
            if blind >= MAX_BLIND:
                message = "no progress measurable in the working precision"
                converged = gnorm <= max(tol, STALL_EPS * eps)
                break
        if phase is not None:  # max_iter reached in the float32 phase
            obj, f, g, gnorm = phase.end(objective, w, hist, it)
            converged = gnorm <= tol
        if not message:
            message = "converged" if converged else f"reached max_iter={max_iter}"
        return hist.result(objective, w, f, gnorm, it, converged, message,
                           n_float32_iter=first.n_iter if first is not None else 0)

    @staticmethod
    def _line_search(objective, w, f, g, d, gd, t, eps):
        """A step ``(t, w, f, g)`` meeting the strong Wolfe conditions, or ``None``.

        Bracketing then zoom with safeguarded cubic interpolation (Nocedal &
        Wright, Algorithms 3.5 and 3.6). Where ``f`` cannot resolve the
        decrease (a float32 objective near its optimum: changes below its
        rounding level) the sufficient-decrease test becomes Hager & Zhang's
        approximate Wolfe condition, which trusts the directional derivative
        instead: ``f_t <= f + noise`` and ``d_t <= (1 - 2 c1) |g.d|``. If the
        evaluations run out, the best point with sufficient decrease is returned.
        """
        noise = 8 * eps * max(1.0, abs(f))
        evals = 0
        found: list = []  # the last point with sufficient decrease

        def probe(t):
            nonlocal evals
            evals += 1
            w_t = w + t * d
            f_t, g_t = objective.value_and_grad(w_t)
            return w_t, f_t, g_t, float(g_t @ d)

        def sufficient(t, f_t, d_t):
            return bool(np.isfinite(f_t)) and (
                f_t <= f + C1 * t * gd or (f_t <= f + noise and d_t <= -(1 - 2 * C1) * gd))

        def zoom(lo, f_lo, d_lo, hi, f_hi, d_hi):
            while evals < MAX_LS:
                width = abs(hi - lo)
                if np.isfinite(f_hi):
                    t = _cubic_min(lo, f_lo, d_lo, hi, f_hi, d_hi)
                    t = min(max(t, min(lo, hi) + 0.1 * width), max(lo, hi) - 0.1 * width)
                else:
                    t = lo + 0.1 * (hi - lo)
                w_t, f_t, g_t, d_t = probe(t)
                if not sufficient(t, f_t, d_t) or f_t > f_lo + noise:
                    hi, f_hi, d_hi = t, f_t, d_t
                else:
                    if abs(d_t) <= -C2 * gd:
                        return t, w_t, f_t, g_t
                    found[:] = [(t, w_t, f_t, g_t)]
                    if d_t * (hi - lo) >= 0:
                        hi, f_hi, d_hi = lo, f_lo, d_lo
                    lo, f_lo, d_lo = t, f_t, d_t
            return found[0] if found else None

        t_prev, f_prev, d_prev = 0.0, f, gd
        while evals < MAX_LS:
            w_t, f_t, g_t, d_t = probe(t)
            if not sufficient(t, f_t, d_t) or (t_prev > 0 and f_t > f_prev + noise):
                return zoom(t_prev, f_prev, d_prev, t, f_t, d_t)
            if abs(d_t) <= -C2 * gd:
                return t, w_t, f_t, g_t
            found[:] = [(t, w_t, f_t, g_t)]
            if d_t >= 0:
                return zoom(t, f_t, d_t, t_prev, f_prev, d_prev)
            t_prev, f_prev, d_prev = t, f_t, d_t
            t *= 4.0  # still going down steeply: a longer step
        return found[0] if found else None


class _Phase:
    """The float32 phase of a float64 L-BFGS solve (:mod:`sigmax.dataterms.float32_twin`).

    Steps are taken on the twin (the same objective with float32 products)
    while its gradient's max-norm is above ``switch``: the tolerance, or
    :data:`F32_SWITCH` where that is tighter (float32's gradient is exact to
    about that: the estimators' floor for a float32 fit's ``tol``). The phase
    also ends where float32 stops resolving progress (a failed line search, a
    decrease at rounding level, :data:`MAX_BLIND` blind steps). The curvature
    pairs it stored stay: they describe the same function.
    """

    def __init__(self, twin: LinearObjective, switch: float) -> None:
        self.twin, self.switch = twin, switch
        self.n_iter = 0  # iterations taken on the twin (set by end)

    @classmethod
    def start(cls, objective: LinearObjective, tol: float) -> _Phase | None:
        """The phase for a float64 ``objective`` whose data term offers a twin, else None."""
        if np.dtype(getattr(objective, "dtype", np.float64)) != np.float64:
            return None
        offer = getattr(objective, "float32_twin", None)
        twin = offer() if offer is not None else None
        return None if twin is None else cls(twin, max(float(tol), F32_SWITCH))

    def end(self, objective: LinearObjective, w: np.ndarray, hist: History, it: int):
        """Back to ``objective`` at ``w`` after ``it`` iterations: ``(objective, f, g,
        max|g|)`` in float64.

        The last history row (this iterate) gets the float64 values, the twin's
        evaluations are added to ``objective``'s counters, and the twin is let go.
        """
        objective.n_grad_evals += self.twin.n_grad_evals
        objective.n_value_evals += self.twin.n_value_evals
        self.twin, self.n_iter = None, it
        f, g = objective.value_and_grad(w)
        gnorm = float(np.max(np.abs(g))) if g.size else 0.0
        hist.amend(f, gnorm)
        return objective, f, g, gnorm
