"""Regularization paths: every point is the optimum at its C; warm starts pay; screening is safe."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import make_classification_data, make_multilabel_data

from sigmax import (
    LogisticRegression,
    MultiLabelLogistic,
    OneVsRestLogistic,
    SoftmaxRegression,
    regularization_path,
)

CS = np.array([1.0, 0.01, 10.0, 0.1])  # deliberately unsorted: results keep this order


def _wide_binary(n: int = 120, d: int = 300, seed: int = 0):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, d))
    w = np.zeros(d)
    w[:6] = [2.0, -2.0, 1.5, -1.0, 1.0, 0.5]
    y = (X @ w + r.standard_normal(n) > 0).astype(np.int64)
    return X, y


CASES = [
    ("binary-l2", LogisticRegression(tol=1e-10), lambda: make_classification_data(k=2)),
    ("binary-l1", LogisticRegression(penalty="l1", tol=1e-10),
     lambda: make_classification_data(k=2)),
    ("softmax-enet", SoftmaxRegression(penalty="elasticnet", l1_ratio=0.5, tol=1e-10),
     lambda: make_classification_data(k=3)),
    ("softmax-reference", SoftmaxRegression(parameterization="reference", tol=1e-10),
     lambda: make_classification_data(k=3)),
    ("ovr-l1", OneVsRestLogistic(penalty="l1", tol=1e-10), lambda: make_classification_data(k=3)),
    ("multilabel-l2", MultiLabelLogistic(tol=1e-10), make_multilabel_data),
]


@pytest.mark.parametrize("name,model,data", CASES, ids=[c[0] for c in CASES])
def test_every_point_equals_an_independent_fit(name, model, data):
    X, y = data()
    path = regularization_path(model, X, y, CS)
    np.testing.assert_array_equal(path.Cs, CS)
    for i, C in enumerate(CS):
        ref = model.__class__(**{**model.get_params(), "C": float(C)}).fit(X, y)
        assert path.coefs[i].shape == ref.coef_.shape
        np.testing.assert_allclose(path.coefs[i], ref.coef_, atol=1e-6, rtol=1e-5)
        np.testing.assert_allclose(path.intercepts[i], ref.intercept_, atol=1e-6, rtol=1e-5)
        # The reported objective is scikit-learn's C * sum loss + r(W), computed here by hand.
        if name.startswith(("multilabel", "ovr")):  # a sum of binary losses per column
            Z = X @ ref.coef_.T + ref.intercept_
            Y = y if y.ndim == 2 else (y[:, None] == ref.classes_).astype(float)
            loss = np.sum(np.logaddexp(0, Z) - Y * Z)
        else:
            proba = ref.predict_proba(X)
            loss = -np.sum(np.log(proba[np.arange(len(y)), np.searchsorted(ref.classes_, y)]))
        W = ref.coef_[1:] if name == "softmax-reference" else ref.coef_
        rho = {"l1": 1.0, "elasticnet": 0.5}.get(model.penalty, 0.0)
        pen = rho * np.abs(W).sum() + 0.5 * (1 - rho) * np.sum(W ** 2)
        assert path.objective[i] == pytest.approx(C * loss + pen, rel=1e-7)


def test_warm_started_path_takes_fewer_iterations_than_cold_fits():
    X, y = make_classification_data(n=200, d=8, k=3, seed=1)
    Cs = np.logspace(-3, 3, 12)
    for model in (SoftmaxRegression(tol=1e-8, solver="lbfgs"),
                  LogisticRegression(penalty="l1", tol=1e-8)):
        yy = y if isinstance(model, SoftmaxRegression) else (y == 0).astype(int)
        path = regularization_path(model, X, yy, Cs)
        cold = sum(model.__class__(**{**model.get_params(), "C": C}).fit(X, yy).n_iter_[0]
                   for C in Cs)
        assert path.n_iter.sum() < cold


def test_secant_start_in_one_over_C_saves_newton_steps_and_keeps_every_optimum(monkeypatch):
    from sigmax._path_fitter import PathFitter

    X, y = make_classification_data(n=2000, d=20, k=5, seed=4, noise=1.0)
    Cs = np.logspace(-3, 2, 8)
    model = SoftmaxRegression(tol=1e-8)
    taken = []
    secant = PathFitter.start

    def spied(self, objective, C):
        w = secant(self, objective, C)
        taken.append(w is not self.w)
        return w

    monkeypatch.setattr(PathFitter, "start", spied)
    path = regularization_path(model, X, y, Cs)
    assert sum(taken) >= 3  # the secant start is better than the last solution there
    monkeypatch.setattr(PathFitter, "start", lambda self, objective, C: self.w)
    plain = regularization_path(model, X, y, Cs)
    assert path.n_iter.sum() < plain.n_iter.sum()
    np.testing.assert_allclose(path.objective, plain.objective, rtol=1e-9)  # both at tol 1e-8
    # A repeated C (a zero step in 1/C) gives no secant and no error.
    repeated = regularization_path(model, X, y, [0.1, 0.1, 1.0, 1.0, 10.0])
    np.testing.assert_allclose(repeated.objective[::2], regularization_path(
        model, X, y, [0.1, 1.0, 10.0]).objective, rtol=1e-9)
    # An L1 path never starts from a secant (it would fill the zeros).
    monkeypatch.setattr(PathFitter, "start", spied)
    taken.clear()
    regularization_path(SoftmaxRegression(penalty="l1", tol=1e-8), X, y, Cs, screening=False)
    assert not any(taken)


@pytest.mark.parametrize("sparse", [False, True])
def test_strong_rules_touch_few_columns_and_drop_no_active_feature(sparse):
    X, y = _wide_binary()
    Xs = sp.csr_matrix(X) if sparse else X
    Cs = np.geomspace(0.02, 0.5, 12)
    model = LogisticRegression(penalty="l1", tol=1e-10)
    screened = regularization_path(model, Xs, y, Cs, screening=True)
    full = regularization_path(model, Xs, y, Cs, screening=False)
    assert screened.n_active.min() < X.shape[1] / 4  # the early points fit few columns
    np.testing.assert_allclose(screened.coefs, full.coefs, atol=1e-7)
    np.testing.assert_allclose(screened.objective, full.objective, rtol=1e-10)
    for i, C in enumerate(Cs):
        ref = LogisticRegression(penalty="l1", tol=1e-10, C=C).fit(X, y)
        nonzero = np.abs(ref.coef_[0]) > 1e-8
        assert np.all(screened.coefs[i][0][nonzero] != 0)
        # KKT at the screened solution, on every feature it set to zero: |grad_j| <= 1 / C.
        w, b = screened.coefs[i][0], screened.intercepts[i][0]
        p = 1 / (1 + np.exp(-(X @ w + b)))
        grad = X.T @ (p - y)
        zero = w == 0
        assert np.all(np.abs(grad[zero]) <= 1 / C + 1e-6 * len(y))


def test_elastic_net_screening_equals_the_plain_path_for_softmax():
    X, y = make_classification_data(n=150, d=60, k=4, seed=2, noise=2.0)
    model = SoftmaxRegression(penalty="elasticnet", l1_ratio=0.7, tol=1e-10)
    Cs = np.geomspace(0.005, 1.0, 8)
    a = regularization_path(model, X, y, Cs, screening=True)
    b = regularization_path(model, X, y, Cs, screening=False)
    np.testing.assert_allclose(a.coefs, b.coefs, atol=1e-7)


def test_sample_weights_are_used():
    X, y = make_classification_data(k=2)
    sw = np.random.default_rng(3).uniform(0.2, 3.0, len(y))
    path = regularization_path(LogisticRegression(tol=1e-10), X, y, [0.1, 1.0], sw)
    ref = LogisticRegression(tol=1e-10, C=1.0).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(path.coefs[1], ref.coef_, atol=1e-7)


def test_callback_sees_each_point_and_the_model_is_not_modified():
    X, y = _wide_binary(d=40)
    model = LogisticRegression(penalty="l1", C=3.0)
    seen = []
    path = regularization_path(model, X, y, [1.0, 0.1],
                               callback=lambda i, est: seen.append((i, est.predict_proba(X))))
    assert [i for i, _ in seen] == [1, 0]
    assert model.C == 3.0 and not model.warm_start and not hasattr(model, "coef_")
    assert seen[0][1].shape == (len(y), 2) and path.coefs.shape == (2, 1, 40)


@pytest.mark.parametrize("Cs", [[], [1.0, -1.0], [np.inf]])
def test_bad_grids_say_what_to_pass(Cs):
    X, y = make_classification_data(k=2)
    with pytest.raises(ValueError, match="Cs must be"):
        regularization_path(LogisticRegression(), X, y, Cs)


def test_screening_needs_an_l1_part():
    X, y = make_classification_data(k=2)
    with pytest.raises(ValueError, match="screening=True needs"):
        regularization_path(LogisticRegression(), X, y, [1.0], screening=True)


def test_bench_paths_group_checks_every_point(tmp_path):
    from click.testing import CliRunner

    from sigmax.bench.paths import run
    from sigmax.cli import main

    out = run(["breast_cancer_l1"], scale=0.3, n_folds=2, Cs=[0.1, 1.0], repeats=1,
              libraries=["sigmax"], out_dir=tmp_path, verbose=False)
    rec = out["problems"][0]["results"][0]
    assert rec["reached"] and rec["max_gap"] <= 1e-6
    assert (tmp_path / "paths-scale0.3.md").read_text().startswith("| problem")
    res = CliRunner().invoke(main, ["bench", "paths", "breast_cancer_l1", "--scale", "0.3",
                                    "--library", "sigmax", "--repeats", "1",
                                    "--out", str(tmp_path / "cli")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "cli" / "paths-scale0.3.json").is_file()
    with pytest.raises(ValueError, match="Unknown paths problem"):
        run(["sparse_text"], out_dir=None, verbose=False)


def _correlated_softmax_data():
    """Five classes, 20 features of which pairs are nearly collinear: CG needs many steps."""
    X, y = make_classification_data(n=300, d=20, k=5, seed=3, noise=0.5)
    X[:, 1::2] = X[:, 0::2] + 0.05 * X[:, 1::2]
    return X, y


def test_block_preconditioned_newton_cg_finds_the_same_optimum_in_fewer_products():
    from sigmax._path_newton import BlockNewtonCG, applies
    from sigmax.losses import LOSSES
    from sigmax.objective import LinearObjective
    from sigmax.penalties import make_penalty
    from sigmax.solvers import SOLVERS

    X, y = _correlated_softmax_data()

    def objective():
        return LinearObjective(LOSSES["multinomial"], X, y, np.ones(len(y)), 5, C=100.0,
                               penalty=make_penalty("l2"))

    assert applies(objective())
    w0 = np.zeros(objective().n_params)
    plain_obj, block_obj = objective(), objective()
    plain = SOLVERS["newton-cg"].solve(plain_obj, w0, tol=1e-10, max_iter=100)
    block = BlockNewtonCG().solve(block_obj, w0, tol=1e-10, max_iter=100)
    assert plain.converged and block.converged and block.grad_norm <= 1e-10
    # Same optimum: equal objectives; coefficients within the tolerance over the
    # smallest curvature (1 / (C n) = 3e-5 here).
    assert block.objective == pytest.approx(plain.objective, rel=1e-12)
    np.testing.assert_allclose(block.coef, plain.coef, atol=2e-5)
    assert block_obj.n_hessp_evals < plain_obj.n_hessp_evals


def test_softmax_path_with_block_preconditioning_equals_independent_fits(monkeypatch):
    import sigmax._path_newton as pn

    calls = []
    original = pn.BlockNewtonCG.direction

    def counted(self, *args):
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(pn.BlockNewtonCG, "direction", counted)
    # ... and its conjugate gradients run on float32 Hessian products
    # (sigmax.dataterms.float32_hessp) while the points still reach tol 1e-10.
    from sigmax.dataterms.float32_hessp import Float32Hessp

    low = []
    original_hessp = Float32Hessp.hessp
    monkeypatch.setattr(Float32Hessp, "hessp",
                        lambda self, w, v: low.append(1) or original_hessp(self, w, v))
    # X is one block here: the inner solves run compiled (sigmax.solvers.compiled_cg),
    # on the float32 twin's operands.
    from sigmax.solvers.compiled_cg import CompiledCG

    original_solve = CompiledCG.solve
    monkeypatch.setattr(CompiledCG, "solve", lambda self, *a: (
        low.append(self.X.dtype == np.float32) or original_solve(self, *a)))
    # Handwritten digits (500 rows, 64 pixels, 10 classes): correlated pixels,
    # near-separable classes; "auto" picks L-BFGS for the first point there.
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X[:500], y[:500]
    X = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    Cs = np.logspace(-3, 2, 6)
    model = SoftmaxRegression(tol=1e-10)
    path = regularization_path(model, X, y, Cs)
    assert calls, "the weakly regularized points should use the block preconditioner"
    assert low and all(low), "the path's Newton-CG should form float32 Hessian products"
    for i, C in enumerate(Cs):
        ref = SoftmaxRegression(tol=1e-10, C=float(C)).fit(X, y)
        # The same optimum: equal objectives and the same probabilities. (The
        # coefficients themselves may differ by |g| / mu, up to 1e-4 at C = 100
        # on these near-separable classes, where the curvature mu is 1 / (C n).)
        assert path.objective[i] == pytest.approx(
            ref.fit_record_.objective * C * len(y), rel=1e-10)
        Z = X @ path.coefs[i].T + path.intercepts[i]
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        np.testing.assert_allclose(P / P.sum(axis=1, keepdims=True), ref.predict_proba(X),
                                   atol=1e-6)


@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_a_true_callback_stops_the_path_and_leaves_nan(penalty):
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Cs = [10.0, 0.01, 1.0, 0.1]  # any order: the path runs in rising C
    seen = []

    def stop_after_two(i, est):
        seen.append(Cs[i])
        return len(seen) == 2

    path = regularization_path(LogisticRegression(penalty=penalty), X, y, Cs,
                               callback=stop_after_two)
    assert seen == [0.01, 0.1]
    full = regularization_path(LogisticRegression(penalty=penalty), X, y, Cs)
    for i, C in enumerate(Cs):
        if C in seen:
            np.testing.assert_allclose(path.coefs[i], full.coefs[i])
            assert path.n_iter[i] > 0
        else:
            assert np.isnan(path.coefs[i]).all() and np.isnan(path.intercepts[i]).all()
            assert np.isnan(path.objective[i]) and path.n_iter[i] == 0
