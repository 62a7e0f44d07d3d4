"""Fits side by side on threads: each keeps its own warnings, and the study's numbers do not
depend on how many ran at once (sigmax._thread_warnings, sigmax.study.side_by_side)."""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np
import pytest

import sigmax
from sigmax import _thread_warnings
from sigmax.study.compare import CANDIDATES, CandidateSpec, compare, register_candidate
from sigmax.study.side_by_side import Shared, run_side_by_side


def _warn_from(name: str, delay: float = 0.0) -> list[str]:
    with _thread_warnings.recording() as caught:
        time.sleep(delay)
        warnings.warn(f"from {name}", UserWarning, stacklevel=1)
    return [str(w.message) for w in caught]


def test_each_thread_records_only_its_own_warnings():
    got: dict[str, list[str]] = {}

    def work(name: str, delay: float) -> None:
        got[name] = _warn_from(name, delay)

    with _thread_warnings.capture():
        threads = [threading.Thread(target=work, args=(n, d)) for n, d in
                   (("a", 0.05), ("b", 0.0), ("c", 0.02))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert got == {"a": ["from a"], "b": ["from b"], "c": ["from c"]}
    assert not _thread_warnings.active()


def test_a_carried_helper_thread_records_into_its_callers_list():
    def helper() -> None:
        warnings.warn("from the helper", RuntimeWarning, stacklevel=1)

    with _thread_warnings.capture(), _thread_warnings.recording() as caught:
        t = threading.Thread(target=_thread_warnings.carry(helper))
        t.start()
        t.join()
    assert [str(w.message) for w in caught] == ["from the helper"]
    assert caught[0].category is RuntimeWarning


def test_a_warning_outside_any_record_goes_where_it_went_before():
    seen = []
    before = warnings.showwarning
    warnings.showwarning = lambda message, *args, **kw: seen.append(str(message))
    try:
        with _thread_warnings.capture():
            warnings.warn("nobody records this", UserWarning, stacklevel=1)
    finally:
        warnings.showwarning = before
    assert seen == ["nobody records this"]


def test_captures_nest_and_overlap_and_the_last_one_out_restores():
    hook, filters = warnings.showwarning, list(warnings.filters)
    with _thread_warnings.capture():
        with _thread_warnings.capture():
            assert _thread_warnings.active()
        assert _thread_warnings.active() and warnings.showwarning is not hook
    assert not _thread_warnings.active()
    assert warnings.showwarning is hook and warnings.filters == filters
    # Two studies at once: A in, B in, A out (B's workers still record), B out.
    a_in, a_out, b_in = threading.Event(), threading.Event(), threading.Event()
    got: list[str] = []

    def study_a() -> None:
        with _thread_warnings.capture():
            a_in.set()
            b_in.wait()
        a_out.set()

    def study_b() -> None:
        a_in.wait()
        with _thread_warnings.capture():
            b_in.set()
            a_out.wait()
            got.extend(_warn_from("b after a"))

    threads = [threading.Thread(target=study_a), threading.Thread(target=study_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["from b after a"]
    assert warnings.showwarning is hook and warnings.filters == filters


@pytest.mark.parametrize("at_once", [1, 2, 3])
def test_results_come_back_in_task_order(at_once):
    # Later tasks finish first: the results still follow the tasks.
    tasks = [lambda i=i: (time.sleep(0.01 * (5 - i)), i)[1] for i in range(6)]
    done: list[int] = []

    def record(i: int, result: int) -> None:
        assert result == i  # each task's own result, as it finishes
        done.append(i)

    assert run_side_by_side(tasks, at_once, done=record) == list(range(6))
    assert sorted(done) == list(range(6))
    if at_once == 1:
        assert done == list(range(6))


def test_a_failing_task_raises_and_the_rest_are_dropped():
    started: list[int] = []

    def task(i: int) -> int:
        started.append(i)
        if i == 0:
            raise ValueError("task 0 failed")
        time.sleep(0.05)
        return i

    with pytest.raises(ValueError, match="task 0 failed"):
        run_side_by_side([lambda i=i: task(i) for i in range(20)], 2)
    assert len(started) < 20
    assert not _thread_warnings.active()


def test_shared_value_is_made_once_and_dropped_after_its_last_user():
    made = []
    shared = Shared(lambda: made.append(1) or np.arange(3), users=2)
    a, b = shared.get(), shared.get()
    assert a is b and made == [1]
    shared.release()
    assert shared.get() is a
    shared.release()
    assert shared._value is None


class _OddRowsSoftmax(sigmax.SoftmaxRegression):
    """Warns when fitted on an odd number of rows: which folds warned is known."""

    def fit(self, X, y, sample_weight=None, offset=None):
        if len(X) % 2:
            warnings.warn(f"odd rows ({len(X)})", UserWarning, stacklevel=2)
        return super().fit(X, y, sample_weight=sample_weight, offset=offset)


def _study(cores: int):
    r = np.random.default_rng(3)
    X = r.normal(size=(301, 4))
    y = np.argmax(X[:, :3] + r.gumbel(size=(301, 3)), axis=1)
    res = compare(X, y, quick=True, sections=["performance", "calibration", "visualization"],
                  n_jobs=cores)
    assert res.settings["n_jobs"] == cores
    return res.problems[0]


def test_folds_side_by_side_give_the_numbers_of_folds_one_after_the_other(monkeypatch):
    monkeypatch.setitem(CANDIDATES, "multiclass", list(CANDIDATES["multiclass"]))
    register_candidate("multiclass", CandidateSpec(
        "odd", "Softmax that warns on odd rows", _OddRowsSoftmax, "codes", "softmax", 1.0,
        "C as given"))
    serial, side = _study(1), _study(2)
    assert "ran 2 at a time" in side.performance.folds
    assert "at a time" not in serial.performance.folds
    for a, b in zip(serial.candidates, side.candidates):
        assert a.name == b.name
        assert a.metrics == b.metrics  # the same fits on the same folds, bit for bit
        assert a.params.C_per_fold == b.params.C_per_fold
    for a, b in zip(serial.calibration.candidates, side.calibration.candidates):
        assert a.to_dict() == b.to_dict()
    # The out-of-fold predictions, filed as each fit finished, give the same views.
    assert serial.visualization.confusion == side.visualization.confusion
    assert serial.visualization.reliability == side.visualization.reliability
    sizes = np.array(side.performance.fold_sizes)
    for c in side.candidates:  # every test row filed once, under its own fold's model
        M = np.asarray(side.visualization.confusion[c.name])
        assert M.sum() == sizes.sum() == 301
        assert np.trace(M) == pytest.approx(np.dot(c.metrics["accuracy"], sizes))
    # The 3 training folds have 200, 201 and 201 rows: 2 of 3 fits warned, in each mode.
    for p in (serial, side):
        odd = next(c for c in p.candidates if c.name == "odd")
        notes = [n for n in odd.notes if "odd rows" in n]
        assert notes == ["UserWarning in 1 of 1 fits on all rows: odd rows (301)",
                         "UserWarning in 2 of 3 cross-validation fits: odd rows (201)"]
        others = [n for c in p.candidates if c.name != "odd" for n in c.notes]
        assert not any("odd rows" in n for n in others)


def test_n_jobs_defaults_to_the_cores_this_process_may_use(monkeypatch):
    from sigmax import _parallel

    monkeypatch.setattr(_parallel.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert _parallel.usable_cores() == 3
    X = np.random.default_rng(0).normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    res = compare(X, y, C=1.0, quick=True, sections=["k2"])
    assert res.settings["n_jobs"] == 3


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_a_bad_n_jobs_is_refused_with_its_value(bad):
    X = np.random.default_rng(0).normal(size=(60, 2))
    with pytest.raises(ValueError, match=r"n_jobs must be None, -1 \(every core\) or an "
                                         r"integer >= 1"):
        compare(X, (X[:, 0] > 0).astype(int), quick=True, sections=["k2"], n_jobs=bad)


def test_the_cost_model_counts_the_cores_for_fits_side_by_side():
    from sigmax.study.budget import budget_for
    from sigmax.study.cost import FitTime, Probe, Sizes, estimate

    fit = FitTime("softmax", 1.0, 1000, 50, 60, 30, 3, tuned=True)
    probe = Probe("p", 1000, 9, "multiclass", 3, 3, (fit, fit), grad_rate=1e-8)
    one = estimate(probe, Sizes(budget_for(False), 5, tuned=True, cores=1), ["performance"])
    two = estimate(probe, Sizes(budget_for(False), 5, tuned=True, cores=2), ["performance"])
    # Two cores: the tasks side by side, each search's inner folds one after the other.
    assert two["performance"] < one["performance"]
    # On all rows a C search runs its 2 inner folds side by side when it has 2 cores.
    assert two["full_fits"] < one["full_fits"]


def test_fits_on_another_backend_run_one_at_a_time():
    from sigmax.study.side_by_side import cores

    assert cores(4) == 4 and cores(4, {"backend": "numpy"}) == 4
    assert cores(4, {"backend": "dask"}) == 1 and cores(None, {"backend": "torch"}) == 1
