r"""Multitask classification: several heads (softmax groups and sigmoid labels) on one input.

A *head* is one prediction task on the same rows:

- a **softmax** head: one column of ``y`` holding class labels of ``K >= 2``
  mutually exclusive classes (``species``: Adelie / Chinstrap / Gentoo);
- a **sigmoid** head: one column of ``y`` holding an independent binary label
  (0/1, or any two values: ``sex``: female / male).

Every head reads the same features. Without hidden layers (``hidden=None``)
each head is a linear model of ``x`` and the whole model is one joint convex
problem, fitted by the core solvers:

.. math::

    \min_{W, b} \; C \sum_i s_i \sum_h m_{ih} \, \ell_h(z_{i,h}, y_{ih}) + r(W),
    \qquad z_{i,h} = W_h x_i + b_h,

with :math:`\ell_h` the multinomial loss of a softmax head or the binomial loss
of a sigmoid head, :math:`m_{ih} \in \{0, 1\}` the mask of the labels that are
known (a missing label is masked, its row still trains the other heads), and
one penalty :math:`r` on all coefficients. The loss and the penalty are both
sums over heads, so the joint optimum *is* the set of separate optima: head
``h`` equals a :class:`~sigmax.SoftmaxRegression` or
:class:`~sigmax.LogisticRegression` fitted with the same ``C`` on the rows
where its label is known. Fitting them jointly costs one product ``X @ W``
per evaluation for all heads, and it is the starting point of the shared
trunk: with ``hidden=(64,)`` the heads read learned features
:math:`\phi(x)` of a small neural network trained jointly with every head
(see :mod:`sigmax.trunk`), so that what one task learns helps the others.

Conventions
-----------
The joint model has ``k = sum_h k_h`` logit columns, ``k_h = K`` for a softmax
head and ``1`` for a sigmoid head, in the order of ``heads``; head ``h`` owns
columns ``head_slices_[h]`` of ``coef_`` / ``intercept_``. The encoded targets
are an ``(n, H)`` float matrix (class codes for softmax heads, 0/1 for sigmoid
heads) and the weights an ``(n, H)`` matrix ``s_i m_ih`` (times class weights).
"""

from __future__ import annotations

import json
import numbers
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from ..losses import LOSSES, HeadsLoss, Loss
from ..numerics import expit, log_expit
from ._base import LinearClassifierBase, SeparableWarning, _check_param

__all__ = ["HEAD_KINDS", "HeadKind", "HeadsLoss", "MultiHeadClassifier", "MultiLabelHeads"]


# -- head kinds -------------------------------------------------------------------------
@dataclass(frozen=True)
class HeadKind:
    """What one kind of head is: its loss, its outputs and how logits become predictions.

    Attributes
    ----------
    name : str
        ``"softmax"`` or ``"sigmoid"``.
    loss : Loss
        The core loss of one head (from :data:`sigmax.losses.LOSSES`).
    exclusive : bool
        True when the head's classes are mutually exclusive and take ``K``
        logits; False for one binary label (one logit).
    """

    name: str
    loss: Loss
    exclusive: bool

    def n_outputs(self, n_classes: int) -> int:
        """Logit columns of a head with ``n_classes`` classes."""
        return self.loss.n_outputs(n_classes)

    def decision(self, Z: np.ndarray) -> np.ndarray:
        """The head's logits as users see them: ``(n, K)``, or ``(n,)`` for a sigmoid."""
        return Z if self.exclusive else Z[:, 0]

    def proba(self, Z: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, K)`` (``K = 2`` for a sigmoid: ``[1 - p, p]``)."""
        if self.exclusive:
            return LOSSES["multinomial"].predict_proba(Z)
        # 1 - sigmoid(z) is sigmoid(-z): exact where 1 - p would round to 0.
        return np.column_stack([expit(-Z[:, 0]), expit(Z[:, 0])])

    def log_proba(self, Z: np.ndarray) -> np.ndarray:
        """Log class probabilities ``(n, K)`` (log-softmax / log-sigmoid, finite)."""
        if self.exclusive:
            return LOSSES["multinomial"].predict_log_proba(Z)
        return np.column_stack([log_expit(-Z[:, 0]), log_expit(Z[:, 0])])

    def codes(self, Z: np.ndarray) -> np.ndarray:
        """Predicted class codes ``(n,)``: largest logit, or positive logit."""
        if self.exclusive:
            return np.argmax(Z, axis=1)
        return (Z[:, 0] > 0).astype(np.intp)


#: The kinds of head by name; ``heads={"species": "softmax", "sex": "sigmoid"}``.
HEAD_KINDS: dict[str, HeadKind] = {
    "softmax": HeadKind("softmax", LOSSES["multinomial"], exclusive=True),
    "sigmoid": HeadKind("sigmoid", LOSSES["binomial"], exclusive=False),
}


# -- reading y --------------------------------------------------------------------------
def _columns_of(y: Any, heads: Mapping[str, str] | None) -> dict[str, np.ndarray]:
    """Split ``y`` into named 1-D columns (DataFrame, dict of arrays, Series or array)."""
    if y is None:
        raise ValueError("MultiHeadClassifier requires y to be passed, but the target y is "
                         "None.")
    if isinstance(y, pd.DataFrame):
        return {str(c): y.iloc[:, j].to_numpy() for j, c in enumerate(y.columns)}
    if isinstance(y, Mapping):
        return {str(k): np.asarray(v) for k, v in y.items()}
    if isinstance(y, pd.Series):
        return {str(y.name) if y.name is not None else "y": y.to_numpy()}
    arr = y.toarray() if sp.issparse(y) else np.asarray(y)
    if arr.ndim == 1:
        names = list(heads) if heads is not None and len(heads) == 1 else ["y"]
        return {names[0]: arr}
    if arr.ndim != 2:
        raise ValueError(f"y must be a DataFrame, a dict of columns or a 2-D array; got an "
                         f"array of shape {arr.shape}.")
    # An unnamed 2-D array: its columns are the declared heads, in order.
    if heads is not None and len(heads) == arr.shape[1]:
        names = list(heads)
    else:
        names = [str(j) for j in range(arr.shape[1])]
    return {name: arr[:, j] for j, name in enumerate(names)}


def _is_binary_indicator(values: np.ndarray, known: np.ndarray) -> bool:
    if values.dtype.kind not in "biuf" and values.dtype != object:
        return False
    try:
        vals = np.unique(values[known].astype(np.float64))
    except (TypeError, ValueError):
        return False
    return bool(len(vals) and np.all(np.isin(vals, (0.0, 1.0))))


def _encode_column(name: str, kind: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                       np.ndarray]:
    """Return ``(codes float (n,), classes, known mask)`` for one head's column."""
    from sklearn.utils.multiclass import type_of_target

    known = ~np.asarray(pd.isna(values), dtype=bool)
    if not known.any():
        raise ValueError(f"Head {name!r}: every label is missing (NaN); a head needs labelled "
                         "rows. Drop it from heads.")
    vals = values[known]
    if vals.dtype == object:
        kinds = {type(v).__name__ for v in vals}
        if kinds <= {"int", "float", "bool", "int64", "float64", "bool_"}:
            vals = vals.astype(np.float64)
        elif len(kinds) > 1 and not kinds <= {"str", "str_"}:
            raise ValueError(f"Head {name!r} mixes label types {sorted(kinds)}; use one type "
                             "(for example all strings).")
    if vals.dtype.kind == "f":
        if not np.all(np.isfinite(vals)):
            raise ValueError(f"Head {name!r} has infinite labels; use class labels (or NaN "
                             "for a missing label).")
        if np.all(vals == np.round(vals)):
            vals = vals.astype(np.int64)  # 0.0/1.0 from a column with NaN: integer classes
        elif type_of_target(vals) == "continuous":
            raise ValueError(f"Head {name!r} holds continuous values; a head predicts class "
                             "labels (softmax) or a binary label (sigmoid).")
    classes, codes = np.unique(vals, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"Head {name!r} has only one value, one class ({classes.tolist()}), among its "
            "known labels: "
            "a head needs at least two classes to learn to tell them apart. Drop it.")
    if not HEAD_KINDS[kind].exclusive and len(classes) != 2:
        raise ValueError(
            f"Head {name!r} is declared 'sigmoid' (one binary label) but has {len(classes)} "
            f"values ({classes[:5].tolist()}...); declare it 'softmax' for exclusive classes.")
    full = np.zeros(len(values))
    full[known] = codes
    return full, classes, known


class MultiHeadClassifier(LinearClassifierBase):
    r"""Several classification heads on shared inputs: softmax groups and sigmoid labels.

    Each head is one column of ``y``: a **softmax** head holds class labels of
    mutually exclusive classes, a **sigmoid** head an independent binary label.
    This is the model for labels that are partly exclusive and partly not
    (species *and* sex of a penguin; a film's rating *and* its genres), and
    for several tasks on the same rows. With ``hidden=None`` the heads are
    linear models fitted as one convex problem (see the module docstring):
    the joint optimum equals separately fitted
    :class:`~sigmax.SoftmaxRegression` / :class:`~sigmax.LogisticRegression`
    heads at the same ``C``, at the cost of one problem. With ``hidden`` the
    heads share a trunk, a small neural network trained jointly with every
    head (needs PyTorch: ``pip install 'sigmax[torch]'``).

    A missing label (NaN / None in a column of ``y``) masks that head for
    that row; the row still trains the other heads.

    Parameters
    ----------
    heads : dict of str -> {'softmax', 'sigmoid'}, default=None
        Head name (a column of ``y``) -> kind, in output order. ``None``
        infers the kinds: a column of 0/1 values is a sigmoid head, any other
        column a softmax head. :func:`sigmax.labels.discover_heads` suggests
        heads for a multi-label indicator matrix.
    hidden : tuple of int, default=None
        Widths of the shared hidden layers (``(64,)``, ``(128, 64)``); ``None``
        for linear heads.
    penalty : {'l2', 'l1', 'elasticnet'} or None, default='l2'
        One penalty on all coefficients (the trunk takes ``'l2'`` or ``None``:
        weight decay on every weight matrix, never on biases).
    C : float, default=1.0
        Inverse penalty strength, as in :class:`~sigmax.LogisticRegression`:
        the objective is ``C * sum_i s_i sum_h loss_ih + penalty``.
    l1_ratio, fit_intercept, tol, max_iter, warm_start, verbose
        As in :class:`~sigmax.LogisticRegression` (linear heads; ``warm_start``
        and ``verbose`` also apply to the trunk).
    solver : {'auto', 'lbfgs', 'newton-cholesky', 'newton-cg', 'proximal'}, default='auto'
        Solver of the linear model (the trunk is trained by Adam).
    class_weight : 'balanced' or None, default=None
        ``'balanced'`` reweighs the classes of every head by
        ``n_h / (K_h n_hc)`` over the rows where the head's label is known.
    dtype : {'float64', 'float32'}, default='float64'
        Working precision (of the products with ``X``; of the trunk's training).
    activation : {'relu', 'tanh'}, default='relu'
        Trunk only: nonlinearity after each hidden layer.
    learning_rate : float, default=3e-3
        Trunk only: Adam step size.
    batch_size : int, default=64
        Trunk only: rows per minibatch.
    max_epochs : int, default=200
        Trunk only: passes over the training rows at most.
    patience : int, default=10
        Trunk only: stop after this many epochs without improvement of the
        validation loss, and keep the best epoch's weights.
    validation_fraction : float, default=0.1
        Trunk only: share of rows held out for early stopping (0 disables it:
        train ``max_epochs`` epochs).
    random_state : int or None, default=None
        Trunk only: seed of the initialization, the validation split and the
        minibatch order; an int makes the fit reproducible (bit for bit on CPU).
    backend : {'auto', 'numpy'}, default='auto'
        Linear heads run on the NumPy backend (dense or sparse ``X``).
    device : str or None, default=None
        Trunk only: torch device for training (``None`` / ``'cpu'``,
        ``'cuda'``, ``'cuda:1'``, ``'mps'``, or ``'auto'``: CUDA when
        available). Predictions always run in NumPy, so a fitted model needs
        no torch and no GPU.

    Attributes
    ----------
    heads_ : dict of str -> str
        The head kinds used.
    classes_ : dict of str -> ndarray
        Classes of each head (a sigmoid head's positive class is the second).
    head_slices_ : dict of str -> slice
        Columns of ``coef_`` / ``intercept_`` owned by each head.
    coef_ : ndarray of shape (k, n_features) (linear) or (k, hidden[-1]) (trunk)
        Weights of the output layer, ``k = sum of head outputs``.
    intercept_ : ndarray of shape (k,)
    hidden_coefs_, hidden_intercepts_ : list of ndarray
        Trunk only: weights ``(n_in, n_out)`` and biases of each hidden layer.
    x_mean_, x_scale_ : ndarray of shape (n_features,)
        Trunk only: the trunk standardizes its inputs with these.
    fit_record_ : sigmax.solvers.FitResult or sigmax.trunk.TrunkFitRecord
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sigmax import MultiHeadClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = pd.DataFrame({"kind": np.array(["a", "b", "c"])[np.argmax(X, axis=1)],
    ...                   "big": (X.sum(axis=1) > 0).astype(int)})
    >>> clf = MultiHeadClassifier(heads={"kind": "softmax", "big": "sigmoid"}).fit(X, y)
    >>> sorted(clf.predict_proba(X[:2]))
    ['big', 'kind']
    >>> clf.predict(X[:2]).columns.tolist()
    ['kind', 'big']
    """

    def __init__(self, heads: dict[str, str] | None = None, hidden: tuple[int, ...] | None = None,
                 *, penalty: str | None = "l2", C: float = 1.0, l1_ratio: float | None = None,
                 fit_intercept: bool = True, solver: str = "auto", tol: float = 1e-6,
                 max_iter: int = 1000, class_weight: str | None = None,
                 warm_start: bool = False, dtype: str = "float64", verbose: int = 0,
                 backend: str = "auto", device: str | None = None, activation: str = "relu",
                 learning_rate: float = 3e-3, batch_size: int = 64, max_epochs: int = 200,
                 patience: int = 10, validation_fraction: float = 0.1,
                 random_state: int | None = None) -> None:
        super().__init__(penalty, C=C, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                         solver=solver, tol=tol, max_iter=max_iter, class_weight=class_weight,
                         warm_start=warm_start, dtype=dtype, verbose=verbose, backend=backend,
                         device=device)
        self.heads = heads
        self.hidden = hidden
        self.activation = activation
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    # -- validation ------------------------------------------------------------------
    def _validate_params(self) -> None:
        super()._validate_params()
        from ..trunk import ACTIVATIONS

        _check_param(self, "heads", self.heads is None or (
            isinstance(self.heads, Mapping) and len(self.heads) > 0
            and all(isinstance(k, str) and v in HEAD_KINDS for k, v in self.heads.items())),
            f"None or a non-empty dict {{column name: kind}} with kinds in {sorted(HEAD_KINDS)}")
        _check_param(self, "hidden", self.hidden is None or (
            isinstance(self.hidden, (tuple, list)) and len(self.hidden) > 0
            and all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h > 0
                    for h in self.hidden)),
            "None (linear heads) or a non-empty tuple of positive layer widths, e.g. (64,)")
        _check_param(self, "class_weight", self.class_weight in (None, "balanced"),
                     "None or 'balanced' (applied to every head)")
        _check_param(self, "activation", self.activation in ACTIVATIONS,
                     f"one of {sorted(ACTIVATIONS)}")
        _check_param(self, "learning_rate", isinstance(self.learning_rate, numbers.Real)
                     and self.learning_rate > 0, "a float in the range (0, inf)")
        for name in ("batch_size", "max_epochs"):
            val = getattr(self, name)
            _check_param(self, name, isinstance(val, numbers.Integral)
                         and not isinstance(val, bool) and val >= 1, "an int >= 1")
        _check_param(self, "patience", isinstance(self.patience, numbers.Integral)
                     and not isinstance(self.patience, bool) and self.patience >= 1,
                     "an int >= 1")
        _check_param(self, "validation_fraction", isinstance(self.validation_fraction,
                                                             numbers.Real)
                     and 0 <= self.validation_fraction < 1, "a float in the range [0, 1)")
        _check_param(self, "random_state", self.random_state is None or (
            isinstance(self.random_state, numbers.Integral)
            and not isinstance(self.random_state, bool)), "None or an int")
        if self.hidden is not None:
            if self.backend not in ("auto", "torch"):
                raise ValueError(
                    f"backend={self.backend!r}: the shared trunk (hidden=...) trains with "
                    "torch; leave backend='auto' and choose the device with device=...")
            if self.penalty not in (None, "l2"):
                raise ValueError(
                    f"penalty={self.penalty!r} is for linear heads; the shared trunk "
                    "(hidden=...) takes penalty='l2' (weight decay) or None.")
            if self.solver != "auto":
                raise ValueError(
                    f"solver={self.solver!r} applies to linear heads (hidden=None); the "
                    "shared trunk is trained by Adam. Leave solver='auto'.")

    # -- encoding y ------------------------------------------------------------------
    def _encode_targets(self, y: Any, n_samples: int):
        cols = _columns_of(y, self.heads)
        for name, col in cols.items():
            if col.ndim != 1 or col.shape[0] != n_samples:
                raise ValueError(f"X has {n_samples} samples but y column {name!r} has shape "
                                 f"{col.shape}; every column of y needs one label per row of X.")
        if self.heads is None:
            heads = {name: ("sigmoid" if _is_binary_indicator(
                col, ~np.asarray(pd.isna(col), dtype=bool)) else "softmax")
                for name, col in cols.items()}
        else:
            heads = dict(self.heads)
            missing = [h for h in heads if h not in cols]
            if missing:
                raise ValueError(f"heads {missing} are not columns of y (columns: "
                                 f"{list(cols)}); y needs one column per head.")
            extra = [c for c in cols if c not in heads]
            if extra:
                raise ValueError(f"y has columns {extra} that are not declared in heads "
                                 f"{list(heads)}; declare them or drop them from y.")
        Y = np.zeros((n_samples, len(heads)))
        known = np.ones((n_samples, len(heads)), dtype=bool)
        classes: dict[str, np.ndarray] = {}
        layout, slices, start = [], {}, 0
        for h, (name, kind) in enumerate(heads.items()):
            Y[:, h], classes[name], known[:, h] = _encode_column(name, kind, cols[name])
            stop = start + HEAD_KINDS[kind].n_outputs(len(classes[name]))
            layout.append((kind, start, stop))
            slices[name] = slice(start, stop)
            start = stop
        self.heads_ = heads
        self.head_slices_ = slices
        self._layout = tuple(layout)
        self._known = known
        return Y, classes, start

    def _sample_class_weights(self, Y: np.ndarray) -> np.ndarray | None:
        known = self._known
        if self.class_weight is None:
            return None if known.all() else known.astype(np.float64)
        from sklearn.utils.class_weight import compute_class_weight

        W = known.astype(np.float64)
        for h, name in enumerate(self.heads_):
            rows = known[:, h]
            codes = Y[rows, h].astype(np.intp)
            K = len(self._head_classes[name])
            cw = compute_class_weight("balanced", classes=np.arange(K), y=codes)
            W[rows, h] = cw[codes]
        return W

    def _loss(self) -> Loss:
        return HeadsLoss(self._layout)

    def _set_coef(self, W: np.ndarray, b: np.ndarray) -> None:
        W, b = W.copy(), b.copy()
        for name, kind in self.heads_.items():
            if HEAD_KINDS[kind].exclusive:
                sl = self.head_slices_[name]
                # As in SoftmaxRegression: intercepts (and, without a penalty, the
                # coefficients) of a softmax head are defined up to a common
                # shift; return the centered point of that flat valley.
                b[sl] -= b[sl].mean()
                if self._effective_penalty().name == "none":
                    W[:, sl] -= W[:, sl].mean(axis=1, keepdims=True)
        super()._set_coef(W, b)

    def _warn_if_separable(self, objective, result, Y, weights) -> None:
        Z = objective.logits(result.coef).astype(np.float64)
        known = self._known
        separated = []
        for h, (name, kind) in enumerate(self.heads_.items()):
            Zh, rows = Z[:, self.head_slices_[name]], known[:, h]
            codes = Y[rows, h].astype(np.intp)
            if HEAD_KINDS[kind].exclusive:
                Zk = Zh[rows].copy()
                true = Zk[np.arange(len(codes)), codes]
                Zk[np.arange(len(codes)), codes] = -np.inf
                ok = np.all(true > Zk.max(axis=1))
            else:
                ok = np.all((2 * codes - 1) * Zh[rows, 0] > 0)
            if ok:
                separated.append(name)
        if separated:
            warnings.warn(
                f"MultiHeadClassifier: heads {separated} are linearly separable (the fitted "
                "model classifies every training label correctly), so without a penalty their "
                "loss goes to 0 as the coefficients grow and no finite optimum exists. Use "
                "penalty='l2' with a finite C for a unique finite solution.",
                SeparableWarning, stacklevel=3)

    # -- fit ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MultiHeadClassifier:
        """Fit every head jointly.

        Parameters
        ----------
        X : {array-like, sparse CSR matrix, DataFrame} of shape (n_samples, n_features)
        y : DataFrame, dict of arrays, or array of shape (n_samples, n_heads)
            One column per head (see ``heads``); NaN / None marks a missing label.
            A 1-D ``y`` is a single head.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row, for every head.

        Returns
        -------
        self
        """
        try:
            if self.hidden is None:
                self._check_linear_backend(X)
                if "hidden_coefs_" in self.__dict__:
                    # A trunk's output layer is no warm start for linear heads.
                    for attr in ("hidden_coefs_", "hidden_intercepts_", "x_mean_", "x_scale_",
                                 "coef_", "intercept_"):
                        self.__dict__.pop(attr, None)
                return super().fit(X, y, sample_weight)
            return self._fit_trunk(X, y, sample_weight)
        finally:
            self.__dict__.pop("_known", None)
            self.__dict__.pop("_layout", None)

    def _check_linear_backend(self, X: Any) -> None:
        from ..backends import resolve_backend

        self._validate_params()
        if resolve_backend(self.backend, X, self.device).name != "numpy":
            raise ValueError(
                "MultiHeadClassifier's linear heads run on the NumPy backend: pass X as a NumPy "
                "array, DataFrame or sparse matrix, with backend='auto' and device=None. For a "
                "GPU, use the shared trunk (hidden=(64,), device='cuda').")

    def _fit_trunk(self, X: Any, y: Any, sample_weight: Any) -> MultiHeadClassifier:
        from sklearn.utils import check_random_state
        from sklearn.utils.validation import _check_sample_weight

        from ..trunk import TrunkConfig, TrunkState, fit_trunk, require_torch

        self._validate_params()
        require_torch()
        warm = (self.warm_start and hasattr(self, "hidden_coefs_")
                and tuple(W.shape[1] for W in self.hidden_coefs_) == tuple(self.hidden))
        init = (TrunkState(self.x_mean_, self.x_scale_, list(self.hidden_coefs_),
                           list(self.hidden_intercepts_), self.coef_.T.copy(),
                           self.intercept_.copy()) if warm else None)
        X = self._check_X(_host(X), reset=True)
        if sp.issparse(X):
            X = X.toarray()  # the trunk's first layer is dense anyway
        Y, classes, k = self._encode_targets(y, n_samples=X.shape[0])
        self.classes_ = classes
        if init is not None and (init.head_W.shape[1] != k
                                 or init.layers_W[0].shape[0] != X.shape[1]):
            init = None
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if np.any(sw < 0):
            raise ValueError("sample_weight has negative values; weights must be >= 0.")
        cw = self._sample_class_weights(Y)
        weights = (np.ones_like(Y) if cw is None else cw) * sw[:, None]
        seed = (int(self.random_state) if self.random_state is not None
                else int(check_random_state(None).randint(2**31 - 1)))
        config = TrunkConfig(
            hidden=tuple(int(h) for h in self.hidden), activation=self.activation,
            learning_rate=float(self.learning_rate), batch_size=int(self.batch_size),
            max_epochs=int(self.max_epochs), patience=int(self.patience),
            validation_fraction=float(self.validation_fraction),
            C=float(self.C) if self.penalty is not None else np.inf,
            fit_intercept=bool(self.fit_intercept), seed=seed, device=self.device or "cpu",
            dtype=self.dtype, verbose=int(self.verbose))
        state, record = fit_trunk(X, Y, weights, self._layout, config, init=init)
        self.x_mean_, self.x_scale_ = state.x_mean, state.x_scale
        self.hidden_coefs_, self.hidden_intercepts_ = state.layers_W, state.layers_b
        self.coef_ = np.ascontiguousarray(state.head_W.T)
        self.intercept_ = state.head_b
        self.fit_record_ = record
        self.n_iter_ = np.array([record.n_iter])
        self.solver_ = record.solver
        return self

    # -- predict -----------------------------------------------------------------------
    @property
    def _head_classes(self) -> dict[str, np.ndarray]:
        """Classes of each head (``classes_`` here; subclasses may expose others)."""
        return self.classes_

    def _logits(self, X: Any) -> np.ndarray:
        return self._head_logits(X)

    def _head_logits(self, X: Any) -> np.ndarray:
        """Logits of all heads, ``(n, k)`` in the column layout of ``coef_``."""
        check_is_fitted(self)
        X = self._check_X(_host(X), reset=False)
        if not hasattr(self, "hidden_coefs_"):
            Z = np.asarray(X @ np.asarray(self.coef_).T.astype(X.dtype, copy=False))
            Z += np.asarray(self.intercept_).astype(X.dtype, copy=False)
            return Z
        from ..trunk import TrunkState, forward

        state = TrunkState(self.x_mean_, self.x_scale_, self.hidden_coefs_,
                           self.hidden_intercepts_, self.coef_.T, self.intercept_)
        return forward(state, X.toarray() if sp.issparse(X) else X, self.activation)

    def _per_head(self, X: Any, how: str) -> dict[str, np.ndarray]:
        Z = self._head_logits(X)
        return {name: getattr(HEAD_KINDS[kind], how)(Z[:, self.head_slices_[name]])
                for name, kind in self.heads_.items()}

    def decision_function(self, X: Any) -> dict[str, np.ndarray]:
        """Logits of each head: ``(n, K)`` for a softmax head, ``(n,)`` for a sigmoid head."""
        return self._per_head(X, "decision")

    def predict_proba(self, X: Any) -> dict[str, np.ndarray]:
        """Class probabilities of each head, ``{head: (n_samples, K_h)}``.

        A sigmoid head gives ``(n, 2)``: ``[1 - p, p]`` with ``p`` the
        probability of ``classes_[head][1]`` (as :class:`~sigmax.LogisticRegression`).
        """
        return self._per_head(X, "proba")

    def predict_log_proba(self, X: Any) -> dict[str, np.ndarray]:
        """Log class probabilities of each head (finite), ``{head: (n_samples, K_h)}``."""
        return self._per_head(X, "log_proba")

    def predict(self, X: Any) -> pd.DataFrame:
        """Most probable class of each head: a DataFrame with one column per head.

        The index is ``X``'s when ``X`` is a DataFrame.
        """
        codes = self._per_head(X, "codes")
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame({name: self._head_classes[name][c] for name, c in codes.items()},
                            index=index)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean over heads of the accuracy on the rows where the head's label is known.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : DataFrame or dict of arrays, one column per head (NaN = unknown)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        pred = self.predict(X)
        cols = _columns_of(y, self.heads_)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        scores = []
        for name in self.heads_:
            if name not in cols:
                raise ValueError(f"y has no column {name!r} (heads: {list(self.heads_)}).")
            col = cols[name]
            known = ~np.asarray(pd.isna(col), dtype=bool)
            truth = col[known]
            if truth.dtype == object and truth.size and isinstance(truth[0], numbers.Real):
                truth = truth.astype(np.float64)
            hit = (pred[name].to_numpy()[known] == truth).astype(np.float64)
            w = None if sw is None else sw[known]
            if hit.size:
                scores.append(float(np.average(hit, weights=w)))
        return float(np.mean(scores))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        tags.input_tags.sparse = True
        return tags

    # -- persistence -----------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Write the fitted model to ``path`` (safetensors + JSON; no pickle), atomically.

        Load it back with :func:`sigmax.load`; loading needs neither torch nor a GPU.
        """
        _write_file(self, path)

    def _write_model_file(self, path: Any) -> None:
        # Called by sigmax.io.save: this model has more arrays than coef/intercept.
        _write_file(self, path)

    @classmethod
    def _read_model_file(cls, path: Any, meta: dict[str, Any]) -> MultiHeadClassifier:
        # Called by sigmax.load once it has read and checked the file's header.
        return _read_file(path, meta)


class MultiLabelHeads(MultiHeadClassifier):
    r"""Multi-label classifier with discovered heads: softmax for exclusive groups, sigmoids else.

    Takes the same ``y`` as :class:`~sigmax.MultiLabelLogistic` (a 0/1
    indicator matrix, NaN = unknown) and returns the same outputs (per-label
    probabilities, a 0/1 indicator), but first finds the label structure
    with :func:`sigmax.labels.discover_heads`: labels that never co-occur
    (beyond chance) become one softmax head (plus a "none" class when rows can
    have none of them), the others sigmoid heads. The heads are then fitted
    as a :class:`MultiHeadClassifier` (linear, or on a shared trunk with
    ``hidden``). Without exclusive groups it is exactly MultiLabelLogistic
    (independent sigmoids at the same ``C``).

    The marginal probability of a label of a group is its softmax
    probability, so the labels of a group never sum to more than one and
    :meth:`predict` never returns two labels of one group.

    Parameters
    ----------
    hidden : tuple of int, default=None
        Shared trunk widths (``None``: linear heads).
    discovery_alpha : float, default=0.05
        Level of the exclusivity test (see :mod:`sigmax.labels`).
    penalty, C, l1_ratio, fit_intercept, solver, tol, max_iter, class_weight, warm_start
        As in :class:`MultiHeadClassifier`.
    dtype, verbose, backend, device, activation, learning_rate, batch_size, max_epochs
        As in :class:`MultiHeadClassifier`.
    patience, validation_fraction, random_state
        As in :class:`MultiHeadClassifier`.

    Attributes
    ----------
    layout_ : sigmax.labels.HeadLayout
        The heads found on the training labels, with the evidence.
    classes_ : ndarray of shape (L,)
        Label names (the DataFrame's columns), or ``0..L-1`` for an array ``y``.
    heads_, head_slices_, head_classes_ : dict
        The fitted heads (``head_classes_``: the classes of each head).
    coef_, intercept_, fit_record_
        As in :class:`MultiHeadClassifier`.
    """

    _multilabel = True

    def __init__(self, hidden: tuple[int, ...] | None = None, *, discovery_alpha: float = 0.05,
                 penalty: str | None = "l2", C: float = 1.0, l1_ratio: float | None = None,
                 fit_intercept: bool = True, solver: str = "auto", tol: float = 1e-6,
                 max_iter: int = 1000, class_weight: str | None = None,
                 warm_start: bool = False, dtype: str = "float64", verbose: int = 0,
                 backend: str = "auto", device: str | None = None, activation: str = "relu",
                 learning_rate: float = 3e-3, batch_size: int = 64, max_epochs: int = 200,
                 patience: int = 10, validation_fraction: float = 0.1,
                 random_state: int | None = None) -> None:
        LinearClassifierBase.__init__(
            self, penalty, C=C, l1_ratio=l1_ratio, fit_intercept=fit_intercept, solver=solver,
            tol=tol, max_iter=max_iter, class_weight=class_weight, warm_start=warm_start,
            dtype=dtype, verbose=verbose, backend=backend, device=device)
        self.hidden = hidden
        self.discovery_alpha = discovery_alpha
        self.activation = activation
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    @property
    def heads(self) -> dict[str, str] | None:  # type: ignore[override]
        """The discovered heads (not a parameter: found on each fit's labels)."""
        layout = self.__dict__.get("layout_")
        return None if layout is None else layout.heads

    @property
    def _head_classes(self) -> dict[str, np.ndarray]:
        return self.__dict__.get("head_classes_", self.classes_)

    def _validate_params(self) -> None:
        super()._validate_params()
        _check_param(self, "discovery_alpha", isinstance(self.discovery_alpha, numbers.Real)
                     and 0 < self.discovery_alpha < 1, "a float in the range (0, 1)")

    def _encode_targets(self, y: Any, n_samples: int):
        from ..labels import discover_heads

        if y is None:
            raise ValueError("MultiLabelHeads requires y to be passed, but the target y is None.")
        Y = y if isinstance(y, pd.DataFrame) else (y.toarray() if sp.issparse(y)
                                                   else np.asarray(y))
        if np.ndim(Y) != 2:
            from sklearn.utils.multiclass import type_of_target

            what = ("continuous values (a regression target, not labels)"
                    if np.ndim(Y) == 1 and type_of_target(Y) == "continuous"
                    else f"shape {np.shape(Y)}")
            raise ValueError(
                "MultiLabelHeads needs a 2-D 0/1 indicator matrix y of shape (n_samples, "
                f"n_labels); got y of {what}. For one label per sample use "
                "LogisticRegression (2 classes) or SoftmaxRegression (K exclusive classes).")
        if Y.shape[0] != n_samples:
            raise ValueError(f"X has {n_samples} samples but y has {Y.shape[0]}; they must "
                             "have the same number of samples.")
        layout = discover_heads(Y, alpha=float(self.discovery_alpha))
        if layout.constant:
            raise ValueError(
                f"Label(s) {layout.constant} have only one value (one class) in y: every "
                "label needs both positive and negative samples to be learned. Drop those "
                "columns.")
        self.layout_ = layout
        self._label_names = (np.asarray(Y.columns) if isinstance(Y, pd.DataFrame)
                             else np.arange(Y.shape[1]))
        return super()._encode_targets(layout.transform(Y), n_samples)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MultiLabelHeads:
        """Discover the heads on ``y`` and fit them.

        Parameters
        ----------
        X : {array-like, sparse CSR matrix, DataFrame} of shape (n_samples, n_features)
        y : array-like or DataFrame of shape (n_samples, n_labels)
            0/1 indicator matrix; NaN marks an unknown label.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        self.__dict__.pop("head_classes_", None)
        super().fit(X, y, sample_weight)
        self.head_classes_ = self.classes_
        # As MultiLabelLogistic: the DataFrame's column names, else 0..L-1.
        self.classes_ = self.__dict__.pop("_label_names")
        return self

    def _label_log_proba(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Per-label ``(log p, log(1 - p))``, each ``(n, L)``, never forming ``1 - p``."""
        from ..numerics import logsumexp

        Z = self._head_logits(X)  # checks that the model is fitted first
        layout, n = self.layout_, Z.shape[0]
        lp1, lp0 = np.empty((n, len(layout.labels))), np.empty((n, len(layout.labels)))
        for g in layout.groups:
            L = HEAD_KINDS["softmax"].log_proba(Z[:, self.head_slices_[g.name]])
            cls = list(self.head_classes_[g.name])
            for label in g.labels:
                j, c = layout.labels.index(label), cls.index(label)
                lp1[:, j] = L[:, c]
                # log(1 - p_c) = log sum of the other classes' probabilities.
                lp0[:, j] = logsumexp(np.delete(L, c, axis=1), axis=1)
        for label in layout.sigmoid:
            j = layout.labels.index(label)
            z = Z[:, self.head_slices_[label]][:, 0]
            if list(self.head_classes_[label]).index(1) == 0:  # pragma: no cover - 0 < 1 always
                z = -z
            lp1[:, j], lp0[:, j] = log_expit(z), log_expit(-z)
        return lp1, lp0

    def decision_function(self, X: Any) -> np.ndarray:
        r"""Log-odds of each label's marginal probability, ``(n_samples, L)``.

        For a sigmoid label its logit; for a label of a softmax group
        :math:`\log p_c - \log(1 - p_c)`, so that ``sigmoid`` of it is the
        marginal probability, as for :class:`~sigmax.MultiLabelLogistic`.
        """
        lp1, lp0 = self._label_log_proba(X)
        return lp1 - lp0

    def _logits(self, X: Any) -> np.ndarray:
        return self.decision_function(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Marginal probability of each label, ``(n_samples, L)``."""
        return np.exp(self._label_log_proba(X)[0])

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba` (finite), ``(n_samples, L)``."""
        return self._label_log_proba(X)[0]

    def predict(self, X: Any) -> np.ndarray:
        """0/1 indicator ``(n_samples, L)``: each group's most probable class, sigmoids > 0.5."""
        codes = super().predict(X)  # checks that the model is fitted first
        return self.layout_.inverse_transform(codes)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Subset accuracy (every label of the row right), as for MultiLabelLogistic."""
        from sklearn.metrics import accuracy_score

        Y = y.to_numpy() if isinstance(y, pd.DataFrame) else np.asarray(y)
        return float(accuracy_score(Y, self.predict(X), sample_weight=sample_weight))

    def save(self, path: Any) -> None:
        """Not supported yet: save the equivalent MultiHeadClassifier instead.

        ``MultiHeadClassifier(heads=m.layout_.heads, ...).fit(X, m.layout_.transform(Y))``
        is the same model and can be saved.
        """
        raise NotImplementedError(
            "MultiLabelHeads cannot be saved yet; fit MultiHeadClassifier(heads=m.layout_.heads) "
            "on m.layout_.transform(Y) (the same model) and save that.")

    _write_model_file = save

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.classifier_tags.multi_class = False  # each label is binary
        return tags


# Per-head results (dicts of arrays, DataFrames) are not arrays of the input's kind, so
# these methods opt out of the base class's routing of predictions to the input's
# backend: a tensor or dask input is brought to the host by ``_host`` instead.
for _cls in (MultiHeadClassifier, MultiLabelHeads):
    for _name in ("decision_function", "predict_proba", "predict_log_proba", "predict"):
        _method = _cls.__dict__[_name]
        setattr(_cls, _name, getattr(_method, "__wrapped__", _method))


def _host(X: Any) -> Any:
    """A torch tensor or dask array as NumPy; anything else unchanged."""
    from ..backends import input_kind, to_numpy

    return X if input_kind(X) == "numpy" else to_numpy(X)


# -- model files ------------------------------------------------------------------------
#: Parameters whose JSON form is a list but whose value is a tuple.
_TUPLE_PARAMS = ("hidden",)


def _write_file(model: MultiHeadClassifier, path: str | os.PathLike) -> None:
    """Save ``model`` in sigmax's model format (see :mod:`sigmax.io`), with its heads."""
    from safetensors.numpy import save_file

    from .. import __version__
    from ..io import _KEY, FORMAT_VERSION, _labels_to_json, atomic_path

    check_is_fitted(model)
    params = model.get_params()
    for key in _TUPLE_PARAMS:
        if params[key] is not None:
            params[key] = [int(v) for v in params[key]]
    if params["heads"] is not None:
        params["heads"] = dict(params["heads"])
    json.dumps(params)  # fails loudly on a parameter that is not plain JSON
    record = model.fit_record_.to_dict() if hasattr(model, "fit_record_") else None
    meta = {
        "format": "sigmax-model",
        "format_version": FORMAT_VERSION,
        "sigmax_version": __version__,
        "estimator": "MultiHeadClassifier",
        "params": params,
        "heads": [[name, kind, model.head_slices_[name].start, model.head_slices_[name].stop]
                  for name, kind in model.heads_.items()],
        "classes": {name: _labels_to_json(model.classes_[name]) for name in model.heads_},
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": (None if not hasattr(model, "feature_names_in_")
                             else [str(v) for v in model.feature_names_in_]),
        "fit_record": record,
        "fit_record_type": type(model.fit_record_).__name__ if record else None,
    }
    tensors = {"coef": np.ascontiguousarray(model.coef_, dtype=np.float64),
               "intercept": np.ascontiguousarray(model.intercept_, dtype=np.float64)}
    if hasattr(model, "hidden_coefs_"):
        tensors["x_mean"] = np.ascontiguousarray(model.x_mean_, dtype=np.float64)
        tensors["x_scale"] = np.ascontiguousarray(model.x_scale_, dtype=np.float64)
        for i, (W, b) in enumerate(zip(model.hidden_coefs_, model.hidden_intercepts_)):
            tensors[f"hidden.{i}.weight"] = np.ascontiguousarray(W, dtype=np.float64)
            tensors[f"hidden.{i}.bias"] = np.ascontiguousarray(b, dtype=np.float64)
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={_KEY: json.dumps(meta, allow_nan=False)})


def _read_file(path: Any, meta: dict[str, Any]) -> MultiHeadClassifier:
    """Build a MultiHeadClassifier from a file whose header ``meta`` :func:`sigmax.load` read.

    Checks every field (kinds, contiguous head columns, class counts, array
    shapes, finiteness) before building the model; runs no code from the file.
    """
    from safetensors import SafetensorError, safe_open

    from ..io import _PARAM_TYPES, _bad, _labels_from_json
    from ..solvers import FitResult
    from ..trunk import TrunkFitRecord

    try:
        with safe_open(str(path), framework="np") as fh:
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise _bad(path, f"not a safetensors file ({exc})") from None
    params = meta.get("params")
    valid = set(MultiHeadClassifier().get_params())
    if not isinstance(params, dict) or set(params) - valid:
        raise _bad(path, "unknown or malformed parameters")
    params = dict(params)
    for key in _TUPLE_PARAMS:
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    if not all(isinstance(v, (*_PARAM_TYPES, tuple)) for v in params.values()):
        raise _bad(path, "parameters must be plain JSON values")
    model = MultiHeadClassifier(**params)
    try:
        model._validate_params()
    except ValueError as exc:
        raise _bad(path, str(exc)) from None

    heads, slices, classes, stop = {}, {}, {}, 0
    spec, class_spec = meta.get("heads"), meta.get("classes")
    if not isinstance(spec, list) or not spec or not isinstance(class_spec, dict):
        raise _bad(path, "missing head layout")
    for item in spec:
        if (not isinstance(item, list) or len(item) != 4 or not isinstance(item[0], str)
                or item[1] not in HEAD_KINDS or item[0] in heads
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in item[2:])):
            raise _bad(path, f"bad head entry {item!r}")
        name, kind, a, b = item
        try:
            labels = _labels_from_json(class_spec.get(name))
        except ValueError:
            raise _bad(path, f"bad classes for head {name!r}") from None
        if (a != stop or len(labels) < 2 or len(np.unique(labels)) != len(labels)
                or b - a != HEAD_KINDS[kind].n_outputs(len(labels))
                or (not HEAD_KINDS[kind].exclusive and len(labels) != 2)):
            raise _bad(path, f"head {name!r} does not match its classes")
        heads[name], slices[name], classes[name], stop = kind, slice(a, b), labels, b
    if set(class_spec) != set(heads):
        raise _bad(path, "classes do not match the heads")

    n_features = meta.get("n_features_in")
    if not isinstance(n_features, int) or isinstance(n_features, bool) or n_features < 1:
        raise _bad(path, "bad feature count")
    trunk = model.hidden is not None
    n_layers = len(model.hidden) if trunk else 0
    expected = {"coef", "intercept"}
    if trunk:
        expected |= {"x_mean", "x_scale"} | {f"hidden.{i}.{p}" for i in range(n_layers)
                                             for p in ("weight", "bias")}
    if set(tensors) != expected:
        raise _bad(path, f"expected tensors {sorted(expected)}, found {sorted(tensors)}")
    if not all(t.dtype == np.float64 and np.all(np.isfinite(t)) for t in tensors.values()):
        raise _bad(path, "arrays must be finite float64")
    width = n_features
    if trunk:
        if (tensors["x_mean"].shape != (n_features,) or tensors["x_scale"].shape != (n_features,)
                or not np.all(tensors["x_scale"] > 0)):
            raise _bad(path, "bad input standardization")
        for i, h in enumerate(model.hidden):
            if (tensors[f"hidden.{i}.weight"].shape != (width, h)
                    or tensors[f"hidden.{i}.bias"].shape != (h,)):
                raise _bad(path, f"hidden layer {i} shapes do not match hidden={model.hidden}")
            width = h
    if tensors["coef"].shape != (stop, width) or tensors["intercept"].shape != (stop,):
        raise _bad(path, "array shapes do not match the heads and feature count")

    names = meta.get("feature_names_in")
    if names is not None:
        if (not isinstance(names, list) or len(names) != n_features
                or not all(isinstance(v, str) for v in names)):
            raise _bad(path, "bad feature names")
        model.feature_names_in_ = np.array(names, dtype=object)
    model.heads_, model.head_slices_, model.classes_ = heads, slices, classes
    model.n_features_in_ = n_features
    model.coef_, model.intercept_ = tensors["coef"].copy(), tensors["intercept"].copy()
    if trunk:
        model.x_mean_, model.x_scale_ = tensors["x_mean"].copy(), tensors["x_scale"].copy()
        model.hidden_coefs_ = [tensors[f"hidden.{i}.weight"].copy() for i in range(n_layers)]
        model.hidden_intercepts_ = [tensors[f"hidden.{i}.bias"].copy()
                                    for i in range(n_layers)]
    record, kind = meta.get("fit_record"), meta.get("fit_record_type")
    if isinstance(record, dict):
        cls = {"FitResult": FitResult, "TrunkFitRecord": TrunkFitRecord}.get(kind)
        try:
            if cls is None:
                raise TypeError(kind)
            model.fit_record_ = (cls(coef=np.array([]), **record) if cls is FitResult
                                 else cls(**record))
        except TypeError:
            raise _bad(path, "malformed fit record") from None
        model.n_iter_ = np.array([model.fit_record_.n_iter])
        model.solver_ = model.fit_record_.solver
    return model
