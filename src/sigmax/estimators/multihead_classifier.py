r"""MultiHeadClassifier: several classification heads (softmax groups, sigmoid labels) on one X.

The heads themselves (kinds, joint loss, encoding of ``y``) are in
:mod:`sigmax.estimators.multihead`; the shared trunk (``hidden=...``) in
:mod:`sigmax.trunk`; the model-file hooks in
:mod:`sigmax.estimators.multihead_persistence`. The maths is in the docstring
of :mod:`sigmax.estimators.multihead`.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from ..losses import Loss
from ._base import LinearClassifierBase, SeparableWarning, _check_param
from .multihead import HEAD_KINDS, HeadsLoss, encode_heads, head_columns, separable_heads

__all__ = ["MultiHeadClassifier", "host_array", "unwrap_routing"]


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
        from ..trunk import PARAM_RULES

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
        for name, (ok, expected) in PARAM_RULES.items():  # the trunk's own parameters
            _check_param(self, name, ok(getattr(self, name)), expected)
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
        t = encode_heads(y, self.heads, n_samples)
        self.heads_, self.head_slices_ = t.kinds, t.slices
        self._layout, self._known = t.layout, t.known
        return t.Y, t.classes, t.n_outputs

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
        separated = separable_heads(Z, Y, self._known, self.heads_, self.head_slices_)
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

        from ..trunk import TrunkConfig, fit_trunk, require_torch

        self._validate_params()
        require_torch()
        warm = (self.warm_start and hasattr(self, "hidden_coefs_")
                and tuple(W.shape[1] for W in self.hidden_coefs_) == tuple(self.hidden))
        init = self._trunk_state(copy=True) if warm else None
        X = self._check_X(host_array(X), reset=True)
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
        config = TrunkConfig.from_params(self.get_params(), seed)
        state, record = fit_trunk(X, Y, weights, self._layout, config, init=init)
        self._set_trunk_state(state)
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
        X = self._check_X(host_array(X), reset=False)
        if not hasattr(self, "hidden_coefs_"):
            Z = np.asarray(X @ np.asarray(self.coef_).T.astype(X.dtype, copy=False))
            Z += np.asarray(self.intercept_).astype(X.dtype, copy=False)
            return Z
        from ..trunk import forward

        return forward(self._trunk_state(), X.toarray() if sp.issparse(X) else X,
                       self.activation)

    def _trunk_state(self, copy: bool = False) -> Any:
        """The fitted trunk as a :class:`sigmax.trunk.TrunkState` (its arrays copied or not)."""
        from ..trunk import TrunkState

        c = (lambda a: a.copy()) if copy else (lambda a: a)
        return TrunkState(self.x_mean_, self.x_scale_, list(self.hidden_coefs_),
                          list(self.hidden_intercepts_), c(self.coef_.T), c(self.intercept_))

    def _set_trunk_state(self, state: Any) -> None:
        self.x_mean_, self.x_scale_ = state.x_mean, state.x_scale
        self.hidden_coefs_, self.hidden_intercepts_ = state.layers_W, state.layers_b
        self.coef_ = np.ascontiguousarray(state.head_W.T)
        self.intercept_ = state.head_b

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
        cols = head_columns(y, self.heads_)
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
    # ``save`` is the base class's (loading needs neither torch nor a GPU).
    def _to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        from .multihead_persistence import multihead_to_arrays

        return multihead_to_arrays(self)

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
        from .multihead_persistence import multihead_from_arrays

        return multihead_from_arrays(cls, arrays, meta)


# Per-head results (dicts of arrays, DataFrames) are not arrays of the input's kind, so
# these methods opt out of the base class's routing of predictions to the input's
# backend: a tensor or dask input is brought to the host by ``host_array`` instead.
def unwrap_routing(cls: type) -> type:
    """Undo the base class's routing of predictions to the input's backend on ``cls``."""
    for name in ("decision_function", "predict_proba", "predict_log_proba", "predict"):
        method = cls.__dict__[name]
        setattr(cls, name, getattr(method, "__wrapped__", method))
    return cls


unwrap_routing(MultiHeadClassifier)


def host_array(X: Any) -> Any:
    """A torch tensor or dask array as NumPy; anything else unchanged."""
    from ..backends import input_kind, to_numpy

    return X if input_kind(X) == "numpy" else to_numpy(X)
