r"""Losses in logit space.

A loss sees only the raw predictions (logits) ``Z`` of shape ``(n, k)``, the
encoded targets and the per-row (or per-entry) weights. It never sees ``X``:
:class:`sigmax.objective.LinearObjective` lifts a loss to coefficients.

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

Block kernels (the fast path)
-----------------------------
:class:`~sigmax.objective.LinearObjective` evaluates ``X`` in row blocks whose
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
  :data:`sigmax.objective.COMPILED_MIN_LOGITS`); same results either way.
  ``bias`` (``(k,)`` in the dtype of ``Ut``, or None): added to the logits of
  every sample first (the scaled intercepts; the compiled passes add them on
  the fly, which saves a sweep over the block).
- ``linear_targets_t(Y, k)``: the ``(k, b)`` float64 block of :math:`d(y_i)`.
- ``value_targets(Y, k)``: the targets in the layout the kernel reads.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .numerics import expit, log_expit, log_softmax, softmax

try:  # BLAS sum of |x| in float64: one read, no temporary
    from scipy.linalg.blas import dasum as _dasum
except ImportError:  # pragma: no cover - SciPy without its BLAS wrappers
    _dasum = None

__all__ = ["LOSSES", "BinomialLoss", "Loss", "MultilabelLoss", "MultinomialLoss"]


def _weighted_sum(values: np.ndarray, weights: np.ndarray) -> float:
    """Sum of ``weights * values`` accumulated in float64 (exact enough in float32 runs)."""
    if weights.shape == values.shape:
        return float(np.vdot(weights.astype(np.float64, copy=False),
                             values.astype(np.float64, copy=False)))
    # Per-row weights, (n,) or (n, 1), against (n, k) values.
    return float(weights.astype(np.float64, copy=False).reshape(-1)
                 @ values.astype(np.float64, copy=False).sum(axis=1))


_LN2 = float(np.log(2.0))
_EMPTY32 = np.empty(0, dtype=np.float32)
#: Rows multiplied together before one log in :func:`_sum_log`: each factor
#: lies in [1, 2], so a product stays below 2**32 (finite in float32 too).
_LOG_GROUP = 32


def _sum_log(A: np.ndarray) -> float:
    """``sum(log(A))`` for a C-contiguous ``A`` with entries in [1, 2], in float64.

    Products of :data:`_LOG_GROUP` contiguous slices first (a vectorized
    multiply over rows), then one log per product: 1/32 of the logarithms
    of an entrywise ``log``. The rounding error (about ``32 eps`` per product,
    absolute in the log) is of the order of rounding ``A`` itself.
    """
    flat = A.reshape(-1)
    m = flat.size // _LOG_GROUP
    total = 0.0
    if m:
        prod = np.multiply.reduce(flat[: _LOG_GROUP * m].reshape(_LOG_GROUP, m), axis=0)
        total += float(np.log(prod, out=prod).sum(dtype=np.float64))
    tail = flat[_LOG_GROUP * m:]
    if tail.size:
        total += float(np.log(tail).sum(dtype=np.float64))
    return total


def _column_log(A: np.ndarray) -> np.ndarray:
    """``log(A).sum(axis=0)`` in float64 for ``A`` (k, b) with entries in [1, 2].

    Products over at most 64 rows at a time (below 2**64: finite in float32).
    """
    out = np.zeros(A.shape[1])
    for lo in range(0, A.shape[0], 64):
        prod = np.multiply.reduce(A[lo:lo + 64], axis=0)
        out += np.log(prod, out=prod)
    return out


@functools.cache
def _binomial_kernel() -> Any:
    r"""The compiled pass of the binomial partition kernel, or None without numba.

    ``kernel(U, C, T, P)`` with ``U``, ``C`` of shape ``(k, b)`` (the scaled
    logits ``u`` and the targets ``c = 1 - 2y``, any strides) and ``T`` the
    C-contiguous ``tanh(U)``: returns :math:`\sum |u| + c u` accumulated in
    float64 and fills ``P`` (``(m,)``, ``m = max(k b // 32, 1)``) with
    products of the factors ``1 + |T|`` of the flat ``T`` taken ``m`` apart
    (at most 64 factors in [1, 2], finite in float32). One read of the three
    blocks instead of the five NumPy passes (product with the targets, its
    absolute value and sum, ``|T|``, ``+ 1``) that cost more than ``tanh``
    itself. ``tanh`` stays in NumPy, which has SIMD transcendental functions
    (numba's calls libm one entry at a time).
    """
    try:
        from numba import njit
    except ImportError:  # pragma: no cover - numba is a dependency
        return None

    # reassoc: the sums and products may be vectorized (reordered); no
    # assumption of finite values (huge logits give inf, which the objective checks).
    @njit(nogil=True, cache=True, boundscheck=False, fastmath={"reassoc", "nsz", "contract"})
    def kernel(U, C, T, P):  # pragma: no cover - compiled
        k, b = U.shape
        total = 0.0
        for r in range(k):
            part = 0.0
            for j in range(b):
                u = U[r, j]
                part += abs(u) + C[r, j] * u
            total += part
        flat = T.reshape(-1)
        m = P.size
        groups = flat.size // m
        for j in range(m):
            P[j] = 1.0
        # Two groups per sweep over P: half the loads and stores of P
        # (measured 0.28 against 0.48 ns per entry for one group per sweep).
        for g in range(0, groups - 1, 2):
            base = g * m
            for j in range(m):
                P[j] *= (1.0 + abs(flat[base + j])) * (1.0 + abs(flat[base + m + j]))
        base = (groups - groups % 2) * m
        for j in range(flat.size - base):  # an odd group, then the tail (< m entries)
            P[j % m] *= 1.0 + abs(flat[base + j])
        return total

    return kernel


@functools.cache
def _partition_kernels() -> Any:
    """The module :mod:`sigmax._partition_kernels` (numba), or None without numba."""
    try:
        from . import _partition_kernels
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    return _partition_kernels


@functools.cache
def _softmax_kernel() -> Any:
    """The compiled float32 softmax partition pass
    (:func:`sigmax._partition_kernels.softmax_partition`), or None without numba."""
    try:
        from ._partition_kernels import softmax_partition
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    return softmax_partition


def _sigmoid_parts(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Return ``(softplus(Z), sigmoid(Z))`` from a single ``exp``.

    With :math:`e = e^{-|z|} \in (0, 1]`:
    :math:`\log(1+e^z) = \max(z,0) + \log1p(e)` and
    :math:`\sigma(z) = 1/(1+e)` for :math:`z \ge 0`, :math:`e/(1+e)` otherwise.
    The exponent is never positive, so nothing overflows.
    """
    e = np.exp(-np.abs(Z))
    softplus = np.maximum(Z, 0)
    softplus += np.log1p(e)
    p = 1.0 / (1.0 + e)
    neg = Z < 0
    p[neg] *= e[neg]
    return softplus, p


class Loss:
    """Base class of the losses: see the module docstring for the contract."""

    name: ClassVar[str]
    #: True when the per-row Hessian is diagonal across outputs.
    diagonal_hessian: ClassVar[bool]
    #: True when the per-row Hessian is ``s (diag(p) - p p^T)`` with ``p`` the
    #: block state of ``value_grad_t`` (lets the objective build the full
    #: Hessian from ``k`` Gram matrices and one symmetric product).
    softmax_hessian: ClassVar[bool] = False

    def n_outputs(self, n_classes: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

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
                Vt: np.ndarray) -> None:
        """Overwrite ``Vt`` ``(k, b)`` with the Hessian block (state ``St``) times ``Vt``."""
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


def _rows(A: np.ndarray, k: int) -> np.ndarray:
    """An ``(b,)`` block broadcast against ``(k, b)``; an ``(b, k)`` block transposed."""
    return A.T if A.ndim == 2 else A


def _dot64(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of ``a * b`` (same shape) accumulated in float64."""
    return float(np.vdot(a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)))


@dataclass(frozen=True)
class BinomialLoss(Loss):
    r"""Sigmoid + log-loss for one binary target.

    With :math:`y \in \{0, 1\}` and logit :math:`z`:

    .. math:: \ell(z, y) = \log(1 + e^{z}) - y z, \quad
              \ell' = \sigma(z) - y, \quad \ell'' = \sigma(z)(1 - \sigma(z)).

    ``Y`` is a float array of shape ``(n,)``; ``Z`` has shape ``(n, 1)``.
    """

    name: ClassVar[str] = "binomial"
    diagonal_hessian: ClassVar[bool] = True

    def n_outputs(self, n_classes: int) -> int:
        return 1

    def value_and_grad(self, Z, Y, weights):
        y = Y.reshape(-1, 1)
        softplus, p = _sigmoid_parts(Z)
        softplus -= y * Z
        value = _weighted_sum(softplus, weights.reshape(-1, 1) if weights.ndim == 1 else weights)
        p -= y
        p *= weights.reshape(-1, 1) if weights.ndim == 1 else weights
        return value, p

    def value(self, Z, Y, weights):
        softplus, _ = _sigmoid_parts(Z)
        softplus -= Y.reshape(-1, 1) * Z
        return _weighted_sum(softplus, weights.reshape(-1, 1) if weights.ndim == 1 else weights)

    def hessian_state(self, Z, Y, weights):
        p = expit(Z)
        # p(1-p) written as sigmoid(z) * sigmoid(-z): no cancellation in 1 - p.
        h = p * expit(-Z)
        h *= weights.reshape(-1, 1) if weights.ndim == 1 else weights
        return h

    def hessp(self, state, V):
        return state * V

    def hessian_weights(self, state, a, b):
        return state[:, a] if a == b else None

    def predict_proba(self, Z):
        return expit(Z)

    def predict_log_proba(self, Z):
        return log_expit(Z)

    def value_grad_t(self, Zt, Y, weights, St=None):
        # With e = exp(-|z|) in (0, 1] (never overflows), one exp gives all:
        #   loss   = log1p(e) + |z|/2 + z (1/2 - y)   (= log(1 + e^z) - y z)
        #   p      = num / (1 + e),  num = 1 if z >= 0 else e
        #   p(1-p) = e / (1 + e)^2                    (no cancellation in 1 - p)
        # Branch-free (np.where costs 5x a multiply): num = max(e, [z >= 0]).
        # The targets enter once, as c = 1/2 - y copied into a contiguous block
        # of the working dtype (cheaper than two passes over a strided,
        # float64 Y.T); the gradient is p - y = p - 1/2 + c.
        c = np.empty_like(Zt)
        np.subtract(0.5, Y.T if Y.ndim == 2 else Y, out=c)
        w = _rows(weights, Zt.shape[0])
        a = np.abs(Zt)
        e = np.negative(a)
        np.exp(e, out=e)
        t = np.log1p(e)
        a *= 0.5
        t += a
        np.multiply(Zt, c, out=a)
        t += a
        value = (_dot64(w, t) if w.ndim == 2
                 else float(w.astype(np.float64, copy=False) @ t.sum(axis=0, dtype=np.float64)))
        np.add(e, 1, out=a)
        if St is not None:
            np.divide(e, a, out=St)
            St /= a
            St *= w
        np.maximum(e, Zt >= 0, out=e)
        np.divide(e, a, out=Zt)  # p
        c -= 0.5
        Zt += c
        Zt *= w
        return value

    partition_scale: ClassVar[float | None] = 0.5
    # Elementwise: a (b, k) block is the same pass on the transposed views.
    partition_rowmajor: ClassVar[bool] = True

    def linear_targets_t(self, Y, k):
        # log(1 + e^z) - y z = log(2 cosh(z/2)) + (1/2 - y) z.
        return np.subtract(0.5, np.asarray(Y, dtype=np.float64).reshape(len(Y), -1).T)

    def value_targets(self, Y, k):
        # c = 1 - 2y, (k, n): int8 (exact) for 0/1 labels, float64 otherwise.
        # Chunks of rows: no (n, k) temporaries.
        Yk = np.asarray(Y).reshape(len(Y), -1)
        step = max(1, (1 << 16) // Yk.shape[1])
        binary = all(bool(np.all((Yk[a:a + step] == 0) | (Yk[a:a + step] == 1)))
                     for a in range(0, len(Yk), step))
        C = np.empty((Yk.shape[1], Yk.shape[0]), dtype=np.int8 if binary else np.float64)
        for a in range(0, len(Yk), step):
            C[:, a:a + step] = 1 - 2 * Yk[a:a + step].T
        return C

    def partition_t(self, Ut, weights, St=None, work=None, targets=None, compiled=False,
                    bias=None):
        # Ut = z/2. With T = tanh(u) (never overflows; SIMD in NumPy):
        #   a(z)  = log(2 cosh u) = |u| + log 2 - log(1 + |T|)
        #           [1 + |T| = 2 / (1 + e^{-2|u|}): the last two terms are
        #            log(1 + e^{-|z|}), in [0, log 2]; nothing is exponentiated]
        #   da/dz = T / 2     (= sigmoid(z) - 1/2; the 1/2 is in d(y))
        # The loss adds (1/2 - y) z = c u (c = 1 - 2y): per entry
        #   r = |u| + c u >= 0   (= c u + |c u| for 0/1 labels, exact),
        # formed entry by entry so that nothing cancels in the sum.
        # The logs are taken of products of 32 factors in [1, 2] (_sum_log).
        if weights is None and Ut.flags.f_contiguous and not Ut.flags.c_contiguous:
            # A block stored as (b, k) rows (partition_rowmajor): everything
            # below is elementwise, so it runs on the C-contiguous transposes.
            Ub, Tb = Ut.T, None if targets is None else targets.T
            if (compiled and Ub.dtype == np.float32 and Tb is not None
                    and Tb.flags.c_contiguous and (mod := _partition_kernels()) is not None):
                # One compiled float32 pass (exp of -2|u|, see binomial_partition),
                # the intercepts added on the fly, the gradient in place (one
                # block less in cache: 3-4% of an evaluation, multilabel);
                # St may have any strides.
                value = mod.binomial_partition(
                    Ub, Tb, Ub, _EMPTY32.reshape(0, 0) if St is None else St.T,
                    _EMPTY32 if bias is None else bias)
                return float(value), Ut
            A = np.empty_like(Ub) if work is None else work.T
            if bias is not None:
                Ub += bias
            value, G = self.partition_t(Ub, None, None if St is None else St.T, A, Tb, compiled)
            return value, G.T
        if bias is not None:
            Ut += bias[:, None]
        k = Ut.shape[0]
        A = np.empty_like(Ut) if work is None else work
        w = None if weights is None else _rows(weights, k)
        if (compiled and w is None and targets is not None and Ut.dtype == np.float32
                and Ut.flags.c_contiguous and targets.flags.c_contiguous
                and (mod := _partition_kernels()) is not None):
            # The same, in one compiled float32 pass (exp of -2|u|, see
            # binomial_partition), the gradient in place; St may have any strides.
            value = mod.binomial_partition(Ut, targets, Ut,
                                           _EMPTY32.reshape(0, 0) if St is None else St, _EMPTY32)
            return float(value), Ut
        if St is not None:
            # p (1 - p) = e / (1 + e)^2 with e = exp(-|z|) = exp(-2|u|) in (0, 1]:
            # no cancellation in 1 - p.
            np.abs(Ut, out=St)
            St *= -2
            np.exp(St, out=St)
            np.add(St, 1, out=A)
            St /= A
            St /= A
            if w is not None:
                St *= w
        # T into A, the linear part in Ut, then the roles swap: G = A.
        np.tanh(Ut, out=A)
        if (compiled and w is None and targets is not None
                and (kernel := _binomial_kernel()) is not None):
            # The same sums in one compiled pass over Ut, targets and T.
            prod = np.empty(max(Ut.size // _LOG_GROUP, 1), dtype=Ut.dtype)
            total = kernel(Ut, targets, A, prod)
            value = float(total) + _LN2 * Ut.size
            value -= float(np.log(prod, out=prod).sum(dtype=np.float64))
            return value, A
        if targets is None:
            np.abs(Ut, out=Ut)
        elif targets.dtype == np.int8:
            # 2 max(v, 0) = v + |v| with v = c u (np.maximum is 3x slower than abs + add).
            np.multiply(Ut, targets, out=Ut)
            Ut += np.abs(Ut)
        else:
            c = np.asarray(targets, dtype=Ut.dtype)
            t = np.abs(Ut)
            Ut *= c
            Ut += t
        if w is None:
            # Entries >= 0 here: float64 sums by BLAS (one read, no temporary).
            total = (float(_dasum(Ut.reshape(-1))) if Ut.dtype == np.float64 and _dasum
                     else float(Ut.sum(dtype=np.float64)))
            value = total + _LN2 * Ut.size
        elif w.ndim == 1:
            w64 = w.astype(np.float64, copy=False)
            value = float(w64 @ Ut.sum(axis=0, dtype=np.float64)) + _LN2 * k * float(w64.sum())
        else:
            value = _dot64(w, Ut) + _LN2 * float(w.sum(dtype=np.float64))
        np.abs(A, out=Ut)
        Ut += 1
        if w is None:
            value -= _sum_log(Ut)
        elif w.ndim == 1:
            value -= float(w.astype(np.float64, copy=False) @ _column_log(Ut))
        else:
            np.log(Ut, out=Ut)
            value -= _dot64(w, Ut)
        if w is not None:
            A *= w
        return value, A

    def hessp_t(self, St, Y, weights, Vt):
        Vt *= St

    def hessian_weights_t(self, St, Y, weights, a, b):
        return St[a] if a == b else None

    def hessian_diag_t(self, St, Y, weights):
        return St


@dataclass(frozen=True)
class MultilabelLoss(BinomialLoss):
    r"""Independent sigmoids, one per label: the sum of ``k`` binomial losses.

    ``Y`` is a float 0/1 matrix of shape ``(n, k)``; ``weights`` may be
    ``(n,)`` or ``(n, k)`` (entry weights; 0 masks a missing label). One-vs-rest
    is this loss on the one-hot encoding of a class label.
    """

    name: ClassVar[str] = "multilabel"

    def n_outputs(self, n_classes: int) -> int:
        return n_classes

    def value_and_grad(self, Z, Y, weights):
        softplus, p = _sigmoid_parts(Z)
        softplus -= Y * Z
        w = weights.reshape(-1, 1) if weights.ndim == 1 else weights
        value = _weighted_sum(softplus, w)
        p -= Y
        p *= w
        return value, p

    def value(self, Z, Y, weights):
        softplus, _ = _sigmoid_parts(Z)
        softplus -= Y * Z
        return _weighted_sum(softplus, weights.reshape(-1, 1) if weights.ndim == 1 else weights)


@dataclass(frozen=True)
class MultinomialLoss(Loss):
    r"""Softmax + cross-entropy over ``K`` mutually exclusive classes.

    With integer label :math:`y_i` and logits :math:`z_i \in \mathbb{R}^K`:

    .. math:: \ell = \log\sum_k e^{z_k} - z_{y}, \quad
              \nabla \ell = p - e_y, \quad
              \nabla^2 \ell = \mathrm{diag}(p) - p p^\top,

    with :math:`p = \mathrm{softmax}(z)`. The Hessian has the null vector
    :math:`\mathbf 1`: adding a constant to every logit of a row changes
    nothing, which is why the unpenalized symmetric model has a flat valley of
    minima.

    ``reference=True`` fixes the logit of class 0 to 0 (statsmodels' MNLogit
    parameterization): ``Z`` then has ``K - 1`` columns for classes ``1..K-1``.
    ``Y`` is an integer array of shape ``(n,)`` with values in ``0..K-1``.
    """

    reference: bool = False
    name: ClassVar[str] = "multinomial"
    diagonal_hessian: ClassVar[bool] = False
    softmax_hessian: ClassVar[bool] = True

    def n_outputs(self, n_classes: int) -> int:
        return n_classes - 1 if self.reference else n_classes

    def _full(self, Z: np.ndarray) -> np.ndarray:
        if not self.reference:
            return Z
        out = np.empty((Z.shape[0], Z.shape[1] + 1), dtype=Z.dtype)
        out[:, 0] = 0
        out[:, 1:] = Z
        return out

    def value_and_grad(self, Z, Y, weights):
        Zf = self._full(Z)
        rows = np.arange(Zf.shape[0])
        m = Zf.max(axis=1, keepdims=True)
        # One exp per entry: the shifted exponentials give both log-sum-exp
        # (value) and the probabilities (gradient).
        E = Zf - m
        z_true = E[rows, Y]
        np.exp(E, out=E)
        s = E.sum(axis=1, keepdims=True)
        per_row = np.log(s[:, 0]) - z_true
        value = float(np.dot(weights.astype(np.float64, copy=False),
                             per_row.astype(np.float64, copy=False)))
        E /= s
        E[rows, Y] -= 1
        E *= weights[:, None]
        return value, (E[:, 1:] if self.reference else E)

    def value(self, Z, Y, weights):
        Zf = self._full(Z)
        rows = np.arange(Zf.shape[0])
        lse = np.max(Zf, axis=1)
        lse = lse + np.log(np.exp(Zf - lse[:, None]).sum(axis=1))
        per_row = lse - Zf[rows, Y]
        return float(np.dot(weights.astype(np.float64, copy=False),
                            per_row.astype(np.float64, copy=False)))

    def hessian_state(self, Z, Y, weights):
        return softmax(self._full(Z)), weights

    def hessp(self, state, V):
        p, w = state
        if self.reference:
            p = p[:, 1:]
        # (diag(p) - p p^T) v = p * (v - <p, v>); in the reference
        # parameterization the fixed logit contributes v_0 = 0 to <p, v>.
        out = V - np.sum(p * V, axis=1, keepdims=True)
        out *= p
        out *= w[:, None]
        return out

    def hessian_weights(self, state, a, b):
        p, w = state
        off = 1 if self.reference else 0
        pa = p[:, a + off]
        if a == b:
            return w * pa * (1 - pa)
        return -w * pa * p[:, b + off]

    def predict_proba(self, Z):
        return softmax(self._full(Z))

    def predict_log_proba(self, Z):
        return log_softmax(self._full(Z))

    def value_grad_t(self, Zt, Y, weights, St=None):
        # Shift every column (sample) by its max logit so each exponent is
        # <= 0 and the largest term is 1 (see numerics.logsumexp); one exp per
        # entry then gives log-sum-exp (value) and softmax (gradient). In the
        # reference parameterization the fixed logit 0 of class 0 joins the max
        # and contributes exp(-m) to the sum.
        b = Zt.shape[1]
        cols = np.arange(b)
        m = Zt.max(axis=0)
        if self.reference:
            np.maximum(m, 0, out=m)
        Zt -= m
        if self.reference:
            known = Y > 0
            z_true = -m
            z_true[known] = Zt[Y[known] - 1, cols[known]]
        else:
            z_true = Zt[Y, cols]
        np.exp(Zt, out=Zt)
        s = Zt.sum(axis=0)
        if self.reference:
            s += np.exp(-m)
        per_row = np.log(s)
        per_row -= z_true
        value = float(weights.astype(np.float64, copy=False)
                      @ per_row.astype(np.float64, copy=False))
        np.reciprocal(s, out=s)
        Zt *= s  # probabilities
        if St is not None:
            St[...] = Zt
        Zt *= weights
        if self.reference:
            Zt[Y[known] - 1, cols[known]] -= weights[known]
        else:
            Zt[Y, cols] -= weights
        return value

    partition_scale: ClassVar[float | None] = 1.0

    def linear_targets_t(self, Y, k):
        # lse(z) - z_y: d(y) = -e_y (no column for class 0 when reference).
        Y = np.asarray(Y)
        D = np.zeros((k, len(Y)))
        cols = np.arange(len(Y))
        if self.reference:
            known = Y > 0
            D[Y[known] - 1, cols[known]] = -1.0
        else:
            D[Y, cols] = -1.0
        return D

    def value_targets(self, Y, k):
        return np.asarray(Y)

    # Per-sample reductions along the rows of a (b, k) block: softmax_partition_rows.
    partition_rowmajor: ClassVar[bool] = True

    def partition_t(self, Zt, weights, St=None, work=None, targets=None, compiled=False,
                    bias=None):
        if (compiled and Zt.dtype == np.float32 and Zt.flags.f_contiguous
                and not Zt.flags.c_contiguous and (mod := _partition_kernels()) is not None):
            # A block stored as (b, k) rows (partition_rowmajor), the
            # intercepts added on the fly.
            s = np.empty(Zt.shape[1]) if weights is not None else np.empty(0)
            value = mod.softmax_partition_rows(
                Zt.T, np.empty(0, dtype=np.intp) if targets is None else targets,
                _EMPTY32 if weights is None else weights,
                _EMPTY32.reshape(0, 0) if St is None else St, s, self.reference,
                _EMPTY32 if bias is None else bias)
            if weights is not None:
                value += float(weights.astype(np.float64, copy=False) @ np.log(s, out=s))
            return float(value), Zt
        if bias is not None:
            Zt += bias[:, None]
        if (compiled and Zt.dtype == np.float32 and Zt.flags.c_contiguous
                and (kernel := _softmax_kernel()) is not None):
            # The same, in one compiled pass over L1-sized strips of the block.
            s = np.empty(Zt.shape[1]) if weights is not None else np.empty(0)
            value = kernel(Zt, np.empty(0, dtype=np.intp) if targets is None else targets,
                           _EMPTY32 if weights is None else weights,
                           _EMPTY32.reshape(0, 0) if St is None else St, s, self.reference)
            if weights is not None:
                value += float(weights.astype(np.float64, copy=False) @ np.log(s, out=s))
            return float(value), Zt
        # a(z) = log sum_k e^{z_k} = m + log sum_k e^{z_k - m}, m the column
        # max (with the fixed logit 0 in the reference parameterization): every
        # exponent <= 0 and the largest term is 1. One exp per entry gives both
        # the value and softmax(z) = da/dz (gradient). With the labels, the
        # value per sample is log(s) - (z_y - m): small numbers, as in
        # value_grad_t (m + log(s) and z_y apart would cancel).
        b = Zt.shape[1]
        m = Zt.max(axis=0)
        if self.reference:
            np.maximum(m, 0, out=m)
        Zt -= m
        if targets is not None:
            Y = np.asarray(targets)
            idx = Y.astype(np.intp) * b if not self.reference else (Y.astype(np.intp) - 1) * b
            idx += np.arange(b)
            if self.reference:
                known = Y > 0
                z_true = np.where(known, np.take(Zt.reshape(-1), np.where(known, idx, 0)), -m)
            else:
                z_true = np.take(Zt.reshape(-1), idx)
        np.exp(Zt, out=Zt)
        s = Zt.sum(axis=0)
        if self.reference:
            s += np.exp(-m)
        per = np.log(s.astype(np.float64))
        if targets is not None:
            per -= z_true
        else:
            per += m
        if weights is None:
            value = float(per.sum())
        else:
            value = float(weights.astype(np.float64, copy=False) @ per)
        np.reciprocal(s, out=s)
        if St is not None:
            np.multiply(Zt, s, out=St)  # probabilities
            if weights is None:
                Zt[...] = St
            else:
                np.multiply(St, weights, out=Zt)
        else:
            if weights is not None:
                s *= weights
            Zt *= s
        return value, Zt

    def hessp_t(self, St, Y, weights, Vt):
        # (diag(p) - p p^T) v = p * (v - <p, v>), weighted per sample.
        pv = np.einsum("kb,kb->b", St, Vt)
        Vt -= pv
        Vt *= St
        Vt *= weights

    def hessian_weights_t(self, St, Y, weights, a, b):
        if a == b:
            return weights * St[a] * (1 - St[a])
        return -weights * St[a] * St[b]

    def hessian_diag_t(self, St, Y, weights):
        out = 1 - St
        out *= St
        out *= weights
        return out


#: Registry of losses by name; ``multinomial_reference`` is the K-1 parameterization.
LOSSES: dict[str, Loss] = {
    "binomial": BinomialLoss(),
    "multinomial": MultinomialLoss(),
    "multinomial_reference": MultinomialLoss(reference=True),
    "multilabel": MultilabelLoss(),
}
