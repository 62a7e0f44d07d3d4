"""Newton-CG on sparse text-like data: the Jacobi-preconditioned CG path.

Small CSR matrices with Zipf-like column frequencies (the case the
preconditioner is for): the preconditioned solve must reach the same optimum as
the unpreconditioned one and as Newton-Cholesky, stop on the gradient tolerance, keep
the symmetric softmax's flat directions out of its steps, and work in float32,
from a warm start and on dense input (where it is optional).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import scipy.sparse as sp

from sigmax.losses import LOSSES, MultilabelLoss, MultinomialLoss
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty
from sigmax.solvers import SOLVERS
from sigmax.solvers.newton import JACOBI_MIN_SPREAD, NewtonCG

N_CLASSES = 3
TOL = 1e-9


def text_like(n=300, d=80, seed=0, dtype=np.float64):
    """CSR counts with Zipf column frequencies, tf-idf-like values, unit rows, labels."""
    r = np.random.default_rng(seed)
    lengths = r.poisson(6, n) + 1
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    freq = 1.0 / (np.arange(d) + 2.0) ** 1.1
    cols = r.choice(d, size=indptr[-1], p=freq / freq.sum())
    X = sp.csr_matrix((np.ones(indptr[-1]), cols, indptr), shape=(n, d))
    X.sum_duplicates()
    X.data = np.log1p(X.data) * (1 + np.log(n / (1 + np.bincount(X.indices, minlength=d))))[
        X.indices]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sp.csr_matrix(sp.diags(1 / norms) @ X)
    W = r.normal(size=(d, N_CLASSES)) * 3
    Z = np.asarray(X @ W)
    y = np.argmax(Z + r.gumbel(size=Z.shape), axis=1)
    return X.astype(dtype), y


def objective(X, y, loss_name="multinomial", penalty="l2", C=10.0, intercept=True):
    loss = LOSSES[loss_name]
    k = loss.n_outputs(N_CLASSES)
    if isinstance(loss, MultinomialLoss):
        Y = y
    elif isinstance(loss, MultilabelLoss):
        Y = np.eye(N_CLASSES)[y][:, :k]
        Y[::5] = 1 - Y[::5]  # overlapping labels
    else:
        Y = (y == 0).astype(float)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, size=X.shape[0])
    return LinearObjective(loss, X, Y, sw, k, C=C, penalty=make_penalty(penalty),
                           fit_intercept=intercept)


def variant(**attrs) -> NewtonCG:
    solver = copy.copy(SOLVERS["newton-cg"])
    for key, val in attrs.items():
        setattr(solver, key, val)
    return solver


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
@pytest.mark.parametrize("intercept", [True, False])
def test_preconditioned_cg_reaches_the_unpreconditioned_optimum(loss_name, intercept):
    X, y = text_like()
    obj = objective(X, y, loss_name, intercept=intercept)
    pre = variant(precondition=True).solve(obj, obj.zeros(), tol=TOL, max_iter=100)
    assert pre.converged and pre.grad_norm <= TOL
    # Independent check of stationarity at the returned point.
    _, g = obj.value_and_grad(pre.coef.copy())
    assert np.max(np.abs(g)) <= TOL
    plain = variant(precondition=False).solve(obj, obj.zeros(), tol=TOL, max_iter=100)
    # Newton-Cholesky (the exact Hessian) as the independent reference.
    exact = SOLVERS["newton-cholesky"].solve(obj, obj.zeros(), tol=TOL, max_iter=100)
    np.testing.assert_allclose(pre.coef, plain.coef, atol=1e-6)
    np.testing.assert_allclose(centered(obj, pre.coef), centered(obj, exact.coef), atol=1e-6)


def centered(obj, w):
    """``w`` with the symmetric softmax's (flat) intercept shift removed."""
    P = w.reshape(obj.n_rows, obj.k).copy()
    loss = obj.loss
    if obj.fit_intercept and loss.softmax_hessian and not getattr(loss, "reference", False):
        P[obj.n_features] -= P[obj.n_features].mean()
    return P.ravel()


def test_unpenalized_softmax_steps_stay_off_the_flat_directions():
    """A diagonal preconditioner must not push the iterates along the flat valley."""
    X, y = text_like(n=400, d=30, seed=2)
    obj = objective(X, y, "multinomial", penalty="none")
    res = variant(precondition=True).solve(obj, obj.zeros(), tol=1e-7, max_iter=200)
    assert res.converged
    P = res.coef.reshape(obj.n_rows, obj.k)
    # From zero, every row of an unpreconditioned method sums to zero over the
    # classes (the gradient does); the preconditioned steps must keep that.
    np.testing.assert_allclose(P.sum(axis=1), 0.0, atol=1e-8 * max(1.0, np.abs(P).max()))


def test_l2_softmax_intercepts_sum_to_zero():
    X, y = text_like(seed=4)
    obj = objective(X, y, "multinomial")
    res = variant(precondition=True).solve(obj, obj.zeros(), tol=TOL, max_iter=100)
    P = res.coef.reshape(obj.n_rows, obj.k)
    assert abs(P[obj.n_features].sum()) <= 1e-9 * max(1.0, np.abs(P).max())


class CountingDiag(LinearObjective):
    """Counts the Hessian-diagonal passes (the preconditioner's cost)."""

    n_diag = 0

    def hessian_diag(self, w):
        self.n_diag += 1
        return super().hessian_diag(w)


@pytest.mark.parametrize(("C", "expect"), [(1e2, True), (1e-2, False)])
def test_sparse_default_preconditions_only_a_spread_out_diagonal(C, expect):
    """``precondition="sparse"``: Jacobi when the diagonal spans >= JACOBI_MIN_SPREAD."""
    X, y = text_like(n=1500, d=200, seed=8)
    obj = CountingDiag(LOSSES["multinomial"], X, y, np.ones(X.shape[0]), N_CLASSES, C=C,
                       penalty=make_penalty("l2"))
    diag = obj.hessian_diag(obj.zeros())[: obj.n_features * obj.k]
    spread = diag.max() / np.median(diag)
    # The two settings sit on either side of the threshold (a strong L2 part
    # flattens the diagonal, a weak one leaves the feature frequencies).
    assert (spread >= JACOBI_MIN_SPREAD) == expect
    obj.n_diag = 0
    res = SOLVERS["newton-cg"].solve(obj, obj.zeros(), tol=1e-8, max_iter=100)
    assert res.converged
    # Decided at the first step: one diagonal per step when on, only that one when off.
    assert obj.n_diag == (res.n_iter if expect else 1)
    dense = CountingDiag(LOSSES["multinomial"], X.toarray(), y, np.ones(X.shape[0]),
                         N_CLASSES, C=C, penalty=make_penalty("l2"))
    SOLVERS["newton-cg"].solve(dense, dense.zeros(), tol=1e-8, max_iter=100)
    assert dense.n_diag == 0


def test_tolerance_stop_still_meets_tol():
    """Stopping CG on the model gradient must not stop the fit above ``tol``."""
    X, y = text_like(n=1000, d=200, seed=5)
    for tol in (1e-3, 1e-5, 1e-7):
        obj = objective(X, y)
        res = variant(tol_share=0.25).solve(obj, obj.zeros(), tol=tol, max_iter=100)
        _, g = obj.value_and_grad(res.coef.copy())
        assert res.converged and np.max(np.abs(g)) <= tol


def test_float32_sparse():
    X, y = text_like(dtype=np.float32)
    obj = objective(X, y)
    res = SOLVERS["newton-cg"].solve(obj, obj.zeros(), tol=1e-5, max_iter=100)
    assert res.converged and res.grad_norm <= 1e-5
    X64, _ = text_like()
    obj64 = objective(X64, y)
    ref = SOLVERS["newton-cg"].solve(obj64, obj64.zeros(), tol=TOL, max_iter=100)
    # The float32 solution, scored in float64: within the float32 target gap.
    assert obj64.objective(res.coef) - ref.objective <= 1e-5 * abs(ref.objective)


def test_warm_start_and_determinism():
    X, y = text_like(seed=6)
    obj = objective(X, y)
    first = SOLVERS["newton-cg"].solve(obj, obj.zeros(), tol=1e-6, max_iter=100)
    again = SOLVERS["newton-cg"].solve(objective(X, y), obj.zeros(), tol=1e-6, max_iter=100)
    np.testing.assert_array_equal(first.coef, again.coef)
    warm = SOLVERS["newton-cg"].solve(obj, first.coef, tol=1e-6, max_iter=100)
    assert warm.n_iter == 0 and warm.converged
    # A warm start off the sum-zero rows (each row shifted over the classes)
    # still ends at the optimum: the penalized rows are pulled back, the
    # intercepts keep their (flat) shift.
    shifted = first.coef.reshape(obj.n_rows, obj.k) + 0.3
    res = SOLVERS["newton-cg"].solve(obj, shifted.ravel(), tol=TOL, max_iter=100)
    tight = SOLVERS["newton-cg"].solve(obj, obj.zeros(), tol=TOL, max_iter=100)
    assert res.converged
    # Same optimum: objective to round-off, coefficients as far as the flat
    # directions of rare features allow at this gradient tolerance (which
    # BLAS kernel the machine picks moves them by ~1e-6).
    assert obj.objective(res.coef) == pytest.approx(obj.objective(tight.coef), rel=1e-12)
    np.testing.assert_allclose(centered(obj, res.coef), centered(obj, tight.coef), atol=1e-5)


@pytest.mark.parametrize("loss_name", ["multinomial", "multilabel"])
def test_dense_input_with_forced_jacobi(loss_name):
    X, y = text_like(seed=7)
    Xd = X.toarray()
    obj = objective(Xd, y, loss_name)
    forced = variant(precondition=True).solve(obj, obj.zeros(), tol=TOL, max_iter=100)
    default = SOLVERS["newton-cg"].solve(obj, obj.zeros(), tol=TOL, max_iter=100)
    assert forced.converged and default.converged
    np.testing.assert_allclose(forced.coef, default.coef, atol=1e-6)


@pytest.mark.parametrize("sparse_X", [True, False])
@pytest.mark.parametrize("loss_name", ["multinomial", "multilabel"])
def test_newton_cg_forms_its_hessian_products_in_float32_for_the_solve(loss_name, sparse_X,
                                                                      monkeypatch):
    # A float64 solve asks its data term for float32 Hessian products (CG needs a few
    # digits of each; NewtonCG.float32_products) and gives them back at its end (the
    # data term outlives it: diagnostics, inference); it reaches the optimum of the
    # exact products, at the same tolerance. Where they are on already (the
    # regularization paths turn them on), they stay on.
    from sigmax.dataterms.float32_hessp import Float32Hessp

    calls = []
    hessp = Float32Hessp.hessp
    monkeypatch.setattr(Float32Hessp, "hessp", lambda self, w, v: calls.append(1)
                        or hessp(self, w, v))
    X, y = text_like()
    X = X if sparse_X else X.toarray()
    results = {}
    for on in (True, False):
        monkeypatch.setattr(NewtonCG, "float32_products", on)
        obj = objective(X, y, loss_name)
        results[on] = SOLVERS["newton-cg"].solve(obj, obj.zeros(), tol=TOL, max_iter=100)
        assert obj.data.float32_hessp(None) is False  # given back (or never asked)
        assert (len(calls) > 0) == on and obj.n_hessp_evals >= len(calls)
        calls.clear()
    low, exact = results[True], results[False]
    assert low.converged and exact.converged and low.grad_norm <= TOL
    assert low.objective == pytest.approx(exact.objective, rel=1e-12)
    np.testing.assert_allclose(low.coef, exact.coef, atol=1e-6)
    # Already on: left on.
    monkeypatch.setattr(NewtonCG, "float32_products", True)
    obj = objective(X, y, loss_name)
    assert obj.data.float32_hessp(True)
    SOLVERS["newton-cg"].solve(obj, obj.zeros(), tol=TOL, max_iter=100)
    assert obj.data.float32_hessp(None) is True and calls
    # float32 data: nothing to ask for.
    calls.clear()
    obj = objective(X.astype(np.float32), y, loss_name)
    res = SOLVERS["newton-cg"].solve(obj, obj.zeros(), tol=1e-5, max_iter=100)
    assert res.converged and not calls


def test_newton_cg_on_text_keeps_few_parameter_sized_vectors():
    """Where the parameters outnumber the (n, k) entries (text: many words, few rows),
    a Newton-CG fit's extra memory is a count of parameter-sized vectors: the
    iterate, gradient, state's point, preconditioner and CG's residual, direction,
    preconditioned residual, product and step, and the start the estimator keeps.
    Not the spent step, the previous product, temporaries of the updates, or a float64
    copy of a float32 accumulator (15 of them before those were let go)."""
    import tracemalloc

    from sigmax import SoftmaxRegression

    rng = np.random.default_rng(0)
    n, d, k = 2000, 20000, 5
    X = sp.random(n, d, density=0.0025, format="csr", random_state=0) * 3
    y = rng.integers(0, k, n)
    est = SoftmaxRegression(solver="newton-cg", C=10.0).fit(X, y)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        est.fit(X, y)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert est.fit_record_.n_hessp_evals > 10  # the CG loop ran
    vector = (d + 1) * k * 8
    assert peak <= 11 * vector, peak / vector
