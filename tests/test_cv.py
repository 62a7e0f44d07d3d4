"""Cross-validated C: scikit-learn's LogisticRegressionCV numbers, weighted scoring, sklearn API."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import make_classification_data, make_multilabel_data
from sklearn.linear_model import LogisticRegressionCV as SkLogisticRegressionCV
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks
from test_sklearn_checks import MULTILABEL_EXPECTED_FAILURES

from sigmax import (
    LogisticRegression,
    LogisticRegressionCV,
    MultiLabelHeads,
    MultiLabelHeadsCV,
    MultiLabelLogistic,
    MultiLabelLogisticCV,
    OneVsRestLogisticCV,
    SoftmaxRegression,
    SoftmaxRegressionCV,
)

CS = np.logspace(-3, 2, 6)


def _sklearn_cv(X, y, folds, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SkLogisticRegressionCV(Cs=CS, cv=folds, scoring="neg_log_loss", tol=1e-10,
                                      max_iter=10_000, **kw).fit(X, y)


@pytest.mark.parametrize("k", [2, 3])
def test_scores_and_chosen_C_equal_sklearn(k):
    X, y = make_classification_data(n=120, d=5, k=k, seed=4, noise=1.5)
    folds = list(StratifiedKFold(4).split(X, y))
    cls = LogisticRegressionCV if k == 2 else SoftmaxRegressionCV
    ours = cls(Cs=CS, cv=folds, tol=1e-10).fit(X, y)
    theirs = _sklearn_cv(X, y, folds)
    sk_scores = next(iter(theirs.scores_.values()))
    assert ours.scores_.shape == (4, len(CS))
    np.testing.assert_allclose(ours.scores_, sk_scores, atol=1e-3)
    assert ours.C_ == pytest.approx(theirs.C_[0])
    np.testing.assert_allclose(ours.Cs_, theirs.Cs_)
    # Refit at C_: the same model as scikit-learn's refit (up to softmax's centring).
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)
    assert ours.coefs_paths_.shape == (4, len(CS), *ours.coef_.shape)


def test_weighted_scoring_equals_hand_computed_weighted_log_loss():
    X, y = make_classification_data(n=90, d=4, k=2, seed=5, noise=1.5)
    sw = np.random.default_rng(5).uniform(0.1, 5.0, len(y))
    folds = list(StratifiedKFold(3).split(X, y))
    cv = LogisticRegressionCV(Cs=CS, cv=folds, tol=1e-10).fit(X, y, sample_weight=sw)
    train, test = folds[1]
    for j, C in enumerate(CS):
        m = LogisticRegression(C=C, tol=1e-10).fit(X[train], y[train], sample_weight=sw[train])
        p = m.predict_proba(X[test])[:, 1]
        t = y[test]
        by_hand = np.sum(sw[test] * (t * np.log(p) + (1 - t) * np.log1p(-p))) / sw[test].sum()
        assert cv.scores_[1, j] == pytest.approx(by_hand, rel=1e-6)
    # ... and differs from the unweighted score (so the weights did matter).
    unweighted = -log_loss(y[test], LogisticRegression(C=CS[2], tol=1e-10).fit(
        X[train], y[train], sample_weight=sw[train]).predict_proba(X[test]))
    assert abs(cv.scores_[1, 2] - unweighted) > 1e-3


def test_refit_false_averages_the_folds_best_coefficients():
    X, y = make_classification_data(n=90, d=4, k=3, seed=6)
    cv = SoftmaxRegressionCV(Cs=CS, cv=3, refit=False).fit(X, y)
    best = np.argmax(cv.scores_, axis=1)
    np.testing.assert_allclose(cv.coef_, cv.coefs_paths_[np.arange(3), best].mean(axis=0))
    assert cv.C_ == pytest.approx(np.mean(CS[best]))
    assert cv.predict(X).shape == (90,)


def test_ovr_and_multilabel_cv():
    X, y = make_classification_data(n=90, d=4, k=3, seed=7)
    ovr = OneVsRestLogisticCV(Cs=4, cv=3).fit(X, y)
    assert ovr.Cs_.tolist() == np.logspace(-4, 4, 4).tolist() and ovr.C_ in ovr.Cs_
    Xm, Y = make_multilabel_data(n=120, d=5, n_labels=3, seed=1)
    folds = list(KFold(3, shuffle=True, random_state=0).split(Xm))
    one = MultiLabelLogisticCV(Cs=CS, cv=folds, tol=1e-10).fit(Xm, Y)
    per = MultiLabelLogisticCV(Cs=CS, cv=folds, tol=1e-10, per_label=True).fit(Xm, Y)
    assert one.scores_per_label_.shape == (3, len(CS), 3)
    np.testing.assert_allclose(one.scores_, one.scores_per_label_.mean(axis=2))
    assert per.C_.shape == (3,)
    for lab in range(3):
        # Label lab's score at each C: a binary LogisticRegressionCV on that column alone.
        single = LogisticRegressionCV(Cs=CS, cv=folds, tol=1e-10).fit(Xm, Y[:, lab])
        np.testing.assert_allclose(one.scores_per_label_[:, :, lab], single.scores_,
                                   atol=1e-6)
        assert per.C_[lab] == single.C_
        np.testing.assert_allclose(per.coef_[lab], single.coef_[0], atol=1e-5)


def test_works_inside_cross_val_score_and_grid_search():
    X, y = make_classification_data(n=90, d=4, k=3, seed=8)
    scores = cross_val_score(SoftmaxRegressionCV(Cs=4, cv=3), X, y, cv=3)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    grid = GridSearchCV(LogisticRegressionCV(Cs=3, cv=3),
                        {"penalty": ["l1", "l2"]}, cv=3).fit(X, (y == 0).astype(int))
    assert grid.best_params_["penalty"] in ("l1", "l2")
    assert grid.best_estimator_.C_ in grid.best_estimator_.Cs_


def test_parameters_follow_the_base_estimator():
    names = set(LogisticRegressionCV().get_params())
    base = set(LogisticRegression().get_params()) - {"C"}
    assert names == base | {"Cs", "cv", "scoring", "refit", "patience", "n_jobs"}
    assert "parameterization" in SoftmaxRegressionCV().get_params()
    assert MultiLabelLogisticCV().get_params()["per_label"] is False
    with pytest.raises(TypeError, match="unexpected keyword"):
        LogisticRegressionCV(C=1.0)
    assert isinstance(LogisticRegressionCV(), LogisticRegression)
    assert isinstance(MultiLabelLogisticCV(), MultiLabelLogistic)
    assert isinstance(SoftmaxRegressionCV(), SoftmaxRegression)


@pytest.mark.parametrize("Cs", [0, [1.0, -2.0], "ten"])
def test_bad_Cs_say_what_to_pass(Cs):
    X, y = make_classification_data(k=2)
    with pytest.raises(ValueError, match="Cs"):
        LogisticRegressionCV(Cs=Cs).fit(X, y)


_WEIGHTS_MOVE_FOLDS = (
    "the check compares weights of 2 with duplicated rows; the duplicates land in different "
    "folds than a weighted row does, so the cross-validated C (and the model) can differ "
    "(it does for OneVsRestLogisticCV on the check's dense data; the others happen to pick "
    "the same C); the weighted fit at a fixed C is checked by the base estimators")


def _expected_failed_checks(estimator):
    out = {"check_sample_weight_equivalence_on_dense_data": _WEIGHTS_MOVE_FOLDS,
           "check_sample_weight_equivalence_on_sparse_data": _WEIGHTS_MOVE_FOLDS}
    if isinstance(estimator, (MultiLabelLogistic, MultiLabelHeads)):
        out.update(MULTILABEL_EXPECTED_FAILURES)
    if isinstance(estimator, MultiLabelHeads):
        out["check_class_weight_classifiers"] = (
            "the check fits a 1-D class vector y with class_weight={0: 1000, 1: 0.0001}; "
            "MultiLabelHeads needs a 2-D indicator matrix, and its class_weight is None or "
            "'balanced' for every head at once (a dict would have to name the classes of "
            "heads discovered only during fit)")
    return out


@parametrize_with_checks(
    [LogisticRegressionCV(Cs=3, cv=3), SoftmaxRegressionCV(Cs=3, cv=3),
     OneVsRestLogisticCV(Cs=3, cv=3), MultiLabelLogisticCV(Cs=3, cv=3),
     MultiLabelHeadsCV(Cs=3, cv=3)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_cli_fit_with_cross_validated_C(tmp_path):
    import pandas as pd
    from click.testing import CliRunner

    from sigmax import load
    from sigmax.cli import main

    X, y = make_classification_data(n=120, d=3, k=3, seed=9, noise=1.5)
    path = tmp_path / "d.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).assign(label=np.array(["x", "y", "z"])[y]).to_csv(
        path, index=False)
    model = tmp_path / "m.safetensors"
    res = CliRunner().invoke(main, ["fit", str(path), "-t", "label", "--model", "softmax",
                                    "--C", "cv", "--Cs", "0.01,0.1,1,10", "--cv", "3",
                                    "-o", str(model)])
    assert res.exit_code == 0, res.output
    assert "Cross-validated C = " in res.output
    est = load(model)
    assert type(est) is SoftmaxRegression and est.C in (0.01, 0.1, 1.0, 10.0)
    # The same choice as the estimator on the standardized table.
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    cv = SoftmaxRegressionCV(Cs=[0.01, 0.1, 1, 10], cv=3).fit(Xs, np.array(["x", "y", "z"])[y])
    assert est.C == cv.C_
    bad = CliRunner().invoke(main, ["fit", str(path), "-t", "label", "--C", "often",
                                    "-o", str(model)])
    assert bad.exit_code == 2 and "neither a positive number nor 'cv'" in bad.output


def test_multilabel_cv_with_unknown_labels_and_sparse_X():
    import scipy.sparse as sp

    Xm, Y = make_multilabel_data(n=120, d=5, n_labels=3, seed=2)
    Yn = Y.astype(float)
    Yn[5:15, 1] = np.nan  # label 1 unknown on ten rows: masked in fits and in scoring
    folds = list(KFold(3, shuffle=True, random_state=1).split(Xm))
    cv = MultiLabelLogisticCV(Cs=CS, cv=folds, tol=1e-10).fit(sp.csr_matrix(Xm), Yn)
    known = ~np.isnan(Yn[:, 1])
    pos = np.cumsum(known) - 1  # row index -> index among the known rows
    sub = [(pos[tr[known[tr]]], pos[te[known[te]]]) for tr, te in folds]
    single = LogisticRegressionCV(Cs=CS, tol=1e-10, cv=sub).fit(Xm[known], Y[known, 1])
    np.testing.assert_allclose(cv.scores_per_label_[:, :, 1], single.scores_, atol=1e-6)
    assert cv.predict(Xm).shape == Y.shape


def test_save_writes_the_plain_model_at_C_(tmp_path):
    from sigmax import load

    X, y = make_classification_data(n=90, d=4, k=3, seed=10)
    cv = SoftmaxRegressionCV(Cs=[0.1, 1.0], cv=KFold(3, shuffle=True, random_state=0)).fit(X, y)
    cv.save(tmp_path / "m.safetensors")
    est = load(tmp_path / "m.safetensors")
    assert type(est) is SoftmaxRegression and est.C == cv.C_
    np.testing.assert_allclose(est.predict_proba(X), cv.predict_proba(X))
    per = MultiLabelLogisticCV(Cs=[0.1, 1.0], cv=3, per_label=True).fit(
        *make_multilabel_data(n=90, d=4, n_labels=2, seed=3))
    if np.ndim(per.C_) and len(set(per.C_.tolist())) > 1:
        with pytest.raises(ValueError, match="one C per label"):
            per.save(tmp_path / "p.safetensors")


def test_validation_fold_with_a_class_the_training_fold_never_saw():
    # Rare classes (e.g. label sets in the study): log-loss clipped, not an error.
    import numpy as np

    from sigmax import SoftmaxRegressionCV

    r = np.random.default_rng(0)
    X = r.normal(size=(60, 3))
    y = np.r_[np.arange(57) % 3, [3, 4, 5]]  # three classes of one row each
    folds = [(np.arange(0, 40), np.arange(40, 60)), (np.arange(20, 60), np.arange(0, 20))]
    m = SoftmaxRegressionCV(Cs=[0.1, 1.0], cv=folds).fit(X, y)
    assert np.all(np.isfinite(m.scores_))
    assert m.C_ in (0.1, 1.0)


def test_folds_side_by_side_give_the_results_of_folds_one_after_the_other(monkeypatch):
    import sigmax._parallel as par

    X, y = make_classification_data(n=150, d=6, k=3, seed=8, noise=1.2)
    together = SoftmaxRegressionCV(Cs=CS, cv=4, tol=1e-8)
    monkeypatch.setattr(par, "blas_threads", lambda: 2)
    together.fit(X, y)
    monkeypatch.setattr(par, "blas_threads", lambda: 1)
    alone = SoftmaxRegressionCV(Cs=CS, cv=4, tol=1e-8).fit(X, y)
    np.testing.assert_array_equal(together.scores_, alone.scores_)
    np.testing.assert_array_equal(together.coefs_paths_, alone.coefs_paths_)
    assert together.C_ == alone.C_


def test_refit_from_the_folds_mean_is_the_optimum_at_C_():
    X, y = make_classification_data(n=150, d=6, k=3, seed=9, noise=1.2)
    cv = SoftmaxRegressionCV(Cs=CS, cv=3, tol=1e-10).fit(X, y)
    cold = SoftmaxRegression(C=cv.C_, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(cv.predict_proba(X), cold.predict_proba(X), atol=1e-8)
    assert cv.fit_record_.n_iter < cold.fit_record_.n_iter


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X[:600]), y[:600]


def test_patience_stops_each_fold_after_consecutive_worse_scores():
    X, y = _digits()
    Cs = np.logspace(-3, 3, 13)
    full = SoftmaxRegressionCV(Cs=Cs, cv=3).fit(X, y)
    early = SoftmaxRegressionCV(Cs=Cs, cv=3, patience=2).fit(X, y)
    S = early.scores_
    assert np.isnan(S).any(), "the log-loss of digits rises at weak penalties: paths stop"
    for f in range(S.shape[0]):
        reached = np.flatnonzero(~np.isnan(S[f]))
        # Reached points are a prefix in rising C, equal to the full path's scores.
        assert np.array_equal(reached, np.arange(reached.size))
        np.testing.assert_allclose(S[f, reached], full.scores_[f, reached], atol=1e-6)
        best = int(np.argmax(S[f, reached]))
        if reached.size < len(Cs):  # stopped: exactly `patience` worse points after the best
            assert reached.size - 1 - best == 2
            assert np.all(S[f, best + 1:reached.size] <= S[f, best])
        assert np.isnan(early.coefs_paths_[f, reached.size:]).all()
    # C_ among the C values every fold reached: here the full search's choice too.
    common = ~np.isnan(S).any(axis=0)
    assert early.C_ == Cs[common][np.argmax(S[:, common].mean(axis=0))]
    assert early.C_ == full.C_
    np.testing.assert_allclose(early.predict_proba(X), full.predict_proba(X), atol=1e-5)


def test_patience_with_refit_false_and_per_label():
    X, y = _digits()
    Cs = np.logspace(-3, 3, 9)
    avg = SoftmaxRegressionCV(Cs=Cs, cv=3, patience=1, refit=False).fit(X, y)
    assert np.isfinite(avg.coef_).all() and avg.C_ > 0
    Y = np.c_[y % 2, y > 5, y == 3]
    ml = MultiLabelLogisticCV(Cs=Cs, cv=3, patience=1, per_label=True).fit(X, Y)
    assert ml.C_.shape == (3,) and np.isfinite(ml.coef_).all()
    reached = ~np.isnan(ml.scores_per_label_).any(axis=(0, 2))
    assert set(ml.C_) <= set(Cs[reached])


@pytest.mark.parametrize("patience", [0, -1, 1.5, True, "2"])
def test_bad_patience_says_what_to_pass(patience):
    X, y = _digits()
    with pytest.raises(ValueError, match="patience must be None or an integer >= 1"):
        SoftmaxRegressionCV(Cs=3, cv=2, patience=patience).fit(X, y)


def _exclusive_labels(n=300, seed=0):
    """Two labels that exclude each other (one genre of three, the third unnamed) and one
    independent label: MultiLabelHeads finds a softmax head and a sigmoid."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    genre = np.argmax(X[:, :2] @ np.array([[2, -2, 0], [0, 2, -2]])
                      + rng.gumbel(size=(n, 3)), axis=1)
    return X, np.column_stack([genre == 0, genre == 1, X[:, 2] + rng.logistic(size=n) > 0
                               ]).astype(float)


def test_heads_cv_scores_are_each_labels_log_loss_of_fits_at_each_C():
    X, Y = _exclusive_labels()
    Y[::17, 2] = np.nan  # an unknown entry counts in no score of its label
    folds = list(KFold(3, shuffle=True, random_state=1).split(X))
    cv = MultiLabelHeadsCV(Cs=CS, cv=folds, tol=1e-10).fit(X, Y)
    assert cv.heads == {"0|1": "softmax", "2": "sigmoid"}
    assert cv.scores_per_label_.shape == (3, len(CS), 3)
    np.testing.assert_allclose(cv.scores_, cv.scores_per_label_.mean(axis=2))
    for f, (tr, te) in enumerate(folds):
        for i, C in enumerate(CS):
            P = MultiLabelHeads(C=C, tol=1e-10).fit(X[tr], Y[tr]).predict_proba(X[te])
            for lab in range(3):
                known = ~np.isnan(Y[te, lab])
                want = -log_loss(Y[te, lab][known], P[known, lab], labels=[0, 1])
                assert cv.scores_per_label_[f, i, lab] == pytest.approx(want, abs=1e-6)
    best = int(np.argmax(cv.scores_.mean(axis=0)))
    assert cv.C_ == CS[best]
    ref = MultiLabelHeads(C=CS[best], tol=1e-10).fit(X, Y)
    np.testing.assert_allclose(cv.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(cv.predict_proba(X), ref.predict_proba(X), atol=1e-7)


def test_heads_cv_takes_any_binary_scorer_and_no_trunk():
    X, Y = _exclusive_labels(n=240, seed=2)
    auc = MultiLabelHeadsCV(Cs=[0.01, 1.0], cv=3, scoring="roc_auc").fit(X, Y)
    assert np.all((auc.scores_ > 0.5) & (auc.scores_ <= 1.0))
    assert "hidden" not in auc.get_params() and "patience" in auc.get_params()
    with pytest.raises(TypeError, match="hidden"):
        MultiLabelHeadsCV(hidden=(8,))
    with pytest.raises(ValueError, match="refit=True"):
        MultiLabelHeadsCV(Cs=2, refit=False).fit(X, Y)
    with pytest.raises(ValueError, match="no offset"):
        MultiLabelHeadsCV(Cs=2).fit(X, Y, offset=np.zeros((len(X), 3)))


def test_small_folds_run_one_after_the_other_and_large_ones_side_by_side(monkeypatch):
    # n_jobs=None: folds whose products are below FOLD_PARALLEL_MIN_WORK run on the
    # calling thread (side by side they only trade the GIL); larger ones, or an
    # explicit n_jobs, run on the fold threads. The scores do not depend on it.
    import threading

    from sigmax.dataterms import tuning
    from sigmax.estimators import cv as cv_module

    threads: list[str] = []
    real = cv_module.regularization_path

    def spied(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(cv_module, "regularization_path", spied)
    monkeypatch.setattr(cv_module._parallel, "blas_threads", lambda: 2)
    X, y = make_classification_data(n=150, d=4, k=3, seed=2)
    folds = list(StratifiedKFold(3).split(X, y))
    assert cv_module._fold_work(X, y, folds) == 100 * 4 * 3
    seq = SoftmaxRegressionCV(Cs=CS, cv=folds).fit(X, y)
    assert len(threads) == 3 and not any(t.startswith("sigmax-fold") for t in threads)
    threads.clear()
    SoftmaxRegressionCV(Cs=CS, cv=folds, n_jobs=2).fit(X, y)
    assert all(t.startswith("sigmax-fold") for t in threads)
    threads.clear()
    monkeypatch.setattr(tuning, "FOLD_PARALLEL_MIN_WORK", 100 * 4 * 3)
    par = SoftmaxRegressionCV(Cs=CS, cv=folds).fit(X, y)
    assert all(t.startswith("sigmax-fold") for t in threads)
    np.testing.assert_array_equal(par.scores_, seq.scores_)
    assert par.C_ == seq.C_


def test_fold_work_counts_stored_values_and_label_columns():
    import scipy.sparse as sp

    from sigmax.estimators import cv as cv_module

    X, Y = make_multilabel_data(n=60, d=5, n_labels=4, seed=1)
    folds = list(KFold(3).split(X))
    assert cv_module._fold_work(X, Y, folds) == 40 * 5 * 4
    Xs = sp.random(60, 50, density=0.1, format="csr", random_state=0)
    y = np.arange(60) % 2
    assert cv_module._fold_work(Xs, y, folds) == pytest.approx(40 * Xs.nnz / 60)
