r"""Post-hoc calibration of a fitted model's probabilities on validation data.

A fitted model's logits :math:`Z` (shape ``(n, k)``) are mapped to
calibrated logits :math:`\tilde Z = Z \operatorname{diag}(a) + c` and the
model's own link (softmax, sigmoid, normalized sigmoids) gives the
probabilities. The map is fitted by minimizing the validation log-loss
(the mean negative log-likelihood): with L-BFGS (:func:`scipy.optimize.minimize`), or
for per-output maps of sigmoids (Platt, vector) with batched 2 x 2 Newton steps
(:mod:`sigmax._affine_sigmoids`), since each output is then its own small problem:

=================  ==========================================  =============================
method             map                                         models
=================  ==========================================  =============================
``"temperature"``  :math:`\tilde z = z / T`, one :math:`T > 0`  all (Guo et al., 2017)
``"vector"``       :math:`\tilde z_k = a_k z_k + c_k`          all
``"platt"``        :math:`\tilde z_k = a_k z_k + c_k`          sigmoid models (Platt, 1999)
=================  ==========================================  =============================

:math:`T` is fitted as :math:`\log T` (so it stays positive); a temperature
leaves every argmax and sign unchanged, so ``predict`` is the base model's.
For a sigmoid model (``LogisticRegression``, ``OneVsRestLogistic``,
``MultiLabelLogistic``) the loss is the sum over outputs of the binary
log-losses of :math:`\sigma(\tilde z_k)` against "is it class / label k",
which is Platt scaling per sigmoid; for ``SoftmaxRegression`` it is the
multinomial log-loss of :math:`\operatorname{softmax}(\tilde z)`. Log-losses
use the stable log-sigmoid / log-softmax of :mod:`sigmax.numerics`.

Calibrated models are saved as one safetensors file (no pickle) with
:func:`save_calibrated` and read back with :func:`load_calibrated`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ._affine_sigmoids import fit_affine_sigmoids
from .numerics import expit, log_expit, log_softmax, logsumexp, softmax

__all__ = ["LINKS", "METHODS", "CalibratedModel", "calibrate", "load_calibrated",
           "platt_targets", "save_calibrated"]


# -- links: how each kind of model turns logits into probabilities ----------------------------
@dataclass(frozen=True)
class _Link:
    """Probabilities, log-loss and its logit gradient for one kind of model."""

    #: ``(n, k)`` calibrated logits -> probabilities as the base model's predict_proba.
    proba: Callable[[np.ndarray], np.ndarray]
    #: ``(n, k)`` calibrated logits -> log of ``proba``, in log space (finite).
    log_proba: Callable[[np.ndarray], np.ndarray]
    #: ``(n, k)`` logits -> predicted labels (indices or 0/1 matrix), before mapping to classes.
    predict: Callable[[np.ndarray], np.ndarray]
    #: ``(Z, Y)`` -> ``(mean log-loss, dL/dZ)``; ``Y`` is what :meth:`targets` returns.
    loss: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]
    #: ``(base model, y)`` -> target array for ``loss``.
    targets: Callable[[Any, Any], np.ndarray]
    #: Whether the outputs are sigmoids (Platt applies).
    sigmoid: bool


def _codes(model: Any, y: Any) -> np.ndarray:
    y = np.asarray(y)
    classes = np.asarray(model.classes_)
    idx = np.searchsorted(classes, y)
    idx = np.clip(idx, 0, len(classes) - 1)
    if not np.all(classes[idx] == y):
        unknown = np.unique(y[classes[idx] != y])[:5].tolist()
        raise ValueError(f"y_val holds labels the model was not fitted on: {unknown}; the "
                         f"model's classes are {classes.tolist()}.")
    return idx


def _binary_targets(model: Any, y: Any) -> np.ndarray:
    return _codes(model, y).astype(np.float64)[:, None]


def _onehot_targets(model: Any, y: Any) -> np.ndarray:
    codes = _codes(model, y)
    Y = np.zeros((len(codes), len(model.classes_)))
    Y[np.arange(len(codes)), codes] = 1.0
    return Y


def _indicator_targets(model: Any, y: Any) -> np.ndarray:
    Y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[1] != len(model.classes_):
        raise ValueError(f"y_val must be a 0/1 matrix with one column per label "
                         f"({len(model.classes_)}); got shape {Y.shape}.")
    return Y


def _sigmoid_loss(Z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    # Binary log-loss per output, NaN targets (unknown labels) masked out.
    known = ~np.isnan(Y)
    Yk = np.where(known, Y, 0.0)
    n = Z.shape[0]
    # One transcendental pass: log sigma(-z) = log sigma(z) - z, so
    # -(y log sigma(z) + (1 - y) log sigma(-z)) = (1 - y) z - log sigma(z); and
    # sigma(z) = exp(log sigma(z)), an exponent <= 0 (never overflows).
    log_p = log_expit(Z)
    L = (1 - Yk) * Z - log_p
    G = (np.exp(log_p) - Yk) * known / n
    return float(np.sum(L * known) / n), G


def _softmax_loss(Z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    n = Z.shape[0]
    return float(-np.sum(Y * log_softmax(Z, axis=1)) / n), (softmax(Z, axis=1) - Y) / n


def _binary_proba(Z: np.ndarray) -> np.ndarray:
    return np.column_stack([expit(-Z[:, 0]), expit(Z[:, 0])])


def _binary_log_proba(Z: np.ndarray) -> np.ndarray:
    return np.column_stack([log_expit(-Z[:, 0]), log_expit(Z[:, 0])])


def _ovr_log_proba(Z: np.ndarray) -> np.ndarray:
    L = log_expit(Z)
    return L - logsumexp(L, axis=1, keepdims=True)


def _ovr_proba(Z: np.ndarray) -> np.ndarray:
    # Normalized sigmoids from the log-sigmoids: finite when every sigmoid underflows.
    return np.exp(_ovr_log_proba(Z))


#: Model class name -> link. A class is looked up by the names in its MRO.
LINKS: dict[str, _Link] = {
    "LogisticRegression": _Link(_binary_proba, _binary_log_proba,
                                lambda Z: (Z[:, 0] > 0).astype(np.intp),
                                _sigmoid_loss, _binary_targets, True),
    "SoftmaxRegression": _Link(lambda Z: softmax(Z, axis=1), lambda Z: log_softmax(Z, axis=1),
                               lambda Z: np.argmax(Z, axis=1),
                               _softmax_loss, _onehot_targets, False),
    "OneVsRestLogistic": _Link(_ovr_proba, _ovr_log_proba, lambda Z: np.argmax(Z, axis=1),
                               _sigmoid_loss, _onehot_targets, True),
    "MultiLabelLogistic": _Link(expit, log_expit, lambda Z: (Z > 0).astype(np.int64),
                                _sigmoid_loss, _indicator_targets, True),
}


def _link_for(model: Any) -> _Link:
    for cls in type(model).__mro__:
        if cls.__name__ in LINKS:
            return LINKS[cls.__name__]
    raise TypeError(f"calibrate supports {', '.join(LINKS)}; got {type(model).__name__}.")


# -- methods: the parameterization of the map ---------------------------------------------------
@dataclass(frozen=True)
class _Method:
    """Parameters theta -> per-output scale a and shift c, and the chain rule back."""

    #: ``(theta, k) -> (a, c)``, each of shape (k,).
    unpack: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]
    #: ``(theta, dL/da, dL/dc) -> dL/dtheta``.
    grad: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    #: ``k -> theta`` of the identity map.
    start: Callable[[int], np.ndarray]
    #: Whether it needs sigmoid outputs.
    sigmoid_only: bool = False


def _temperature_unpack(theta: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(k, np.exp(-theta[0])), np.zeros(k)  # a = 1 / T, T = exp(theta)


def _affine_unpack(theta: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    return theta[:k], theta[k:]


_AFFINE = _Method(_affine_unpack, lambda th, ga, gc: np.concatenate([ga, gc]),
                  lambda k: np.concatenate([np.ones(k), np.zeros(k)]))

#: Calibration method name -> parameterization.
METHODS: dict[str, _Method] = {
    "temperature": _Method(_temperature_unpack,
                           lambda th, ga, gc: np.array([-np.exp(-th[0]) * ga.sum()]),
                           lambda k: np.zeros(1)),
    "vector": _AFFINE,
    "platt": _Method(_AFFINE.unpack, _AFFINE.grad, _AFFINE.start, sigmoid_only=True),
}


def platt_targets(Y: np.ndarray) -> np.ndarray:
    r"""Platt's (1999) targets: per output, 1 becomes :math:`(N_+ + 1) / (N_+ + 2)` and 0
    becomes :math:`1 / (N_- + 2)`.

    The maximum-likelihood estimate under a uniform prior on each output's
    base rate: with them the log-loss of :math:`\sigma(a z + c)` has a finite
    minimum even when the logits split the rows perfectly or one side is empty
    (with 0/1 targets :math:`|a|` or :math:`|c|` then grows without bound).
    NaN entries (unknown labels) stay NaN.

    Parameters
    ----------
    Y : ndarray of shape (n, k)
        0/1 targets of k sigmoid outputs.

    Returns
    -------
    ndarray of shape (n, k)
    """
    Y = np.asarray(Y, dtype=np.float64)
    n_pos = np.nansum(Y == 1, axis=0)
    n_neg = np.nansum(Y == 0, axis=0)
    return np.where(Y == 1, (n_pos + 1) / (n_pos + 2), np.where(Y == 0, 1 / (n_neg + 2), Y))


def _base_logits(model: Any, X: Any) -> np.ndarray:
    """The base model's full logits, shape (n, k) (k = 1 for LogisticRegression)."""
    return np.asarray(model._logits(X), dtype=np.float64)


class CalibratedModel(ClassifierMixin, BaseEstimator):
    r"""A fitted model whose logits pass through a fitted map :math:`\tilde z = a \odot z + c`.

    Parameters
    ----------
    estimator : fitted LogisticRegression, SoftmaxRegression, OneVsRestLogistic or
        MultiLabelLogistic
        Not refitted: :meth:`fit` fits only the map, on validation data.
    method : {'temperature', 'vector', 'platt'}, default='temperature'
        See :mod:`sigmax.calibration`.
    smooth : bool, default=False
        Sigmoid models only: fit the map to Platt's smoothed targets
        (:func:`platt_targets`) instead of 0/1, so that it has a finite optimum
        on rows the model separates. ``loss_before_`` and ``loss_after_`` stay
        the plain validation log-loss.

    Attributes
    ----------
    scale_ : ndarray of shape (k,)
        :math:`a` (``1 / T`` for every output with ``method='temperature'``).
    bias_ : ndarray of shape (k,)
        :math:`c` (zeros for temperature scaling).
    temperature_ : float
        :math:`T` (temperature scaling only; NaN otherwise).
    classes_ : ndarray
        The base model's classes.
    loss_before_, loss_after_ : float
        Validation log-loss of the base model and of the calibrated one.
    """

    def __init__(self, estimator: Any = None, method: str = "temperature",
                 smooth: bool = False) -> None:
        self.estimator = estimator
        self.method = method
        self.smooth = smooth

    def fit(self, X_val: Any, y_val: Any) -> CalibratedModel:
        """Fit the map on validation data ``(X_val, y_val)`` (the estimator stays as is).

        Parameters
        ----------
        X_val : array-like of shape (n_samples, n_features)
        y_val : array-like of shape (n_samples,) (or (n_samples, L) 0/1 for multi-label)

        Returns
        -------
        self
        """
        from scipy.optimize import minimize

        if self.method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}; got {self.method!r}.")
        check_is_fitted(self.estimator)
        link, method = _link_for(self.estimator), METHODS[self.method]
        if method.sigmoid_only and not link.sigmoid:
            raise ValueError(f"method='platt' scales sigmoids; {type(self.estimator).__name__} "
                             "has a softmax: use method='temperature' or 'vector'.")
        if self.smooth and not link.sigmoid:
            raise ValueError(f"smooth=True smooths the targets of sigmoid outputs; "
                             f"{type(self.estimator).__name__} has a softmax.")
        Z = _base_logits(self.estimator, X_val)
        Y = link.targets(self.estimator, y_val)
        if Y.shape[0] != Z.shape[0]:
            raise ValueError(f"X_val has {Z.shape[0]} rows but y_val has {Y.shape[0]}.")
        k = Z.shape[1]
        fit_to = platt_targets(Y) if self.smooth else Y

        def fun(theta: np.ndarray, T: np.ndarray = fit_to) -> tuple[float, np.ndarray]:
            a, c = method.unpack(theta, k)
            value, G = link.loss(Z * a + c, T)
            return value, method.grad(theta, np.sum(G * Z, axis=0), np.sum(G, axis=0))

        theta0 = method.start(k)
        if link.sigmoid and method.unpack is _affine_unpack:
            # Sigmoid outputs with their own scale and shift: k separate 2-parameter
            # problems, solved together by batched Newton steps (_affine_sigmoids).
            a, c, fitted = fit_affine_sigmoids(Z, fit_to)
            self.theta_ = np.concatenate([a, c])
        else:
            res = minimize(fun, theta0, jac=True, method="L-BFGS-B",
                           options={"maxiter": 1000, "gtol": 1e-10, "ftol": 1e-14})
            self.theta_ = np.asarray(res.x, dtype=np.float64)
            fitted = float(res.fun)
        self._set_params_from_theta()
        self.loss_before_ = fun(theta0, Y)[0]
        self.loss_after_ = fun(self.theta_, Y)[0] if self.smooth else fitted
        return self

    def _set_params_from_theta(self) -> None:
        k = np.asarray(self.estimator.intercept_).reshape(-1).shape[0]
        self.scale_, self.bias_ = METHODS[self.method].unpack(self.theta_, k)
        self.temperature_ = (float(np.exp(self.theta_[0])) if self.method == "temperature"
                             else float("nan"))
        self.classes_ = np.asarray(self.estimator.classes_)
        self.n_features_in_ = self.estimator.n_features_in_
        if hasattr(self.estimator, "feature_names_in_"):
            self.feature_names_in_ = self.estimator.feature_names_in_

    def _calibrated_logits(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "scale_")
        return _base_logits(self.estimator, X) * self.scale_ + self.bias_

    def decision_function(self, X: Any) -> np.ndarray:
        """Calibrated logits, shape (n_samples, k); (n_samples,) for one or two outputs
        (the base model's convention: the log-odds of ``classes_[1]``)."""
        Z = self._calibrated_logits(X)
        if Z.shape[1] == 1:
            return Z[:, 0]
        if Z.shape[1] == 2 and not type(self.estimator).__name__.startswith("MultiLabel"):
            return Z[:, 1] - Z[:, 0]
        return Z

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities, shaped as the base model's ``predict_proba``."""
        return _link_for(self.estimator).proba(self._calibrated_logits(X))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba`, computed in log space (finite)."""
        return _link_for(self.estimator).log_proba(self._calibrated_logits(X))

    def predict(self, X: Any) -> np.ndarray:
        """Labels from the calibrated logits (the base model's rule)."""
        out = _link_for(self.estimator).predict(self._calibrated_logits(X))
        return out if out.ndim == 2 else self.classes_[out]

    # -- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fitted map as plain JSON values (the base model is saved apart)."""
        check_is_fitted(self, "theta_")
        return {"method": self.method, "smooth": bool(self.smooth),
                "theta": [float(t) for t in self.theta_],
                "loss_before": float(self.loss_before_), "loss_after": float(self.loss_after_)}

    @classmethod
    def from_dict(cls, estimator: Any, spec: dict[str, Any]) -> CalibratedModel:
        """Rebuild from a fitted base ``estimator`` and :meth:`to_dict`'s output."""
        method = spec.get("method") if isinstance(spec, dict) else None
        if method not in METHODS:
            raise ValueError(f"unknown calibration method {method!r}")
        theta = np.asarray(spec.get("theta"), dtype=np.float64).reshape(-1)
        k = np.asarray(estimator.intercept_).reshape(-1).shape[0]
        if theta.shape != METHODS[method].start(k).shape or not np.all(np.isfinite(theta)):
            raise ValueError("calibration parameters do not match the model")
        out = cls(estimator, method, bool(spec.get("smooth", False)))
        out.theta_ = theta
        out.loss_before_ = float(spec.get("loss_before", np.nan))
        out.loss_after_ = float(spec.get("loss_after", np.nan))
        out._set_params_from_theta()
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write to one safetensors file (no pickle); see :func:`save_calibrated`."""
        save_calibrated(self, path)


def calibrate(model: Any, X_val: Any, y_val: Any, method: str = "temperature",
              smooth: bool = False) -> CalibratedModel:
    """Calibrate a fitted model's probabilities on validation data.

    Parameters
    ----------
    model : fitted LogisticRegression, SoftmaxRegression, OneVsRestLogistic or
        MultiLabelLogistic
    X_val : array-like of shape (n_samples, n_features)
        Rows not used to fit ``model``.
    y_val : array-like of shape (n_samples,) (or (n_samples, L) for multi-label)
    method : {'temperature', 'vector', 'platt'}, default='temperature'
    smooth : bool, default=False
        Sigmoid models: fit to Platt's smoothed targets (:func:`platt_targets`),
        which keeps the map finite on rows the model separates.

    Returns
    -------
    CalibratedModel
        With ``predict_proba``, ``predict``, ``decision_function``, ``classes_``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sigmax import SoftmaxRegression, calibrate
    >>> X, y = load_iris(return_X_y=True)
    >>> model = SoftmaxRegression(C=1e4).fit(X[::2], y[::2])
    >>> cal = calibrate(model, X[1::2], y[1::2], method="temperature")
    >>> bool(cal.loss_after_ <= cal.loss_before_)
    True
    """
    return CalibratedModel(model, method, smooth).fit(X_val, y_val)


_CAL_KEY = "sigmax_calibration"


def save_calibrated(model: CalibratedModel, path: str | os.PathLike) -> None:
    """Save a :class:`CalibratedModel` as one safetensors file, atomically.

    The base model's tensors and header (as :func:`sigmax.io.save` writes them)
    plus the map's parameters as JSON under the ``sigmax_calibration`` key.
    """
    from safetensors import safe_open
    from safetensors.numpy import save_file

    from .io import atomic_path, save

    spec = model.to_dict()
    with tempfile.TemporaryDirectory() as tmp:
        base_file = Path(tmp) / "base.safetensors"
        save(model.estimator, base_file)
        with safe_open(str(base_file), framework="np") as fh:
            header = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    header[_CAL_KEY] = json.dumps(spec)
    with atomic_path(path, suffix=".safetensors") as out:
        save_file(tensors, str(out), metadata=header)


def load_calibrated(path: str | os.PathLike) -> CalibratedModel:
    """Load a file written by :func:`save_calibrated` (never unpickles).

    The base model is checked as :func:`sigmax.io.load` checks a model file.
    """
    from safetensors import SafetensorError, safe_open
    from safetensors.numpy import save_file

    from .io import load

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}.")
    try:
        with safe_open(str(path), framework="np") as fh:
            header = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a safetensors file ({exc}).") from None
    if _CAL_KEY not in header:
        raise ValueError(f"{path} holds no calibration; load a plain model with sigmax.load.")
    try:
        spec = json.loads(header.pop(_CAL_KEY))
    except (json.JSONDecodeError, RecursionError):
        raise ValueError(f"{path}: the calibration metadata is not valid JSON.") from None
    with tempfile.TemporaryDirectory() as tmp:
        base_file = Path(tmp) / "base.safetensors"
        save_file(tensors, str(base_file), metadata=header)
        base = load(base_file)
    try:
        return CalibratedModel.from_dict(base, spec)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not a valid calibrated model: {exc}.") from None
