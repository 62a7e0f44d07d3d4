"""Newton-CG's vector updates (``sigmax.solvers.cg_updates``): NumPy or compiled sweeps.

The compiled sweeps must do the NumPy updates' arithmetic (every
preconditioner, with and without the row-mean split), and Newton-CG must take
the same directions with either.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import sigmax.solvers.cg_updates as cg_updates
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty
from sigmax.solvers import SOLVERS
from sigmax.solvers.cg_updates import CompiledUpdates, NumpyUpdates
from sigmax.solvers.preconditioners import Jacobi, OutputBlocks

D, K = 7, 5


class _Split:
    """The row-mean split's centering (``_RowMeans.center``) on the (D, K) layout."""

    def center(self, v):
        V = v.reshape(-1, K)
        V -= V.mean(axis=1, keepdims=True)


def _pre(kind, r):
    if kind == "jacobi":
        return Jacobi(r.uniform(0.5, 4.0, D * K))
    if kind == "blocks":
        A = r.standard_normal((K, D, D))
        return OutputBlocks(A @ A.transpose(0, 2, 1) + D * np.eye(D))
    return None


@pytest.mark.parametrize("kind", ["none", "jacobi", "blocks"])
@pytest.mark.parametrize("center", [False, True])
def test_compiled_updates_do_the_numpy_arithmetic(kind, center):
    r = np.random.default_rng(0)
    pre = _pre(kind, r)
    split = _Split() if center and pre is not None else None
    vecs = {name: r.standard_normal(D * K) for name in ("x", "r", "p", "Hp", "z")}
    out = []
    for ops in (NumpyUpdates(pre, split), CompiledUpdates(pre, split, K)):
        v = {name: a.copy() for name, a in vecs.items()}
        z = v["r"] if pre is None else v["z"]  # plain CG: z is r itself
        norms = ops.norms(v["r"])
        curv = ops.curvature(v["p"], v["Hp"])
        scalars = ops.update(v["x"], v["r"], v["p"], v["Hp"], z, 0.37)
        ops.turn(v["p"], z, 0.61)
        out.append((norms, curv, scalars, v["x"], v["r"], v["p"], z))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_newton_cg_takes_the_same_directions_with_either(monkeypatch):
    r = np.random.default_rng(1)
    n, d = 600, 150
    X = sp.random(n, d, density=0.05, random_state=2, format="csr") * 3
    y = r.integers(0, K, n)
    obj = LinearObjective(LOSSES["multinomial"], X, y, np.ones(n), K, C=30.0,
                          penalty=make_penalty("l2"))
    w = r.standard_normal(obj.n_params) * 0.3
    _, g = obj.value_and_grad(w)
    solver = SOLVERS["newton-cg"].__class__.__new__(SOLVERS["newton-cg"].__class__)
    solver.precondition, solver._jacobi, solver._rare, solver._blocks = True, None, False, False
    solver._tol = 1e-10
    solver.forcing = lambda g: 1e-8  # a tight solve: many CG steps to compare
    steps = {}
    for fused in (False, True):
        monkeypatch.setattr(cg_updates, "FUSED_MIN_PARAMS", 0 if fused else 1 << 60)
        before = obj.n_hessp_evals
        steps[fused] = (solver.direction(obj, w, g, float(np.abs(g).max())),
                        obj.n_hessp_evals - before)
    (numpy_step, n_numpy), (fused_step, n_fused) = steps[False], steps[True]
    assert n_numpy > 10
    assert abs(n_fused - n_numpy) <= 1  # sums in another order: a stop may move by one
    assert np.linalg.norm(fused_step - numpy_step) <= 1e-6 * np.linalg.norm(numpy_step)
