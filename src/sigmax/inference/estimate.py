"""``sigmax.inference(model, X, y)``: one pass over the data, then the covariance."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from .chunks import array_kind, n_rows
from .covariance import bread, covariance, get_cov_type
from .identification import check_collinearity, check_separation
from .information import row_sums
from .result import HeadsInference, Inference
from .spec import fitted_C, head_specs, model_spec

__all__ = ["inference"]


def _features(model: Any, X: Any) -> Any:
    """``X`` with the model's columns, in its order; NumPy, CSR, pandas, dask or torch."""
    names = getattr(model, "feature_names_in_", None)
    if hasattr(X, "columns"):
        if names is not None:
            missing = [c for c in names if c not in set(X.columns)]
            if missing:
                raise ValueError(f"X lacks the feature column(s) {missing[:5]} the model was "
                                 "fitted on.")
            X = X[list(names)]
        if array_kind(X) == "dask":
            X = X.to_dask_array(lengths=True)
        # a pandas frame stays one: each row chunk is converted on its own
    elif array_kind(X) == "sparse":
        X = sp.csr_matrix(X)
    elif array_kind(X) == "numpy":
        X = np.asarray(X)
    d = np.asarray(model.coef_).shape[1]
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"X must have shape (n_samples, {d}) like the data the model was "
                         f"fitted on; got {tuple(X.shape)}.")
    return X


def _weights(sample_weight: Any, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"sample_weight must be {n} finite non-negative frequency weights "
                         "(one per row of X).")
    return w


def _group_codes(groups: Any, n: int) -> tuple[np.ndarray, int]:
    g = np.asarray(groups).reshape(-1)
    if g.shape != (n,):
        raise ValueError(f"groups must have one cluster label per row of X ({n}); got "
                         f"shape {g.shape}.")
    levels, codes = np.unique(g, return_inverse=True)
    return codes.reshape(-1).astype(np.intp), len(levels)


def inference(model: Any, X: Any, y: Any, *, cov_type: str = "nonrobust", groups: Any = None,
              sample_weight: Any = None, alpha: float = 0.05, reference: Any = None,
              penalty_scale: Any = None) -> Inference | HeadsInference:
    """Standard errors, tests and confidence intervals for a fitted sigmax model.

    Parameters
    ----------
    model : LogisticRegression, SoftmaxRegression, OneVsRestLogistic, MultiLabelLogistic, \
MultiHeadClassifier or MultiLabelHeads
        Fitted (by maximum likelihood: ``penalty=None``; an L2 fit gets the
        sandwich at its penalized optimum, with a warning). A multi-head model
        (linear heads) gets one inference per head (:func:`.spec.head_specs`).
    X : array-like, CSR matrix, DataFrame, dask array / DataFrame or torch tensor, (n, d)
        The data the model was fitted on (dask: one task per row block; torch:
        computed on the tensor's device).
    y : array-like
        Targets as given to ``fit``.
    cov_type : {"nonrobust", "HC0", "HC1", "cluster"}, default="nonrobust"
        See :mod:`sigmax.inference.covariance`.
    groups : array-like of shape (n,), optional
        Cluster labels, with ``cov_type="cluster"``.
    sample_weight : array-like of shape (n,), optional
        Frequency weights (a row of weight 3 counts as three identical rows).
    alpha : float, default=0.05
        Confidence intervals at level ``1 - alpha``.
    reference : class label, optional
        Softmax baseline class (default ``classes_[0]``).
    penalty_scale : array-like of shape (d,), optional
        Per-feature scale at which an L2 penalty was applied (when the model
        was fitted on standardized features and its coefficients rescaled to
        the raw ones, as ``sigmax fit`` does): the penalty curvature of
        feature ``j`` is then ``1 / (C scale_j^2)``.

    Returns
    -------
    Inference, or HeadsInference for a multi-head model

    Raises
    ------
    ValueError
        L1 / elastic-net fits (post-selection inference), complete separation,
        class weights, unknown labels, a bad ``cov_type`` or ``groups``.

    Examples
    --------
    >>> import numpy as np, sigmax
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2))
    >>> y = (X @ [1.0, -0.5] + rng.logistic(size=500) > 0).astype(int)
    >>> model = sigmax.LogisticRegression(penalty=None).fit(X, y)
    >>> res = sigmax.inference(model, X, y)
    >>> res.table[["term", "coef", "std_err"]].round(2).to_dict("list")["term"]
    ['intercept', 'x0', 'x1']
    """
    ct = get_cov_type(cov_type)
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ValueError(f"alpha must be in (0, 1) (0.05 gives 95% intervals); got {alpha!r}.")
    if getattr(model, "heads_", None) is not None:
        return _heads(model, X, y, ct=ct, groups=groups, sample_weight=sample_weight,
                      alpha=alpha, reference=reference, penalty_scale=penalty_scale)
    spec = model_spec(model, reference=reference, penalty_scale=penalty_scale)
    X = _features(model, X)
    n = n_rows(X)
    Y, mask = spec.encode(y)
    if Y.shape[0] != n:
        raise ValueError(f"X has {n} rows but y has {Y.shape[0]}.")
    return _estimate(spec, X, Y, mask, _weights(sample_weight, n), ct=ct, groups=groups,
                     alpha=alpha, C=fitted_C(model))


def _heads(model: Any, X: Any, y: Any, *, ct: Any, groups: Any, sample_weight: Any,
           alpha: float, reference: Any, penalty_scale: Any) -> HeadsInference:
    """One :class:`Inference` per head of a linear multi-head model (:func:`head_specs`)."""
    heads = head_specs(model, reference=reference, penalty_scale=penalty_scale)
    X = _features(model, X)
    n = n_rows(X)
    w = _weights(sample_weight, n)
    out = {}
    for head in heads:
        labels, known = head.column(y)
        if labels.shape[0] != n:
            raise ValueError(f"X has {n} rows but y has {labels.shape[0]}.")
        Y, mask = head.spec.encode(labels)
        # Rows where the head's label is unknown do not enter its likelihood.
        out[head.name] = _estimate(head.spec, X, Y, mask, w * known, ct=ct, groups=groups,
                                   alpha=alpha, C=fitted_C(model), stacklevel=4)
    return HeadsInference(type(model).__name__, out)


def _estimate(spec: Any, X: Any, Y: np.ndarray, mask: Any, w: np.ndarray, *, ct: Any,
              groups: Any, alpha: float, C: Any, stacklevel: int = 3) -> Inference:
    """The inference of one likelihood ``spec`` on encoded targets and weights."""
    n = n_rows(X)
    if ct.needs_groups and groups is None:
        raise ValueError("cov_type='cluster' needs groups=: one cluster label per row.")
    if groups is not None and not ct.needs_groups:
        raise ValueError(f"groups= is used by cov_type='cluster'; cov_type={ct.name!r} "
                         "ignores it. Pass cov_type='cluster'.")
    codes, n_groups = _group_codes(groups, n) if groups is not None else (None, 0)
    if spec.penalized:
        warnings.warn(
            f"{spec.model_name} was fitted with an L2 penalty (C={C}): "
            "the estimates are penalized (shrunk toward 0), and the standard errors are the "
            "sandwich at the penalized optimum, not maximum-likelihood ones. For classical "
            "inference refit with penalty=None.", UserWarning, stacklevel=stacklevel)
    sums = row_sums(spec.family, X, Y, spec.Theta, weights=w, mask=mask,
                    fit_intercept=spec.fit_intercept, meat=ct.needs_meat, groups=codes,
                    n_groups=n_groups)
    if not np.isfinite(sums.llf).all() or not np.isfinite(sums.hessian).all():
        raise ValueError("X contains NaN or infinite values: remove or impute them first.")
    B = bread(spec, sums)
    check_separation(spec, sums, B)
    check_collinearity(spec, B)
    del B  # covariance() forms its own, in place: one (kP, kP) copy at a time
    try:
        cov, _ = covariance(spec, sums, ct)
    except np.linalg.LinAlgError as exc:
        raise ValueError("The information matrix is singular: some features are collinear "
                         "(or constant), or the data show separation. Drop redundant "
                         "features and refit.") from exc
    return Inference(spec, sums, cov, cov_type=ct.name, alpha=alpha, nobs=float(w.sum()),
                     data=(X, w, mask))
