"""glmnet's grouped multinomial lasso, ``penalty="group"``: r(W) = sum_j ||W[j, :]||_2.

KKT conditions at the solution, the block soft-thresholding prox and the
minimum-norm subgradient by hand, equality with the L1 penalty when K = 1,
whole features dropped for every class, and wrong solver pairings that fail
before any work with the fix in the message."""

from __future__ import annotations

import numpy as np
import pytest

from sigmax import LogisticRegression, SoftmaxRegression
from sigmax.cli import main
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective
from sigmax.penalties import PENALTIES, make_penalty
from sigmax.solvers import SOLVERS, choose_solver

TOL = 1e-9
#: The solvers that can take the grouped lasso, from their declarations.
GROUP_SOLVERS = sorted(n for n, s in SOLVERS.items() if not s.missing(make_penalty("group")))


def softmax_data(n=150, d=8, K=3, informative=4, seed=0):
    """K Gaussian classes that differ in the first ``informative`` features only."""
    r = np.random.default_rng(seed)
    y = np.arange(n) % K
    means = r.normal(size=(K, d))
    means[:, informative:] = 0.0
    X = means[y] + r.normal(size=(n, d))
    return X, y


def group_objective(C, loss_name="multinomial", seed=0):
    X, y = softmax_data(seed=seed)
    loss = LOSSES[loss_name]
    k = loss.n_outputs(3)
    sw = np.random.default_rng(seed + 1).uniform(0.5, 2.0, size=len(y))
    obj = LinearObjective(loss, X, y, sw, k, C=C, penalty=make_penalty("group"))
    return obj, sw


def test_group_lasso_is_registered_and_usable_by_auto():
    assert "group" in PENALTIES
    assert "proximal" in GROUP_SOLVERS
    assert "proximal-newton" not in GROUP_SOLVERS  # its inner solver needs a separable L1
    assert all("smooth" in SOLVERS[s].requires for s in ("lbfgs", "newton-cholesky"))
    obj, _ = group_objective(C=0.1)
    assert choose_solver(obj) in GROUP_SOLVERS


@pytest.mark.parametrize("solver", GROUP_SOLVERS)
@pytest.mark.parametrize("C", [0.02, 0.1])
def test_kkt_conditions_at_the_solution(solver, C):
    r"""Zero rows: ||G_j|| <= lambda; nonzero rows: G_j + lambda W_j / ||W_j|| = 0;
    intercepts: G = 0. G is the gradient of the data term, lambda = 1 / (C S)."""
    obj, sw = group_objective(C)
    res = SOLVERS[solver].solve(obj, obj.zeros(), tol=TOL, max_iter=20_000)
    assert res.converged, res.message
    d = obj.n_features
    lam = 1.0 / (C * sw.sum())
    G = obj.value_and_grad(res.coef)[1].reshape(obj.n_rows, obj.k)
    W = res.coef.reshape(obj.n_rows, obj.k)[:d]
    norms = np.linalg.norm(W, axis=1)
    zero = norms == 0
    assert np.abs(G[d:]).max() <= TOL  # intercepts: unpenalized
    assert np.all(np.linalg.norm(G[:d][zero], axis=1) <= lam + TOL)
    resid = G[:d][~zero] + lam * W[~zero] / norms[~zero, None]
    assert np.abs(resid).max(initial=0.0) <= 10 * TOL
    assert res.objective == pytest.approx(obj.objective(res.coef), rel=1e-12)


def test_prox_is_block_soft_thresholding_by_hand():
    pen = make_penalty("group")
    V = np.array([[3.0, 4.0], [0.3, -0.4], [0.0, 0.0], [-6.0, 8.0]])
    P = pen.prox(V, 2.0)  # threshold 2: row norms 5, 0.5, 0, 10
    np.testing.assert_allclose(P, [[1.8, 2.4], [0, 0], [0, 0], [-4.8, 6.4]], rtol=1e-15)
    assert pen.value(V) == pytest.approx(5 + 0.5 + 0 + 10, rel=1e-15)
    assert pen.scaled(3.0).value(V) == pytest.approx(3 * 15.5, rel=1e-15)


def test_min_norm_subgradient_by_hand():
    pen = make_penalty("group").scaled(2.0)
    W = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, -4.0]])
    G = np.array([[1.2, 1.6], [3.0, 4.0], [1.0, 1.0]])
    out = pen.min_norm_subgradient(W, G)
    # Zero rows: G_j shrunk by 2 (norms 2 -> 0, 5 -> 3); nonzero: G_j + 2 W_j / 5.
    np.testing.assert_allclose(out, [[0, 0], [1.8, 2.4], [2.2, -0.6]], rtol=1e-15, atol=1e-15)


def test_equals_l1_when_k_is_one(rng):
    """One output: each group is one coefficient, so the groups are the L1 norm."""
    group, l1 = make_penalty("group"), make_penalty("l1")
    W = rng.normal(size=(7, 1))
    W[:3] = 0
    G = rng.normal(size=(7, 1))
    assert group.value(W) == pytest.approx(l1.value(W), rel=1e-15)
    np.testing.assert_allclose(group.prox(W, 0.4), l1.prox(W, 0.4), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(group.min_norm_subgradient(W, G),
                               l1.min_norm_subgradient(W, G), rtol=1e-15, atol=1e-15)
    # The binary estimator: the same coefficients (one output, k = 1).
    X, y = softmax_data()
    yb = y == 0
    fits = {p: LogisticRegression(penalty=p, C=0.05, tol=1e-10).fit(X, yb)
            for p in ("group", "l1")}
    assert (fits["l1"].coef_ == 0).any()
    np.testing.assert_allclose(fits["group"].coef_, fits["l1"].coef_, atol=1e-8)
    np.testing.assert_allclose(fits["group"].intercept_, fits["l1"].intercept_, atol=1e-8)


def test_a_strong_penalty_drops_whole_features_for_every_class():
    X, y = softmax_data(informative=4)
    m = SoftmaxRegression(penalty="group", C=0.03, tol=1e-10).fit(X, y)
    assert m.solver_ in GROUP_SOLVERS
    dropped = (m.coef_ == 0).all(axis=0)  # coef_ has shape (K, d)
    kept = (m.coef_ != 0).all(axis=0)
    assert np.all(dropped | kept)  # a feature is in or out for all classes at once
    assert dropped.any() and kept.any()
    assert not dropped[:4].all()  # an informative feature survives
    # The L1 penalty at a strength with as many zeros scatters them instead.
    l1 = SoftmaxRegression(penalty="l1", C=0.03, tol=1e-10).fit(X, y)
    assert (l1.coef_ == 0).any()
    # Nearly all features go at a tiny C.
    tiny = SoftmaxRegression(penalty="group", C=1e-3, tol=1e-10).fit(X, y)
    assert (tiny.coef_ == 0).all()


@pytest.mark.parametrize("solver", sorted(set(SOLVERS) - set(GROUP_SOLVERS)))
def test_wrong_pairing_fails_early_with_the_fix(solver):
    X, y = softmax_data()
    need = "a smooth penalty" if "smooth" in SOLVERS[solver].requires else "weighted L1"
    with pytest.raises(ValueError, match=rf"solver='{solver}' cannot take penalty='group' "
                                         rf"\(needs [^)]*{need}[^)]*\); use solver='auto' or "
                                         r"one of \[.*'proximal'"):
        SoftmaxRegression(penalty="group", solver=solver).fit(X, y)
    # The solver refuses before any evaluation of the objective.
    obj, _ = group_objective(C=0.1)
    with pytest.raises(ValueError, match="cannot take penalty='group'"):
        SOLVERS[solver].solve(obj, obj.zeros(), tol=1e-6, max_iter=10)
    assert obj.n_grad_evals == 0 and obj.n_hessp_evals == 0


def test_infinite_C_makes_any_penalty_smooth():
    """With C = inf the penalty is absent: every solver may take it."""
    X, y = softmax_data()
    obj = LinearObjective(LOSSES["multinomial"], X, y, np.ones(len(y)), 3, C=np.inf,
                          penalty=make_penalty("group"))
    assert obj.penalty_term.smooth
    assert all(not s.missing(obj.penalty_term) for s in SOLVERS.values())


def test_cli_penalty_choices_come_from_the_registry():
    fit = main.commands["fit"]
    option = next(p for p in fit.params if p.name == "penalty")
    assert list(option.type.choices) == list(PENALTIES)
