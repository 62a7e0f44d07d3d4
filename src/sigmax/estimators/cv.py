r"""Cross-validated ``C``: the four estimators with scikit-learn's ``*CV`` conventions.

``LogisticRegressionCV(Cs=10, cv=5, scoring="neg_log_loss")`` splits the data
into folds; on each fold's training rows it fits a warm-started
:func:`~sigmax.path.regularization_path` over ``Cs`` and scores every point
on the fold's held-out rows with the scorer, passing the held-out
``sample_weight`` to it (weighted fits are scored by weighted metrics). The
``C`` with the best mean score over folds is ``C_``; with ``refit=True`` the
model is refitted on all rows at ``C_``. A fitted CV estimator is also a
fitted base estimator (``coef_``, ``predict_proba``, ...). ``patience=N``
stops a fold's path once ``N`` consecutive points scored worse than its best
(the callback of :func:`~sigmax.path.regularization_path` returns True).

Folds run side by side, as many as the BLAS may use threads (:func:`_run_folds`);
while two fits run, each pass over ``X`` takes one worker of the objective's
thread pool, so the cores are not oversubscribed. The refit at ``C_`` starts
from the folds' mean solution there.

The parameters are those of ``scikit-learn``'s ``LogisticRegressionCV``
(``Cs``, ``cv``, ``scoring``, ``refit``) plus every parameter of the base
estimator except ``C``, generated from the base class's signature (so the two
never drift apart) as an explicit keyword-only signature, which is what
scikit-learn's ``get_params`` / ``clone`` read.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import numbers
import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import KFold, check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _check_sample_weight, indexable, validate_data

from .. import _parallel, _thread_warnings
from ..dataterms import tuning
from ..path import _warm_solver, regularization_path
from ._base import LinearClassifierBase, _describe_nonfinite
from ._offset import offset_rows
from .logistic import LogisticRegression
from .multilabel import MultiLabelLogistic
from .ovr import OneVsRestLogistic
from .softmax import SoftmaxRegression

__all__ = [
    "CV_ESTIMATORS",
    "LogisticRegressionCV",
    "MultiLabelLogisticCV",
    "OneVsRestLogisticCV",
    "SoftmaxRegressionCV",
    "reached_mean",
]

#: The cross-validation parameters and their defaults (scikit-learn's, but for scoring).
_CV_PARAMS: dict[str, Any] = {"Cs": 10, "cv": 5, "scoring": "neg_log_loss", "refit": True,
                               "patience": None, "n_jobs": None}


def _make_init(base: type, extra: dict[str, Any], left_out: frozenset[str] = frozenset()
               ) -> Any:
    """An ``__init__`` taking ``extra`` and the parameters of ``base`` (not ``C``, nor those
    ``left_out``), keyword-only.

    Its ``__signature__`` lists every parameter with its default, as scikit-learn's
    ``get_params`` requires; the body stores each one unchanged.
    """
    base_params = [p for name, p in inspect.signature(base.__init__).parameters.items()
                   if name not in ("self", "C", *left_out)]
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v)
               for k, v in extra.items()]
    params += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in base_params]
    defaults = {p.name: p.default for p in params[1:]}

    def __init__(self, **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - set(defaults))
        if unknown:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected keyword "
                            f"argument(s) {unknown}; it takes {sorted(defaults)}.")
        for key, default in defaults.items():
            setattr(self, key, kwargs.get(key, default))

    __init__.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    __init__.__doc__ = f"Parameters: {', '.join(defaults)} (see the class docstring)."
    return __init__


class _CVMixin:
    """``fit`` by cross-validated ``C`` for a sigmax estimator class (listed first in the bases).

    Subclasses set ``_base`` to the estimator class; the constructor is
    generated from it (:func:`_make_init`).
    """

    _base: ClassVar[type[LinearClassifierBase]]
    _extra_params: ClassVar[dict[str, Any]] = {}
    #: Parameters of the base estimator the CV estimator does not take (they keep the
    #: base's defaults in every fit).
    _left_out: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_base" in vars(cls):  # (not a shared intermediate such as _MultiLabelCV)
            cls.__init__ = _make_init(cls._base, {**_CV_PARAMS, **cls._extra_params},
                                      cls._left_out)

    @property
    def partial_fit(self) -> Any:
        # Streaming updates need one C; choosing it needs the whole data. Raising
        # AttributeError makes hasattr() False, as scikit-learn's checks expect.
        raise AttributeError(
            f"{type(self).__name__} has no partial_fit: C is chosen on the whole data. "
            f"Stream with {self._base.__name__}(C=...).partial_fit, e.g. at this C_.")

    # -- pieces -----------------------------------------------------------------------
    def _base_estimator(self, C: float = 1.0) -> LinearClassifierBase:
        names = [n for n in inspect.signature(self._base.__init__).parameters
                 if n not in ("self", "C", *self._left_out)]
        return self._base(C=C, **{n: getattr(self, n) for n in names})

    def _check_Cs(self) -> np.ndarray:
        Cs = self.Cs
        if isinstance(Cs, numbers.Integral) and not isinstance(Cs, bool):
            if Cs < 1:
                raise ValueError(f"Cs={Cs!r}: an int Cs is the number of values in "
                                 "np.logspace(-4, 4, Cs) and must be >= 1.")
            return np.logspace(-4, 4, int(Cs))
        arr = np.asarray(Cs, dtype=np.float64).reshape(-1) if not isinstance(Cs, str) \
            else np.array([])
        if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ValueError(f"Cs must be an int or a list of positive finite floats; got "
                             f"{Cs!r}.")
        return arr

    def _fold_scores(self, est: Any, scorer: Any, X: Any, y: Any, sw: Any,
                     offset: Any = None) -> np.ndarray:
        """Score(s) of one fitted fold model on held-out rows: shape (1,) (or per label)."""
        return np.array([_score(self.scoring, scorer, est, X, y, sw, offset)])

    def _choose(self, scores: np.ndarray, Cs: np.ndarray) -> Any:
        """Index of the best ``C`` (mean over folds; the first, smallest index, on ties).

        Only the ``C`` values that every fold reached count (``patience`` leaves the
        others NaN); ``scores`` is (n_folds, n_Cs) or (n_folds, n_Cs, n_labels).
        """
        return np.argmax(reached_mean(scores), axis=0)

    def _stopper(self) -> Any:
        """A fresh ``stop(scores) -> bool`` for one fold's path (``patience``), or None.

        Called with each point's held-out score(s) in path order (``C`` rising):
        true once ``patience`` points in a row scored below the fold's best so far
        (the mean over labels for multi-label scores).
        """
        if self.patience is None:
            return None
        state = {"best": -np.inf, "worse": 0}

        def stop(scores: np.ndarray) -> bool:
            value = float(np.mean(scores))
            if value > state["best"]:
                state["best"], state["worse"] = value, 0
            else:
                state["worse"] += 1
            return state["worse"] >= self.patience

        return stop

    # -- fit --------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None, groups: Any = None,
            offset: Any = None) -> Any:
        """Choose ``C`` by cross-validation, then (``refit=True``) fit on all rows at ``C_``.

        Parameters
        ----------
        X : array-like or sparse CSR of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) (or (n_samples, n_labels) for multi-label)
        sample_weight : array-like of shape (n_samples,), optional
            Used by every fit and by the scorer on the held-out rows.
        groups : array-like of shape (n_samples,), optional
            Group labels for group-aware splitters (``GroupKFold``...).
        offset : array-like of shape (n_samples,) or (n_samples, K), optional
            Known logits (see the base estimator's ``fit``): each fold's
            training rows are fitted with theirs, its held-out rows scored
            with theirs, and the refit takes all of them.

        Returns
        -------
        self
        """
        self._validate_params()  # every parameter, before any split
        Cs = self._check_Cs()
        base = self._base_estimator()
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target "
                             "y is None.")
        # X checked once here (NaN, shape, names); the fold fits see NumPy / CSR rows.
        X = validate_data(self, X, accept_sparse="csr", dtype=(np.float64, np.float32),
                          ensure_all_finite=False, reset=True)
        msg = _describe_nonfinite(X, names=getattr(self, "feature_names_in_", None))
        if msg:
            raise ValueError(msg)
        X, y = indexable(X, y)
        n = _num_samples(X)
        sw = None if sample_weight is None else _check_sample_weight(
            sample_weight, np.empty((n, 0)), dtype=np.float64)
        # Rows and values checked once here (the rows a message names are X's); a
        # DataFrame stays one, so that each fit matches its columns to classes_.
        off = None if offset is None else offset_rows(offset, n)
        if hasattr(offset, "iloc"):
            off = offset
        y = self._prepare_target(y)
        y_split = self._split_target(y)
        cv = self._splitter(y_split)
        folds = list(cv.split(np.empty((n, 0)), y_split, groups))
        scorer = check_scoring(base, scoring=self.scoring)

        n_folds, n_Cs = len(folds), len(Cs)

        def fold_path(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, Any]:
            X_tr, X_te = _safe_indexing(X, train), _safe_indexing(X, test)
            y_tr, y_te = _safe_indexing(y, train), _safe_indexing(y, test)
            sw_tr = None if sw is None else sw[train]
            sw_te = None if sw is None else sw[test]
            off_tr = None if off is None else _safe_indexing(off, train)
            off_te = None if off is None else _safe_indexing(off, test)
            fold: list[Any] = [None] * n_Cs
            stop = self._stopper()

            def score(i: int, est: Any) -> bool:
                fold[i] = self._fold_scores(est, scorer, X_te, y_te, sw_te, off_te)
                return stop is not None and stop(fold[i])

            path = regularization_path(base, X_tr, y_tr, Cs, sw_tr, callback=score,
                                       offset=off_tr)
            shape = next(f for f in fold if f is not None).shape
            return np.stack([np.full(shape, np.nan) if f is None else f for f in fold]), path

        results = _run_folds(fold_path, folds, self.n_jobs, _fold_work(X, y, folds))
        S = np.stack([r[0] for r in results])  # (n_folds, n_Cs, 1 or n_labels)
        coefs = [r[1].coefs for r in results]
        intercepts = [r[1].intercepts for r in results]
        self.Cs_ = Cs
        self.coefs_paths_ = _stack(coefs)
        self.intercepts_paths_ = _stack(intercepts)
        self._set_scores(S)
        if self.refit:
            self._refit(X, y, sample_weight, S, Cs, off)
        else:
            self._average_folds(X, y, sample_weight, S, Cs, n_folds, off)
        return self

    def _prepare_target(self, y: Any) -> Any:
        """``y`` in a form that row indexing keeps consistent across folds."""
        return y

    def _split_target(self, y: Any) -> Any:
        """``y`` as the splitter sees it (stratified on class labels)."""
        return y

    def _splitter(self, y: Any) -> Any:
        """scikit-learn's rule: an int means ``StratifiedKFold(cv)`` for class labels."""
        return check_cv(self.cv, y, classifier=True)

    def _set_scores(self, S: np.ndarray) -> None:
        self.scores_ = S[:, :, 0]

    def _refit(self, X: Any, y: Any, sample_weight: Any, S: np.ndarray, Cs: np.ndarray,
               offset: Any = None) -> None:
        best = int(self._choose(S[:, :, 0], Cs))
        self.C_ = float(Cs[best])
        est = self._warm_refit_estimator(best)
        self._take_fitted(est.fit(X, y, sample_weight=sample_weight, **_offset_kw(offset)))

    def _warm_refit_estimator(self, best: int) -> LinearClassifierBase:
        """The base estimator at ``C_``, started from the folds' mean solution there.

        Every fold fitted this ``C`` on most of the rows: their mean is within the
        folds' spread of the all-rows optimum, so the refit (with the solver of the
        warm-started path points) takes a few steps instead of a cold solve.
        """
        est = self._base_estimator(self.C_)
        paths, icpts = self.coefs_paths_, self.intercepts_paths_
        if paths.dtype == object or getattr(est, "parameterization", "") == "reference":
            return est  # folds with different classes, or coef_ rows that are not the outputs
        est.set_params(warm_start=True, solver=_warm_solver(est))
        est.coef_ = paths[:, best].mean(axis=0)
        est.intercept_ = icpts[:, best].mean(axis=0)
        return est

    def _average_folds(self, X: Any, y: Any, sample_weight: Any, S: np.ndarray,
                       Cs: np.ndarray, n_folds: int, offset: Any = None) -> None:
        """``refit=False`` (scikit-learn's rule): average each fold's best coefficients."""
        # Each fold's own best among the C values its path reached.
        best = np.argmax(np.where(np.isnan(S[:, :, 0]), -np.inf, S[:, :, 0]), axis=1)
        rows = np.arange(n_folds)
        self.C_ = float(np.mean(Cs[best]))
        # The fitted attributes other than the coefficients (classes_, names)
        # from a cheap fit on all rows; then the averaged coefficients.
        est = self._base_estimator(self.C_).set_params(max_iter=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y, sample_weight=sample_weight, **_offset_kw(offset))
        self._take_fitted(est)
        if self.coefs_paths_.dtype == object:
            raise ValueError("refit=False averages the folds' coefficients, but some training "
                             "folds lack a class (fewer coefficient rows); use refit=True, or "
                             "folds that each hold every class.")
        self.coef_ = self.coefs_paths_[rows, best].mean(axis=0)
        self.intercept_ = self.intercepts_paths_[rows, best].mean(axis=0)

    def to_estimator(self) -> LinearClassifierBase:
        """The base estimator at ``C_`` holding this fit's coefficients (e.g. to save it).

        Returns
        -------
        estimator
            An instance of the base class (``LogisticRegression``...) with
            ``C=C_``, the other parameters of this one, and its fitted attributes.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        if np.ndim(self.C_) != 0:
            raise ValueError("C_ holds one C per label (per_label=True); a base estimator "
                             "takes one C. Refit with per_label=False to get one.")
        est = self._base_estimator(float(self.C_))
        for key, value in vars(self).items():
            if key.endswith("_") and not key.startswith("__") and not key.endswith("paths_") \
                    and not key.startswith(("scores", "Cs_", "C_")):
                setattr(est, key, value)
        return est

    def save(self, path: Any) -> None:
        """Save :meth:`to_estimator` (the plain model at ``C_``; the CV results are not kept).

        A splitter or a list of folds has no JSON form, and a model file is
        for predicting: loading it gives the base estimator.
        """
        self.to_estimator().save(path)

    def _validate_params(self) -> None:
        """Check ``Cs``, ``refit`` and, through the base estimator, every other parameter."""
        self._check_Cs()
        if not isinstance(self.refit, (bool, np.bool_)):
            raise ValueError(f"refit must be True or False; got {self.refit!r}.")
        if self.n_jobs is not None and (
                not isinstance(self.n_jobs, numbers.Integral) or isinstance(self.n_jobs, bool)
                or not (self.n_jobs >= 1 or self.n_jobs == -1)):
            raise ValueError(f"n_jobs must be None, -1 or an integer >= 1; got "
                             f"{self.n_jobs!r}.")
        if self.patience is not None and (
                not isinstance(self.patience, numbers.Integral)
                or isinstance(self.patience, bool) or self.patience < 1):
            raise ValueError(f"patience must be None or an integer >= 1; got "
                             f"{self.patience!r}.")
        self._base_estimator()._validate_params()

    def _take_fitted(self, est: Any) -> None:
        for key, value in vars(est).items():
            if key.endswith("_") and not key.startswith("__"):
                setattr(self, key, value)


def _offset_kw(offset: Any) -> dict[str, Any]:
    """``offset`` as a fit keyword, none when None: a base estimator without offsets
    (MultiLabelHeads) then fits as called without one."""
    return {} if offset is None else {"offset": offset}


#: log of the smallest probability scikit-learn's log_loss lets through (it clips at eps).
_LOG_EPS = float(np.log(np.finfo(np.float64).eps))


def _score(scoring: Any, scorer: Any, est: Any, X: Any, y: Any, sw: Any,
           offset: Any = None) -> float:
    """``scorer(est, X, y, sample_weight=sw)``; ``"neg_log_loss"`` computed directly.

    ``offset``: the held-out rows' offset, passed to the prediction methods
    (bound to them while a scikit-learn scorer calls them).

    The scorer's own checks (target type, label binarizing, probability
    validation) cost about 15 ms a call, more than a warm-started fit of a
    small fold: the default scoring reads the log-probabilities instead, the
    same number as ``log_loss`` (whose clip at ``eps`` is the floor here).
    """
    if isinstance(scoring, str) and scoring == "neg_log_loss" and np.ndim(y) == 1:
        y_arr = np.asarray(y)
        classes = np.asarray(est.classes_)
        codes = np.minimum(np.searchsorted(classes, y_arr), len(classes) - 1)
        # A class the training fold never saw (rare classes, label sets) has
        # probability 0: its log-loss term is the clip, as log_loss(labels=...) gives.
        seen = classes[codes] == y_arr
        logp = np.asarray(est.predict_log_proba(X, offset=offset))
        picked = np.full(len(y_arr), _LOG_EPS)
        rows = np.flatnonzero(seen)
        picked[rows] = np.maximum(logp[rows, codes[rows]], _LOG_EPS)
        return float(np.average(picked, weights=sw))
    kw = {} if sw is None else {"sample_weight": sw}
    with _bound_offset(est, offset):
        return float(scorer(est, X, y, **kw))


@contextlib.contextmanager
def _bound_offset(est: Any, offset: Any) -> Iterator[None]:
    """Within the block, ``est``'s prediction methods take ``offset`` without being told.

    A scikit-learn scorer calls ``predict_proba(X)`` and the like with ``X``
    alone; instance attributes shadow the methods for that call, then go.
    """
    if offset is None:
        yield
        return
    def bind(method: Any) -> Any:
        @functools.wraps(method)
        def bound(X: Any, *args: Any, **kwargs: Any) -> Any:
            if not args and "offset" not in kwargs:  # the scorer's call: X alone
                kwargs["offset"] = offset
            return method(est, X, *args, **kwargs)
        return bound

    names = ("decision_function", "predict_proba", "predict_log_proba", "predict")
    for name in names:
        setattr(est, name, bind(getattr(type(est), name)))
    try:
        yield
    finally:
        for name in names:
            vars(est).pop(name, None)


def _fold_work(X: Any, y: Any, folds: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Products of the largest training fold: rows x features (stored values) x outputs.

    The outputs are counted only where the rest is below
    :data:`~sigmax.dataterms.tuning.FOLD_PARALLEL_MIN_WORK` (one pass over ``y``):
    a label matrix's columns, else the classes (one output for two).
    """
    n = max(len(train) for train, _ in folds)
    n_rows = max(1, _num_samples(X))
    per_row = X.nnz / n_rows if hasattr(X, "nnz") else X.shape[1]
    work = n * max(per_row, 1.0)
    if work >= tuning.FOLD_PARALLEL_MIN_WORK:
        return work
    labels = np.asarray(y)
    if labels.ndim == 2:
        return work * labels.shape[1]
    classes = len(set(labels.tolist()))
    return work * (1 if classes <= 2 else classes)


def _run_folds(fold_path: Any, folds: list[tuple[np.ndarray, np.ndarray]],
               n_jobs: int | None = None, work: float | None = None) -> list[Any]:
    """``fold_path(train, test)`` for every fold, in order; folds share the cores.

    ``work``: a fold's products (:func:`_fold_work`); with ``n_jobs=None``, folds
    below :data:`~sigmax.dataterms.tuning.FOLD_PARALLEL_MIN_WORK` run one after
    the other (side by side they only trade the GIL).

    A fold's path is a chain of warm-started fits, so the parallelism is across
    folds: ``n_jobs`` at a time, or (None) as many as the BLAS may use threads
    (:func:`sigmax._parallel.blas_threads`; one under
    ``threadpoolctl.threadpool_limits(1)``). While two or more fits run, each
    pass over ``X`` runs on one worker (``_parallel.fit_scope``), so the cores
    are never oversubscribed; small problems, whose passes are too short to
    split, then use every core instead of one. A fold running alone (the last
    one) has its passes on every worker again.
    """
    n_workers = min(len(folds), _parallel.blas_threads() if n_jobs is None else
                    _parallel.usable_cores() if n_jobs == -1 else n_jobs)
    if n_jobs is None and work is not None and work < tuning.FOLD_PARALLEL_MIN_WORK:
        n_workers = 1
    if n_workers <= 1:
        return [fold_path(train, test) for train, test in folds]
    from concurrent.futures import ThreadPoolExecutor

    # Each point's fit counts itself as a running fit (``_parallel.fit_scope``):
    # with two folds at work their passes take one worker each, and the last
    # fold, alone, gets every worker again. The BLAS stays at one thread for
    # the whole region, scoring and indexing included: a multi-threaded BLAS
    # call in one fold thread while the other computes made OpenBLAS's workers
    # spin against both (digits, tol 1e-3: 6.5 s instead of 0.8 s, and every
    # later fit of the process slowed down alike).
    with _parallel.serial_blas(), \
            ThreadPoolExecutor(n_workers, thread_name_prefix="sigmax-fold") as pool:
        # A warning raised in a fold joins the caller's record (_thread_warnings).
        path = _thread_warnings.carry(fold_path)
        futures = [pool.submit(path, train, test) for train, test in folds]
        return [f.result() for f in futures]


def reached_mean(scores: np.ndarray) -> np.ndarray:
    """Mean over folds (axis 0) of the ``C`` values every fold reached; -inf elsewhere.

    ``scores`` (n_folds, n_Cs[, n_labels]), higher is better, NaN where early
    stopping ended a fold's path: the rule ``C_`` is chosen by (the study reads it too).
    """
    reached = ~np.isnan(scores).any(axis=0)
    return np.where(reached, np.nan_to_num(scores, nan=0.0).mean(axis=0), -np.inf)


def _stack(paths: list[np.ndarray]) -> np.ndarray:
    """Per-fold paths as one array; an object array of them when the folds saw different
    classes (a rare class missing from a training fold gives fewer coefficient rows)."""
    if len({p.shape for p in paths}) == 1:
        return np.stack(paths)
    out = np.empty(len(paths), dtype=object)
    for i, p in enumerate(paths):
        out[i] = p
    return out


def _num_samples(X: Any) -> int:
    from sklearn.utils.validation import _num_samples as num

    return int(num(X))


class LogisticRegressionCV(_CVMixin, LogisticRegression):
    """Binary logistic regression with ``C`` chosen by cross-validation.

    Parameters
    ----------
    Cs : int or list of float, default=10
        An int means ``np.logspace(-4, 4, Cs)`` (scikit-learn's grid).
    cv : int, cross-validation splitter or iterable of (train, test), default=5
        An int means ``StratifiedKFold(cv)`` (``KFold`` for multi-label ``y``).
    scoring : str or callable, default='neg_log_loss'
        A scikit-learn scorer name or ``scorer(estimator, X, y, sample_weight=...)``;
        None scores by the estimator's ``score`` (accuracy).
    refit : bool, default=True
        Refit on all rows at ``C_``; False averages the folds' best coefficients.
    patience : int or None, default=None
        Early stopping of each fold's path: it stops once ``patience``
        consecutive ``C`` values (in rising order) scored worse than the fold's
        best so far. Held-out log-loss against ``C`` falls to a minimum and then
        rises as the penalty weakens, and the weakly penalized fits are the
        slow ones (rare classes near separation), so a path seldom needs its
        end. ``C_`` is the best among the ``C`` values that every fold reached;
        the others are NaN in ``scores_`` and the paths. None: every ``C``
        (scikit-learn's behaviour).
    n_jobs : int or None, default=None
        Folds fitted side by side (threads; -1: one per core). None: as many
        as the BLAS may use threads now, so one under
        ``threadpoolctl.threadpool_limits(1)``, and one where a training fold's
        products (rows x features x outputs) are below
        :data:`sigmax.dataterms.tuning.FOLD_PARALLEL_MIN_WORK` (side by side,
        such folds only trade the GIL: 1.2-1.5x the time on digits and
        breast_cancer). Each fold's passes over ``X`` then run on its own
        thread with a one-thread BLAS: ``n_jobs=2`` under
        ``threadpool_limits(1)`` keeps every product single-threaded and uses
        two cores for two folds.
    penalty, l1_ratio, fit_intercept, solver, tol, max_iter, class_weight, warm_start,
    dtype, verbose, backend, device
        As in :class:`~sigmax.LogisticRegression`.

    Attributes
    ----------
    C_ : float
        The chosen ``C`` (the best mean score over folds).
    Cs_ : ndarray of shape (n_Cs,)
    scores_ : ndarray of shape (n_folds, n_Cs)
        Held-out score of every fold at every ``C`` (higher is better); NaN
        where ``patience`` stopped that fold's path before it.
    coefs_paths_ : ndarray of shape (n_folds, n_Cs, *coef_.shape)
    intercepts_paths_ : ndarray of shape (n_folds, n_Cs, *intercept_.shape)
    coef_, intercept_, classes_, n_iter_, fit_record_, n_features_in_
        As in the base estimator, from the refit at ``C_``.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sigmax import LogisticRegressionCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = LogisticRegressionCV(Cs=5, cv=3).fit(StandardScaler().fit_transform(X), y)
    >>> clf.scores_.shape, clf.C_ in clf.Cs_
    ((3, 5), True)
    """

    _base = LogisticRegression


class SoftmaxRegressionCV(_CVMixin, SoftmaxRegression):
    """Softmax regression with ``C`` chosen by cross-validation.

    Parameters and attributes as in :class:`LogisticRegressionCV`, plus
    ``parameterization`` (see :class:`~sigmax.SoftmaxRegression`).
    """

    _base = SoftmaxRegression


class OneVsRestLogisticCV(_CVMixin, OneVsRestLogistic):
    """One-vs-rest logistic regression with one ``C`` chosen by cross-validation.

    Parameters and attributes as in :class:`LogisticRegressionCV`.
    """

    _base = OneVsRestLogistic


class _MultiLabelCV(_CVMixin):
    """What the multi-label CV estimators share: label-set targets read as one indicator
    table, shuffled unstratified folds, and scores averaged over the labels."""

    def _prepare_target(self, y: Any) -> Any:
        # Label sets become one indicator table for all folds: a fold that
        # lacks a label must not renumber the others.
        from .multilabel import _is_label_sets

        if not _is_label_sets(y):
            return y
        import pandas as pd
        from sklearn.preprocessing import MultiLabelBinarizer

        mlb = MultiLabelBinarizer()
        Y = mlb.fit_transform(list(y))
        return pd.DataFrame(Y, columns=list(mlb.classes_))

    def _split_target(self, y: Any) -> Any:
        return None

    def _splitter(self, y: Any) -> Any:
        # Labels cannot be stratified, and plain KFold on rows sorted by a label
        # (a common layout) leaves folds where that label never varies, which
        # cannot be fitted: an int means KFold(cv) over shuffled rows (seed 0).
        if isinstance(self.cv, numbers.Integral) and not isinstance(self.cv, bool):
            return KFold(int(self.cv), shuffle=True, random_state=0)
        return check_cv(self.cv, y, classifier=False)

    def _set_scores(self, S: np.ndarray) -> None:
        self.scores_per_label_ = S
        self.scores_ = S.mean(axis=2)


class MultiLabelLogisticCV(_MultiLabelCV, MultiLabelLogistic):
    """Multi-label logistic regression with ``C`` chosen by cross-validation.

    Every label is scored as a binary problem (the scorer sees one label's
    probabilities, ``[1 - p, p]``, on the rows where that label is known) and
    the score of a ``C`` is the mean over labels, so any binary scorer
    (``"neg_log_loss"``, ``"roc_auc"``...) reads as it does for one label.
    An int ``cv`` means ``KFold(cv, shuffle=True, random_state=0)``: labels
    cannot be stratified, and unshuffled folds of rows sorted by a label would
    leave that label constant in a training fold (which cannot be fitted).

    Parameters
    ----------
    per_label : bool, default=False
        Choose a ``C`` per label: the labels' objectives are separate (a sum
        over labels, with an entrywise penalty), so label ``l`` at ``C_[l]``
        is the column of the all-label fit at that ``C``; the refit is one
        warm-started path over the ``Cs`` up to the largest chosen.
    Cs, cv, scoring, refit : see LogisticRegressionCV
        As in :class:`LogisticRegressionCV`; the other parameters are those of
        :class:`~sigmax.MultiLabelLogistic`.

    Attributes
    ----------
    C_ : float, or ndarray of shape (n_labels,) with ``per_label=True``
    scores_ : ndarray of shape (n_folds, n_Cs)
        Mean over labels.
    scores_per_label_ : ndarray of shape (n_folds, n_Cs, n_labels)
    """

    _base = MultiLabelLogistic
    _extra_params: ClassVar[dict[str, Any]] = {"per_label": False}

    def _fold_scores(self, est, scorer, X, y, sw, offset=None):
        probe = clone(est)
        Y, _, L = probe._encode_targets(y, n_samples=_num_samples(X))
        known = probe._mask
        full = None if offset is None else est._check_offset(offset, Y.shape[0])
        out = np.empty(L)
        coef = np.asarray(est.coef_)
        icpt = np.asarray(est.intercept_)
        for lab in range(L):
            rows = slice(None) if known is None else known[:, lab] > 0
            one = LogisticRegression()
            one.coef_, one.intercept_ = coef[lab:lab + 1], icpt[lab:lab + 1]
            one.classes_ = np.array([0, 1])
            one.n_features_in_ = est.n_features_in_
            Xl = X if known is None else _safe_indexing(X, np.flatnonzero(rows))
            out[lab] = _score(self.scoring, scorer, one, Xl, Y[rows, lab].astype(np.int64),
                              None if sw is None else sw[rows],
                              None if full is None else full[rows, lab])
        return out

    def _refit(self, X, y, sample_weight, S, Cs, offset=None):
        if not self.per_label:
            best = int(self._choose(self.scores_, Cs))
            self.C_ = float(Cs[best])
            est = self._warm_refit_estimator(best)
            self._take_fitted(est.fit(X, y, sample_weight=sample_weight, offset=offset))
            return
        best = self._choose(S, Cs)  # (n_labels,)
        self.C_ = Cs[best]
        upto = Cs <= self.C_.max()
        idx = np.flatnonzero(upto)
        last: dict[str, Any] = {}

        def keep(i: int, est: Any) -> None:
            last["est"] = est

        path = regularization_path(self._base_estimator(), X, y, Cs[idx], sample_weight,
                                   callback=keep, offset=offset)
        self._take_fitted(last["est"])
        where = {int(j): p for p, j in enumerate(idx)}
        labels = np.arange(len(best))
        self.coef_ = np.stack([path.coefs[where[int(b)]][lab] for lab, b in zip(labels, best)])
        self.intercept_ = np.array([path.intercepts[where[int(b)]][lab]
                                    for lab, b in zip(labels, best)])

    def _average_folds(self, X, y, sample_weight, S, Cs, n_folds, offset=None):
        super()._average_folds(X, y, sample_weight, S[:, :, :].mean(axis=2, keepdims=True),
                               Cs, n_folds, offset)


#: The CV estimators by class name.
CV_ESTIMATORS: dict[str, type[LinearClassifierBase]] = {
    cls.__name__: cls for cls in (LogisticRegressionCV, SoftmaxRegressionCV,
                                  OneVsRestLogisticCV, MultiLabelLogisticCV)
}
