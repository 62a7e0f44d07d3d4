r"""What inference needs to know about a fitted estimator, read from its public attributes.

A :class:`ModelSpec` describes a fitted model as a likelihood family, its logit
coefficients :math:`\Theta` (``(P, k)``, intercept row first), the parameters
the fit actually chose (``free``) with the curvature of its penalty, the flat
directions of its parameterization, and the linear map from :math:`\theta =
\operatorname{vec}(\Theta)` to the rows of the table.

Kinds (registry :data:`KINDS`, keyed by the estimator's loss):

==============  ============  =====================================================
kind            family        table rows
==============  ============  =====================================================
logistic        binomial      one logit: ``classes_[1]`` against ``classes_[0]``
softmax         multinomial   each class against the reference class:
                              :math:`\beta_k = \theta_k - \theta_r`
ovr             binomial      each class against the rest (its own logit)
multilabel      binomial      each label (its own logit)
==============  ============  =====================================================

Softmax: the likelihood sees only logit differences, so every parameterization
(symmetric: all ``K`` rows free; reference: ``classes_[0]`` fixed at 0) gives
the same contrasts :math:`\beta` and the same table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .chunks import array_kind

__all__ = ["KINDS", "HeadSpec", "ModelSpec", "fitted_C", "head_specs", "model_spec"]


@dataclass(frozen=True)
class ModelSpec:
    r"""A fitted estimator seen as a likelihood (see the module docstring).

    Attributes
    ----------
    kind, family : str
    model_name : str
    Theta : ndarray of shape (P, k)
    fit_intercept : bool
    terms : list of str, length P
    logit_outputs : ndarray of shape (k,)
        Label of each column of ``Theta``.
    free : ndarray of int
        Indices in ``vec(Theta)`` (length ``kP``) of the parameters the fit chose.
    penalty : ndarray of shape (len(free),)
        Curvature of the penalty per free parameter, in log-likelihood units (``1 / C``).
    flat : ndarray of shape (len(free), r) or None
        Orthonormal basis of the flat directions of the free parameters.
    table_outputs : list
        Output label of each block of table rows.
    table_map : sparse CSR matrix of shape (n_table, kP)
        :math:`\beta = A \operatorname{vec}(\Theta)`.
    table_cols : ndarray of int
        Columns of ``vec(Theta)`` that move :math:`\beta` one for one (the
        non-reference blocks): a derivative in :math:`\theta` there is one in
        :math:`\beta`.
    block_of : ndarray of int of shape (len(free),)
        Which independent output (for small-sample corrections) each free parameter is in.
    block_params : ndarray of shape (n_blocks,)
        Identified parameters per independent output.
    reference : object or None
        The softmax reference class.
    """

    kind: str
    family: str
    model_name: str
    Theta: np.ndarray
    fit_intercept: bool
    terms: list[str]
    logit_outputs: np.ndarray
    free: np.ndarray
    penalty: np.ndarray
    flat: np.ndarray | None
    table_outputs: list[Any]
    table_map: sp.csr_matrix
    table_cols: np.ndarray
    block_of: np.ndarray
    block_params: np.ndarray
    reference: Any = None
    encode: Callable[[Any], tuple[np.ndarray, np.ndarray | None]] = field(
        default=None, repr=False)  # type: ignore[assignment]

    @property
    def n_terms(self) -> int:
        return self.Theta.shape[0]

    @property
    def penalized(self) -> bool:
        return bool(np.any(self.penalty > 0))


# -- reading the estimator -------------------------------------------------------------------
def _terms(model: Any) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    d = np.asarray(model.coef_).shape[1]
    feats = [str(n) for n in names] if names is not None else [f"x{j}" for j in range(d)]
    return (["intercept"] if model.fit_intercept else []) + feats


def _theta(model: Any) -> np.ndarray:
    W = np.asarray(model.coef_, dtype=np.float64)  # (k, d)
    if not model.fit_intercept:
        return np.ascontiguousarray(W.T)
    b = np.asarray(model.intercept_, dtype=np.float64).reshape(1, -1)
    return np.ascontiguousarray(np.vstack([b, W.T]))


def fitted_C(model: Any) -> Any:
    """The ``C`` the coefficients were fitted at: a CV estimator's chosen ``C_`` (one per
    label where it chose one per label), else the ``C`` parameter (inf when there is none).

    A CV estimator has no ``C`` parameter; reading ``C`` alone took its penalized fit for an
    unpenalized one (no warning, the maximum-likelihood standard errors).
    """
    chosen = getattr(model, "C_", None)
    return chosen if chosen is not None else getattr(model, "C", np.inf)


def _penalty_strength(model: Any) -> Any:
    """:math:`\\lambda` of :math:`\\tfrac{\\lambda}{2}\\|W\\|^2` per unit of log-likelihood:
    a float, or one per output (``(k,)``) for a CV estimator that chose ``C`` per label."""
    name = getattr(model, "penalty", None)
    C = np.asarray(fitted_C(model), dtype=np.float64)
    if name in (None, "none") or np.all(np.isinf(C)):
        return 0.0
    l1 = {"l2": 0.0, "l1": 1.0}.get(name, getattr(model, "l1_ratio", None))
    if l1 is None or l1 > 0:
        raise ValueError(
            f"{type(model).__name__} was fitted with penalty={name!r}: the L1 part selects "
            "features, and standard errors that ignore that selection are wrong "
            "(post-selection inference is not supported). Refit without the penalty "
            f"(penalty=None, e.g. {type(model).__name__}(penalty=None).fit(X[:, kept], y) on "
            "the features you keep) and run the inference on that fit.")
    lam = 1.0 / C  # sklearn's objective C * loss + 1/2 |W|^2, divided by C
    return float(lam) if lam.ndim == 0 else lam


def _penalty_vector(model: Any, P: int, k: int, lam: Any, scale: Any) -> np.ndarray:
    """Penalty curvature per free parameter, output by output (``lam``: one or ``(k,)``)."""
    per_output = np.broadcast_to(np.asarray(lam, dtype=np.float64), (k,))
    s = None if scale is None else np.asarray(scale, dtype=np.float64).reshape(-1)
    blocks = []
    for lam_j in per_output:
        per_term = np.full(P, lam_j)
        if model.fit_intercept:
            per_term[0] = 0.0  # intercepts are never penalized
        if s is not None and lam_j:
            per_term[int(model.fit_intercept):] = lam_j / s ** 2
        blocks.append(per_term)
    return np.concatenate(blocks) if blocks else np.zeros(0)


def _check_no_class_weight(model: Any) -> None:
    if getattr(model, "class_weight", None) is not None:
        raise ValueError(
            f"{type(model).__name__} was fitted with class_weight={model.class_weight!r}, which "
            "reweights the likelihood: its standard errors would describe a reweighted "
            "population. Refit with class_weight=None (pass frequency weights as "
            "sample_weight to both fit and inference) for inference.")


# -- targets ---------------------------------------------------------------------------------
def _host_labels(y: Any) -> np.ndarray:
    kind = array_kind(y)
    if kind == "dask":
        y = y.compute()
    elif kind == "torch":
        y = y.detach().cpu().numpy()
    return np.asarray(y.toarray() if sp.issparse(y) else y)


def _codes(classes: np.ndarray, y: Any) -> np.ndarray:
    y = _host_labels(y).reshape(-1)
    idx = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    bad = classes[idx] != y
    if np.any(bad):
        unknown = np.unique(y[bad])[:5].tolist()
        raise ValueError(f"y has labels {unknown} that the model was not fitted on (its "
                         f"classes_ are {classes[:10].tolist()}); pass the data it was "
                         "fitted on, or labels among its classes.")
    return idx


def _single_label_encoder(classes: np.ndarray, how: str
                          ) -> Callable[[Any], tuple[np.ndarray, None]]:
    def encode(y: Any) -> tuple[np.ndarray, None]:
        codes = _codes(classes, y)
        if how == "codes":
            return codes, None
        if how == "positive":
            return (codes == 1).astype(np.float64)[:, None], None
        Y = np.zeros((len(codes), len(classes)))
        Y[np.arange(len(codes)), codes] = 1.0
        return Y, None

    return encode


def _multilabel_encoder(classes: np.ndarray) -> Callable[[Any], tuple[np.ndarray, Any]]:
    def encode(y: Any) -> tuple[np.ndarray, Any]:
        if hasattr(y, "columns"):
            cols = list(y.columns)
            if set(map(str, classes)) <= set(map(str, cols)):
                y = y[[cols[list(map(str, cols)).index(str(c))] for c in classes]]
        if isinstance(y, (list, tuple)) and y and isinstance(y[0], (set, frozenset)):
            from sklearn.preprocessing import MultiLabelBinarizer

            Y = MultiLabelBinarizer(classes=list(classes)).fit_transform(y).astype(np.float64)
        else:
            Y = np.asarray(_host_labels(y), dtype=np.float64)
        if Y.ndim != 2 or Y.shape[1] != len(classes):
            raise ValueError(f"y must be an (n_samples, {len(classes)}) 0/1 indicator matrix "
                             f"(one column per label of the model); got shape {Y.shape}.")
        known = ~np.isnan(Y)
        return np.where(known, Y, 0.0), (None if known.all() else known.astype(np.float64))

    return encode


# -- kinds -----------------------------------------------------------------------------------
def _binomial_like(model: Any, kind: str, outputs: np.ndarray, encode: Callable,
                   lam: float, scale: Any) -> ModelSpec:
    Theta = _theta(model)
    P, k = Theta.shape
    n = P * k
    return ModelSpec(
        kind=kind, family="binomial", model_name=type(model).__name__, Theta=Theta,
        fit_intercept=bool(model.fit_intercept), terms=_terms(model),
        logit_outputs=np.asarray(outputs), free=np.arange(n),
        penalty=_penalty_vector(model, P, k, lam, scale), flat=None,
        table_outputs=list(outputs), table_map=sp.eye(n, format="csr"),
        table_cols=np.arange(n),
        block_of=np.repeat(np.arange(k), P), block_params=np.full(k, float(P)),
        encode=encode)


def _logistic(model: Any, lam: float, scale: Any, reference: Any) -> ModelSpec:
    classes = np.asarray(model.classes_)
    return _binomial_like(model, "logistic", classes[1:2],
                          _single_label_encoder(classes, "positive"), lam, scale)


def _ovr(model: Any, lam: float, scale: Any, reference: Any) -> ModelSpec:
    classes = np.asarray(model.classes_)
    return _binomial_like(model, "ovr", classes, _single_label_encoder(classes, "onehot"),
                          lam, scale)


def _multilabel(model: Any, lam: float, scale: Any, reference: Any) -> ModelSpec:
    classes = np.asarray(model.classes_)
    return _binomial_like(model, "multilabel", classes, _multilabel_encoder(classes), lam,
                          scale)


def _softmax(model: Any, lam: float, scale: Any, reference: Any) -> ModelSpec:
    classes = np.asarray(model.classes_)
    K = len(classes)
    r = 0 if reference is None else int(_codes(classes, np.asarray([reference]))[0])
    Theta = _theta(model)
    P = Theta.shape[0]
    others = [j for j in range(K) if j != r]
    # beta_j = theta_j - theta_r: +I in block j, -I in block r (sparse: 2 entries a row)
    rows = np.arange((K - 1) * P)
    cols_j = np.concatenate([np.arange(j * P, (j + 1) * P) for j in others])
    A = sp.csr_matrix((np.r_[np.ones(len(rows)), -np.ones(len(rows))],
                       (np.r_[rows, rows], np.r_[cols_j, np.tile(np.arange(r * P, (r + 1) * P),
                                                                 K - 1)])),
                      shape=((K - 1) * P, K * P))
    by_reference = getattr(model, "parameterization", "symmetric") == "reference"
    # A reference fit chose only the blocks of classes 1..K-1 (class 0 is fixed at 0).
    first = 1 if by_reference else 0
    free = np.arange(first * P, K * P)
    pen = _penalty_vector(model, P, K - first, lam, scale)
    flat = None
    if not by_reference:
        # Adding one vector to every class changes no probability: the flat
        # directions 1_K (x) e_q, for every term q without a penalty, for the
        # intercept only with one (the penalty pins the coefficients' mean).
        terms = range(P) if lam == 0 else ([0] if model.fit_intercept else [])
        flat = np.column_stack([np.kron(np.ones(K), np.eye(P)[:, q]) / np.sqrt(K)
                                for q in terms]) if len(terms) else None
    return ModelSpec(
        kind="softmax", family="multinomial", model_name=type(model).__name__, Theta=Theta,
        fit_intercept=bool(model.fit_intercept), terms=_terms(model), logit_outputs=classes,
        free=free, penalty=pen, flat=flat, table_outputs=[classes[j] for j in others],
        table_map=A,
        table_cols=np.concatenate([np.arange(j * P, (j + 1) * P) for j in others]),
        block_of=np.zeros(len(free), dtype=int), block_params=np.array([(K - 1.0) * P]),
        reference=classes[r], encode=_single_label_encoder(classes, "codes"))


#: Builders per estimator loss (the loss says which likelihood the model maximized).
KINDS: dict[str, Callable[..., ModelSpec]] = {
    "binomial": _logistic,
    "multinomial": _softmax,
    "multinomial_reference": _softmax,
    "multilabel": _ovr,
}


def _spec(model: Any, reference: Any, penalty_scale: Any) -> ModelSpec:
    """:func:`model_spec` of a model known to be fitted."""
    loss = getattr(model, "_loss_name", None)
    if loss not in KINDS:
        raise TypeError(f"inference supports LogisticRegression, SoftmaxRegression, "
                        f"OneVsRestLogistic, MultiLabelLogistic and linear multi-head models "
                        f"(MultiHeadClassifier, MultiLabelHeads); got {type(model).__name__}.")
    builder = _multilabel if getattr(model, "_multilabel", False) else KINDS[loss]
    if reference is not None and builder is not _softmax:
        raise ValueError(f"reference= chooses the baseline class of a softmax model; "
                         f"{type(model).__name__} has one logit per output, so leave it None.")
    _check_no_class_weight(model)
    return builder(model, _penalty_strength(model), penalty_scale, reference)


def model_spec(model: Any, *, reference: Any = None, penalty_scale: Any = None) -> ModelSpec:
    """The :class:`ModelSpec` of a fitted sigmax estimator.

    Raises
    ------
    ValueError
        For L1 / elastic-net fits, ``class_weight`` fits, a ``reference`` that is
        not a class, or a ``reference`` for a model other than softmax.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    return _spec(model, reference, penalty_scale)


# -- multi-head models -------------------------------------------------------------------------
@dataclass(frozen=True)
class _HeadView:
    """One head of a linear multi-head model as the single-output estimator it equals:
    the attributes :func:`_spec` reads."""

    coef_: np.ndarray
    intercept_: np.ndarray
    classes_: np.ndarray
    fit_intercept: bool
    penalty: Any
    C: Any
    l1_ratio: Any
    class_weight: Any
    _loss_name: str
    feature_names_in_: Any = None
    parameterization: str = "symmetric"
    _multilabel: bool = False


@dataclass(frozen=True)
class HeadSpec:
    """One head of a multi-head model for inference.

    Attributes
    ----------
    name : str
        The head (a column of the model's ``y``; a group or a label of MultiLabelHeads).
    spec : ModelSpec
        The head's likelihood: a softmax for a softmax head, a logistic for a sigmoid head.
    column : callable
        ``column(y) -> (labels (n,), known (n,) bool)``: the head's target in the
        model's ``y`` (as given to ``fit``), unknown entries filled with a class.
    """

    name: str
    spec: ModelSpec
    column: Callable[[Any], tuple[np.ndarray, np.ndarray]]


def head_specs(model: Any, *, reference: Any = None, penalty_scale: Any = None
               ) -> list[HeadSpec]:
    r"""The heads of a fitted linear multi-head model, each as its own likelihood.

    A linear :class:`~sigmax.MultiHeadClassifier` (and
    :class:`~sigmax.MultiLabelHeads`) minimizes
    :math:`C \sum_h \sum_i s_i \ell_{ih} + \tfrac12 \|W\|^2`: a sum over heads
    that share no parameter, so its optimum is each head's own optimum at the
    same ``C`` (a softmax regression, a logistic regression) and its information
    matrix is block diagonal over heads. Inference on the model is inference on
    each head, over the rows where its label is known.

    Raises
    ------
    ValueError
        For a model with a shared trunk (its hidden layers are not a likelihood
        with standard errors), or a ``reference`` (softmax heads compare with
        their first class).
    """
    from sklearn.utils.validation import check_is_fitted

    from ..estimators.multihead import HEAD_KINDS, head_columns

    check_is_fitted(model)
    if hasattr(model, "hidden_coefs_"):
        raise ValueError(
            f"{type(model).__name__} was fitted with a shared trunk (hidden="
            f"{getattr(model, 'hidden', None)!r}): its hidden layers make the model "
            "non-convex, and the sandwich standard errors of a likelihood do not apply. "
            "Fit linear heads (hidden=None) for inference.")
    if reference is not None:
        raise ValueError("reference= is for SoftmaxRegression; each softmax head of a "
                         "multi-head model is read against its first class.")
    layout = getattr(model, "layout_", None)  # MultiLabelHeads: labels -> head columns
    classes = getattr(model, "head_classes_", model.classes_)
    coef, names = np.asarray(model.coef_), getattr(model, "feature_names_in_", None)
    icpt = (np.asarray(model.intercept_) if model.fit_intercept
            else np.zeros(coef.shape[0]))
    out = []
    for name, kind in model.heads_.items():
        sl = model.head_slices_[name]
        softmax = HEAD_KINDS[kind].exclusive
        view = _HeadView(coef[sl], icpt[sl], np.asarray(classes[name]),
                         bool(model.fit_intercept), model.penalty, fitted_C(model),
                         model.l1_ratio, model.class_weight,
                         "multinomial" if softmax else "binomial", names)
        spec = _spec(view, None, penalty_scale)
        # A sigmoid head's one logit is its label's: named after the head, not "1".
        named = {} if softmax else {"table_outputs": [name],
                                    "logit_outputs": np.asarray([name], dtype=object)}
        spec = dataclasses.replace(spec, model_name=f"{type(model).__name__} head {name!r}",
                                   **named)

        def column(y: Any, name: str = name, classes: np.ndarray = view.classes_
                   ) -> tuple[np.ndarray, np.ndarray]:
            heads_y = layout.transform(y) if layout is not None else y
            col = np.asarray(head_columns(heads_y, model.heads_)[name])
            known = ~np.asarray(pd.isna(col), dtype=bool)
            out = np.empty(col.shape, dtype=classes.dtype)
            out[known] = col[known]
            out[~known] = classes[0]  # any class: the row's weight is 0
            return out, known

        out.append(HeadSpec(str(name), spec, column))
    return out
