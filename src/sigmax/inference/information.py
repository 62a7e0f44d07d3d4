r"""Row sums behind every standard error: log-likelihood, information, meat, scores.

For logits :math:`z_i = \Theta^\top \tilde x_i` (``Theta`` of shape ``(P, k)``,
:math:`\tilde x_i = (1, x_i)` with an intercept) and frequency weights
:math:`w_i`, with parameters stacked output by output
(:math:`\theta = \operatorname{vec}(\Theta)`, index ``j * P + q``):

- score residuals :math:`g_i = y_i - p_i` (``k`` numbers per row), so the score
  of row ``i`` is :math:`w_i\, g_i \otimes \tilde x_i`;
- observed information (minus the Hessian of the log-likelihood)

  .. math:: H = \sum_i w_i\, V_i \otimes \tilde x_i \tilde x_i^\top,

  with :math:`V_i = \operatorname{diag}(p_i(1 - p_i))` for independent sigmoids
  (``"binomial"``: logistic, one-vs-rest, multi-label; block diagonal) and
  :math:`V_i = \operatorname{diag}(p_i) - p_i p_i^\top` for the softmax over all
  ``K`` classes (``"multinomial"``; singular along the flat directions of the
  symmetric parameterization);
- the HC0 meat :math:`M = \sum_i w_i (g_i \otimes \tilde x_i)(g_i \otimes \tilde x_i)^\top`
  (a row of weight ``w`` is ``w`` identical rows: ``w``, not ``w^2``), and the
  cluster score sums :math:`S_c = \sum_{i \in c} w_i\, g_i \otimes \tilde x_i`.

The multinomial information is assembled as
:math:`\sum_i w_i \operatorname{diag}(p_i) \otimes \tilde x_i\tilde x_i^\top - Q^\top Q`
with rows :math:`Q_i = \sqrt{w_i}\, p_i \otimes \tilde x_i`: two GEMMs per chunk
instead of ``K^2`` weighted products.

All sums come from one pass over the rows (:func:`sigmax.inference.chunks.sum_over_rows`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .chunks import rows_per_chunk, sum_over_rows

__all__ = ["FAMILIES", "RowSums", "expit_xp", "log_expit_xp", "row_sums", "softmax_parts"]

#: A fitted probability of the observed outcome above ``1 - CERTAIN`` counts as certain.
CERTAIN = 1e-10


@dataclass(frozen=True)
class RowSums:
    """The row sums of one model at its fitted coefficients.

    Attributes
    ----------
    hessian : ndarray of shape (kP, kP)
        Observed information :math:`H` (positive semi-definite).
    meat : ndarray of shape (kP, kP) or None
        HC0 meat (only when asked for).
    cluster : ndarray of shape (G, kP) or None
        Score sums per cluster (only with groups).
    score : ndarray of shape (kP,)
        Gradient of the log-likelihood (zero at an unpenalized optimum).
    llf : ndarray of shape (k,) or (1,)
        Log-likelihood per independent output (one number for the softmax).
    count : ndarray of shape (k,) or (1,)
        Weighted number of observations per output.
    ysum : ndarray of shape (k,)
        Weighted count of positives per output (binomial) or per class (multinomial).
    wrong : ndarray of shape (k,) or (1,)
        Observations whose observed outcome does not have the largest logit margin.
    certain : ndarray of shape (k,) or (1,)
        Observations whose observed outcome has fitted probability above ``1 - 1e-10``.
    feature_sd : ndarray of shape (P,)
        Weighted standard deviation of each column of :math:`\\tilde X` (0 for the intercept).
    """

    hessian: np.ndarray
    meat: np.ndarray | None
    cluster: np.ndarray | None
    score: np.ndarray
    llf: np.ndarray
    count: np.ndarray
    ysum: np.ndarray
    wrong: np.ndarray
    certain: np.ndarray
    feature_sd: np.ndarray


# -- stable elementwise pieces in any array namespace --------------------------------------
def log_expit_xp(xp: Any, z: Any) -> Any:
    """Log-sigmoid in the namespace ``xp``, finite for every finite ``z``."""
    # log sigmoid(z) = -(max(-z, 0) + log1p(exp(-|z|))): the exponent is never positive.
    return -(xp.maximum(-z, xp.zeros_like(z)) + xp.log1p(xp.exp(-xp.abs(z))))


def expit_xp(xp: Any, z: Any) -> Any:
    """Sigmoid in the namespace ``xp`` without overflow."""
    # 1 / (1 + e^-z) for z >= 0, e^z / (1 + e^z) otherwise, from e = exp(-|z|) <= 1.
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _kron_rows(xp: Any, G: Any, Xt: Any) -> Any:
    """Rows :math:`g_i \\otimes \\tilde x_i`, shape ``(n, k P)``, output-major."""
    n, P = Xt.shape
    return xp.reshape(G[:, :, None] * Xt[:, None, :], (n, G.shape[1] * P))


def _cluster_sums(xp: Any, U: Any, groups: Any, n_groups: int) -> Any:
    """:math:`\\sum_{i \\in c} U_i` per cluster ``c`` (a sparse one-hot product on the host)."""
    from .chunks import to_host

    g = to_host(groups).astype(np.intp)
    onehot = sp.csr_matrix((np.ones(len(g)), (g, np.arange(len(g)))), shape=(n_groups, len(g)))
    return onehot @ to_host(U)


def _common(xp: Any, Xt: Any, G: Any, w: Any, out: dict[str, Any], *, meat: bool,
            groups: Any, n_groups: int) -> None:
    """Score, meat and cluster sums from the residuals ``G`` (shared by both families)."""
    wx = w[:, None] * Xt  # one weighted copy of the chunk serves the score and the moments
    out["score"] = xp.reshape((wx.T @ G).T, (-1,))
    out["moments"] = xp.stack([xp.sum(wx, axis=0), xp.vecdot(wx, Xt, axis=0)])
    out["rows"] = xp.reshape(xp.sum(w), (1,))
    if meat:
        R = _kron_rows(xp, xp.sqrt(w)[:, None] * G, Xt)
        out["meat"] = R.T @ R
    if groups is not None:
        out["cluster"] = _cluster_sums(xp, _kron_rows(xp, w[:, None] * G, Xt), groups, n_groups)


# -- binomial: independent sigmoids ---------------------------------------------------------
def _binomial_kernel(xp: Any, Xt: Any, *, Y: Any, w: Any, mask: Any = None, groups: Any = None,
                     Theta: np.ndarray, meat: bool, n_groups: int) -> dict[str, Any]:
    Th = xp.asarray(Theta, device=_dev(Xt))
    Z = Xt @ Th
    wm = w[:, None] * (xp.ones_like(Z) if mask is None else mask)
    P = expit_xp(xp, Z)
    lp, lq = log_expit_xp(xp, Z), log_expit_xp(xp, -Z)
    out: dict[str, Any] = {}
    log_obs = Y * lp + (1.0 - Y) * lq
    out["llf"] = xp.sum(wm * log_obs, axis=0)
    out["count"] = xp.sum(wm, axis=0)
    out["ysum"] = xp.sum(wm * Y, axis=0)
    live = wm > 0
    margin = (2.0 * Y - 1.0) * Z
    out["wrong"] = xp.sum(xp.astype(live & (margin <= 0), xp.float64), axis=0)
    out["certain"] = xp.sum(xp.astype(live & (log_obs > -CERTAIN), xp.float64), axis=0)
    # Block j of the information: Xt^T diag(w m p (1 - p)) Xt; all k blocks in one GEMM.
    out["hblocks"] = Xt.T @ _kron_rows(xp, wm * P * (1.0 - P), Xt)
    Gm = (Y - P) * (xp.ones_like(Z) if mask is None else mask)
    _common(xp, Xt, Gm, w, out, meat=meat, groups=groups, n_groups=n_groups)
    return out


# -- multinomial: softmax over all K classes -------------------------------------------------
def softmax_parts(xp: Any, Z: Any) -> tuple[Any, Any]:
    """Probabilities and log-normalizer of the row-max-shifted logits."""
    m = xp.max(Z, axis=1, keepdims=True)
    E = xp.exp(Z - m)
    s = xp.sum(E, axis=1, keepdims=True)
    return E / s, m + xp.log(s)


def _onehot(xp: Any, codes: Any, K: int, like: Any) -> Any:
    ks = xp.arange(K, device=_dev(like))
    return xp.astype(xp.astype(codes, ks.dtype)[:, None] == ks[None, :], xp.float64)


def _multinomial_kernel(xp: Any, Xt: Any, *, Y: Any, w: Any, mask: Any = None,
                        groups: Any = None, Theta: np.ndarray, meat: bool, n_groups: int
                        ) -> dict[str, Any]:
    Th = xp.asarray(Theta, device=_dev(Xt))
    Z = Xt @ Th
    K = Z.shape[1]
    P, lse = softmax_parts(xp, Z)
    Yh = _onehot(xp, Y, K, Z)
    z_obs = xp.sum(Yh * Z, axis=1)
    log_obs = z_obs - lse[:, 0]
    out: dict[str, Any] = {}
    out["llf"] = xp.reshape(xp.sum(w * log_obs), (1,))
    out["count"] = xp.reshape(xp.sum(w), (1,))
    out["ysum"] = xp.sum(w[:, None] * Yh, axis=0)
    live = w > 0
    rival = xp.max(xp.where(Yh > 0, -xp.inf, Z), axis=1)
    out["wrong"] = xp.reshape(xp.sum(xp.astype(live & (z_obs <= rival), xp.float64)), (1,))
    out["certain"] = xp.reshape(
        xp.sum(xp.astype(live & (log_obs > -CERTAIN), xp.float64)), (1,))
    out["hblocks"] = Xt.T @ _kron_rows(xp, w[:, None] * P, Xt)
    Q = _kron_rows(xp, xp.sqrt(w)[:, None] * P, Xt)
    out["outer"] = Q.T @ Q
    _common(xp, Xt, Yh - P, w, out, meat=meat, groups=groups, n_groups=n_groups)
    return out


def _dev(a: Any) -> Any:
    from array_api_compat import device

    return device(a)


#: Kernels per family: the family names the likelihood, not the estimator.
FAMILIES = {"binomial": _binomial_kernel, "multinomial": _multinomial_kernel}


def _block_diagonal(hblocks: np.ndarray, k: int) -> np.ndarray:
    """``(kP, kP)`` block-diagonal matrix from the ``(P, kP)`` row of blocks."""
    P = hblocks.shape[0]
    H = np.zeros((k * P, k * P))
    for j in range(k):
        H[j * P:(j + 1) * P, j * P:(j + 1) * P] = hblocks[:, j * P:(j + 1) * P]
    return H


def row_sums(family: str, X: Any, Y: np.ndarray, Theta: np.ndarray, *, weights: np.ndarray,
             mask: np.ndarray | None = None, fit_intercept: bool, meat: bool = False,
             groups: np.ndarray | None = None, n_groups: int = 0) -> RowSums:
    """All row sums of a fitted model in one pass over ``X``.

    Parameters
    ----------
    family : {"binomial", "multinomial"}
    X : array of shape (n, d)
        NumPy, CSR, dask or torch.
    Y : ndarray
        ``(n, k)`` 0/1 floats (binomial) or ``(n,)`` class codes in ``0..K-1`` (multinomial).
    Theta : ndarray of shape (P, k)
        Logit coefficients, the intercept row first when ``fit_intercept``.
    weights : ndarray of shape (n,)
        Frequency weights.
    mask : ndarray of shape (n, k), optional
        1 where a binomial target is observed, 0 where it is missing.
    fit_intercept : bool
    meat : bool
        Also sum the HC0 meat.
    groups : ndarray of int of shape (n,), optional
        Cluster codes in ``0..n_groups-1``: also sum the scores per cluster.
    n_groups : int

    Returns
    -------
    RowSums
    """
    k = Theta.shape[1]
    width = k * Theta.shape[0] * (3 if family == "multinomial" else 2)
    kernel = functools.partial(FAMILIES[family], Theta=np.asarray(Theta, dtype=np.float64),
                               meat=meat, n_groups=n_groups)
    rows = {"Y": Y, "w": np.asarray(weights, dtype=np.float64), "mask": mask, "groups": groups}
    s = sum_over_rows(kernel, X, rows, fit_intercept=fit_intercept,
                      chunk_rows=rows_per_chunk(width))
    H = _block_diagonal(s["hblocks"], k)
    if "outer" in s:
        H -= s.pop("outer")
    # symmetric to the last bit, in place (the sums agree to rounding only)
    upper = np.triu_indices_from(H, 1)
    H[upper] = 0.5 * (H[upper] + H.T[upper])
    H.T[upper] = H[upper]
    n = max(float(s["rows"][0]), np.finfo(float).tiny)
    mean, sq = s["moments"] / n
    sd = np.sqrt(np.maximum(sq - mean ** 2, 0.0))
    return RowSums(hessian=H, meat=s.get("meat"), cluster=s.get("cluster"), score=s["score"],
                   llf=s["llf"], count=s["count"], ysum=s["ysum"], wrong=s["wrong"],
                   certain=s["certain"], feature_sd=sd)
