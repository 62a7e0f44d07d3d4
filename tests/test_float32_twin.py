"""The float32 twin of a float64 data term and L-BFGS's float32 phase on it.

The twin evaluates the same loss sum with float32 products, reading the float64
``X`` block by block (no copy); L-BFGS takes its first iterates on it and ends in
float64, so a fit stops where a float64 fit stops.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from sigmax import SoftmaxRegression
from sigmax.dataterms import GenericData, NumpyData, tuning
from sigmax.losses import LOSSES
from sigmax.objective import Objective
from sigmax.penalties import make_penalty
from sigmax.solvers import SOLVERS
from sigmax.solvers.lbfgs import F32_SWITCH, LBFGS


@pytest.fixture(autouse=True)
def _twin_at_any_size(monkeypatch):
    # These problems are below the size where the twin pays: on, except where a
    # test asks for the rule itself.
    monkeypatch.setattr(tuning, "FLOAT32_TWIN_MIN_WORK", 0)


def _problem(name: str, n: int = 900, d: int = 7, K: int = 4, seed: int = 0,
             unit: bool = False):
    rng = np.random.default_rng(seed)
    loss = LOSSES[name]
    k = loss.n_outputs(K)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, d)
    Wt = rng.normal(size=(d, k))
    Z = X @ Wt
    if name == "binomial":
        Y = (Z[:, 0] + rng.logistic(size=n) > 0).astype(float)
    elif name == "multilabel":
        Y = (Z + rng.logistic(size=(n, k)) > 0).astype(float)
    else:
        Y = np.argmax(Z + rng.gumbel(size=(n, k)), axis=1)
    weights = np.ones(n) if unit else rng.uniform(0.5, 2.0, n)
    return loss, X, Y, weights, k


#: The losses with two or more outputs on four classes / labels: the twin's (one
#: output is refused, see test_no_twin_below_the_size_where_it_pays).
TWIN_LOSSES = [name for name in sorted(LOSSES) if LOSSES[name].n_outputs(4) >= 2]


def _objective(term, C: float = 1.0) -> Objective:
    return Objective(term, C=C, penalty=make_penalty("l2"))


@pytest.mark.parametrize("blocks", ["one", "many", "compiled"])
@pytest.mark.parametrize("name", TWIN_LOSSES)
def test_the_twin_is_the_float64_term_to_float32_rounding_without_a_copy(name, blocks,
                                                                         monkeypatch):
    # One block; blocks of 128 rows (the converted block is reused by both products
    # of its block, and a short last block); and the compiled passes on (b, k) rows
    # (unit weights), which read float32 blocks as a float32 X's.
    unit = blocks == "compiled"
    if blocks != "one":
        monkeypatch.setattr(tuning, "BLOCK_BYTES", 128 * 4 * (7 + 2 * 4))
    if unit:
        monkeypatch.setattr(tuning, "COMPILED_MIN_LOGITS", 0)
    loss, X, Y, weights, k = _problem(name, unit=unit)
    term = NumpyData(loss, X, Y, weights, k, True)
    twin = term.float32_twin()
    assert twin is not None and twin.dtype == np.float32 and twin.products.converts
    assert twin.X is term.X  # read, not copied
    assert (len(twin.products.plan.bounds) > 1) == (blocks != "one")
    ref32 = NumpyData(loss, X.astype(np.float32), Y, weights, k, True)
    rng = np.random.default_rng(1)
    for scale in (0.0, 0.3, 3.0):
        w = scale * rng.normal(size=term.n_params)
        f64, g64 = term.value_and_grad(w)
        f, g = twin.value_and_grad(w)
        f32, g32 = ref32.value_and_grad(w)
        assert g.dtype == np.float64 and g.shape == g64.shape
        # float32 products: not the float64 values, but those of a float32 X.
        assert f == pytest.approx(f64, rel=2e-6) and f == pytest.approx(f32, rel=2e-6)
        tol = 2e-5 * np.abs(g64).max()
        np.testing.assert_allclose(g, g64, rtol=0, atol=tol)
        np.testing.assert_allclose(g, g32, rtol=0, atol=tol)
        if scale:
            assert not np.array_equal(g, g64)
        assert twin.value(w) == pytest.approx(f, rel=1e-6)


def test_no_twin_where_it_does_not_apply():
    loss, X, Y, weights, k = _problem("multinomial")
    assert NumpyData(loss, X.astype(np.float32), Y, weights, k).float32_twin() is None
    assert NumpyData(loss, sp.csr_matrix(X), Y, weights, k).float32_twin() is None
    offset = np.zeros((len(Y), k))
    assert NumpyData(loss, X, Y, weights, k, offset=offset).float32_twin() is None
    assert GenericData(loss, X, Y, weights, k).float32_twin() is None
    assert _objective(GenericData(loss, X, Y, weights, k)).float32_twin() is None
    with pytest.raises(ValueError, match="CSR"):
        from sigmax.dataterms.blocks import BlockProducts

        BlockProducts(sp.csr_matrix(X), k, dtype=np.float32)


def test_no_twin_below_the_size_where_it_pays(monkeypatch):
    loss, X, Y, weights, k = _problem("multinomial", n=1000, K=4)
    monkeypatch.setattr(tuning, "FLOAT32_TWIN_MIN_WORK", 1000 * 7 * 4)
    assert NumpyData(loss, X, Y, weights, k).float32_twin() is not None  # n d k
    assert NumpyData(loss, X[:999], Y[:999], weights[:999], k).float32_twin() is None
    res = _solve(_objective(NumpyData(loss, X[:999], Y[:999], weights[:999], k)), 1e-6, True)
    assert res.converged and res.n_float32_iter == 0
    # One output (binary): matrix-vector passes, bound by reading the float64 X.
    monkeypatch.setattr(tuning, "FLOAT32_TWIN_MIN_WORK", 0)
    b_loss, bX, bY, b_w, b_k = _problem("binomial", n=1000)
    assert b_k == 1 and NumpyData(b_loss, bX, bY, b_w, b_k).float32_twin() is None


def test_the_twin_objective_is_the_same_function():
    loss, X, Y, weights, k = _problem("multinomial")
    obj = _objective(NumpyData(loss, X, Y, weights, k), C=0.5)
    twin = obj.float32_twin()
    assert twin.scale == obj.scale and twin.alpha == obj.alpha and twin.C == obj.C
    w = 0.2 * np.random.default_rng(2).normal(size=obj.n_params)
    f, g = obj.value_and_grad(w)
    ft, gt = twin.value_and_grad(w)
    assert ft == pytest.approx(f, rel=1e-6)
    np.testing.assert_allclose(gt, g, rtol=0, atol=1e-5 * np.abs(g).max())
    assert (twin.n_grad_evals, obj.n_grad_evals) == (1, 1)  # counted apart


def _solve(obj, tol, float32_start, max_iter=10_000):
    solver = LBFGS()
    solver.float32_start = float32_start
    return solver.solve(obj, obj.zeros(), tol=tol, max_iter=max_iter)


@pytest.mark.parametrize("tol", [1e-4, 1e-6, 1e-10])
@pytest.mark.parametrize("name", TWIN_LOSSES)
def test_lbfgs_ends_where_a_float64_solve_ends(name, tol):
    loss, X, Y, weights, k = _problem(name, n=2000)
    obj = _objective(NumpyData(loss, X, Y, weights, k))
    plain = _solve(_objective(NumpyData(loss, X, Y, weights, k)), tol, False)
    mixed = _solve(obj, tol, True)
    assert plain.n_float32_iter == 0
    # Converged by float64's tests: the tolerance, or (tol=1e-10, as the plain
    # solve) a decrease of f at float64 rounding.
    assert mixed.converged and (mixed.grad_norm <= tol or mixed.message == plain.message
                                == "relative decrease of f at float64 rounding")
    # The stopping test is float64's: the gradient at the result, in float64.
    f, g = _objective(NumpyData(loss, X, Y, weights, k)).value_and_grad(mixed.coef)
    assert np.max(np.abs(g)) == pytest.approx(mixed.grad_norm, rel=1e-9)
    assert mixed.objective == pytest.approx(f, rel=1e-13)
    assert mixed.history["objective"][-1] == pytest.approx(f, rel=1e-13)
    # Both solved the problem to the tolerance: with max|g| <= tol, f - f* is at
    # most |g|^2 / (2 mu), mu >= alpha (the L2 penalty's strong convexity).
    bound = obj.n_params * tol ** 2 / (2 * obj.alpha) + 1e-13 * abs(f)
    assert abs(mixed.objective - plain.objective) <= bound
    assert 1 <= mixed.n_float32_iter <= mixed.n_iter
    if tol < F32_SWITCH:  # float32 cannot get there: float64 takes the last steps
        assert mixed.n_float32_iter < mixed.n_iter
    # Every evaluation counted, the twin's too.
    assert mixed.n_grad_evals >= mixed.n_iter + 1


def test_max_iter_inside_the_float32_phase_reports_float64_values():
    loss, X, Y, weights, k = _problem("multinomial", n=2000)
    obj = _objective(NumpyData(loss, X, Y, weights, k))
    res = _solve(obj, 1e-8, True, max_iter=3)
    assert not res.converged and res.message == "reached max_iter=3"
    assert res.n_iter == 3 and res.n_float32_iter == 3
    f, g = _objective(NumpyData(loss, X, Y, weights, k)).value_and_grad(res.coef)
    assert res.objective == pytest.approx(f, rel=1e-13)
    assert res.grad_norm == pytest.approx(np.max(np.abs(g)), rel=1e-12)


def test_a_twin_without_finite_values_hands_over_at_once(monkeypatch):
    # Whatever makes float32 fail (values past its range), float64 takes over at
    # the first evaluation and the solve is the plain float64 one.
    loss, X, Y, weights, k = _problem("multinomial", n=2000)

    def broken(self):
        twin = NumpyData(loss, X, Y, weights, k, dtype=np.float32)
        twin.value_and_grad = lambda w: (np.nan, np.full((self.n_rows, self.k), np.nan))
        return twin

    monkeypatch.setattr(NumpyData, "float32_twin", broken)
    res = _solve(_objective(NumpyData(loss, X, Y, weights, k)), 1e-6, True)
    monkeypatch.undo()
    plain = _solve(_objective(NumpyData(loss, X, Y, weights, k)), 1e-6, False)
    assert res.converged and res.n_float32_iter == 0
    np.testing.assert_array_equal(res.coef, plain.coef)


def test_float32_fits_and_other_solvers_have_no_float32_phase():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X - X.mean(0)) / np.maximum(X.std(0), 1e-12)
    f64 = SoftmaxRegression(solver="lbfgs", tol=1e-6).fit(X, y)
    f32 = SoftmaxRegression(solver="lbfgs", tol=1e-5, dtype="float32").fit(X, y)
    newton = SoftmaxRegression(solver="newton-cg", tol=1e-6).fit(X, y)
    assert f64.fit_record_.n_float32_iter > 0
    assert f32.fit_record_.n_float32_iter == 0 and newton.fit_record_.n_float32_iter == 0
    assert SOLVERS["lbfgs"].float32_start is True
    # The same model as without the phase (digits, C = 1, solved tightly: at
    # tol=1e-6 two solutions still differ by 1e-4 in their probabilities).
    tight = SoftmaxRegression(solver="lbfgs", tol=1e-9).fit(X, y)
    monkey = LBFGS.float32_start
    try:
        LBFGS.float32_start = False
        plain = SoftmaxRegression(solver="lbfgs", tol=1e-9).fit(X, y)
    finally:
        LBFGS.float32_start = monkey
    assert plain.fit_record_.n_float32_iter == 0 < tight.fit_record_.n_float32_iter
    np.testing.assert_allclose(tight.predict_proba(X), plain.predict_proba(X), atol=1e-6)
