"""The dask backend on a LocalCluster (2 worker processes): same models as NumPy.

One cluster serves the whole module (starting one costs seconds on 2 vCPUs).
"""

from __future__ import annotations

import logging
import os
import signal

import numpy as np
import pytest
from backend_cases import (
    CASES,
    PENALTIES,
    assert_same_objective,
    backend_data,
    quiet_fit,
    reference_fit,
)

from sigmax import LogisticRegression, SoftmaxRegression
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from sigmax.backends import dask_backend  # noqa: E402
from sigmax.backends.dask_backend import (  # noqa: E402
    ChunkedData,
    ChunkedObjective,
    WorkerLostError,
)

CHUNK = 60  # 240 rows -> 4 chunks: every test input spans several chunks


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.CRITICAL)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(("penalty", "extra"), PENALTIES)
def test_numpy_torch_dask_give_the_same_coefficients(client, case, penalty, extra):
    # The solvers are deterministic and the three backends compute the same
    # numbers to rounding, so they follow the same path to the same optimum.
    Est, params, X, y, ref = reference_fit(case, penalty, extra, tol=1e-7)
    assert ref.fit_record_.converged
    Xd = da.from_array(X, chunks=(CHUNK, -1))
    assert Xd.numblocks[0] == 4
    fits = {"dask": quiet_fit(Est(**params), Xd, da.from_array(y, chunks=CHUNK))}
    try:
        import torch

        fits["torch"] = quiet_fit(Est(**params), torch.from_numpy(X), y)
    except ImportError:
        pass
    for name, got in fits.items():
        assert got.solver_ == ref.solver_, name
        np.testing.assert_allclose(got.coef_, ref.coef_, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(got.intercept_, ref.intercept_, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_lbfgs_and_newton_cg_on_dask(client, solver):
    X, y3, _ = backend_data(1)
    ref = SoftmaxRegression(C=0.5, solver=solver, tol=1e-8).fit(X, y3)
    got = SoftmaxRegression(C=0.5, solver=solver, tol=1e-8).fit(
        da.from_array(X, chunks=(CHUNK, -1)), y3)
    assert got.fit_record_.converged
    np.testing.assert_allclose(got.coef_, ref.coef_, atol=1e-6)


def test_chunked_objective_is_the_numpy_objective(client):
    """Value, gradient, Hessian products and Hessian equal the in-memory ones."""
    rng = np.random.default_rng(2)
    X, y3, _ = backend_data(2)
    weights = rng.uniform(0.5, 2.0, len(y3))
    weights[:CHUNK] = 0.0  # a chunk whose rows all have weight 0 contributes nothing
    loss, pen = LOSSES["multinomial"], make_penalty("l2")
    ref = LinearObjective(loss, X, y3, weights, 3, C=0.3, penalty=pen)
    got = ChunkedObjective(loss, da.from_array(X, chunks=(CHUNK, -1)), y3, weights, 3, C=0.3,
                           penalty=pen, persist=False)
    w, v = rng.normal(size=ref.n_params), rng.normal(size=ref.n_params)
    assert_same_objective(ref, got, w, v)
    assert got.data.n_batches == 4 and got.data.persisted is False


def test_dataframe_in_lazy_arrays_out(client):
    pd = pytest.importorskip("pandas")
    X, y3, _ = backend_data(3)
    names = np.array(["cat", "dog", "eel"])[y3]
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["label"] = names
    ddf = dd.from_pandas(frame, npartitions=3)
    ref = SoftmaxRegression(C=1.0).fit(frame.drop(columns="label"), names)
    est = SoftmaxRegression(C=1.0).fit(ddf.drop(columns="label"), ddf["label"])
    assert list(est.feature_names_in_) == list(ref.feature_names_in_)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-6)
    Xq = ddf.drop(columns="label")
    proba, pred = est.predict_proba(Xq), est.predict(Xq)
    assert isinstance(proba, da.Array) and isinstance(pred, da.Array)  # lazy
    np.testing.assert_allclose(proba.compute(), ref.predict_proba(frame.drop(columns="label")),
                               atol=1e-6)
    assert (pred.compute() == ref.predict(frame.drop(columns="label"))).mean() > 0.99
    for method in ("decision_function", "predict_log_proba"):
        out = getattr(est, method)(Xq)
        assert isinstance(out, da.Array)
        np.testing.assert_allclose(out.compute(),
                                   getattr(ref, method)(frame.drop(columns="label")), atol=1e-6)


def test_parquet_streamed_out_of_core(client, tmp_path, monkeypatch):
    """Data not persisted (as when larger than the cluster): every pass reads Parquet."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X, y3, _ = backend_data(4)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["y"] = (y3 == 1).astype(int)
    for i in range(4):
        frame.iloc[i * CHUNK:(i + 1) * CHUNK].to_parquet(tmp_path / f"part{i}.parquet")
    ddf = dd.read_parquet(str(tmp_path))
    monkeypatch.setattr(dask_backend, "PERSIST_FRACTION", 0.0)  # force streaming
    est = LogisticRegression(C=1.0, tol=1e-9).fit(ddf.drop(columns="y"), ddf["y"])
    ref = LogisticRegression(C=1.0, tol=1e-9).fit(X, frame["y"].to_numpy())
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-6)


def test_minibatch_solver_on_chunks(client):
    X, y3, _ = backend_data(5, n=480)
    ref = LogisticRegression(C=0.5, tol=1e-9).fit(X, y3 == 0)
    est = LogisticRegression(C=0.5, solver="minibatch", tol=1e-6, max_iter=500).fit(
        da.from_array(X, chunks=(CHUNK, -1)), y3 == 0)
    rec = est.fit_record_
    assert rec.converged and rec.grad_norm <= 1e-6
    assert "8 batches, 2 per step" in rec.message  # one chunk per worker thread
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-4)


def test_bad_input_errors(client):
    X, y3, _ = backend_data(6)
    Xbad = X.copy()
    Xbad[130, 2] = np.inf
    with pytest.raises(ValueError, match=r"1 infinite value\(s\), at \(row 130, column 2\)"):
        LogisticRegression().fit(da.from_array(Xbad, chunks=(CHUNK, -1)), y3 == 0)
    with pytest.raises(ValueError, match="X has 240 samples but y has 239"):
        LogisticRegression().fit(da.from_array(X, chunks=(CHUNK, -1)), (y3 == 0)[:-1])
    with pytest.raises(ValueError, match="only applies to backend='torch'"):
        LogisticRegression(backend="dask", device="cuda").fit(X, y3 == 0)


def test_unrecoverable_cluster_failure_is_a_clear_error(client, monkeypatch):
    import dask

    X, y3, _ = backend_data(7)

    compute, calls = dask.compute, {"n": 0}

    def lost_after_two(*args, **kwargs):
        # What dask raises when a task killed allowed_failures + 1 workers in a row.
        calls["n"] += 1
        if calls["n"] <= 2:
            return compute(*args, **kwargs)
        worker = type("WorkerState", (), {"address": "tcp://127.0.0.1:1"})()
        raise distributed.KilledWorker("chunk-task", worker, allowed_failures=3)

    est = LogisticRegression()
    monkeypatch.setattr(dask, "compute", lost_after_two)
    with pytest.raises(WorkerLostError, match="could not finish evaluating"):
        est.fit(da.from_array(X, chunks=(CHUNK, -1)), y3 == 0)
    assert not hasattr(est, "coef_")  # no model from a failed fit


def test_worker_killed_mid_fit_does_not_lose_the_fit(client, monkeypatch):
    """SIGKILL one worker process during the fit: dask recomputes its chunks elsewhere.

    The fit must then give the same model as without the failure, or stop with
    WorkerLostError; a model fitted on part of the data is never returned.
    """
    X, y3, _ = backend_data(8, n=480)
    ref = SoftmaxRegression(C=0.1, solver="lbfgs", tol=1e-9).fit(X, y3)
    pids = sorted(client.run(os.getpid).values())
    assert len(pids) == 2
    calls = {"n": 0}
    evaluate = ChunkedData.value_and_grad

    def evaluate_and_kill(self, w):
        calls["n"] += 1
        if calls["n"] == 3:  # persisted chunks and in-flight tasks are lost with it
            os.kill(pids[0], signal.SIGKILL)
        return evaluate(self, w)

    monkeypatch.setattr(ChunkedData, "value_and_grad", evaluate_and_kill)
    try:
        est = SoftmaxRegression(C=0.1, solver="lbfgs", tol=1e-9).fit(
            da.from_array(X, chunks=(CHUNK, -1)), y3)
    except WorkerLostError as exc:
        assert "could not finish" in str(exc)
    else:
        assert calls["n"] > 3
        np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-6)
    client.wait_for_workers(2, timeout=60)
    assert pids[0] not in client.run(os.getpid).values()  # the worker really died
