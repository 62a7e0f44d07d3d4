"""One adapter per library, all with the same signature.

An adapter turns a :class:`~sigmax.bench.problems.ProblemData` into that
library's input once (:meth:`Adapter.prepare`, not timed: "the data loaded"),
then fits it with a named solver and a tolerance (:meth:`Adapter.fit`, timed
by the runner) and returns the coefficients as a :class:`Fit` in one layout
(``coef`` of shape ``(k, d)``, ``intercept`` of shape ``(k,)``), which the
runner scores with one objective function. The tolerance means whatever the
library means by it; the runner never trusts it and checks the objective gap.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from .problems import ProblemData

__all__ = ["ADAPTERS", "Adapter", "Fit"]


@dataclass(frozen=True)
class Fit:
    """Coefficients ``(k, d)``, intercepts ``(k,)`` and iterations of one fit."""

    coef: np.ndarray
    intercept: np.ndarray
    n_iter: int
    #: The solver that actually ran (sigmax's ``"auto"`` names its choice).
    solver_used: str = ""
    #: Per-iteration ``seconds`` and normalized ``objective`` when the library records them.
    history: dict | None = None


class Adapter:
    """Base class: a library that can fit (some of) the benchmark problems."""

    name: ClassVar[str]
    #: Working dtypes the library is timed in.
    dtypes: ClassVar[tuple[str, ...]] = ("float64",)

    def available(self) -> bool:
        return True

    def solvers(self, data: ProblemData, dtype: str = "float64"
                ) -> list[str]:  # pragma: no cover - abstract
        """Solvers of this library that minimize this problem's objective in ``dtype``."""
        raise NotImplementedError

    def prepare(self, data: ProblemData, dtype: str) -> Any:
        """The library's own input, built once outside the timing."""
        return data.X32 if dtype == "float32" else data.X

    def fit(self, prepared: Any, data: ProblemData, *, solver: str, tol: float,
            max_iter: int, dtype: str) -> Fit:  # pragma: no cover - abstract
        raise NotImplementedError


class SigmaxAdapter(Adapter):
    """sigmax's estimators; ``"auto"`` is what a user gets without choosing."""

    name = "sigmax"
    dtypes = ("float64", "float32")

    def solvers(self, data, dtype="float64"):
        # "auto" is what users get; the named solvers (float64 only) are the
        # measurements that choose_solver's rule is tuned from.
        if dtype == "float32":
            return ["auto"]
        if data.problem.penalty == "l1":
            return ["auto", "proximal", "proximal-newton"]
        out = ["auto", "lbfgs", "newton-cg"]
        if data.n_params <= 400 and not sp.issparse(data.X):
            out.append("newton-cholesky")
        return out

    def fit(self, prepared, data, *, solver, tol, max_iter, dtype):
        from .. import LogisticRegression, MultiLabelLogistic, SoftmaxRegression

        est_cls = {"binary": LogisticRegression, "multinomial": SoftmaxRegression,
                   "multilabel": MultiLabelLogistic}[data.problem.kind]
        est = est_cls(penalty=data.problem.penalty, C=data.problem.C, solver=solver, tol=tol,
                      max_iter=max_iter, dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(prepared, data.y)
        rec = est.fit_record_
        return Fit(np.asarray(est.coef_, dtype=np.float64).reshape(-1, data.X.shape[1]),
                   np.asarray(est.intercept_, dtype=np.float64).reshape(-1),
                   int(rec.n_iter), solver_used=rec.solver,
                   history={"seconds": list(rec.history.get("seconds", [])),
                            "objective": list(rec.history.get("objective", []))})


class SklearnAdapter(Adapter):
    """scikit-learn's LogisticRegression (one-vs-rest wrapper for multi-label)."""

    name = "sklearn"

    def solvers(self, data, dtype="float64"):
        kind, pen = data.problem.kind, data.problem.penalty
        if pen == "l1":
            return ["liblinear", "saga"] if kind != "multinomial" else ["saga"]
        out = ["lbfgs", "newton-cg"]
        per_head = data.X.shape[1] + 1
        p = per_head if kind != "multinomial" else data.n_params
        if p <= 2500 and not sp.issparse(data.X):
            out.append("newton-cholesky")
        if kind != "multinomial":
            out.append("liblinear")
        out += ["sag", "saga"]
        return out

    def fit(self, prepared, data, *, solver, tol, max_iter, dtype):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        kw: dict[str, Any] = dict(C=data.problem.C, solver=solver, tol=tol,
                                  max_iter=max_iter, random_state=0,
                                  l1_ratio=1.0 if data.problem.penalty == "l1" else 0.0)
        if solver == "liblinear":
            # liblinear penalizes the intercept like a weight; a large
            # intercept_scaling makes that penalty negligible so that it
            # solves (nearly) the same objective. The gap check decides.
            kw["intercept_scaling"] = 100.0
        est = LogisticRegression(**kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
            if data.problem.kind == "multilabel":
                ovr = OneVsRestClassifier(est).fit(prepared, data.y)
                coef = np.vstack([e.coef_ for e in ovr.estimators_])
                icpt = np.concatenate([e.intercept_ for e in ovr.estimators_])
                n_iter = max(int(np.max(e.n_iter_)) for e in ovr.estimators_)
            else:
                est.fit(prepared, data.y)
                coef, icpt, n_iter = est.coef_, est.intercept_, int(np.max(est.n_iter_))
        return Fit(np.asarray(coef, dtype=np.float64), np.asarray(icpt, dtype=np.float64),
                   n_iter)


class StatsmodelsAdapter(Adapter):
    """statsmodels' ``Logit.fit_regularized`` (L1, binary): the objective it can solve.

    statsmodels has no L2-penalized logit/multinomial fit with an unpenalized
    intercept, so it only enters the L1 binary problem.
    """

    name = "statsmodels"

    def available(self):
        try:
            import statsmodels.api  # noqa: F401
        except ImportError:  # pragma: no cover
            return False
        return True

    def solvers(self, data, dtype="float64"):
        if data.problem.kind == "binary" and data.problem.penalty == "l1" \
                and not sp.issparse(data.X):
            return ["l1-slsqp"]
        return []

    def prepare(self, data, dtype):
        return np.column_stack([np.ones(data.X.shape[0]), data.X])

    def fit(self, prepared, data, *, solver, tol, max_iter, dtype):
        import statsmodels.api as sm

        # statsmodels minimizes -loglike + sum_j alpha_j |beta_j|: sklearn's
        # objective divided by C, with alpha = 1/C and 0 on the constant.
        alpha = np.full(prepared.shape[1], 1.0 / data.problem.C)
        alpha[0] = 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sm.Logit(data.y, prepared).fit_regularized(
                method="l1", alpha=alpha, disp=0, acc=tol, maxiter=max_iter, trim_mode="off")
        params = np.asarray(res.params)
        n_iter = int(res.mle_retvals.get("iterations", 0)) if res.mle_retvals else 0
        return Fit(params[None, 1:], params[:1], n_iter)


class TorchAdapter(Adapter):
    """PyTorch's L-BFGS (strong Wolfe line search) on the same objective, dense L2 only."""

    name = "torch"

    def available(self):
        try:
            import torch  # noqa: F401
        except ImportError:  # pragma: no cover
            return False
        return True

    def solvers(self, data, dtype="float64"):
        if data.problem.penalty == "l2" and not sp.issparse(data.X):
            return ["lbfgs"]
        return []

    def prepare(self, data, dtype):
        import torch

        X = torch.from_numpy(data.X32 if dtype == "float32" else data.X)
        y = torch.from_numpy(np.asarray(data.y))
        if data.problem.kind != "multinomial":
            y = y.to(X.dtype).reshape(len(y), -1)
        return X, y

    def fit(self, prepared, data, *, solver, tol, max_iter, dtype):
        import torch
        import torch.nn.functional as F

        X, y = prepared
        k, d, C = data.n_outputs, X.shape[1], data.problem.C
        W = torch.zeros(d, k, dtype=X.dtype, requires_grad=True)
        b = torch.zeros(k, dtype=X.dtype, requires_grad=True)
        # Normalized like sigmax (divided by C n) so that tolerance_grad means
        # the same at every n.
        scale = 1.0 / (C * X.shape[0])
        opt = torch.optim.LBFGS([W, b], lr=1, max_iter=max_iter, history_size=30,
                                tolerance_grad=tol, tolerance_change=1e-15,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            Z = X @ W + b
            if data.problem.kind == "multinomial":
                loss = F.cross_entropy(Z, y, reduction="sum")
            else:
                loss = F.binary_cross_entropy_with_logits(Z, y, reduction="sum")
            f = (C * loss + 0.5 * (W * W).sum()) * scale
            f.backward()
            return f

        opt.step(closure)
        n_iter = int(opt.state[opt._params[0]].get("n_iter", 0))
        return Fit(W.detach().double().numpy().T.copy(), b.detach().double().numpy().copy(),
                   n_iter)


#: Registry of adapters by library name, in report order.
ADAPTERS: dict[str, Adapter] = {a.name: a for a in (
    SigmaxAdapter(), SklearnAdapter(), StatsmodelsAdapter(), TorchAdapter())}
