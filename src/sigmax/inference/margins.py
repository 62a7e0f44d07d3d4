r"""Average marginal effects and their delta-method standard errors, chunk by chunk.

The marginal effect of feature ``j`` on the probability of output ``k`` is

- independent sigmoids: :math:`\partial p_k / \partial x_j = p_k (1 - p_k)\, \theta_{kj}`;
- softmax: :math:`\partial p_k / \partial x_j = p_k (\theta_{kj} - \bar\theta_j)`,
  :math:`\bar\theta_j = \sum_m p_m \theta_{mj}` (invariant to the flat directions).

The average marginal effect (``at="overall"``) is its weighted mean over rows;
``at="mean"`` evaluates it once at the weighted mean of the features. The
delta method needs its Jacobian :math:`J` in the coefficients; the covariance
is :math:`J\, \Sigma\, J^\top`. statsmodels forms the effects row by row
(``n x p x p`` memory: its issues 4158 and 7831); here every term of :math:`J`
is a polynomial in the probabilities times one feature, so a pass over the rows
collects the few sums it needs:

.. math::
   s_k = \sum_i w_i p_{ik},\ s_{kl} = \sum_i w_i p_{ik} p_{il},\
   S_{kq} = \sum_i w_i p_{ik} x_{iq},\ S_{klq},\ S_{klmq}

(binomial: :math:`\sum_i w_i p_i(1-p_i)` and :math:`\sum_i w_i p_i(1-p_i)(1-2p_i) x_i`),
from which, with :math:`D_{ikj} = \theta_{kj} - \bar\theta_{ij}`,

.. math::
   N J_{kj,lq} = \delta_{kl}\Big(\theta_{kj} S_{kq} - \sum_m \theta_{mj} S_{kmq}\Big)
   - (\theta_{kj} + \theta_{lj}) S_{klq} + 2 \sum_m \theta_{mj} S_{klmq}
   + \delta_{qj}(\delta_{kl} s_k - s_{kl}).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .chunks import rows_per_chunk, sum_over_rows
from .information import expit_xp, softmax_parts
from .spec import ModelSpec

__all__ = ["AT", "marginal_effects"]


def _binomial_sums(xp: Any, Xt: Any, *, w: Any, mask: Any = None, Theta: np.ndarray
                   ) -> dict[str, Any]:
    from array_api_compat import device

    Z = Xt @ xp.asarray(Theta, device=device(Xt))
    P = expit_xp(xp, Z)
    wm = w[:, None] * (xp.ones_like(Z) if mask is None else mask)
    v = wm * P * (1.0 - P)
    return {"n": xp.sum(wm, axis=0), "s1": xp.sum(v, axis=0),
            "s2": (v * (1.0 - 2.0 * P)).T @ Xt}


def _multinomial_sums(xp: Any, Xt: Any, *, w: Any, mask: Any = None, Theta: np.ndarray
                      ) -> dict[str, Any]:
    from array_api_compat import device

    P, _ = softmax_parts(xp, Xt @ xp.asarray(Theta, device=device(Xt)))
    n, K = P.shape
    wP = w[:, None] * P
    PP = wP[:, :, None] * P[:, None, :]
    PPP = xp.reshape(PP[:, :, :, None] * P[:, None, None, :], (n, K ** 3))
    return {"n": xp.reshape(xp.sum(w), (1,)), "s0": xp.sum(wP, axis=0),
            "s00": xp.sum(PP, axis=0), "S1": wP.T @ Xt,
            "S2": xp.reshape(xp.reshape(PP, (n, K * K)).T @ Xt, (K, K, -1)),
            "S3": xp.reshape(PPP.T @ Xt, (K, K, K, -1))}


def _binomial_effects(spec: ModelSpec, s: dict[str, np.ndarray], feats: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    Theta = spec.Theta
    P, k = Theta.shape
    d = len(feats)
    dydx = np.zeros((k, d))
    J = np.zeros((k, d, k, P))
    for j in range(k):
        n = s["n"][j]
        dydx[j] = s["s1"][j] * Theta[feats, j] / n
        J[j, :, j, :] = np.outer(Theta[feats, j], s["s2"][j]) / n
        J[j, np.arange(d), j, feats] += s["s1"][j] / n
    return dydx, J.reshape(k * d, k * P)


def _multinomial_effects(spec: ModelSpec, s: dict[str, np.ndarray], feats: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    T = spec.Theta[feats]  # (d, K): theta_{kj} as T[j, k]
    P, K = spec.Theta.shape
    d = len(feats)
    n = s["n"][0]
    dydx = (s["s0"][None, :] * T - T @ s["s00"].T).T / n  # (K, d)
    S1, S2, S3 = s["S1"], s["S2"], s["S3"]
    eye = np.eye(K)
    # term by term of the docstring's formula, axes (k, j, l, q)
    t1 = (np.einsum("jk,kq->kjq", T, S1) - np.einsum("jm,kmq->kjq", T, S2))
    J = eye[:, None, :, None] * t1[:, :, None, :]
    J -= np.einsum("jk,klq->kjlq", T, S2) + np.einsum("jl,klq->kjlq", T, S2)
    J += 2.0 * np.einsum("jm,klmq->kjlq", T, S3)
    const = eye * s["s0"][:, None] - s["s00"]  # (k, l)
    J[:, np.arange(d), :, feats] += const[None, :, :]  # the delta_{qj} term
    return dydx, (J / n).reshape(K * d, K * P)


_SUMS = {"binomial": (_binomial_sums, _binomial_effects),
         "multinomial": (_multinomial_sums, _multinomial_effects)}


def _mean_row(spec: ModelSpec, X: Any, weights: np.ndarray) -> np.ndarray:
    """Weighted mean of the features, as a ``(1, d)`` array."""
    def kernel(xp: Any, Xt: Any, *, w: Any) -> dict[str, Any]:
        return {"sx": w @ Xt, "n": xp.reshape(xp.sum(w), (1,))}

    s = sum_over_rows(kernel, X, {"w": weights}, fit_intercept=False,
                      chunk_rows=rows_per_chunk(X.shape[1]))
    return (s["sx"] / s["n"][0])[None, :]


#: Where the effects are evaluated (``at=``).
AT = ("overall", "mean")


def marginal_effects(spec: ModelSpec, X: Any, weights: np.ndarray, mask: np.ndarray | None,
                     at: str = "overall") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Marginal effects of every feature on every output's probability, and their Jacobian.

    Returns
    -------
    dydx : ndarray of shape (k, d)
        Effect on output ``k`` (every class for softmax) of feature ``j``.
    jacobian : ndarray of shape (k d, n_table)
        Derivative of ``dydx.ravel()`` in the table's coefficients.
    terms : list of str, length d
    """
    if at not in AT:
        raise ValueError(f"at must be one of {list(AT)}; got {at!r}.")
    feats = np.arange(int(spec.fit_intercept), spec.n_terms)
    kernel, effects = _SUMS[spec.family]
    if at == "mean":
        X, weights, mask = _mean_row(spec, X, weights), np.ones(1), None
    K = spec.Theta.shape[1]
    # the widest per-chunk temporary: the K^3 products of probabilities, or X itself
    width = (K ** 3 + K * K if spec.family == "multinomial" else 2 * K) + spec.n_terms
    s = sum_over_rows(functools.partial(kernel, Theta=spec.Theta), X,
                      {"w": np.asarray(weights, dtype=np.float64), "mask": mask},
                      fit_intercept=spec.fit_intercept, chunk_rows=rows_per_chunk(width))
    dydx, J = effects(spec, s, feats)
    return dydx, J[:, spec.table_cols], [spec.terms[q] for q in feats]
