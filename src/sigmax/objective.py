r"""The penalized objective of a linear model: a host-side wrapper over a data term.

Conventions
-----------
The parameters are a flat float64 vector ``w`` of length ``(d + 1) * k`` (or
``d * k`` without intercept), the C-order ravel of the matrix ``P`` of shape
``(d [+ 1], k)``: ``P[:d]`` holds the coefficients (``coef_ = P[:d].T``) and
``P[d]`` the intercepts. The logits are ``Z = X @ P[:d] + P[d] + O`` with ``O`` the
offset, known logits that are data (zero without one; see :mod:`sigmax.dataterms.base`).

The objective minimized is scikit-learn's, divided by :math:`C S` with
:math:`S = \sum_i s_i` (so that tolerances do not depend on ``n`` or ``C``):

.. math::

    f(w) = \frac{1}{S} D(w) + \alpha\, r(W), \qquad
    D(w) = \sum_i s_i \, \ell(z_i, y_i), \qquad \alpha = \frac{1}{C S}.

The minimizer is the same as that of :math:`C \sum_i s_i \ell_i + r(W)`.
The data term :math:`D` (a :class:`~sigmax.dataterms.DataTerm`: NumPy row
blocks, torch, dask) is where ``X`` is read; :class:`Objective` owns the
layout, the scaling ``1 / S``, the penalty (``penalty_term`` = the penalty
times :math:`\alpha`) and the evaluation counters, the same for every backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .dataterms import DataTerm, in_memory
from .losses import Loss
from .penalties import Penalty

__all__ = ["LinearObjective", "Objective"]


class Objective:
    """``f(w)``: a data term, scaled by ``1 / S``, plus ``alpha`` times a penalty.

    Parameters
    ----------
    data : DataTerm
        The unscaled loss sum and its derivatives, where ``X`` lives.
    C : float
        Inverse penalty strength; ``np.inf`` disables the penalty.
    penalty : Penalty

    Attributes
    ----------
    penalty_term : Penalty
        ``penalty.scaled(alpha)``: the penalty exactly as it enters ``f``.
    n_grad_evals, n_value_evals, n_hessp_evals : int
        Evaluation counters (a full Hessian counts as one Hessian product).
    """

    def __init__(self, data: DataTerm, *, C: float, penalty: Penalty) -> None:
        self.data = data
        self.loss: Loss = data.loss
        self.X, self.Y, self.weights, self.dtype = data.X, data.Y, data.weights, data.dtype
        self.n_samples, self.n_features, self.k = data.n_samples, data.n_features, data.k
        self.fit_intercept = data.fit_intercept
        self.n_rows, self.n_params = data.n_rows, data.n_params
        if not data.weight_total > 0:
            raise ValueError("The sample weights sum to zero: at least one sample needs a "
                             "positive weight.")
        self.scale = 1.0 / data.weight_total
        self.penalty = penalty
        self.C = float(C)
        # alpha multiplies the penalty after the objective is divided by C * S.
        self.alpha = 0.0 if (np.isinf(self.C) or penalty.name == "none") else self.scale / self.C
        self.penalty_term = penalty.scaled(self.alpha)
        self.n_grad_evals = 0
        self.n_value_evals = 0
        self.n_hessp_evals = 0
        self.n_sampled_hessp_evals = 0
        self.hessp_sample_share = 0.0

    # -- layout -----------------------------------------------------------------
    def unpack(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Split ``w`` into ``(W (d, k), b (k,) or None)`` views."""
        P = w.reshape(self.n_rows, self.k)
        return P[: self.n_features], (P[self.n_features] if self.fit_intercept else None)

    def zeros(self) -> np.ndarray:
        return np.zeros(self.n_params)

    def start(self, null_model: bool = True) -> np.ndarray:
        """The cold start: ``W = 0``, and for coupled outputs the null model's intercepts.

        The null model's intercepts (:meth:`Loss.intercept_only`) where the
        outputs share one likelihood (the softmax, mixed heads): there a rare
        class starts at its frequency, and strongly penalized softmax paths
        precondition their CG from the first point (zipf_classes at 10%,
        Newton-CG: 15 -> 7 evaluations). Losses whose outputs decouple
        (``diagonal_hessian``: binomial, one-vs-rest, multi-label) start at zero:
        their Newton steps share one step length, and from the null model one
        nearly separable label of the movies table (``Short``, by ``length``)
        made every step halve three times: 10 -> 30 evaluations for the
        full-size Newton-Cholesky fit (what ``auto`` picks there), where L-BFGS
        saved 2-6 of 30-108 evaluations and Newton-CG on credit_onehot lost 17
        of 62 products (``python benchmarks/cold_start.py``). Zero intercepts too
        without an intercept, or with an offset (the null model then has no closed
        form).

        ``null_model=False``: zero intercepts as well. The estimators ask for it
        for first-order solvers (``needs_hessian`` false): the null model's gain
        is the curvature a Newton step or its preconditioner sees from the first
        step on; L-BFGS's counts moved both ways with it (zipf_classes at 10%:
        191 -> 183 evaluations, film_labelsets at 10% 360 -> 368, digits at 10%
        53 -> 59).
        """
        w = self.zeros()
        # Device and chunked data terms keep the host targets they were built from
        # (``host_targets``), so they start where NumPy does.
        Y, sw = getattr(self.data, "host_targets", None) or (self.Y, self.weights)
        if not null_model or not self.fit_intercept \
                or getattr(self.data, "offset", None) is not None \
                or self.loss.diagonal_hessian \
                or not isinstance(Y, np.ndarray) or not isinstance(sw, np.ndarray):
            return w
        b = self.loss.intercept_only(Y, sw, self.k)
        if b is not None and b.shape == (self.k,) and np.all(np.isfinite(b)):
            self.unpack(w)[1][:] = b
        return w

    def in_float64(self) -> Objective:
        """This objective with its data term's passes in float64
        (:meth:`~sigmax.dataterms.DataTerm.in_float64`), or ``self`` where they already
        are (or the data term offers no float64 view). Same ``C``, penalty and layout;
        its own evaluation counters."""
        data = self.data.in_float64()
        return self if data is self.data else Objective(data, C=self.C, penalty=self.penalty)

    def logits(self, w: np.ndarray, offset: bool = True) -> Any:
        """``Z = X @ W + b + O`` of shape (n, k), where ``X`` lives, in the working dtype.

        ``offset=False``: ``X @ W + b`` without the offset.
        """
        return self.data.logits(w, offset=offset)

    # -- smooth part ------------------------------------------------------------
    def value_and_grad(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        """Smooth part of ``f`` (data term + smooth penalty) and its gradient, one pass.

        Returns
        -------
        value : float
        grad : ndarray of shape (n_params,), float64
        """
        self.n_grad_evals += 1
        value, grad = self.data.value_and_grad(w)
        grad *= self.scale
        value *= self.scale
        W, _ = self.unpack(w)
        pv, pg = self.penalty_term.smooth_value_and_grad(W)
        if pg is not None:
            grad[: self.n_features] += pg
        return value + pv, grad.ravel()

    def float32_twin(self) -> Objective | None:
        """This objective with its data term's float32 twin (float32 products), or None.

        For a float64 solve's first iterates
        (:meth:`~sigmax.dataterms.base.DataTerm.float32_twin`): the same ``C``,
        penalty and scale ``1 / S`` (so ``f`` is the same function, only its data
        term's products are float32); its own evaluation counters.
        """
        data = self.data.float32_twin()
        if data is None:
            return None
        twin = Objective(data, C=self.C, penalty=self.penalty)
        twin.scale, twin.alpha, twin.penalty_term = self.scale, self.alpha, self.penalty_term
        return twin

    def value(self, w: np.ndarray) -> float:
        """Smooth part of ``f`` only (no gradient, no ``X^T`` product)."""
        self.n_value_evals += 1
        W, _ = self.unpack(w)
        return self.data.value(w) * self.scale + self.penalty_term.smooth_value_and_grad(W)[0]

    def objective(self, w: np.ndarray) -> float:
        """The full objective ``f(w)``, non-smooth part included."""
        W, _ = self.unpack(w)
        return self.data.value(w) * self.scale + self.penalty_term.value(W)

    def sklearn_objective(self, w: np.ndarray) -> float:
        """scikit-learn's objective :math:`C\\sum_i s_i\\ell_i + r(W)` (``C`` finite)."""
        return self.objective(w) * self.C / self.scale

    # -- non-smooth part --------------------------------------------------------
    def prox(self, w: np.ndarray, step: float | np.ndarray) -> np.ndarray:
        """Proximal step of the non-smooth part on the coefficient rows (intercept untouched).

        ``step``: a float, or (separable penalties) an array that broadcasts
        to the ``(d, k)`` coefficients, e.g. one step per feature row ``(d, 1)``.
        """
        if self.penalty_term.smooth:
            return w
        out = w.copy()
        P = out.reshape(self.n_rows, self.k)
        P[: self.n_features] = self.penalty_term.prox(P[: self.n_features], step)
        return out

    def optimality(self, w: np.ndarray, grad: np.ndarray) -> float:
        """Max-norm of the minimum-norm subgradient of ``f``: zero exactly at the optimum."""
        if self.penalty_term.smooth:
            return float(np.max(np.abs(grad))) if grad.size else 0.0
        sub = grad.copy().reshape(self.n_rows, self.k)
        W, _ = self.unpack(w)
        sub[: self.n_features] = self.penalty_term.min_norm_subgradient(W, sub[: self.n_features])
        return float(np.max(np.abs(sub)))

    # -- second order -----------------------------------------------------------
    def track_second_order(self) -> None:
        """Keep the Hessian's per-sample state current from the next evaluation on.

        A second-order solver calls this before its first ``value_and_grad``:
        that pass then also leaves the state its first Hessian needs, instead
        of a separate pass at the same point (one pass in nine on the
        benchmark's small problems).
        """
        self.data.track_second_order()

    def hessp(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Hessian of the smooth part at ``w`` applied to ``v`` (two products with ``X``)."""
        self.n_hessp_evals += 1
        out = self.data.hessp(w, v)
        out *= self.scale
        V, _ = self.unpack(v)
        W, _ = self.unpack(w)
        pen = self.penalty_term.smooth_hessp(W, V)
        if pen is not None:
            out[: self.n_features] += pen
        return out.ravel()

    def hessian_sample(self, w: np.ndarray, rows: np.ndarray, float32: bool = False
                       ) -> Objective | None:
        r"""This objective's Hessian at ``w`` estimated on ``rows`` (subsampled Newton).

        The objective over the sampled rows, its penalty weight scaled by the
        ratio of the weight totals, :math:`C' = C\,S / S_m`: its Hessian
        :math:`\tfrac{1}{S_m} \nabla^2 D_m + \alpha \nabla^2 P` estimates this
        one's, :math:`\tfrac{1}{S} \nabla^2 D + \alpha \nabla^2 P`, without bias,
        the penalty's part exact (:mod:`sigmax.dataterms.row_sample`). Only its
        second-order methods are meant to be used (its value is the sample's).
        None where the data term offers no sample, or the sampled rows weigh
        nothing.
        """
        sub = self.data.hessian_sample(w, rows, float32)
        if sub is None or not sub.weight_total > 0:
            return None
        return Objective(sub, C=self.C * self.data.weight_total / sub.weight_total,
                         penalty=self.penalty)

    def penalty_diag(self, w: np.ndarray) -> np.ndarray | float | None:
        """Diagonal of the smooth penalty's Hessian at ``w``: ``(d, k)``, a float or None.

        At ``self.zeros()``: what the penalty alone adds to each coefficient's
        curvature (the solvers' conditioning estimates read it there).
        """
        return self.penalty_term.smooth_hessian_diag(self.unpack(w)[0])

    def hessian_diag(self, w: np.ndarray) -> np.ndarray | None:
        """Diagonal of the smooth part's Hessian at ``w``, shape (n_params,); None if unavailable.

        The Jacobi preconditioner of Newton-CG (one pass over ``X``).
        """
        out = self.data.hessian_diag(w)
        if out is None:
            return None
        out *= self.scale
        diag = self.penalty_diag(w)
        if diag is not None:
            out[: self.n_features] += diag
        return out.ravel()

    def hessian_blocks(self, w: np.ndarray, for_step: bool = False) -> np.ndarray | None:
        r"""The ``k`` diagonal blocks of a block-diagonal Hessian, shape (k, D, D), float64.

        For losses whose per-row Hessian is diagonal across outputs
        (``loss.diagonal_hessian``: binomial, multi-label, one-vs-rest) the
        outputs decouple: block ``a`` is :math:`\tilde X^\top \mathrm{diag}(h_a)
        \tilde X` (plus the penalty's) and every other block is zero, so Newton
        solves ``k`` systems of size ``D = d (+1)`` instead of one of size
        ``D k``. ``None`` for other losses, or where the data term does not form them.
        ``for_step``: the blocks a Newton step solves with, which the data term
        may form from float32 products (:meth:`DataTerm.hessian_blocks`).
        """
        if not self.loss.diagonal_hessian:
            return None
        return self._scaled_blocks(w, self.data.hessian_blocks(w, for_step=for_step))

    def hessian_output_blocks(self, w: np.ndarray) -> np.ndarray | None:
        r"""The ``k`` diagonal ``(D, D)`` blocks over outputs of the Hessian, any loss.

        Block ``a`` is :math:`\tilde X^\top \mathrm{diag}(h_{aa}) \tilde X`
        plus the penalty's diagonal: for a block-diagonal loss the whole
        Hessian (:meth:`hessian_blocks`), for the softmax the block-Jacobi
        preconditioner of Newton-CG (the couplings between outputs left out).
        None where the data term does not form them.
        """
        return self._scaled_blocks(w, self.data.hessian_output_blocks(w))

    def _scaled_blocks(self, w: np.ndarray, B: np.ndarray | None) -> np.ndarray | None:
        """Data-term blocks ``(k, D, D)`` scaled by ``1 / S``, the penalty's diagonal added."""
        if B is None:
            return None
        self.n_hessp_evals += 1
        B *= self.scale
        diag = self.penalty_diag(w)
        if diag is not None:
            # The first d diagonal entries of each (D, D) block, as a strided view
            # (a fancy-indexed add with a broadcast cost 10 us a call, 9 calls a fit).
            k, D, d = B.shape[0], B.shape[1], self.n_features
            coef_diag = B.reshape(k, D * D)[:, : d * (D + 1): D + 1]
            coef_diag += diag if np.ndim(diag) == 0 else np.asarray(diag).T
        return B

    def hessian(self, w: np.ndarray, for_step: bool = False) -> np.ndarray:
        """Full Hessian of the smooth part, shape (n_params, n_params), float64.

        Block ``(a, b)`` over outputs is :math:`\\tilde X^\\top \\mathrm{diag}(h_{ab})
        \\tilde X` with :math:`\\tilde X = [X, 1]`; for a block-diagonal loss
        only the ``k`` diagonal blocks are formed (:meth:`hessian_blocks`, with
        ``for_step``). Meant for small parameter counts (Newton-Cholesky,
        proximal Newton).
        """
        D, k = self.n_rows, self.k
        blocks = self.hessian_blocks(w, for_step=for_step)
        if blocks is not None:
            if k == 1:
                return blocks[0]
            H4 = np.zeros((D, k, D, k))
            for a in range(k):
                H4[:, a, :, a] = blocks[a]
            return H4.reshape(D * k, D * k)
        self.n_hessp_evals += 1
        H = self.data.hessian(w)
        H *= self.scale
        diag = self.penalty_diag(w)
        if diag is not None:
            idx = np.arange(self.n_features * k)
            H[idx, idx] += np.broadcast_to(diag, (self.n_features, k)).ravel()
        return H


class LinearObjective(Objective):
    """:class:`Objective` of an in-memory ``X`` (NumPy or SciPy): the NumPy data term.

    Parameters
    ----------
    loss : Loss
        A loss from :data:`sigmax.losses.LOSSES`.
    X : ndarray or scipy.sparse matrix of shape (n, d)
        Features, float32 or float64; never copied.
    Y : ndarray
        Targets encoded for ``loss``.
    weights : ndarray of shape (n,) or (n, k)
        Sample (or entry) weights, already multiplied by class weights.
    k : int
        Number of outputs (columns of ``Z``).
    C : float
    penalty : Penalty
    fit_intercept : bool
    offset : ndarray of shape (n_samples, k), optional
        Known logits added to ``X W + b`` (data, not fitted).
    """

    def __init__(self, loss: Loss, X: Any, Y: np.ndarray, weights: np.ndarray, k: int, *,
                 C: float, penalty: Penalty, fit_intercept: bool = True,
                 offset: np.ndarray | None = None) -> None:
        super().__init__(in_memory(loss, X, Y, weights, k, fit_intercept, offset=offset),
                         C=C, penalty=penalty)
