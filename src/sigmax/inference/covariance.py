r"""Covariance of the estimates: the sandwich :math:`B^{-1} M B^{-1}` and its meats.

The *bread* :math:`B = H + \Lambda` is the curvature of the fitted objective
per unit of log-likelihood: the observed information :math:`H` plus the
penalty's (``1/C`` on each penalized coefficient, 0 without a penalty). The
*meat* :math:`M` estimates the variance of the score:

============  =========================================================================
cov_type      meat
============  =========================================================================
nonrobust     :math:`H` (the model is right: information equality; without a penalty
              the covariance is :math:`H^{-1}`, the inverse observed information)
HC0           :math:`\sum_i w_i s_i s_i^\top` (White / Huber sandwich)
HC1           HC0 times :math:`N / (N - k)` (``k`` parameters, ``N`` observations)
cluster       :math:`\tfrac{G}{G-1}\tfrac{N-1}{N-k} \sum_c S_c S_c^\top` over clusters
============  =========================================================================

These are statsmodels' formulas (``cov_cluster`` with its default correction;
HC1 as ``cov_white_simple(use_correction=True)``: note that
``Logit.fit(cov_type="HC1")`` itself returns HC0 for discrete models). For
models with independent outputs (one-vs-rest, multi-label) the corrections use
each output's own ``N`` and ``k``, so each block equals a separate fit.

Flat directions (the symmetric softmax) make :math:`B` singular. With ``N`` an
orthonormal basis of them, :math:`(B + c NN^\top)^{-1} = B^{+} + NN^\top / c`,
and every contrast :math:`a` (:math:`a^\top N = 0`) gets
:math:`a^\top B^{+} M B^{+} a`: finite, and the same for any ``c > 0``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .information import RowSums
from .spec import ModelSpec

__all__ = ["COV_TYPES", "CovType", "bread", "covariance", "get_cov_type"]


@dataclass(frozen=True)
class CovType:
    """A covariance estimator: what it needs from the row pass, and its meat."""

    name: str
    needs_meat: bool
    needs_groups: bool
    meat: Callable[[ModelSpec, RowSums], np.ndarray]
    description: str


def _free(A: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """The rows and columns of the free parameters: a view when they are contiguous."""
    f = spec.free
    if len(f) and np.array_equal(f, np.arange(f[0], f[0] + len(f))):
        return A[f[0]:f[0] + len(f), f[0]:f[0] + len(f)]
    return A[np.ix_(f, f)]


def _block_scale(spec: ModelSpec, factors: np.ndarray, M: np.ndarray) -> np.ndarray:
    """:math:`D M D` with :math:`D` = sqrt(factor of each parameter's output block)."""
    d = np.sqrt(factors[spec.block_of])
    return M * d[:, None] * d[None, :]


def _block_nobs(spec: ModelSpec, sums: RowSums) -> np.ndarray:
    return sums.count if len(sums.count) == len(spec.block_params) else np.full(
        len(spec.block_params), sums.count.sum())


def _nonrobust(spec: ModelSpec, sums: RowSums) -> np.ndarray:
    return _free(sums.hessian, spec)


def _hc0(spec: ModelSpec, sums: RowSums) -> np.ndarray:
    return _free(sums.meat, spec)


def _hc1(spec: ModelSpec, sums: RowSums) -> np.ndarray:
    N = _block_nobs(spec, sums)
    return _block_scale(spec, N / (N - spec.block_params), _hc0(spec, sums))


def _cluster(spec: ModelSpec, sums: RowSums) -> np.ndarray:
    S = sums.cluster[:, spec.free]
    G = S.shape[0]  # the distinct groups (statsmodels: len(np.unique(groups)))
    if G < 2:
        raise ValueError("cov_type='cluster' needs at least 2 groups; groups has fewer.")
    N = _block_nobs(spec, sums)
    factors = G / (G - 1.0) * (N - 1.0) / (N - spec.block_params)
    return _block_scale(spec, factors, S.T @ S)


#: Covariance types by name (``cov_type=`` of :func:`sigmax.inference`).
COV_TYPES: dict[str, CovType] = {c.name: c for c in (
    CovType("nonrobust", False, False, _nonrobust,
            "inverse observed information (model-based)"),
    CovType("HC0", True, False, _hc0, "heteroscedasticity robust sandwich (HC0)"),
    CovType("HC1", True, False, _hc1, "robust sandwich with N/(N-k) correction (HC1)"),
    CovType("cluster", True, True, _cluster,
            "cluster-robust sandwich, G/(G-1) (N-1)/(N-k) correction"),
)}


def get_cov_type(name: str) -> CovType:
    """The :class:`CovType` called ``name`` (case-insensitive)."""
    by_lower = {k.lower(): v for k, v in COV_TYPES.items()}
    if not isinstance(name, str) or name.lower() not in by_lower:
        raise ValueError(f"cov_type must be one of {list(COV_TYPES)}; got {name!r}.")
    return by_lower[name.lower()]


def bread(spec: ModelSpec, sums: RowSums) -> np.ndarray:
    """:math:`B + c NN^\\top` on the free parameters (invertible when the model is identified)."""
    B = _free(sums.hessian, spec).copy()
    B[np.diag_indices_from(B)] += spec.penalty
    if spec.flat is not None:
        c = max(float(np.mean(np.diag(B))), np.finfo(float).tiny)
        B += c * (spec.flat @ spec.flat.T)
    return B


def covariance(spec: ModelSpec, sums: RowSums, cov_type: CovType,
               B: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Covariance of the table's coefficients, and the inverse bread on the free parameters.

    ``B``: the :func:`bread` when already formed (overwritten: no second copy).

    Returns
    -------
    cov : ndarray of shape (n_table, n_table)
        :math:`A B^{-1} M B^{-1} A^\\top`, ``A`` the table map on the free parameters.
    inv_bread : ndarray of shape (n_free, n_free)
    """
    B = bread(spec, sums) if B is None else B
    # Scale to unit diagonal before inverting: the information of features on
    # very different scales is badly conditioned only through that scale.
    s = 1.0 / np.sqrt(np.maximum(np.diag(B), np.finfo(float).tiny))
    B *= s[:, None]
    B *= s[None, :]
    Binv = np.linalg.inv(B)
    del B
    Binv *= s[:, None]
    Binv *= s[None, :]
    L = np.asarray(spec.table_map[:, spec.free] @ Binv)
    cov = L @ cov_type.meat(spec, sums) @ L.T
    cov += cov.T
    cov *= 0.5
    return cov, Binv
