"""The shared machinery of the estimators: validate, encode y, build the objective, solve.

Each estimator subclass only says how its targets are encoded, which loss it
uses and how logits become probabilities; everything else lives here, so the
four models are fitted on exactly the same terms (same objective scaling, same
penalty, same solvers, same stopping rule).
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import threading
import warnings
import weakref
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .. import _parallel
from .._dtypes import DTYPES as _DTYPES
from ..backends import BACKENDS, PrecomputedLogits, resolve_backend, route_by_input, to_numpy
from ..losses import LOSSES, Loss
from ..objective import LinearObjective
from ..penalties import PENALTIES, make_penalty
from ..solvers import SOLVERS, FitResult, choose_solver
from ._fit_guard import guarded_fit
from ._logits import finite_logits
from ._offset import add_offset, check_offset, loss_offset
from ._weights import check_class_weight_values, check_sample_weight_values

__all__ = ["LinearClassifierBase", "SeparableWarning"]


class SeparableWarning(UserWarning):
    """The training data are linearly separable and the model has no penalty."""


def _check_param(est: BaseEstimator, name: str, ok: bool, expected: str) -> None:
    if not ok:
        raise ValueError(
            f"The {name!r} parameter of {type(est).__name__} must be {expected}. "
            f"Got {getattr(est, name)!r} instead.")


#: Entries per chunk of :func:`_value_range`: a chunk read for its maximum is
#: still in cache for its minimum (256 kB of float32).
_RANGE_CHUNK = 1 << 16


def _value_range(X: Any) -> tuple[float, float]:
    """``(min, max)`` of the stored values of dense or sparse ``X``, from one read.

    NaN propagates through both and an infinity shows in one of them, so the
    values are all finite exactly when both ends are. Chunk by chunk, each in
    cache for its second reduction: one pass over ``X`` instead of three (a
    sum for finiteness, then a max and a min for the scale). On dense_binary
    (500k x 50 float32) 10 ms instead of 25 ms, where the whole float32 fit
    takes about 100 ms (float64: 21 ms instead of 50 ms).
    """
    data = X.data if sp.issparse(X) else X
    if data.size == 0:
        return 0.0, 0.0
    flat = data.ravel(order="K") if data.flags.forc else None
    if flat is None or flat.size <= _RANGE_CHUNK:  # a strided view: no flat copy of X
        return float(np.min(data)), float(np.max(data))
    lo, hi = np.inf, -np.inf
    for a in range(0, flat.size, _RANGE_CHUNK):
        chunk = flat[a:a + _RANGE_CHUNK]
        c_lo, c_hi = float(chunk.min()), float(chunk.max())
        if c_lo != c_lo or c_hi != c_hi:  # NaN (Python's min/max would drop it)
            return np.nan, np.nan
        lo, hi = min(lo, c_lo), max(hi, c_hi)
    return lo, hi


#: The last ``X`` validated for a fit by this thread (a weak reference) and its
#: :func:`_value_range`, which ``fit`` then reuses (see :func:`_checked_range`).
_checked = threading.local()


def _checked_range(X: Any) -> tuple[float, float] | None:
    """The value range recorded by ``_check_X`` for this very ``X`` (then forgotten), or None."""
    entry, _checked.entry = getattr(_checked, "entry", None), None
    return entry[1] if entry is not None and entry[0]() is X else None


def _describe_nonfinite(X: Any, what: str = "X", names: Any = None,
                        value_range: tuple[float, float] | None = None) -> str | None:
    """Say how many entries of ``X`` are NaN or infinite and where (None when all finite).

    ``names`` (the feature names, when ``X`` came from a DataFrame) label the columns.
    ``value_range``: ``(min, max)`` of ``X`` (:func:`_value_range`) when already known.
    """
    data = X.data if sp.issparse(X) else X
    lo, hi = _value_range(X) if value_range is None else value_range
    if np.isfinite(lo) and np.isfinite(hi):
        return None
    bad = ~np.isfinite(data)
    if not bad.any():  # pragma: no cover - the range says otherwise
        return None
    n_nan = int(np.isnan(data).sum())
    n_inf = int(bad.sum()) - n_nan
    if sp.issparse(X):
        coo = X.tocoo()
        mask = ~np.isfinite(coo.data)
        rows, cols = coo.row[mask], coo.col[mask]
    else:
        rows, cols = np.nonzero(bad)
    def col(c: int) -> str:
        return f"column {c} ({names[c]!r})" if names is not None else f"column {c}"

    where = ", ".join(f"(row {r}, {col(c)})" for r, c in zip(rows[:5], cols[:5]))
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    kinds = " and ".join(s for s in (f"{n_nan} NaN" if n_nan else "",
                                     f"{n_inf} infinite" if n_inf else "") if s)
    return (f"Input {what} contains {kinds} value(s), at {where}{more}. Remove those rows, "
            "or impute them (for example with sklearn.impute.SimpleImputer in a Pipeline, "
            "which imputes the same way at fit and at predict).")


def stop_advice(result: FitResult, max_iter: int, dtype: str) -> str:
    """What may help a solve that did not converge, from why it stopped.

    More iterations help only a solve cut short by ``max_iter``; one that
    stopped earlier reached its working precision, which ``dtype='float64'``
    raises for a float32 fit. Standardized features help either way.
    """
    if "max_iter" in result.message or result.n_iter >= max_iter:
        first = f"Increase max_iter (now {max_iter}), standardize"
    elif dtype == "float32":
        first = ("float32 resolves no further progress here: fit with dtype='float64' "
                 "for a tighter answer, or standardize")
    else:
        first = "Standardize"
    return f"{first} the features (sklearn.preprocessing.StandardScaler)"


def _power_of_two_shift(X: Any, value_range: tuple[float, float] | None = None) -> int:
    """Exponent ``s`` such that ``X * 2**-s`` is safe to square in the working dtype.

    Second-order passes form ``X^T diag(h) X`` and ``X^T (h * (X v))``, whose
    entries grow like ``n |X|^2``: past ``|X| ~ 2^(maxexp/4)`` (about 1e77 in
    float64, 4e9 in float32) they can overflow. Such ``X`` is scaled by a power
    of two (exact: only the exponent changes) and the penalty is rescaled to
    match, so the problem solved is the same one. Ordinary data are left
    alone: a global scale would loosen the stopping rule for the coefficients
    of small-valued features. ``value_range``: ``(min, max)`` of ``X`` when
    already known (:func:`_value_range`).
    """
    if not (isinstance(X, np.ndarray) or sp.issparse(X)):
        # A tensor or a dask array: its range where it lives (one reduction).
        lo, hi = _remote_range(X)
        maxexp = 128 if "float32" in str(X.dtype) else 1024
        top = max(hi, -lo)
        return int(np.frexp(top)[1]) if top > 2.0 ** (maxexp // 4) else 0
    data = X.data if sp.issparse(X) else X
    if data.size == 0:
        return 0
    # max and -min, not max(abs(X)): abs would copy X (the fit must not).
    lo, hi = _value_range(X) if value_range is None else value_range
    top = max(hi, -lo)
    if not top > 2.0 ** (np.finfo(X.dtype).maxexp // 4):
        return 0
    return int(np.frexp(top)[1])


def _remote_range(X: Any) -> tuple[float, float]:
    """``(min, max)`` of a torch tensor or a dask array, computed where it lives."""
    if hasattr(X, "dask"):
        import dask

        lo, hi = dask.compute(X.min(), X.max())
        return float(lo), float(hi)
    if getattr(X, "numel", lambda: 1)() == 0:
        return 0.0, 0.0
    import torch

    lo, hi = torch.aminmax(X)
    return float(lo), float(hi)


def _scale_rows(w: np.ndarray, n_features: int, k: int, shift: int) -> np.ndarray:
    """Flat parameters with the coefficient rows times ``2**shift`` (intercepts as is)."""
    out = np.array(w, dtype=np.float64)
    P = out.reshape(-1, k)
    P[:n_features] = np.ldexp(P[:n_features], shift)
    return out


def _underflow_is_not_an_error(method: Any) -> Any:
    """Run ``method`` with float underflow silent, whatever the caller's ``np.errstate``.

    Exponentials of very negative logits underflow to 0 all through a fit, and
    0 is the right value there; a caller's ``np.errstate(all="raise")`` is
    meant for overflow and NaN, which still raise.
    """

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with np.errstate(under="ignore"):
            return method(self, *args, **kwargs)

    return wrapper


class LinearClassifierBase(ClassifierMixin, BaseEstimator):
    """Base class of the sigmax linear classifiers (not for direct use).

    Subclasses set ``_loss_name`` and implement ``_encode_targets``,
    ``_decode_logits`` hooks as documented below.
    """

    _loss_name: ClassVar[str]
    #: Subclasses for which a 2-D ``y`` is the normal input.
    _multilabel: ClassVar[bool] = False

    def __init__(self, penalty: str | None = "l2", *, C: float = 1.0,
                 l1_ratio: float | None = None, fit_intercept: bool = True,
                 solver: str = "auto", tol: float = 1e-6, max_iter: int = 1000,
                 class_weight: dict | str | None = None, warm_start: bool = False,
                 dtype: str = "float64", verbose: int = 0, backend: str = "auto",
                 device: str | None = None) -> None:
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.dtype = dtype
        self.verbose = verbose
        self.backend = backend
        self.device = device

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Predictions come back in the kind of their input (NumPy, tensor, lazy
        # dask array): see sigmax.backends.route_by_input.
        for name in ("decision_function", "predict_proba", "predict_log_proba", "predict"):
            if name in cls.__dict__:
                setattr(cls, name, route_by_input(cls.__dict__[name]))
        if "fit" in cls.__dict__:  # a failed fit keeps the old model (see _fit_guard)
            cls.fit = guarded_fit(cls.__dict__["fit"])

    # -- hooks for subclasses ------------------------------------------------------
    def _encode_targets(self, y: Any) -> tuple[np.ndarray, np.ndarray, int]:
        """Return ``(Y encoded for the loss, classes_, n_outputs)``."""
        raise NotImplementedError  # pragma: no cover

    def _sample_class_weights(self, Y: np.ndarray) -> np.ndarray:
        """Per-row (or per-entry) weights implied by ``class_weight``."""
        raise NotImplementedError  # pragma: no cover

    def _loss(self) -> Loss:
        return LOSSES[self._loss_name]

    def _offset_columns(self, o: np.ndarray, k: int) -> np.ndarray:
        """An ``(n,)`` offset as ``(n, k)`` columns of ``coef_``: the same for every column."""
        return np.repeat(o[:, None], k, axis=1)

    def _loss_offset(self, full: np.ndarray) -> np.ndarray:
        """The ``(n, K)`` offset of ``coef_``'s rows as the loss's ``(n, k)`` outputs."""
        return full

    def _fit_weights(self, X: Any, Y: np.ndarray, sample_weight: Any) -> np.ndarray:
        """The weights the fit's data term sums with: sample weights times class weights.

        Shape ``(n,)``, or ``(n, k)`` where class weights differ per output;
        checked finite and non-negative. Unit weights on NumPy / CSR ``X`` are a
        broadcast view: no ``(n,)`` array of ones during the fit.
        """
        if sample_weight is None and (isinstance(X, np.ndarray) or sp.issparse(X)):
            sw = np.broadcast_to(np.float64(1.0), (X.shape[0],))  # valid: nothing to check
        else:
            sw = _check_sample_weight(sample_weight, X, dtype=np.float64)
            check_sample_weight_values(sw)
        cw = self._sample_class_weights(Y)
        return sw if cw is None else (cw * (sw if cw.ndim == 1 else sw[:, None]))

    # -- validation ----------------------------------------------------------------
    def _validate_params(self) -> None:
        _check_param(self, "penalty", self.penalty is None or self.penalty in PENALTIES,
                     f"one of {sorted(PENALTIES)} or None")
        _check_param(self, "C", isinstance(self.C, numbers.Real)
                     and not isinstance(self.C, bool) and self.C > 0,
                     "a float in the range (0, inf]")
        _check_param(self, "l1_ratio", self.l1_ratio is None or (
            isinstance(self.l1_ratio, numbers.Real) and 0 <= self.l1_ratio <= 1),
            "None or a float in the range [0, 1]")
        _check_param(self, "fit_intercept", isinstance(self.fit_intercept, (bool, np.bool_)),
                     "a bool")
        _check_param(self, "solver", self.solver == "auto" or self.solver in SOLVERS,
                     f"'auto' or one of {sorted(SOLVERS)}")
        _check_param(self, "tol", isinstance(self.tol, numbers.Real) and 0 < self.tol < np.inf,
                     "a finite float > 0")
        _check_param(self, "max_iter", isinstance(self.max_iter, numbers.Integral)
                     and not isinstance(self.max_iter, bool) and self.max_iter >= 1,
                     "an int in the range [1, inf)")
        _check_param(self, "class_weight", self.class_weight is None
                     or self.class_weight == "balanced" or isinstance(self.class_weight, dict),
                     "None, 'balanced' or a dict {class: weight}")
        _check_param(self, "dtype", self.dtype in _DTYPES, f"one of {sorted(_DTYPES)}")
        _check_param(self, "verbose", isinstance(self.verbose, numbers.Integral), "an int")
        _check_param(self, "backend", self.backend == "auto" or self.backend in BACKENDS,
                     f"'auto' or one of {sorted(BACKENDS)}")
        _check_param(self, "device", self.device is None or isinstance(self.device, str),
                     "None or a device name such as 'cpu', 'cuda' or 'cuda:1'")
        check_class_weight_values(self.class_weight)
        if self.l1_ratio is not None and self.penalty != "elasticnet":
            warnings.warn(f"l1_ratio={self.l1_ratio!r} is only used with penalty='elasticnet'; "
                          f"it is ignored with penalty={self.penalty!r}.", UserWarning,
                          stacklevel=5)  # user -> guard -> errstate wrapper -> fit -> here
        if self.penalty is not None:
            make_penalty(self.penalty, self.l1_ratio)  # its own checks (elasticnet: l1_ratio)

    def _effective_penalty(self):
        if self.penalty is None or np.isinf(self.C):
            return make_penalty("none")
        return make_penalty(self.penalty, self.l1_ratio)

    def _check_X(self, X: Any, *, reset: bool) -> Any:
        X = validate_data(self, X, accept_sparse="csr", dtype=_DTYPES[self.dtype],
                          ensure_all_finite=False, reset=reset)
        value_range = _value_range(X)
        msg = _describe_nonfinite(X, names=getattr(self, "feature_names_in_", None),
                                  value_range=value_range)
        if msg:
            raise ValueError(msg)
        if reset:  # fit reads it for the scale of X (_power_of_two_shift): no second pass
            _checked.entry = (weakref.ref(X), value_range)
        return X

    # -- fit -------------------------------------------------------------------------
    @guarded_fit
    @_underflow_is_not_an_error
    def fit(self, X: Any, y: Any, sample_weight: Any = None,
            offset: Any = None) -> LinearClassifierBase:
        """Fit the model by minimizing ``C * sum_i s_i * loss_i + penalty(W)``.

        Parameters
        ----------
        X : array-like, sparse CSR, DataFrame, tensor or dask collection, (n_samples, n_features)
            Tensors and dask arrays / DataFrames are fitted where they live
            (see ``backend``).
        y : array-like of shape (n_samples,) (or (n_samples, n_labels) for multi-label)
        sample_weight : array-like of shape (n_samples,), default=None
        offset : array-like of shape (n_samples,) or (n_samples, K), default=None
            Known logits added to ``X @ coef_.T + intercept_`` (an exposure's
            log, an earlier model's ``decision_function``): data, not fitted
            and not saved; pass it again to the prediction methods. Shapes as
            ``decision_function`` returns (see :mod:`sigmax.estimators._offset`).

        Returns
        -------
        self
        """
        self._validate_params()
        # The backend validates X where it lives and brings y and sample_weight
        # to the host (sigmax.backends); NumPy input takes the _check_X path.
        backend = resolve_backend(self.backend, X, self.device)
        _checked.entry = None
        X, y, sample_weight = backend.prepare_fit(self, X, y, sample_weight, self.device)
        value_range = _checked_range(X)
        if X.ndim != 2:  # pragma: no cover - validate_data guarantees it
            raise ValueError("X must be 2-D of shape (n_samples, n_features).")
        Y, classes, k = self._encode_targets(y, n_samples=X.shape[0])
        self.classes_ = classes
        offset = loss_offset(self, check_offset(self, offset, X.shape[0],
                                                self._n_coef_rows(len(classes))))
        weights = self._fit_weights(X, Y, sample_weight)

        loss = self._loss()
        penalty = self._effective_penalty()
        # Huge X: solve for V = 2^shift W on X 2^-shift, the same logits, with
        # the penalty r(2^-shift V) (see _power_of_two_shift and Penalty.rescaled).
        shift = _power_of_two_shift(X, value_range)
        solved_penalty = penalty
        if shift:
            if sp.issparse(X):
                X = X.copy()
                X.data = np.ldexp(X.data, -shift).astype(X.dtype, copy=False)
            elif isinstance(X, np.ndarray):
                X = np.ldexp(X, -shift).astype(X.dtype, copy=False)
            else:  # tensor or dask array: a power of two is exact in any float dtype
                X = X * (2.0 ** -shift)
            solved_penalty = penalty.rescaled(shift)
        objective = backend.objective(loss, X, Y, weights, k, C=float(self.C),
                                      penalty=solved_penalty,
                                      fit_intercept=self.fit_intercept, offset=offset)
        name = choose_solver(objective) if self.solver == "auto" else self.solver
        solver = SOLVERS[name]
        solver.check(objective)

        w0 = objective.start(null_model=solver.needs_hessian)
        if self.warm_start and hasattr(self, "coef_"):
            w0 = _scale_rows(self._pack(objective), objective.n_features, k, shift)
        eps = np.finfo(_DTYPES[self.dtype]).eps
        # A float32 gradient is exact to about 1e-7 relative: a tighter
        # tolerance than that cannot be met, only chased.
        tol = max(float(self.tol), 50 * eps) if self.dtype == "float32" else float(self.tol)
        # One thread pool does the heavy products (the fused passes); the
        # solver's vector work runs on one BLAS thread (see serial_blas).
        with _parallel.serial_blas():
            result = solver.solve(objective, w0, tol=tol, max_iter=int(self.max_iter),
                                  verbose=int(self.verbose))
        self._unpack(objective, result if not shift else dataclasses.replace(
            result, coef=_scale_rows(result.coef, objective.n_features, k, -shift)))
        if not result.converged:
            # Only solvers that can take this penalty are worth suggesting.
            others = [s for s in ("newton-cholesky", "newton-cg")
                      if s != name and s in SOLVERS
                      and not SOLVERS[s].missing(objective.penalty_term)]
            also = f", or try solver={' / '.join(map(repr, others))}" if others else ""
            warnings.warn(
                f"solver={name!r} did not converge: {result.message}; the gradient norm is "
                f"{result.grad_norm:.2e} > tol={tol:.1e} after {result.n_iter} iterations. "
                f"{stop_advice(result, int(self.max_iter), self.dtype)}{also}.",
                ConvergenceWarning, stacklevel=4)  # past the guard and errstate wrappers
        if penalty.name == "none":
            self._warn_if_separable(objective, result, Y, weights)
        return self

    def _pack(self, objective: LinearObjective) -> np.ndarray:
        """Flat parameters from ``coef_`` / ``intercept_`` (warm start)."""
        W = self._coef_matrix()
        if W.shape != (objective.n_features, objective.k):
            return objective.zeros()
        P = np.zeros((objective.n_rows, objective.k))
        P[: objective.n_features] = W
        if objective.fit_intercept:
            P[objective.n_features] = self._intercept_vector()
        return P.ravel()

    def _coef_matrix(self) -> np.ndarray:
        """``(d, k)`` matrix of the loss's outputs from ``coef_``."""
        return np.asarray(self.coef_, dtype=np.float64).T

    def _intercept_vector(self) -> np.ndarray:
        return np.asarray(self.intercept_, dtype=np.float64)

    def _set_coef(self, W: np.ndarray, b: np.ndarray) -> None:
        """Store the ``(d, k)`` coefficients and ``(k,)`` intercepts as attributes.

        In the working dtype, as scikit-learn does: a float32 fit keeps float32
        coefficients (the solver's float64 iterate carries no more accuracy).
        """
        dtype = _DTYPES[self.dtype]
        self.coef_ = np.ascontiguousarray(W.T, dtype=dtype)
        self.intercept_ = np.array(b, dtype=dtype)

    def _unpack(self, objective: LinearObjective, result: FitResult) -> None:
        W, b = objective.unpack(result.coef)
        self._set_coef(W, np.zeros(objective.k) if b is None else b)
        self.fit_record_ = result
        self.n_iter_ = np.array([result.n_iter])
        self.solver_ = result.solver

    def _separable_columns(self, Z: np.ndarray, Y: np.ndarray, weights: np.ndarray
                           ) -> list[int]:
        """Output columns whose training data the fitted model separates perfectly."""
        raise NotImplementedError  # pragma: no cover

    def _warn_if_separable(self, objective: LinearObjective, result: FitResult,
                           Y: np.ndarray, weights: np.ndarray) -> None:
        # If the fitted model itself classifies every (weighted) training row
        # correctly with a positive margin, it is a separating hyperplane: a
        # proof that the data are separable, so scaling it up drives the loss
        # to 0 and no finite minimizer exists. Without the offset: scaling
        # W and b does not scale it, so only the linear part's margins prove it.
        Z = to_numpy(objective.logits(result.coef, offset=False)).astype(np.float64)
        cols = self._separable_columns(Z, Y, weights)
        if cols:
            what = ("the data are" if len(cols) == objective.k or objective.k == 1
                    else f"outputs {[self.classes_[c] for c in cols]} are")
            warnings.warn(
                f"{type(self).__name__}: {what} linearly separable (the fitted model "
                "classifies every training sample correctly), so without a penalty the loss "
                "goes to 0 as the coefficients grow and no finite optimum exists. The "
                "returned coefficients are finite but their scale is arbitrary; use "
                "penalty='l2' with a finite C for a unique finite solution.",
                SeparableWarning, stacklevel=5)  # user -> guard -> wrapper -> fit -> here

    # -- predict -----------------------------------------------------------------------
    def _logits(self, X: Any, offset: Any = None) -> np.ndarray:
        """Logits ``X @ coef_.T + intercept_ (+ offset)``, shape (n_samples, K), finite."""
        check_is_fitted(self)
        if isinstance(X, PrecomputedLogits):  # computed where the data live (GPU)
            Z = X.Z
        else:
            X = self._check_X(X, reset=False)
            # Full logits from coef_ (K or 1 rows), whatever the parameterization;
            # rows that overflow are rescaled so probabilities stay finite.
            Z = finite_logits(X, self.coef_, self.intercept_)
        if offset is None:
            return Z
        return add_offset(Z, self._check_offset(offset, Z.shape[0]))

    def _check_offset(self, offset: Any, n_samples: int) -> np.ndarray | None:
        """A prediction's ``offset`` for ``n_samples`` rows, checked: ``(n, K)`` float64."""
        return check_offset(self, offset, n_samples, np.shape(self.coef_)[0])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- inference -------------------------------------------------------------------
    def inference(self, X: Any, y: Any, **kwargs: Any) -> Any:
        """Standard errors, tests and intervals at the fitted coefficients.

        Same as ``sigmax.inference(self, X, y, **kwargs)``: see
        :func:`sigmax.inference.estimate.inference` (``cov_type``, ``groups``,
        ``sample_weight``, ``alpha``, ``reference``).
        """
        from ..inference.estimate import inference

        return inference(self, X, y, **kwargs)

    # -- persistence -------------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Write the fitted model to ``path`` (safetensors + JSON; no pickle), atomically."""
        from ..io import save

        save(self, path)

    def to_onnx(self, path: Any, dtype: str = "float32") -> None:
        """Write the fitted model as ONNX (outputs ``label``, ``probabilities``); see
        :func:`sigmax.onnx_export.export_onnx`."""
        from ..onnx_export import export_onnx

        export_onnx(self, path, dtype=dtype)

    def _to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Save hook: the fitted arrays by name and the JSON-ready rest (see persistence)."""
        from .persistence import linear_to_arrays

        return linear_to_arrays(self)

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
        """Load hook: the inverse of :meth:`_to_arrays`; ``ValueError`` on a bad field."""
        from .persistence import linear_from_arrays

        return linear_from_arrays(cls, arrays, meta)

    @classmethod
    def _n_coef_rows(cls, n_classes: int) -> int:
        """Rows of ``coef_`` for ``n_classes`` classes (labels for multi-label models)."""
        return n_classes


def encode_single_label(est: BaseEstimator, y: Any, n_samples: int,
                        alternatives: str, code_dtype: Any = np.intp
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Validate a 1-D class label vector; return ``(codes, classes_)``.

    ``alternatives`` names the estimators to use instead when ``y`` is 2-D;
    ``code_dtype`` is the dtype of the codes.
    """
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import column_or_1d

    if y is None:
        raise ValueError(f"{type(est).__name__} requires y to be passed, but the target y "
                         "is None.")
    y_arr = np.asarray(y) if not sp.issparse(y) else y
    if y_arr.ndim == 2 and y_arr.shape[1] != 1:
        raise ValueError(
            f"{type(est).__name__} takes one label per sample (y of shape (n_samples,)); got "
            f"y of shape {y_arr.shape}. For several non-exclusive labels per sample use "
            f"{alternatives}. If the columns one-hot encode mutually exclusive classes, pass "
            "one class per row (for example y.argmax(axis=1)) to SoftmaxRegression or "
            "OneVsRestLogistic.")
    y_arr = column_or_1d(y_arr, warn=True)
    if y_arr.shape[0] != n_samples:
        raise ValueError(f"X has {n_samples} samples but y has {y_arr.shape[0]}; they must "
                         "have the same number of samples (one label per row of X).")
    if y_arr.dtype.kind in "fc" and not np.all(np.isfinite(y_arr)):
        bad = np.flatnonzero(~np.isfinite(y_arr))
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ValueError(
            f"Input y contains {len(bad)} NaN or infinite value(s), at rows "
            f"{bad[:5].tolist()}{more}: every sample needs a class label. Drop those rows "
            "(or label them) before fitting.")
    if y_arr.dtype.kind == "O":
        kinds = {("text" if isinstance(v, str) else "number") for v in y_arr[:1 << 16]}
        if len(kinds) > 1:
            raise ValueError(
                "y mixes text and numeric labels (e.g. 1 and 'a'); make them one type, for "
                "example y.astype(str), so that every class has one name.")
    if y_arr.dtype.kind not in "iub":
        # Integer and boolean labels are always classes (scikit-learn's target
        # check, which costs more than a small fit, can only object to others).
        check_classification_targets(y_arr)
    classes, codes = _unique_inverse(y_arr, code_dtype)
    if len(classes) < 2:
        raise ValueError(
            f"y contains only one class ({classes[0]!r}): a classifier needs samples of at "
            "least 2 classes to learn to tell them apart.")
    return codes.astype(code_dtype, copy=False), classes


#: Labels encoded per chunk of this many rows by :func:`_unique_inverse`.
_LABEL_CHUNK = 1 << 16


def _unique_inverse(y: np.ndarray, code_dtype: Any = np.intp) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(y, return_inverse=True)`` with little extra memory.

    The inverse (codes) comes as ``code_dtype`` when every code fits in it,
    as intp otherwise.

    ``np.unique`` sorts copies of ``y`` (five ``(n,)`` temporaries of 8 bytes).
    Integer labels of a moderate range are counted instead (``bincount``) and
    mapped through a lookup table chunk by chunk: the codes are the one
    full-length array formed.
    """
    n = y.shape[0]
    if y.dtype.kind not in "iu" or n == 0:
        classes, codes = np.unique(y, return_inverse=True)
        return classes, codes.reshape(-1).astype(np.intp, copy=False)
    lo, hi = int(y.min()), int(y.max())
    if hi - lo > max(1 << 16, n) or lo < -(1 << 62) or hi > (1 << 62):
        classes, codes = np.unique(y, return_inverse=True)
        return classes, codes.reshape(-1).astype(np.intp, copy=False)
    counts = np.zeros(hi - lo + 1, dtype=np.intp)
    for a in range(0, n, _LABEL_CHUNK):
        counts += np.bincount(y[a:a + _LABEL_CHUNK].astype(np.intp) - lo,
                              minlength=hi - lo + 1)
    present = np.flatnonzero(counts)
    if np.iinfo(code_dtype).max < len(present) - 1:
        code_dtype = np.intp
    table = np.zeros(hi - lo + 1, dtype=code_dtype)
    table[present] = np.arange(len(present))
    codes = np.empty(n, dtype=code_dtype)
    for a in range(0, n, _LABEL_CHUNK):
        np.take(table, y[a:a + _LABEL_CHUNK].astype(np.intp) - lo, out=codes[a:a + _LABEL_CHUNK])
    return (present + lo).astype(y.dtype), codes


def class_weights_per_sample(class_weight: Any, codes: np.ndarray, classes: np.ndarray
                             ) -> np.ndarray | None:
    """Per-sample weights from ``class_weight`` (None, 'balanced' or a dict)."""
    if class_weight is None:
        return None
    from sklearn.utils.class_weight import compute_class_weight

    cw = compute_class_weight(class_weight, classes=classes, y=classes[codes])
    return cw[codes]
