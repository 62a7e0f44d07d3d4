r"""Losses in logit space.

A loss sees only the raw predictions (logits) ``Z`` of shape ``(n, k)``, the
encoded targets and the per-row (or per-entry) weights. It never sees ``X``:
:class:`sigmax.objective.Objective` lifts a loss to coefficients.

Conventions
-----------
- ``Z``: ``(n, k)`` logits, ``k`` = number of outputs of the loss.
- ``weights``: ``(n,)`` sample weights, or ``(n, k)`` entry weights for
  :class:`MultilabelLoss` (a zero entry masks that label of that row).
- ``value_and_grad`` returns the weighted *sum* :math:`\sum_i s_i \ell_i` as a
  Python float accumulated in float64, and the gradient
  :math:`G_{ik} = s_i \, \partial \ell_i / \partial z_{ik}` in the dtype of ``Z``,
  from one pass (one ``exp`` per entry).
- ``hessian_state`` caches what the Hessian needs at ``Z``;
  ``hessp(state, V)`` applies the per-row Hessian to ``V`` of shape ``(n, k)``,
  and ``hessian_weights(state, a, b)`` gives the ``(n,)`` weights of the block
  ``(a, b)`` of :math:`\nabla^2 \sum_i s_i \ell_i` with respect to
  ``(z_{\cdot a}, z_{\cdot b})``, or ``None`` when the block is zero.

The binary loss is the multinomial loss with K=2 and the logit
:math:`z = z_1 - z_0`: :math:`\mathrm{softmax}(z_0, z_1)_1 = \sigma(z_1 - z_0)`.
That identity is why a K=2 softmax model and a logistic model give the same
probabilities (see :mod:`sigmax.estimators.softmax` for the penalty mapping).

One definition per loss
-----------------------
Each loss writes its maths once, in the row-major methods above, against the
array namespace of ``Z`` (:func:`namespace`: NumPy, torch on any device, any
array-API library): the torch backend and the generic NumPy path run that
code. The block and partition kernels below are NumPy overrides of the same
definition, for speed (in-place, one pass, compiled), called only by the NumPy
data term; the base class's versions go through the row-major definition, so
a new loss that writes only that works on every data term, and a built-in
loss overrides the block kernels together (their Hessian state is its own).
Inside an override a faster variant falls back to the plain NumPy one (the
compiled partition passes when numba or the layout is missing); the tests
check every override against the definition.

Block kernels (the fast path)
-----------------------------
:class:`~sigmax.dataterms.NumpyData` evaluates ``X`` in row blocks whose
logits stay in cache, and hands the loss the *transposed* block ``Zt`` of shape
``(k, b)`` (C-contiguous): every row-wise reduction over the ``k`` outputs
(max, sum) then runs along contiguous rows of length ``b`` in SIMD, which is
3-6x faster than reducing short rows of an ``(b, k)`` block. ``Y`` and
``weights`` are passed as the matching row blocks in their stored layout.

- ``value_grad_t(Zt, Y, w, St=None)`` returns the weighted loss sum (float64)
  and overwrites ``Zt`` with the gradient block; when ``St`` (``(k, b)``) is
  given it also writes the Hessian state of the block into it.
- ``hessp_t(St, Y, w, Vt)`` overwrites ``Vt`` (``(k, b)``) with the per-row
  Hessian (state ``St``) applied to it.
- ``hessian_weights_t(St, Y, w, a, b)``: like ``hessian_weights`` for a block.

The base class implements them through the row-major methods, so a new loss
works unchanged; the built-in losses override them with one-pass kernels.

Partition kernels (the faster path, dense ``X``)
------------------------------------------------
Every built-in loss has the form :math:`\ell(z, y) = a(z) + d(y)^\top z`
(canonical link): a *log-partition* ``a`` that does not see the target, plus
a term linear in the logits. Its gradient :math:`\nabla a(z) + d(y)` has a
constant part, so the objective sums :math:`X^\top (s \circ D)` once and the
per-block gradient kernel needs no targets (no scatter into the block, no
strided reads of ``Y``). The *value* is still formed entry by entry from the
block's logits (``targets``): summed separately, the two parts of a small
loss would cancel and lose digits that line searches need.

- ``partition_scale``: the kernel sees ``Ut = partition_scale * Zt`` (the
  objective scales ``W`` and ``b``, which is exact for a power of two) and the
  objective multiplies the block gradient by it.
- ``partition_t(Ut, weights, St=None, work=None, targets=None)`` returns
  ``(value, G)``: with ``targets`` (a block of ``value_targets(Y)``, sliced
  ``[..., lo:hi]``) the weighted loss sum :math:`\sum_i s_i \ell_i`, without
  them :math:`\sum_i s_i a(z_i)`; both float64. ``G`` (``Ut`` or ``work``) holds
  :math:`s_i \, \partial a / \partial u`. ``weights`` may be ``None`` (unit
  weights, the fastest path); ``St`` as in ``value_grad_t``; ``work`` is an
  optional scratch array shaped like ``Ut``. ``compiled=True`` allows the
  loss's compiled (numba) pass where it has one: the objective decides, from
  the size of the problem, whether loading numba pays (see
  :data:`sigmax.dataterms.tuning.COMPILED_MIN_LOGITS`); same results either way.
  ``bias`` (``(k,)`` in the dtype of ``Ut``, or None): added to the logits of
  every sample first (the scaled intercepts; the compiled passes add them on
  the fly, which saves a sweep over the block).
- ``linear_targets_t(Y, k)``: the ``(k, b)`` float64 block of :math:`d(y_i)`.
- ``value_targets(Y, k)``: the targets in the layout the kernel reads.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

__all__ = ["Loss", "array_definition", "device_of", "namespace", "row_weights", "weighted_sum"]


def namespace(*arrays: Any) -> Any:
    """The array-API namespace of ``arrays`` (``array_api_compat``'s, or scikit-learn's copy).

    ``array-api-compat`` comes with the torch extra; scikit-learn vendors the
    same package, so NumPy input never needs the extra.
    """
    try:
        from array_api_compat import array_namespace
    except ImportError:  # pragma: no cover - without the torch extra
        from sklearn.externals.array_api_compat import array_namespace
    return array_namespace(*arrays)


def device_of(array: Any) -> Any:
    """The device of ``array`` (``array_api_compat.device``; ``"cpu"`` for NumPy)."""
    try:
        from array_api_compat import device
    except ImportError:  # pragma: no cover - without the torch extra
        from sklearn.externals.array_api_compat import device
    return device(array)


def weighted_sum(xp: Any, values: Any, weights: Any) -> float:
    """``sum(weights * values)`` accumulated in float64, as a Python float.

    ``weights`` is ``(n,)`` (one per row) or the shape of ``values``.
    """
    v = xp.astype(values, xp.float64, copy=False)
    w = xp.astype(weights, xp.float64, copy=False)
    if w.ndim == 1 and v.ndim == 2:
        w = w[:, None]
    return float(xp.sum(w * v))


def row_weights(xp: Any, weights: Any, like: Any) -> Any:
    """``weights`` in the dtype of ``like``, shaped to broadcast against ``(n, k)``."""
    w = xp.astype(weights, like.dtype, copy=False)
    return w[:, None] if w.ndim == 1 else w


class Loss:
    """Base class of the losses: see the module docstring for the contract."""

    name: ClassVar[str]
    #: True when the per-row Hessian is diagonal across outputs.
    diagonal_hessian: ClassVar[bool]
    #: True when the per-row Hessian is ``s (diag(p) - p p^T)`` with ``p`` the
    #: block state of ``value_grad_t`` (lets the objective build the full
    #: Hessian from ``k`` Gram matrices and one symmetric product).
    softmax_hessian: ClassVar[bool] = False
    #: The form of ``hessp_t`` the compiled Newton-CG reproduces
    #: (:mod:`sigmax._cg_kernels`): ``"softmax"``, :math:`p \odot (v - \langle p,
    #: v\rangle)\, w` per row with the probabilities ``p`` as state; ``"diagonal"``,
    #: :math:`h \odot v` with the weights inside the state ``h``; None: neither.
    hessp_state: ClassVar[str | None] = None
    #: True when the row-major methods are written against the array namespace
    #: (any array library); False for a NumPy-only loss.
    array_api: ClassVar[bool] = True

    def n_outputs(self, n_classes: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def flat_spans(self, k: int) -> list[tuple[int, int]]:
        """Spans ``(a, b)`` of the ``k`` logit columns in which adding a constant to a
        row's logits changes no loss (a symmetric softmax's classes): the data
        Hessian maps every vector to one whose entries in each span sum to zero,
        row by row of the ``(D, k)`` parameter layout. None here."""
        return []

    def value_and_grad(self, Z: np.ndarray, Y: np.ndarray, weights: np.ndarray
                       ) -> tuple[float, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def value(self, Z: np.ndarray, Y: np.ndarray, weights: np.ndarray) -> float:
        return self.value_and_grad(Z, Y, weights)[0]

    def hessian_state(self, Z: np.ndarray, Y: np.ndarray, weights: np.ndarray
                      ) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def hessp(self, state: Any, V: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def hessian_weights(self, state: Any, a: int, b: int
                        ) -> np.ndarray | None:  # pragma: no cover
        raise NotImplementedError

    def predict_proba(self, Z: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def predict_log_proba(self, Z: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # -- block kernels (transposed layout, see the module docstring) ---------------
    def value_grad_t(self, Zt: np.ndarray, Y: np.ndarray, weights: np.ndarray,
                     St: np.ndarray | None = None) -> float:
        """Loss sum of a block; ``Zt`` ``(k, b)`` becomes the gradient block.

        The default goes through :meth:`value_and_grad`; its Hessian state is
        the logits themselves.
        """
        if St is not None:
            St[...] = Zt
        value, G = self.value_and_grad(np.ascontiguousarray(Zt.T), Y, weights)
        Zt[...] = G.T
        return value

    def hessp_t(self, St: np.ndarray, Y: np.ndarray, weights: np.ndarray,
                Vt: np.ndarray, compiled: bool = False) -> None:
        """Overwrite ``Vt`` ``(k, b)`` with the Hessian block (state ``St``) times ``Vt``.

        ``compiled=True`` allows the loss's compiled pass where it has one (as
        for ``partition_t``: the objective decides from the problem's size).
        """
        state = self.hessian_state(np.ascontiguousarray(St.T), Y, weights)
        Vt[...] = self.hessp(state, np.ascontiguousarray(Vt.T)).T

    def hessian_weights_t(self, St: np.ndarray, Y: np.ndarray, weights: np.ndarray,
                          a: int, b: int) -> np.ndarray | None:
        """``(b,)`` weights of the output pair ``(a, b)`` of a block (None when zero)."""
        state = self.hessian_state(np.ascontiguousarray(St.T), Y, weights)
        return self.hessian_weights(state, a, b)

    def hessian_diag_t(self, St: np.ndarray, Y: np.ndarray, weights: np.ndarray
                       ) -> np.ndarray:
        """``(k, b)`` diagonal Hessian weights ``h_{aa}`` of a block (for preconditioning)."""
        return np.stack([np.asarray(self.hessian_weights_t(St, Y, weights, a, a))
                         for a in range(St.shape[0])])

    # -- partition kernels (see the module docstring) -------------------------------
    #: Scale of the logits the partition kernel sees; ``None``: the loss has no
    #: partition kernel (the objective then uses ``value_grad_t``).
    partition_scale: ClassVar[float | None] = None
    #: True when ``partition_t`` (float32, ``compiled``, unit weights) also
    #: takes blocks stored as ``(b, k)`` rows, i.e. ``Ut`` F-contiguous (``St``
    #: keeps its layout; ``targets`` come in the block's layout): the objective
    #: then forms float32 blocks that way, the faster one for sgemm's ``X_b @ W``.
    partition_rowmajor: ClassVar[bool] = False

    def partition_t(self, Ut: np.ndarray, weights: np.ndarray | None,
                    St: np.ndarray | None = None, work: np.ndarray | None = None,
                    targets: np.ndarray | None = None, compiled: bool = False,
                    bias: np.ndarray | None = None
                    ) -> tuple[float, np.ndarray]:  # pragma: no cover - abstract
        """Loss (or log-partition) sum of a block and its log-partition gradient block."""
        raise NotImplementedError

    def value_targets(self, Y: np.ndarray, k: int) -> np.ndarray:  # pragma: no cover
        """The targets as ``partition_t`` reads them (sliced ``[..., lo:hi]`` per block)."""
        raise NotImplementedError

    def linear_targets_t(self, Y: np.ndarray, k: int) -> np.ndarray:  # pragma: no cover
        """``(k, b)`` float64 coefficients ``d(y_i)`` of the part linear in the logits."""
        raise NotImplementedError

    def intercept_only(self, Y: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray | None:
        r"""The intercepts :math:`b` (shape ``(k,)``) of the null model, the optimum at ``W = 0``.

        :math:`b = \arg\min_b \sum_i s_i \ell(b, y_i)`: a closed form of the weighted
        label frequencies for the built-in losses. Solvers start there on a cold fit
        with an intercept: the intercepts of rare classes are far from zero (about
        :math:`\log p_k`), which costs Newton several damped steps from zero
        (film label sets, 79 classes, :math:`C = 10^{-3}`: 12 steps from zero).
        None: no closed form for this loss, or a frequency of 0 or 1 (no finite
        optimum); the fit then starts from zero.
        """
        return None


def array_definition(loss: Loss) -> Loss:
    """``loss`` itself when its definition runs on any array namespace (the torch backend).

    Raises
    ------
    NotImplementedError
        For a NumPy-only loss (``array_api = False``).
    """
    if not loss.array_api:
        raise NotImplementedError(
            f"Loss {loss!r} is written for NumPy only: write its row-major methods against "
            "sigmax.losses.namespace(Z) (and set array_api = True) to run it on the torch "
            "backend, or fit with backend='numpy'.")
    return loss
