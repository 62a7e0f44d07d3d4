r"""The data term of a linear model: the unscaled, unpenalized loss sum.

.. math:: D(w) = \sum_i s_i \, \ell(z_i, y_i), \qquad Z = X W + b + O,

with ``O`` the offset (``(n, k)`` known logits; zero without one) and the
parameters in the layout of :class:`sigmax.objective.Objective` (a flat
float64 vector, the C-order ravel of ``P`` of shape ``(d [+ 1], k)``).
A data term is where ``X`` lives and is read; the objective on top of it only
scales, adds the penalty and counts. Implementations:

- :class:`~sigmax.dataterms.numpy_term.NumpyData`: NumPy / SciPy CSR in row
  blocks (fused and partition passes, compiled kernels);
- :class:`~sigmax.dataterms.generic.GenericData`: any other in-memory ``X``
  (the loss's row-major methods on the full ``(n, k)`` logits);
- :class:`~sigmax.backends.array.ArrayData`: an array-API ``X`` (torch, GPU);
- :class:`~sigmax.backends.dask_backend.ChunkedData`: a dask array, a sum of
  the NumPy data terms of its row chunks.

Every method returns float64 NumPy results on the host: a float, or an
``(n_rows, k)`` array that the caller may modify (a fresh array each call).

Offsets
-------
An offset ``O`` is data, like ``X``: a known part of every logit that is not
fitted (an exposure, the logits of an earlier model). It enters the logits
where the loss is evaluated (value, gradient, the Hessian's per-sample
state) and nowhere else: the gradient and the Hessian with respect to ``W``
and ``b`` keep their form, and a Hessian product ``(nabla^2 D) v`` forms the
*linear* logits ``X V + c`` of the direction, without ``O``. So every solver
fits with an offset without knowing it. Each data term stores ``O`` where its
``X`` lives (:attr:`DataTerm.offset`, ``None`` without one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..losses import Loss

__all__ = ["DataTerm", "host_offset", "total_weight"]


def total_weight(weights: np.ndarray, dtype: Any = np.float64) -> float:
    r""":math:`S = \sum_i s_i` in float64 (per-entry weights: divided by ``k``).

    ``dtype``: the precision the weights are used in (summed after rounding to it).
    """
    w = np.asarray(weights)
    # Rounded to ``dtype`` only where that changes them: upcast (float32 weights of a
    # float64 sum) the values are exact as they are, and a converted copy of the
    # (n,) unit weights' broadcast view was the largest allocation of a float32 fit.
    if not np.can_cast(w.dtype, dtype, "safe"):
        w = w.astype(dtype)
    total = float(w.sum(dtype=np.float64))
    return total / w.shape[1] if w.ndim == 2 else total


class DataTerm:
    """Base class and protocol of the data terms (see the module docstring).

    Parameters
    ----------
    loss : Loss
    n_samples, n_features, k : int
        Shape of ``X`` and number of outputs (columns of ``Z``).
    dtype : numpy dtype
        Working precision of the products with ``X``.
    weight_total : float
        :math:`S = \\sum_i s_i` (divided by ``k`` for per-entry weights).
    fit_intercept : bool

    Notes
    -----
    Subclasses set ``X``, ``Y`` and ``weights`` (where the data live) and
    implement :meth:`value_and_grad`, :meth:`logits`, :meth:`hessp` and
    :meth:`hessian`; the others have defaults.
    """

    #: Hessian blocks from float64 products only, float32 grams no more: set where a
    #: column proved nearly collinear with the intercept
    #: (:func:`sigmax.dataterms.hessian.intercept_collinear`) or a Newton-Cholesky step's
    #: blocks had a pivot float32 cannot resolve (:class:`sigmax.solvers.newton.NewtonCholesky`).
    exact_grams: bool = False

    X: Any
    Y: Any
    weights: Any
    #: ``(n, k)`` offset added to the logits, where ``X`` lives, or None.
    offset: Any = None
    #: True where :meth:`hessian_diag` (and, for dense ``X``,
    #: :meth:`hessian_output_blocks`) are formed: Newton-CG's preconditioners.
    forms_preconditioner: bool = False

    def __init__(self, loss: Loss, n_samples: int, n_features: int, k: int, dtype: Any,
                 weight_total: float, fit_intercept: bool) -> None:
        self.loss = loss
        self.n_samples, self.n_features = int(n_samples), int(n_features)
        self.k = int(k)
        self.dtype = np.dtype(dtype)
        self.weight_total = float(weight_total)
        self.fit_intercept = bool(fit_intercept)
        self.n_rows = self.n_features + int(self.fit_intercept)
        self.n_params = self.n_rows * self.k
        self._memo: dict[str, Any] = {}

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per data term and ``key``, then the kept value.

        For quantities of the targets and weights alone, asked for at every point
        of a path over one data term (the solver choice's class shares: one-vs-rest
        over the film's 79 label sets asked 40 times in one training fold's search,
        each a pass over its (n, 79) labels).
        """
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def unpack(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Split ``w`` into ``(W (d, k), b (k,) or None)`` views."""
        P = w.reshape(self.n_rows, self.k)
        return P[: self.n_features], (P[self.n_features] if self.fit_intercept else None)

    # -- first order -------------------------------------------------------------------
    def value_and_grad(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        """``(D(w), dD/dP)``: the gradient as a fresh float64 ``(n_rows, k)`` array."""
        raise NotImplementedError  # pragma: no cover - abstract

    def value(self, w: np.ndarray) -> float:
        """``D(w)`` only (implementations skip the ``X^T`` product)."""
        return self.value_and_grad(w)[0]

    def logits(self, w: np.ndarray, offset: bool = True) -> Any:
        """``Z = X @ W + b + O`` of shape ``(n, k)``, where the data live, in the working dtype.

        ``offset=False``: the linear logits ``X @ W + b`` only (a Hessian
        product's direction, the separability check).
        """
        raise NotImplementedError  # pragma: no cover - abstract

    # -- second order --------------------------------------------------------------------
    def track_second_order(self) -> None:
        """Keep the Hessian's per-sample state current from the next evaluation on.

        A data term that can leave that state during :meth:`value_and_grad`
        saves the separate pass of the first Hessian at each point; others
        ignore the request.
        """

    def hessp(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``(nabla^2 D(w)) v`` as a float64 ``(n_rows, k)`` array."""
        raise NotImplementedError  # pragma: no cover - abstract

    def float32_hessp(self, on: bool | None = True) -> bool:
        """Ask for :meth:`hessp` with float32 products from now on (``on``), or exact ones.

        For conjugate gradients, which need a few digits of each product
        (:mod:`sigmax.dataterms.float32_hessp`). Returns whether the products
        are float32 now (``on=None``: only that, nothing changes); a data term
        without such products ignores the request.
        """
        return False

    def in_float64(self) -> DataTerm:
        """This data term with its passes in float64 on the same data, for the solvers
        that form the full Hessian at every step (:mod:`sigmax.dataterms.float64_view`).

        ``self`` where it already computes in float64 or offers no such view
        (the chunked dask data term keeps its dtype).
        """
        return self

    def float32_twin(self) -> DataTerm | None:
        """This data term with float32 products on the same ``X`` (not copied), for a
        float64 solve's first iterates (:mod:`sigmax.dataterms.float32_twin`), or
        None where none is offered. A new twin each call, owned by the caller."""
        return None

    def hessian_sample(self, w: np.ndarray, rows: np.ndarray, float32: bool = False
                       ) -> DataTerm | None:
        """The data term of ``rows`` only, with this term's Hessian state at ``w``.

        Its :meth:`hessp` and :meth:`hessian_diag` at ``w`` are the sums over
        the sampled rows (:mod:`sigmax.dataterms.row_sample`: subsampled
        Newton), in float32 where ``float32``; None where this data term
        offers no sample (the caller then uses the full products).
        """
        return None

    def compiled_passes(self, on: bool = True) -> bool:
        """Compiled passes from now on (``on``) where ``X`` is one dense block.

        :meth:`hessp_operands` for the compiled Newton-CG
        (:mod:`sigmax.solvers.compiled_cg`) and, on the symmetric softmax in
        float64, :meth:`value_and_grad` in one compiled call
        (:mod:`sigmax._softmax_block`). Asked for by callers that run many
        solves over one data term (the regularization paths): the first
        compiled pass in a process costs numba's import and the load of its
        cached kernels (0.6-0.8 s, ``python benchmarks/compiled_cg.py``), more
        than a whole small fit. Returns whether they are on.
        """
        return False

    def hessp_operands(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """``(X, St, weights)`` from which :mod:`sigmax._cg_kernels` forms :meth:`hessp` at ``w``.

        ``X`` dense ``(n, d)``, C or F order (the float32 twin where
        :meth:`float32_hessp` is on); ``St`` the loss's ``(k, n)`` state in the
        dtype of ``X``; ``weights`` ``(n,)`` in that dtype, or empty (unit).
        Only where :meth:`compiled_passes` is on, the products are one block on one
        thread (the compiled solve takes the place of Python between small
        products) and the loss declares its ``hessp_state``; None otherwise.
        """
        return None

    def hessian(self, w: np.ndarray) -> np.ndarray:
        """Full Hessian of ``D`` at ``w``, float64 ``(n_params, n_params)``."""
        raise NotImplementedError  # pragma: no cover - abstract

    def hessian_blocks(self, w: np.ndarray, for_step: bool = False) -> np.ndarray | None:
        """The ``k`` diagonal ``(D, D)`` blocks of a block-diagonal Hessian, or None.

        Only for losses with ``diagonal_hessian``; None where this data term
        does not form them (the objective then uses :meth:`hessian`).
        ``for_step``: blocks a Newton step solves with, which a data term may
        form from float32 products (a step needs a few digits; the gradient,
        which decides it, stays exact); diagnostics ask for exact ones.
        """
        return None

    def hessian_diag(self, w: np.ndarray) -> np.ndarray | None:
        """Diagonal of the Hessian as ``(n_rows, k)`` float64, or None if unavailable."""
        return None

    def hessian_output_blocks(self, w: np.ndarray) -> np.ndarray | None:
        """The ``k`` diagonal ``(D, D)`` blocks over outputs of the Hessian (any loss), or None.

        For a loss with ``diagonal_hessian`` they are the whole Hessian
        (:meth:`hessian_blocks`); for the softmax, the blocks of a
        block-Jacobi preconditioner. None where this data term does not form them.
        """
        return self.hessian_blocks(w) if self.loss.diagonal_hessian else None

    # -- rows ----------------------------------------------------------------------------
    def row_slice(self, lo: int, hi: int) -> DataTerm:
        """The data term of rows ``lo:hi`` (views where possible)."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot be cut into row batches; use solver='lbfgs' "
            "or another full-batch solver.")

    def batches(self) -> Any:
        """The mini-batch view of ``solver="minibatch"`` (:mod:`sigmax.dataterms.batches`)."""
        from .batches import RowBatches

        return RowBatches(self)


class StateCache:
    """The logits of the last gradient point and the Hessian state at the last ``hessp`` point.

    Newton-type solvers call ``value_and_grad(w)`` and then many ``hessp(w, v)``
    at the same ``w``: the second-order state (probabilities, per-row weights) is
    built once per point, from the cached logits when the point is the same.
    Mixed into the data terms that keep their logits whole (generic, array API).
    """

    def _clear_state(self) -> None:
        self._cache_w: np.ndarray | None = None
        self._cache_Z: Any = None
        self._hess_w: np.ndarray | None = None
        self._hess_state: Any = None

    def _remember(self, w: np.ndarray, Z: Any) -> None:
        self._cache_w, self._cache_Z = w.copy(), Z

    def _state_for(self, w: np.ndarray, loss: Any) -> Any:
        """``loss.hessian_state`` at ``w``, built once per point."""
        if self._hess_w is None or not np.array_equal(self._hess_w, w):
            if self._cache_w is not None and np.array_equal(self._cache_w, w):
                Z = self._cache_Z
            else:
                Z = self.logits(w)  # type: ignore[attr-defined]
            self._hess_state = loss.hessian_state(Z, self.Y, self.weights)  # type: ignore[attr-defined]
            self._hess_w = w.copy()
        return self._hess_state


def host_offset(offset: Any, n: int, k: int, dtype: Any) -> np.ndarray | None:
    """``offset`` as a host ``(n, k)`` array in ``dtype`` (no copy when it already is), or None.

    The estimators validate offsets for users (``sigmax.estimators._offset``);
    this only guards the data terms' own contract.
    """
    if offset is None:
        return None
    off = np.asarray(offset, dtype=dtype)
    if off.shape != (n, k):
        raise ValueError(f"The offset of a data term has shape (n, k) = ({n}, {k}); got "
                         f"{off.shape}.")
    return off


class HostRows:
    """Row slices and logits of a data term whose ``X`` is a host NumPy / SciPy matrix.

    ``row_slice`` rebuilds the same class on a block of rows (``RowBatches``), and
    the logits are one product with ``X``: shared by the NumPy engine and the
    generic term so that both read ``X`` the same way.
    """

    def row_slice(self, lo: int, hi: int) -> Any:
        offset = None if self.offset is None else self.offset[lo:hi]  # type: ignore[attr-defined]
        return type(self)(self.loss, self.X[lo:hi], self.Y[lo:hi],  # type: ignore[attr-defined]
                          self.weights[lo:hi], self.k, self.fit_intercept,  # type: ignore[attr-defined]
                          offset=offset)

    def logits(self, w: np.ndarray, offset: bool = True) -> np.ndarray:
        W, b = self.unpack(w)  # type: ignore[attr-defined]
        Z = np.asarray(self.X @ W.astype(self.dtype, copy=False))  # type: ignore[attr-defined]
        if b is not None:
            Z += b.astype(self.dtype, copy=False)  # type: ignore[attr-defined]
        if offset and self.offset is not None:  # type: ignore[attr-defined]
            Z += self.offset  # type: ignore[attr-defined]
        return Z

