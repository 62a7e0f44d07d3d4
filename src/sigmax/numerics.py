"""Numerically stable elementwise and row-wise functions on logits.

Every function here is finite for every finite input: no raw ``exp`` of a logit
and no ``log(1 + exp(z))``. Each one states the trick it uses.

All functions take NumPy arrays and preserve the floating dtype (float32 stays
float32), so the float32 path of the estimators never upcasts silently.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def _underflow_ok() -> np.errstate:
    """Context in which float underflow is silent (overflow and NaN still raise if set).

    ``exp`` of a very negative number underflows to 0, which is the right
    answer (the term is below float resolution), not an error: this keeps the
    functions quiet under a caller's ``np.errstate(all="raise")``.
    """
    return np.errstate(under="ignore")


__all__ = [
    "expit",
    "log1pexp",
    "log_expit",
    "log_softmax",
    "logsumexp",
    "softmax",
]


def log1pexp(z: np.ndarray) -> np.ndarray:
    r"""Softplus :math:`\log(1 + e^{z})`, finite for every finite ``z``.

    Trick: :math:`\log(1+e^z) = \max(z, 0) + \log1p(e^{-|z|})`. The exponent
    :math:`-|z| \le 0` cannot overflow, and ``log1p`` keeps full precision when
    :math:`e^{-|z|}` is tiny (large :math:`|z|`).

    Parameters
    ----------
    z : ndarray of any shape

    Returns
    -------
    ndarray of the same shape and dtype as ``z``.
    """
    z = np.asarray(z)
    with _underflow_ok():
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def log_expit(z: np.ndarray) -> np.ndarray:
    r"""Log-sigmoid :math:`\log \sigma(z) = -\log(1 + e^{-z})`.

    ``log(1 - sigmoid(z))`` is ``log_expit(-z)``: never form ``1 - p``, which
    rounds to 0 for large ``z`` and gives ``log(0) = -inf``.
    """
    return -log1pexp(-np.asarray(z))


def expit(z: np.ndarray) -> np.ndarray:
    r"""Sigmoid :math:`1 / (1 + e^{-z})`.

    SciPy's ``expit`` evaluates the two branches so that the exponent is never
    positive; it preserves float32.
    """
    return special.expit(z)


def logsumexp(z: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    r"""Row-wise :math:`\log\sum_k e^{z_k}`.

    Trick: shift by the row maximum :math:`m`,
    :math:`\log\sum_k e^{z_k} = m + \log\sum_k e^{z_k - m}`. After the shift every
    exponent is :math:`\le 0` and the largest term is exactly 1, so the sum lies
    in :math:`[1, K]` and its log is finite.
    """
    z = np.asarray(z)
    m = np.max(z, axis=axis, keepdims=True)
    with _underflow_ok():
        out = np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""Row-wise :math:`z_k - \log\sum_j e^{z_j}` (shifted, see :func:`logsumexp`)."""
    z = np.asarray(z)
    return z - logsumexp(z, axis=axis, keepdims=True)


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""Row-wise :math:`e^{z_k} / \sum_j e^{z_j}` with the row maximum subtracted first.

    The shift leaves the result unchanged (softmax is invariant to adding a
    constant to every logit of a row) and makes every exponent :math:`\le 0`.
    """
    z = np.asarray(z)
    with _underflow_ok():
        e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e
