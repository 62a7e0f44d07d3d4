"""The benchmark runner at a tiny scale (it runs, finds the optimum, rejects early stops),
and the fused row-block pass behind sigmax's speed (same numbers as the plain path).

No timing thresholds here: speed is what ``sigmax bench`` measures, not what tests assert.
"""

from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

from sigmax import _csr
from sigmax.bench import (
    ADAPTERS,
    PROBLEMS,
    TARGET_GAP,
    Adapter,
    BenchConfig,
    check_gap,
    gap,
    run,
    sklearn_objective,
    time_to_gap,
)
from sigmax.bench.runner import _sigmax_objective, measure_floor, n_runs, reference_optimum
from sigmax.dataterms import GenericData
from sigmax.dataterms import tuning as objective_mod
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective, Objective
from sigmax.penalties import make_penalty

TINY = 0.001  # dense_binary: 500 rows


@pytest.fixture(scope="module")
def tiny_binary():
    return PROBLEMS["dense_binary"].load(TINY)


def test_problems_are_fixed_by_their_seed():
    a = PROBLEMS["sparse_text"].load(0.01)
    b = PROBLEMS["sparse_text"].load(0.01)
    assert sp.issparse(a.X) and a.X.format == "csr"
    assert (a.X != b.X).nnz == 0 and np.array_equal(a.y, b.y)
    assert a.X32.dtype == np.float32 and a.X.dtype == np.float64
    density = a.X.nnz / np.prod(a.X.shape)
    assert 0.001 < density < 0.1
    with pytest.raises(ValueError, match="scale"):
        PROBLEMS["dense_binary"].load(0)


@pytest.mark.parametrize("name", ["zipf_classes", "film_labelsets", "credit_onehot"])
def test_real_data_problems_build(name):
    """Issue 17's problems (rare classes, label sets, one-hot text) build, fixed by their seed."""
    data = PROBLEMS[name].load(0.05)
    again = PROBLEMS[name].load(0.05)
    X, y = data.X, data.y
    assert isinstance(X, np.ndarray) and X.dtype == np.float64 and np.all(np.isfinite(X))
    assert np.array_equal(X, again.X) and np.array_equal(y, again.y)
    assert len(y) == X.shape[0] >= 300
    if PROBLEMS[name].real:  # standardized columns (a constant one, e.g. an absent level: 0)
        np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-9)
        assert np.all(np.isclose(X.std(axis=0), 1) | np.isclose(X.std(axis=0), 0))
    if PROBLEMS[name].kind == "multinomial":
        # Class codes 0..K-1, every one present; rare classes are the point.
        counts = np.bincount(y)
        assert counts.min() >= 1 and data.n_outputs == counts.size > 10
        assert counts.max() >= 20 * counts.min()
    else:
        assert set(np.unique(y)) == {0, 1}
    # sigmax fits it, and the runner's objective scores it.
    fit = ADAPTERS["sigmax"].fit(X, data, solver="auto", tol=1e-6, max_iter=1000,
                                 dtype="float64")
    assert np.isfinite(sklearn_objective(data, fit.coef, fit.intercept))


def test_film_label_sets_at_full_size_are_the_issue_17_table():
    data = PROBLEMS["film_labelsets"].load(1.0)
    assert data.X.shape == (58_788, 14) and data.n_outputs == 79


def test_reference_is_the_optimum(tiny_binary):
    """F* from the runner is below what scikit-learn reaches with a tight tolerance."""
    ref = reference_optimum(tiny_binary)
    sk = ADAPTERS["sklearn"].fit(tiny_binary.X, tiny_binary, solver="lbfgs", tol=1e-10,
                                 max_iter=10_000, dtype="float64")
    f_sk = sklearn_objective(tiny_binary, sk.coef, sk.intercept)
    assert ref["objective"] <= f_sk * (1 + 1e-10)
    assert abs(gap(f_sk, ref["objective"])) < 1e-8


def test_one_objective_for_every_library(tiny_binary):
    """The runner's objective (SciPy/NumPy) equals sigmax's own sklearn-scale objective."""
    fit = ADAPTERS["sigmax"].fit(tiny_binary.X, tiny_binary, solver="lbfgs", tol=1e-8,
                                 max_iter=1000, dtype="float64")
    obj = _sigmax_objective(tiny_binary, "float64")
    w = np.concatenate([fit.coef.T, fit.intercept[None, :]]).ravel()
    assert sklearn_objective(tiny_binary, fit.coef, fit.intercept) == pytest.approx(
        obj.sklearn_objective(w), rel=1e-12)
    # Multinomial: a common shift of the intercepts changes nothing.
    data = PROBLEMS["digits"].load(0.2)
    fit = ADAPTERS["sigmax"].fit(data.X, data, solver="auto", tol=1e-6, max_iter=1000,
                                 dtype="float64")
    f0 = sklearn_objective(data, fit.coef, fit.intercept)
    assert sklearn_objective(data, fit.coef, fit.intercept + 3.0) == pytest.approx(f0,
                                                                                   rel=1e-12)


class _EarlyStop(Adapter):
    """scikit-learn's lbfgs cut off after 2 iterations, whatever tolerance is asked."""

    name = "early-stop"

    def solvers(self, data, dtype="float64"):
        return ["lbfgs"]

    def fit(self, prepared, data, *, solver, tol, max_iter, dtype):
        return ADAPTERS["sklearn"].fit(prepared, data, solver=solver, tol=tol, max_iter=2,
                                       dtype=dtype)


def test_gap_check_rejects_a_solver_that_stops_early(tiny_binary):
    ref = reference_optimum(tiny_binary)["objective"]
    cfg = BenchConfig(scale=TINY, repeats=1, budget_s=30, min_timed_s=0)
    rec = time_to_gap(_EarlyStop(), tiny_binary, tiny_binary.X, solver="lbfgs",
                      dtype="float64", reference=ref, target=TARGET_GAP["float64"], cfg=cfg)
    assert not rec["reached"] and rec["seconds"] is None
    assert all(r["gap"] > TARGET_GAP["float64"] for r in rec["ladder"])
    assert len(rec["ladder"]) > 1  # it walked the tolerance ladder before giving up
    # The same solver without the cut-off reaches the target, checked on each timed run.
    ok = time_to_gap(ADAPTERS["sklearn"], tiny_binary, tiny_binary.X, solver="lbfgs",
                     dtype="float64", reference=ref, target=TARGET_GAP["float64"], cfg=cfg)
    assert ok["reached"] and ok["seconds"] > 0
    assert all(r["gap"] <= TARGET_GAP["float64"] for r in ok["runs"])
    assert check_gap(ref * (1 + 5e-7), ref, 1e-6) and not check_gap(ref * (1 + 2e-6), ref, 1e-6)
    assert not check_gap(float("nan"), ref, 1e-6)


def test_slack_stop_spares_short_fits(tiny_binary):
    ref = reference_optimum(tiny_binary)["objective"]
    kw = dict(solver="lbfgs", dtype="float64", reference=ref, target=TARGET_GAP["float64"],
              give_up_after=1e-9)  # every run is "slower than 3x the fastest"
    short = BenchConfig(scale=TINY, repeats=1, min_timed_s=0)  # slack_min_s = 1 s
    rec = time_to_gap(ADAPTERS["sklearn"], tiny_binary, tiny_binary.X, cfg=short, **kw)
    assert rec["reached"]  # millisecond fits walk on down the ladder
    strict = BenchConfig(scale=TINY, repeats=1, min_timed_s=0, slack_min_s=0.0)
    rec = time_to_gap(ADAPTERS["sklearn"], tiny_binary, tiny_binary.X, cfg=strict, **kw)
    assert not rec["reached"] and rec["note"].startswith("stopped: one run")


def test_ladder_runs_are_capped_to_the_time_left(tiny_binary, monkeypatch):
    # A solver that never reaches the target, each of whose iterations "takes" one
    # second (the timer is replaced): 50 iterations per run. Budget 120 s: the
    # second run may take the 70 s left (cap 71), the third the 20 s left (cap 21),
    # where it stops, capped, instead of running past the budget.
    import dataclasses

    from sigmax.bench import runner

    seen = []

    class _Slow(_EarlyStop):
        def fit(self, prepared, data, *, solver, tol, max_iter, dtype):
            seen.append(max_iter)
            fit = super().fit(prepared, data, solver=solver, tol=tol, max_iter=max_iter,
                              dtype=dtype)
            return dataclasses.replace(fit, n_iter=min(max_iter, 50))

    real = runner._timed_fit

    def one_second_per_iteration(*args):
        fit = real(*args)[1]
        return float(fit.n_iter), fit

    monkeypatch.setattr(runner, "_timed_fit", one_second_per_iteration)
    ref = reference_optimum(tiny_binary)["objective"]
    cfg = BenchConfig(scale=TINY, repeats=1, budget_s=120, min_timed_s=0)
    kw = dict(solver="lbfgs", dtype="float64", reference=ref, target=TARGET_GAP["float64"],
              cfg=cfg)
    rec = time_to_gap(_Slow(), tiny_binary, tiny_binary.X, **kw)
    assert seen == [cfg.max_iter, 71, 21]
    assert not rec["reached"] and rec["note"].startswith("stopped: capped at 21 iterations")
    # Three times the fastest (here 30 s) caps the next run as well, but never under
    # cfg.slack_min_s.
    seen.clear()
    rec = time_to_gap(_Slow(), tiny_binary, tiny_binary.X, give_up_after=30.0, **kw)
    assert seen == [cfg.max_iter] and rec["note"].startswith("stopped: one run (50 s)")
    assert runner._iteration_cap(cfg, 50.0, 50, 100.0, 30.0) == 31
    assert runner._iteration_cap(cfg, 50.0, 50, 100.0, 1e-3) == 2  # slack_min_s = 1 s
    assert runner._iteration_cap(cfg, 0.0, 50, 100.0, None) == cfg.max_iter


def test_short_fits_get_more_timed_runs():
    cfg = BenchConfig(repeats=3, min_timed_s=0.5, max_repeats=25)
    assert n_runs(cfg, 2.0) == 3  # long fits: the configured repeats
    assert n_runs(cfg, 25.0) == 1  # past cfg.long_fit_s: one
    assert n_runs(cfg, 0.05) == 10  # enough runs for about half a second
    assert n_runs(cfg, 0.001) == 25  # capped
    assert n_runs(cfg, 0.0) == 3 and n_runs(cfg, float("nan")) == 3
    assert n_runs(BenchConfig(repeats=5, min_timed_s=0.0), 0.001) == 5


def test_runner_writes_json_table_and_plot(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    result = run(["dense_binary"], scale=TINY, repeats=1, libraries=["sigmax", "sklearn"],
                 threads=["1"], out_dir=tmp_path, memory=True, verbose=False, min_timed_s=0)
    p = result["problems"][0]
    recs = p["results"]["1"]
    auto = [r for r in recs if r["library"] == "sigmax" and r["solver"] == "auto"]
    assert {r["dtype"] for r in auto} == {"float64", "float32"}
    assert all(r["reached"] for r in auto)
    assert any(r["library"] == "sklearn" and r["reached"] for r in recs)
    s = p["summary"]["1"]
    assert s["sklearn_best_s"] > 0 and s["ratio_f64"] > 0
    assert p["floor"]["float64"]["best"] > 0 and s["eval_over_floor_float64"] > 0
    assert "sigmax/auto/float64" in p["memory"]
    h2h = p["head_to_head"]["1"]  # the judged fits, timed again in alternation
    assert h2h["sigmax/auto/float64"]["reached"] and s["timing"] == "head to head"
    saved = json.loads((tmp_path / "bench-scale0.001.json").read_text())
    assert saved["problems"][0]["problem"] == "dense_binary"
    table = (tmp_path / "bench-scale0.001.md").read_text()
    assert "| dense_binary |" in table and "ratio" in table
    assert (tmp_path / "plots" / "scale0.001-dense_binary.png").stat().st_size > 1000
    assert not (tmp_path / "bench-scale0.001.partial.json").exists()  # a finished run's


def test_a_stopped_run_keeps_its_finished_problems(tmp_path, monkeypatch):
    """After each problem the run so far is on disk; rerender makes its tables from it."""
    from sigmax.bench import runner
    from sigmax.bench.report import rerender

    monkeypatch.setenv("MPLBACKEND", "Agg")
    real = runner.run_problem
    done = []

    def stop_at_the_second(problem, *args, **kwargs):
        if done:
            raise KeyboardInterrupt  # the user stops the run
        done.append(problem.name)
        return real(problem, *args, **kwargs)

    monkeypatch.setattr(runner, "run_problem", stop_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        run(["dense_binary", "digits"], scale=TINY, repeats=1, libraries=["sigmax"],
            threads=["1"], out_dir=tmp_path, memory=False, verbose=False, min_timed_s=0)
    partial = tmp_path / "bench-scale0.001.partial.json"
    saved = json.loads(partial.read_text())
    assert [p["problem"] for p in saved["problems"]] == ["dense_binary"]
    assert not (tmp_path / "bench-scale0.001.json").exists()
    rerender(partial, plots=False)
    assert "| dense_binary |" in (tmp_path / "bench-scale0.001.md").read_text()


def test_runner_rejects_unknown_names():
    with pytest.raises(ValueError, match="Unknown benchmark problem"):
        run(["nope"], out_dir=None)
    with pytest.raises(ValueError, match="Unknown library"):
        run(["dense_binary"], libraries=["nope"], out_dir=None)


def test_cli_bench(tmp_path):
    from sigmax.cli import main

    res = CliRunner().invoke(main, ["bench", "dense_binary", "--scale", "0.001",
                                    "--repeats", "1", "--min-time", "0", "--library", "sigmax",
                                    "--threads", "1",
                                    "--no-memory", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "bench-scale0.001.md").exists()
    res = CliRunner().invoke(main, ["bench", "--scale", "2"])
    assert res.exit_code != 0


def test_floor_is_measured_per_thread_setting(tiny_binary):
    fl = measure_floor(tiny_binary, "float32", threads=["1"], repeats=2)
    assert fl["best"] == fl["1"]["floor"] > 0


# -- the fused row-block pass ------------------------------------------------------------
def _Plain(loss, X, Y, sw, k, *, C, penalty, fit_intercept):
    """The generic path: the objective on the generic data term (no row blocks)."""
    return Objective(GenericData(loss, X, Y, sw, k, fit_intercept), C=C, penalty=penalty)


def _case(loss_name, dtype, sparse, rng, n=1500, d=6, K=4):
    loss = LOSSES[loss_name]
    k = loss.n_outputs(K)
    X = rng.standard_normal((n, d)) * 3
    if sparse:
        X[rng.random((n, d)) < 0.6] = 0
        X = sp.csr_matrix(X)
    X = X.astype(dtype)
    if loss_name == "binomial":
        Y = rng.integers(0, 2, n).astype(float)
    elif loss_name == "multilabel":
        Y = (rng.random((n, k)) < 0.4).astype(float)
    else:
        Y = rng.integers(0, K, n)
    sw = rng.random((n, k)) if loss_name == "multilabel" else rng.random(n)
    return loss, X, Y, sw, k


SPARSE_KERNELS = ["scipy", "compiled"] if _csr.available() else ["scipy"]


@pytest.mark.parametrize("loss_name,dtype,sparse", list(itertools.product(
    ["binomial", "multinomial", "multinomial_reference", "multilabel"],
    [np.float64, np.float32], [False, *SPARSE_KERNELS])))
def test_fused_pass_equals_plain_path(loss_name, dtype, sparse, monkeypatch):
    """Many small blocks on two threads give the plain path's value, gradient and Hessian.

    ``sparse``: CSR ``X`` on SciPy's kernels (one thread) or on the compiled
    ones (sigmax._csr, both threads; int64 indices to cover that signature too).
    """
    monkeypatch.setattr(objective_mod, "BLOCK_BYTES", 2048)
    monkeypatch.setattr(objective_mod, "PARALLEL_MIN_WORK", 1)
    monkeypatch.setattr("sigmax._parallel.blas_threads", lambda: 2)
    monkeypatch.setattr(_csr, "MIN_NNZ", 1 if sparse == "compiled" else 1 << 62)
    rng = np.random.default_rng(3)
    loss, X, Y, sw, k = _case(loss_name, dtype, bool(sparse), rng)
    if sparse == "compiled":
        X.indices, X.indptr = X.indices.astype(np.int64), X.indptr.astype(np.int64)
    kw = dict(C=0.7, penalty=make_penalty("l2"), fit_intercept=True)
    fused, plain = LinearObjective(loss, X, Y, sw, k, **kw), _Plain(loss, X, Y, sw, k, **kw)
    assert fused.data._blocks is not None and len(fused.data._blocks.bounds) > 4
    assert fused.data._blocks.compiled == (sparse == "compiled")
    assert fused.data._blocks.workers() == (1 if sparse == "scipy" else 2)
    # The compiled kernels serve passes on two workers; SciPy's a pass on one.
    assert fused.data._blocks.uses_compiled(2) == (sparse == "compiled")
    assert not fused.data._blocks.uses_compiled(1)
    assert isinstance(plain.data, GenericData)
    w = rng.standard_normal(fused.n_params) * 0.5
    v = rng.standard_normal(fused.n_params)
    tol = 2e-5 if dtype == np.float32 else 1e-10
    f1, g1 = fused.value_and_grad(w)
    f2, g2 = plain.value_and_grad(w)
    assert f1 == pytest.approx(f2, rel=tol)
    np.testing.assert_allclose(g1, g2, rtol=0, atol=tol * np.abs(g2).max())
    h1, h2 = fused.hessp(w, v), plain.hessp(w, v)
    np.testing.assert_allclose(h1, h2, rtol=0, atol=tol * np.abs(h2).max())
    H1, H2 = fused.hessian(w), plain.hessian(w)
    np.testing.assert_allclose(H1, H2, rtol=0, atol=tol * np.abs(H2).max())
    assert fused.objective(w) == pytest.approx(plain.objective(w), rel=tol)
    # The Hessian state follows the latest evaluation (a Newton step reuses it).
    w2 = 0.5 * w
    fused.value_and_grad(w2)
    np.testing.assert_allclose(fused.hessp(w2, v), plain.hessp(w2, v), rtol=0,
                               atol=tol * np.abs(h2).max())
    diag = fused.hessian_diag(w2)
    np.testing.assert_allclose(diag, np.diag(plain.hessian(w2)), rtol=0,
                               atol=tol * np.abs(diag).max())


@pytest.mark.parametrize("loss_name", list(LOSSES))
def test_fused_pass_is_finite_at_extreme_logits(loss_name):
    loss = LOSSES[loss_name]
    k = loss.n_outputs(3)
    X = np.array([[1e3], [-1e3], [0.0]])
    if "multinomial" in loss_name:
        Y = np.array([0, 1, 2])
    elif loss_name == "multilabel":
        Y = np.array([[1.0, 0, 1], [0, 1, 0], [1, 1, 0]])[:, :k]
    else:
        Y = np.array([1.0, 0, 1])
    for dtype in (np.float64, np.float32):
        obj = LinearObjective(loss, X.astype(dtype), Y, np.ones(3), k, C=1.0,
                              penalty=make_penalty("l2"))
        w = np.full(obj.n_params, 5.0)
        w[::2] *= -1
        f, g = obj.value_and_grad(w)
        assert np.isfinite(f) and np.all(np.isfinite(g))
        assert np.all(np.isfinite(obj.hessp(w, w)))


def test_blas_threads_restored_after_a_pass():
    from threadpoolctl import threadpool_info, threadpool_limits

    from sigmax import _parallel

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 20))
    obj = LinearObjective(LOSSES["binomial"], X, (X[:, 0] > 0).astype(float), np.ones(20_000),
                          1, C=1.0, penalty=make_penalty("l2"))
    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    obj.value_and_grad(obj.zeros())
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before
    with threadpool_limits(1):
        assert _parallel.blas_threads() == 1
        assert obj.data._blocks.workers() == 1


def test_serial_blas_keeps_the_pass_workers_and_restores_the_blas():
    from threadpoolctl import threadpool_limits

    from sigmax import _parallel

    def counts():
        return [lib.num_threads for lib in _parallel._numpy_blas()]

    with threadpool_limits(2, user_api="blas"):
        before, budget = counts(), _parallel.blas_threads()
        assert budget == 2
        with _parallel.serial_blas():
            # The solver's own BLAS calls run on one thread...
            assert set(counts()) == {1}
            # ...while the fused passes still get the budget from before.
            assert _parallel.blas_threads() == budget
            with _parallel.serial_blas():  # nested: still held, same budget
                assert set(counts()) == {1} and _parallel.blas_threads() == budget
            assert set(counts()) == {1}
            X = np.random.default_rng(0).standard_normal((20_000, 20))
            obj = LinearObjective(LOSSES["binomial"], X, (X[:, 0] > 0).astype(float),
                                  np.ones(20_000), 1, C=1.0, penalty=make_penalty("l2"))
            assert obj.data._blocks.workers() == min(budget, os.cpu_count() or 1)
            obj.value_and_grad(obj.zeros())
            assert set(counts()) == {1}  # a pass inside restores the held count
        assert counts() == before


def test_a_fit_leaves_the_blas_thread_count_alone():
    from sigmax import SoftmaxRegression, _parallel

    X = np.random.default_rng(1).standard_normal((3000, 5))
    y = np.argmax(X[:, :3], axis=1)
    before = [lib.num_threads for lib in _parallel._numpy_blas()]
    SoftmaxRegression().fit(X, y)
    assert [lib.num_threads for lib in _parallel._numpy_blas()] == before
    assert _parallel._budget is None


def test_passes_inside_serial_blas_do_not_reset_the_blas(monkeypatch):
    """Inside serial_blas the BLAS is already at one thread: a pass run there
    does not set it again (two threadpoolctl calls per pass), and still runs."""
    from sigmax import _parallel

    with _parallel.serial_blas():
        def refuse(*a, **k):
            raise AssertionError("the BLAS was set again inside serial_blas")

        monkeypatch.setattr(_parallel, "_one_blas_thread", refuse)
        assert _parallel.run_blocks(lambda idx: sum(idx), 4, 1) == [6]
    monkeypatch.undo()
    seen = []
    real = _parallel._one_blas_thread
    monkeypatch.setattr(_parallel, "_one_blas_thread",
                        lambda hold, *a: seen.append(hold) or real(hold, *a))
    assert _parallel.run_blocks(lambda idx: sum(idx), 4, 1) == [6]
    assert seen == [_parallel._PASSES]  # outside a solve the pass holds the BLAS itself


def test_defaults_group_measures_each_library_at_its_defaults(tmp_path):
    from sigmax.bench import GROUPS, defaults

    res = GROUPS["defaults"](["breast_cancer_l1", "digits"], scale=0.3, repeats=1,
                             threads=["1"], out_dir=tmp_path, verbose=False)
    by = {p["problem"]: p["settings"]["1"] for p in res["problems"]}
    # scikit-learn's defaults: lbfgs, and saga where the penalty is L1.
    assert by["breast_cancer_l1"]["sklearn"]["solver"] == "saga"
    assert by["digits"]["sklearn"]["solver"] == "lbfgs"
    for rows in by.values():
        for lib in ("sigmax", "sklearn"):
            r = rows[lib]
            assert r["seconds"] > 0 and r["n_iter"] >= 1 and 0 <= r["same_predictions"] <= 1
            assert r["gap"] > -1e-12  # no fit beats the reference optimum
        assert rows["ratio"] == rows["sigmax"]["seconds"] / rows["sklearn"]["seconds"]
        assert rows["as_accurate"] == (rows["sigmax"]["gap"] <= rows["sklearn"]["gap"] or max(
            rows["sigmax"]["gap"], rows["sklearn"]["gap"]) <= defaults.SAME_GAP)
    table = (tmp_path / "defaults-scale0.3.md").read_text()
    assert table.count("\n| breast_cancer_l1 | 1 |") == 1 and "| digits | 1 |" in table
    assert json.loads((tmp_path / "defaults-scale0.3.json").read_text())["group"] == "defaults"
