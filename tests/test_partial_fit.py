"""Streaming partial_fit: repeated passes in batches reach the full-batch optimum."""

from __future__ import annotations

import numpy as np
import pytest

from sigmax import LogisticRegression, MultiLabelLogistic, OneVsRestLogistic, SoftmaxRegression
from sigmax.numerics import log_expit
from sigmax.penalties import make_penalty

N, D = 200, 5


def _problem(kind: str, seed: int = 0):
    r = np.random.default_rng(seed)
    X = r.normal(size=(N, D))
    if kind == "binary":
        return X, (X @ r.normal(size=D) + r.logistic(size=N) > 0).astype(int)
    if kind == "multilabel":
        return X, (X @ r.normal(size=(D, 3)) + r.logistic(size=(N, 3)) > 0).astype(int)
    return X, np.argmax(X @ r.normal(size=(D, 3)) + r.gumbel(size=(N, 3)), axis=1)


def _objective(model, X, y, C: float, penalty: str) -> float:
    """C * sum_i loss_i + r(W), from the model's predictions (the fit's objective)."""
    Z = np.atleast_2d(model.decision_function(X).T).T
    if isinstance(model, (OneVsRestLogistic, MultiLabelLogistic, LogisticRegression)):
        if isinstance(model, OneVsRestLogistic):
            Z, Y = model._logits(X), np.eye(3)[y]
        else:
            Y = y.reshape(len(y), -1)
        loss = -np.sum(Y * log_expit(Z) + (1 - Y) * log_expit(-Z))
    else:
        loss = -np.sum(model.predict_log_proba(X)[np.arange(len(y)), y])
    return C * loss + make_penalty(penalty).value(np.asarray(model.coef_, dtype=float).T)


def _stream(model, X, y, epochs: int = 20, batch: int = N // 10, **kw):
    classes = None if isinstance(model, MultiLabelLogistic) else np.unique(y)
    for epoch in range(epochs):
        order = np.random.default_rng(epoch).permutation(len(y))
        for a in range(0, len(y), batch):
            rows = order[a:a + batch]
            model.partial_fit(X[rows], y[rows], classes=classes, **kw)
    return model


CASES = [
    (LogisticRegression, "binary", "l2", 1.0),
    (SoftmaxRegression, "multiclass", "l2", 1.0),
    (OneVsRestLogistic, "multiclass", "l2", 1.0),
    (MultiLabelLogistic, "multilabel", "l2", 1.0),
    (LogisticRegression, "binary", "l1", 0.5),
    (SoftmaxRegression, "multiclass", "l1", 0.3),
]


@pytest.mark.parametrize(("cls", "kind", "penalty", "C"), CASES)
def test_repeated_passes_reach_the_full_batch_optimum(cls, kind, penalty, C):
    X, y = _problem(kind)
    full = cls(C=C, penalty=penalty, tol=1e-10).fit(X, y)
    stream = _stream(cls(C=C, penalty=penalty), X, y, epoch_weight=N)
    f_full = _objective(full, X, y, C, penalty)
    f_stream = _objective(stream, X, y, C, penalty)
    gap = (f_stream - f_full) / f_full
    assert -1e-9 < gap <= 1e-3, gap
    assert stream.n_iter_[0] == 200 and stream.n_seen_ == 20 * N


def test_l1_stream_keeps_exact_zeros():
    X, y = _problem("binary")
    X = np.column_stack([X, np.random.default_rng(5).normal(size=(N, 5)) * 0.01])
    full = LogisticRegression(C=0.05, penalty="l1", tol=1e-10).fit(X, y)
    stream = _stream(LogisticRegression(C=0.05, penalty="l1"), X, y, epoch_weight=N)
    assert np.any(full.coef_ == 0)
    assert np.any(stream.coef_ == 0)


def test_default_objective_is_every_row_seen():
    # Without epoch_weight the target is fit on all rows seen: E passes over
    # the data are fit on the data repeated E times, i.e. fit with C * E.
    X, y = _problem("binary", seed=1)
    stream = _stream(LogisticRegression(C=0.05), X, y, epochs=20)
    full = LogisticRegression(C=0.05 * 20, tol=1e-10).fit(X, y)
    gap = (_objective(stream, X, y, 1.0, "l2") - _objective(full, X, y, 1.0, "l2"))
    gap /= _objective(full, X, y, 1.0, "l2")
    assert gap <= 1e-2


def test_classes_required_on_first_call_and_checked_after():
    X, y = _problem("multiclass")
    model = SoftmaxRegression()
    with pytest.raises(ValueError, match="classes must be passed"):
        model.partial_fit(X[:20], y[:20])
    model.partial_fit(X[:20], y[:20], classes=[0, 1, 2])
    model.partial_fit(X[20:40], y[20:40])  # later calls need no classes
    with pytest.raises(ValueError, match="not in classes"):
        model.partial_fit(X[:20], y[:20] + 5)
    with pytest.raises(ValueError, match="differs"):
        model.partial_fit(X[:20], y[:20], classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:20, :3], y[:20])
    # A batch without some class is fine: every class keeps a probability column.
    one = SoftmaxRegression().partial_fit(X[y == 0][:10], y[y == 0][:10], classes=[0, 1, 2])
    assert one.predict_proba(X).shape == (N, 3)


def test_balanced_class_weight_is_refused():
    X, y = _problem("binary")
    with pytest.raises(ValueError, match="balanced"):
        LogisticRegression(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def test_sample_weight_counts_as_repeated_rows():
    X, y = _problem("binary")
    a = LogisticRegression().partial_fit(X[:20], y[:20], classes=[0, 1],
                                         sample_weight=np.full(20, 2.0))
    rows = np.repeat(np.arange(20), 2)
    b = LogisticRegression().partial_fit(X[rows], y[rows], classes=[0, 1])
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12)
    assert a.n_seen_ == b.n_seen_ == 40


def test_partial_fit_after_fit_continues_from_the_fit():
    X, y = _problem("binary")
    full = LogisticRegression(C=1.0, tol=1e-10).fit(X, y)
    coef = full.coef_.copy()
    full.partial_fit(X[:20], y[:20], epoch_weight=N)
    assert np.max(np.abs(full.coef_ - coef)) < 0.2  # one small step from the optimum
