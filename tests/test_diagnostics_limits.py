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


def test_one_hot_block_next_to_the_intercept_is_named():
    import pandas as pd

    from sigmax.diagnostics import design_dependencies

    r = np.random.default_rng(0)
    home = np.array(["own", "rent", "other"])[r.integers(0, 3, 300)]
    X = pd.concat([pd.DataFrame({"income": r.normal(size=300)}),
                   pd.get_dummies(pd.Series(home, name="Home"), prefix="Home",
                                  prefix_sep="=", dtype=float)], axis=1)
    out = design_dependencies(X.to_numpy(), list(X.columns))
    assert out["deficiency"] == 1 and out["rank"] == 4
    assert set(out["dependencies"][0]) == {"Home=other", "Home=own", "Home=rent", "intercept"}
    assert "income" not in out["dependencies"][0]
    # without the intercept, or with a reference level dropped, the design is full rank
    assert design_dependencies(X.to_numpy(), list(X.columns),
                               fit_intercept=False)["deficiency"] == 0
    assert design_dependencies(X.drop(columns="Home=other").to_numpy())["deficiency"] == 0


def test_lanczos_smallest_eigenvalues_match_the_dense_spectrum():
    from sigmax import SoftmaxRegression
    from sigmax.diagnostics import objective_for, params_of, smallest_eigenvalues

    r = np.random.default_rng(1)
    X = r.normal(size=(600, 20))
    y = np.arange(600) % 10
    est = SoftmaxRegression(penalty=None, tol=1e-10).fit(X, y)
    obj = objective_for(est, X, y)
    w = params_of(est, obj)
    dense = np.linalg.eigvalsh(obj.hessian(w))  # 210 parameters: the block method runs
    small = smallest_eigenvalues(obj, w, k=25)
    np.testing.assert_allclose(small, dense[:25], atol=1e-6 * dense[-1])
    # the unpenalized symmetric softmax has d + 1 = 21 zero eigenvalues, all found
    assert int(np.sum(small < 1e-7 * dense[-1])) == 21


def test_design_dependencies_memory_does_not_grow_with_rows_squared():
    from sigmax.diagnostics import design_dependencies

    X = np.random.default_rng(2).normal(size=(20_000, 5))
    tracemalloc.start()
    out = design_dependencies(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert out["deficiency"] == 0
    assert peak < 50 * X.nbytes  # a full U would be 20,000^2 doubles = 3.2 GB
    wide = np.random.default_rng(3).normal(size=(4, 9))  # rows < columns: still exact
    assert design_dependencies(wide)["deficiency"] == 10 - 4
