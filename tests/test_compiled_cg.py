"""The compiled inner solve of Newton-CG (``sigmax.solvers.compiled_cg``).

Where ``X`` is one dense block, :meth:`NewtonCG.direction` hands its conjugate
gradients to one compiled call. It must form the same Hessian products as
:meth:`Objective.hessp`, take the same directions with every preconditioner,
count its products, and leave fits where the Python iteration leaves them;
elsewhere (several blocks, sparse ``X``, a loss or penalty of another form) it
must step aside.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import sigmax.solvers.compiled_cg as compiled_cg
from sigmax import SoftmaxRegression, _cg_kernels, regularization_path
from sigmax._path_newton import BlockNewtonCG, _factor_blocks, curvature_weights
from sigmax.dataterms import in_memory, one_block, tuning
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty
from sigmax.solvers import SOLVERS
from sigmax.solvers.compiled_cg import CompiledCG
from sigmax.solvers.newton import _RowMeans
from sigmax.solvers.preconditioners import Jacobi, OutputBlocks


def problem(loss="multinomial", n=300, d=6, K=4, seed=0, weights=False):
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, d)) * np.linspace(0.5, 3, d)
    Z = X @ r.standard_normal((d, K))
    if loss == "binomial":
        Y = (Z[:, 0] + r.logistic(size=n) > 0).astype(float)
        k = 1
    elif loss == "multilabel":
        Y = (Z + r.logistic(size=Z.shape) > 0).astype(float)
        k = K
    else:
        Y = np.argmax(Z + r.gumbel(size=Z.shape), axis=1)
        k = LOSSES[loss].n_outputs(K)
    sw = r.uniform(0.2, 3.0, n) if weights else np.ones(n)
    return X, Y, sw, k


def objective(loss="multinomial", C=0.5, intercept=True, weights=False, penalty="l2",
              float32=False, compiled=True, **kw):
    X, Y, sw, k = problem(loss, weights=weights, **kw)
    obj = LinearObjective(LOSSES[loss], X, Y, sw, k, C=C, penalty=make_penalty(penalty),
                          fit_intercept=intercept)
    if float32:
        assert obj.data.float32_hessp() is True
    assert obj.data.compiled_passes(compiled) is compiled
    return obj


def point(obj, seed=1):
    return np.random.default_rng(seed).standard_normal(obj.n_params) * 0.3


CASES = [(loss, intercept, weights, f32)
         for loss in ("multinomial", "multinomial_reference", "binomial", "multilabel")
         for intercept in (True, False) for weights in (False, True) for f32 in (False, True)]


@pytest.mark.parametrize("loss,intercept,weights,f32", CASES)
def test_compiled_products_equal_the_objectives(loss, intercept, weights, f32):
    obj = objective(loss, intercept=intercept, weights=weights, float32=f32)
    w = point(obj)
    obj.value_and_grad(w)
    compiled = CompiledCG.of(obj, w)
    assert compiled is not None
    v = np.random.default_rng(2).standard_normal(obj.n_params)
    want = obj.hessp(w, v)
    # float64: the same sums in another order; float32 twin: both float32 products.
    tol = 2e-5 if f32 else 1e-12
    np.testing.assert_allclose(compiled.hessp(v), want, rtol=tol, atol=tol * np.abs(want).max())


def _direction(obj, w, solver, enabled, monkeypatch):
    monkeypatch.setattr(compiled_cg, "ENABLED", enabled)
    _, g = obj.value_and_grad(w)
    before = obj.n_hessp_evals
    step = solver.direction(obj, w, g, float(np.abs(g).max()))
    return step, obj.n_hessp_evals - before


@pytest.mark.parametrize("pre", ["none", "jacobi", "blocks", "path_blocks"])
@pytest.mark.parametrize("weights", [False, True])
def test_compiled_directions_equal_the_python_iterations(pre, weights, monkeypatch):
    obj = objective(C=50.0, weights=weights)
    w = point(obj)
    solver = (BlockNewtonCG(curvature_weights(obj, w)) if pre == "path_blocks"
              else SOLVERS["newton-cg"])
    solver = solver.__class__.__new__(solver.__class__) if pre != "path_blocks" else solver
    solver.precondition = {"none": False, "jacobi": True, "blocks": "blocks"}.get(pre, "auto")
    solver._tol, solver._jacobi, solver._rare = 1e-8, None, False
    solver._blocks = pre == "blocks"
    solver.forcing = lambda g: 1e-6  # a tight solve: many CG steps to compare
    if pre == "path_blocks":
        solver._pre, solver._cg_steps, solver._cost = None, 0, np.inf
    python, n_python = _direction(obj, w, solver, False, monkeypatch)
    if pre == "path_blocks":
        solver._pre = None
    compiled, n_compiled = _direction(obj, w, solver, True, monkeypatch)
    assert n_python > 5  # CG did iterate
    # The same iteration; its rounding differs (sums in another order), and CG
    # carries such differences along its steps: a stop that falls within rounding
    # of its threshold may come one product apart; the steps equal to 1e-5.
    assert abs(n_compiled - n_python) <= 1
    assert np.linalg.norm(compiled - python) <= 1e-5 * np.linalg.norm(python)
    # Both reach the forcing term's residual on the exact (float64) Hessian.
    g = obj.value_and_grad(w)[1]
    for step in (compiled, python):
        assert np.linalg.norm(obj.hessp(w, step) + g) <= 1e-5 * np.linalg.norm(g)


def test_preconditioners_hand_their_arrays_to_the_kernel():
    obj = objective(C=5.0)
    w = point(obj)
    obj.value_and_grad(w)
    r = np.random.default_rng(3).standard_normal(obj.n_params)
    factors = _factor_blocks(obj, w, curvature_weights(obj, w))
    assert factors.chol is not None  # the path's blocks go to the kernel as Cholesky factors
    for pre in (Jacobi(obj.hessian_diag(w)), OutputBlocks.of(obj, w), factors):
        kind, diag, blocks = pre.kernel_args()
        z = np.empty_like(r)
        _cg_kernels._precondition(r, z, kind, diag, blocks, obj.k)
        np.testing.assert_allclose(z, pre.apply(r, np.empty_like(r)), rtol=1e-12)


def test_the_kernel_reports_a_flat_first_direction():
    # No curvature at all (a zero state, no L2): CG must not divide by zero.
    X = np.random.default_rng(0).standard_normal((20, 3))
    S = np.zeros((2, 20))
    r = np.ones(8)
    x = np.zeros(8)
    steps, products, flat = _cg_kernels.cg_solve(
        X, S, np.empty(0), _cg_kernels.DIAGONAL_STATE, True, 1.0, 0.0, r, x,
        _cg_kernels.NO_PRECONDITIONER, np.empty(0), np.empty((0, 0, 0)), False,
        0.0, 0.0, 50)
    assert (steps, products, flat) == (0, 1, True)
    assert np.all(x == 0)


def test_the_row_mean_split_is_kept(monkeypatch):
    # Symmetric softmax, Jacobi: the step's rows less their closed-form means sum to zero.
    obj = objective(C=2.0)
    w = point(obj)
    solver = SOLVERS["newton-cg"].__class__.__new__(SOLVERS["newton-cg"].__class__)
    solver.precondition, solver._tol, solver._jacobi, solver._rare = True, 1e-8, None, False
    solver._blocks = False
    step, _ = _direction(obj, w, solver, True, monkeypatch)
    split = _RowMeans.of(obj, w)
    g = obj.value_and_grad(w)[1]
    means = split.solve_means(-g.copy()).reshape(obj.n_rows, obj.k)
    rest = step.reshape(obj.n_rows, obj.k) - means
    np.testing.assert_allclose(rest.sum(axis=1), 0, atol=1e-10 * np.abs(step).max())


def test_it_steps_aside_where_the_hessian_is_not_of_its_form(monkeypatch):
    w_of = point
    # Several row blocks: the threaded Python products.
    monkeypatch.setattr(tuning, "BLOCK_BYTES", 4096)
    obj = objective(compiled=False)
    assert len(obj.data.products.plan.bounds) > 1
    assert obj.data.compiled_passes() is False
    assert CompiledCG.of(obj, w_of(obj)) is None
    monkeypatch.undo()
    # Sparse X, a non-smooth penalty, a data term not asked for it.
    X, Y, sw, k = problem()
    sparse = LinearObjective(LOSSES["multinomial"], sp.csr_matrix(X), Y, sw, k, C=1.0,
                             penalty=make_penalty("l2"))
    assert sparse.data.compiled_passes() is False
    assert CompiledCG.of(sparse, w_of(sparse)) is None
    plain = LinearObjective(LOSSES["multinomial"], X, Y, sw, k, C=1.0,
                            penalty=make_penalty("l2"))
    assert CompiledCG.of(plain, w_of(plain)) is None
    assert plain.data.compiled_passes() is True
    assert CompiledCG.of(plain, w_of(plain)) is not None
    assert plain.data.compiled_passes(False) is False
    assert CompiledCG.of(plain, w_of(plain)) is None
    l1 = objective(penalty="l1")
    assert CompiledCG.of(l1, w_of(l1)) is None
    monkeypatch.setattr(compiled_cg, "ENABLED", False)
    assert CompiledCG.of(objective(), w_of(objective())) is None


@pytest.mark.parametrize("weights", [False, True])
def test_paths_are_those_of_the_python_iteration(weights, monkeypatch):
    X, y, sw, _ = problem(n=400, d=8, K=5, weights=weights, seed=4)
    sw = sw if weights else None
    out, calls = {}, []
    solve = CompiledCG.solve
    monkeypatch.setattr(CompiledCG, "solve", lambda self, *a: calls.append(1) or solve(self, *a))
    for enabled in (False, True):
        monkeypatch.setattr(compiled_cg, "ENABLED", enabled)
        est = SoftmaxRegression(C=10.0, solver="newton-cg", tol=1e-9).fit(X, y, sample_weight=sw)
        path = regularization_path(SoftmaxRegression(solver="newton-cg", tol=1e-8), X, y,
                                   np.logspace(-2, 3, 6), sample_weight=sw)
        out[enabled] = est, path
    (e0, p0), (e1, p1) = out[False], out[True]
    # A single fit keeps the Python iteration (numba's load would outweigh a small
    # fit); the path's points solve compiled, one call per Newton step.
    assert len(calls) == p1.n_iter.sum()
    assert e1.n_iter_ == e0.n_iter_
    np.testing.assert_allclose(e1.coef_, e0.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(p1.n_iter, p0.n_iter)
    # Points solved to a gradient of 1e-8: coefficients equal to about that.
    np.testing.assert_allclose(p1.coefs, p0.coefs, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(p1.objective, p0.objective, rtol=1e-12)


# -- the softmax's value and gradient in one compiled call (sigmax._softmax_block) -------
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("weights", [False, True])
@pytest.mark.parametrize("offset", [False, True])
def test_compiled_softmax_evaluation_equals_the_fused_passes(intercept, weights, offset):
    X, Y, sw, k = problem(weights=weights, seed=5)
    off = np.random.default_rng(6).standard_normal((len(Y), k)) if offset else None
    data = {}
    for on in (False, True):
        term = in_memory(LOSSES["multinomial"], X, Y, sw, k, intercept, offset=off)
        assert term.compiled_passes(on) is on
        term.track_second_order()
        data[on] = term
    calls = []
    from sigmax import _softmax_block

    original = _softmax_block.value_grad
    _softmax_block.value_grad = lambda *a: calls.append(1) or original(*a)
    try:
        for seed in (1, 2):
            w = np.random.default_rng(seed).standard_normal(data[True].n_params) * 0.5
            (f0, g0), (f1, g1) = (data[on].value_and_grad(w) for on in (False, True))
            assert f1 == pytest.approx(f0, rel=1e-13)
            np.testing.assert_allclose(g1, g0, rtol=1e-11, atol=1e-12 * np.abs(g0).max())
            # The Newton state (probabilities) the compiled CG then reads.
            np.testing.assert_allclose(data[True]._St, data[False]._St, rtol=1e-12,
                                       atol=1e-15)
    finally:
        _softmax_block.value_grad = original
    assert len(calls) == 2


def test_compiled_softmax_evaluation_steps_aside():
    X, Y, sw, k = problem()
    # The reference parameterization, float32 X: the fused passes.
    ref = in_memory(LOSSES["multinomial_reference"], X, Y, sw, k - 1)
    ref.compiled_passes()
    assert one_block.value_and_grad(ref, np.zeros(ref.n_params), None) is None
    f32 = in_memory(LOSSES["multinomial"], X.astype(np.float32), Y, sw, k)
    f32.compiled_passes()
    assert one_block.value_and_grad(f32, np.zeros(f32.n_params), None) is None
    # Logits near the float range (about 1e304): the compiled pass forms p - y per
    # entry, stays finite and equals the fused passes.
    data = {}
    for on in (False, True):
        data[on] = in_memory(LOSSES["multinomial"], X, Y, sw, k)
        data[on].compiled_passes(on)
    w = np.random.default_rng(7).standard_normal(data[True].n_params) * 1e303
    assert one_block.value_and_grad(data[True], w, None) is not None
    (f0, g0), (f1, g1) = (data[on].value_and_grad(w) for on in (False, True))
    assert np.isfinite(f1) and np.all(np.isfinite(g1))
    assert f1 == pytest.approx(f0, rel=1e-12)
    np.testing.assert_allclose(g1, g0, rtol=1e-10, atol=1e-10 * np.abs(g0).max())


def test_a_non_finite_compiled_evaluation_gives_way_to_the_fused_passes(monkeypatch):
    from sigmax import _softmax_block

    X, Y, sw, k = problem(seed=8)
    term = in_memory(LOSSES["multinomial"], X, Y, sw, k)
    term.compiled_passes()
    w = point(term)
    want = in_memory(LOSSES["multinomial"], X, Y, sw, k).value_and_grad(w)
    monkeypatch.setattr(_softmax_block, "value_grad", lambda *a: np.nan)
    assert one_block.value_and_grad(term, w, None) is None
    f, g = term.value_and_grad(w)
    assert f == pytest.approx(want[0], rel=1e-13)
    np.testing.assert_allclose(g, want[1], rtol=1e-12)


def test_a_float32_data_term_hands_over_its_own_operands():
    X, Y, sw, k = problem(weights=True)
    obj = LinearObjective(LOSSES["multinomial"], X.astype(np.float32), Y, sw, k, C=0.5,
                          penalty=make_penalty("l2"))
    assert obj.data.compiled_passes() is True
    w = point(obj)
    compiled = CompiledCG.of(obj, w)
    assert compiled.X.dtype == np.float32 and compiled.St.dtype == np.float32
    v = np.random.default_rng(2).standard_normal(obj.n_params)
    want = obj.hessp(w, v)
    np.testing.assert_allclose(compiled.hessp(v), want, rtol=2e-5, atol=2e-5 * np.abs(want).max())


def test_the_compiled_products_run_on_one_blas_thread(monkeypatch):
    # numba's np.dot runs on SciPy's OpenBLAS, not NumPy's: held at one thread while a
    # compiled solve runs (two CV folds side by side would each wake all its threads),
    # and given back its count afterwards.
    from sigmax import _parallel

    others = _parallel._other_blas()
    if not others or max(lib.num_threads for lib in others) < 2:
        pytest.skip("no second BLAS with several threads here")
    before = [lib.num_threads for lib in others]
    seen = []
    original = _cg_kernels.cg_solve
    monkeypatch.setattr(_cg_kernels, "cg_solve", lambda *a: (
        seen.append([lib.num_threads for lib in others]) or original(*a)))
    X, y, _, _ = problem(n=300, d=8, K=5, seed=4)
    regularization_path(SoftmaxRegression(solver="newton-cg", tol=1e-8), X, y, [0.1, 10.0])
    assert seen and all(counts == [1] * len(others) for counts in seen)
    assert [lib.num_threads for lib in others] == before


def test_block_factors_fall_back_to_float64_grams_then_to_inverses(monkeypatch):
    import sigmax._path_newton as pn

    obj = objective(C=5.0)
    w = point(obj)
    h = curvature_weights(obj, w)
    exact = pn._block_hessians(obj, w, h, np.float64)
    # The factors reproduce the blocks: L L^T = H (float32 Grams: to float32 rounding).
    pre = _factor_blocks(obj, w, h)
    LLt = np.matmul(pre.chol, pre.chol.transpose(0, 2, 1))
    np.testing.assert_allclose(LLt, exact, rtol=1e-5, atol=1e-6 * np.abs(exact).max())
    # ... and the inverses formed from them (the Python iteration's) are H^-1.
    np.testing.assert_allclose(np.matmul(pre.inv, LLt), np.broadcast_to(np.eye(LLt.shape[1]),
                               LLt.shape), atol=1e-8)
    # float32 Grams that come out indefinite: formed again in float64.
    indefinite = exact.copy()
    indefinite[:, 0, 0] = -1.0
    real = pn._block_hessians
    dtypes = []

    def grams(objective, w, h, dtype=np.float32):
        dtypes.append(dtype)
        return indefinite.copy() if dtype == np.float32 else real(objective, w, h, dtype)

    monkeypatch.setattr(pn, "_block_hessians", grams)
    pre = _factor_blocks(obj, w, h)
    assert dtypes == [np.float32, np.float64] and pre.chol is not None
    np.testing.assert_allclose(np.matmul(pre.chol, pre.chol.transpose(0, 2, 1)), exact,
                               rtol=1e-12, atol=1e-14 * np.abs(exact).max())
    # Indefinite in float64 too: the inverses, handed to the kernel as such.
    monkeypatch.setattr(pn, "_block_hessians", lambda objective, w, h, dtype=None: (
        indefinite.copy()))
    pre = _factor_blocks(obj, w, h)
    assert pre.chol is None
    np.testing.assert_allclose(pre.inv, np.linalg.inv(indefinite), rtol=1e-10)
    assert pre.kernel_args()[0] == _cg_kernels.OUTPUT_BLOCKS
