"""The separation check decides from sizes before allocating, and says 'undecided' plainly."""

from __future__ import annotations

import tracemalloc

import numpy as np

from sigmax.diagnostics import separation


def test_size_limit_decides_before_allocating():
    X = np.random.default_rng(0).normal(size=(200_000, 10))
    y = np.arange(len(X)) % 3
    tracemalloc.start()
    out = separation(X, y, max_size=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert out["separated"] is None
    assert out["method"].startswith("undecided (size limit)")
    assert out["n_constraints"] == 2 * len(X)
    assert peak < 8 * X.nbytes / 10  # far less than one copy of X (16 MB)


def test_time_limit_reads_undecided(monkeypatch):
    import scipy.optimize

    class Stopped:
        status, message, fun = 1, "HiGHS Status 13: Time limit reached", 0.0

    monkeypatch.setattr(scipy.optimize, "linprog", lambda *a, **k: Stopped())
    X = np.random.default_rng(1).normal(size=(30, 2))
    out = separation(X, np.arange(30) % 2, time_limit=1.5)
    assert out["separated"] is None
    assert out["method"] == "undecided (time limit of 1.5 s)"
    assert "HiGHS" not in out["method"]
