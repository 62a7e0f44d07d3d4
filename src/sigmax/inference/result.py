r"""The :class:`Inference` result: coefficient table, fit statistics, tests, effects.

Everything is computed once by :func:`sigmax.inference` except the marginal
effects (another pass over ``X``, on demand). Renderers: :meth:`Inference.summary`
(text), :meth:`Inference.to_html`, :meth:`Inference.to_dict` (JSON-ready),
:meth:`Inference.to_frame`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import xlogy

from .information import RowSums
from .spec import ModelSpec

__all__ = ["TABLE_COLUMNS", "HeadsInference", "Inference", "WaldTest"]

#: Columns of :attr:`Inference.table`.
TABLE_COLUMNS = ("output", "term", "coef", "std_err", "z", "p_value", "ci_low", "ci_high",
                 "odds_ratio")


@dataclass(frozen=True)
class WaldTest:
    r"""Wald test of :math:`R\beta = q`: :math:`(R\hat\beta - q)^\top (R \Sigma R^\top)^{-1}
    (R\hat\beta - q) \sim \chi^2_{df}` under the hypothesis."""

    statistic: float
    pvalue: float
    df: int

    def __str__(self) -> str:
        return f"Wald chi2({self.df}) = {self.statistic:.4f}, p = {self.pvalue:.4g}"


def _odds(coef: np.ndarray) -> np.ndarray:
    # exp of a coefficient, clipped to the float range (a finite answer for any finite input)
    return np.exp(np.clip(coef, -745.0, 709.0))


def _z_table(coef: np.ndarray, cov: np.ndarray, alpha: float) -> dict[str, np.ndarray]:
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = coef / se
    crit = stats.norm.isf(alpha / 2)
    return {"std_err": se, "z": z, "p_value": 2 * stats.norm.sf(np.abs(z)),
            "ci_low": coef - crit * se, "ci_high": coef + crit * se}


class Inference:
    """Coefficient table and fit statistics of a fitted sigmax model (see :func:`sigmax.inference`).

    Attributes
    ----------
    table : DataFrame
        One row per (output, term): ``output, term, coef, std_err, z, p_value, ci_low,
        ci_high, odds_ratio``. Softmax: log-odds of each class against :attr:`reference`.
    params : ndarray of shape (p,)
    cov : ndarray of shape (p, p)
        Covariance of ``params``, rows ordered as :attr:`table`.
    llf, llnull : float
        Log-likelihood at the estimate, and of the intercept-only model.
    prsquared : float
        McFadden's pseudo R-squared ``1 - llf / llnull``.
    aic, bic : float
        ``-2 llf + 2 k`` and ``-2 llf + log(nobs) k``, ``k`` identified parameters.
    nobs : float
        Observations (sum of the frequency weights).
    df_model, df_resid : float
        Parameters other than intercepts; ``nobs - k``.
    cov_type : str
    alpha : float
    reference : object or None
        Softmax reference class.
    """

    def __init__(self, spec: ModelSpec, sums: RowSums, cov: np.ndarray, *, cov_type: str,
                 alpha: float, nobs: float, data: tuple[Any, np.ndarray, Any]) -> None:
        self._spec = spec
        self._data = data  # (X, weights, mask) for the marginal effects: no copy
        self._effects: dict[str, pd.DataFrame] = {}
        self.cov_type = cov_type
        self.alpha = float(alpha)
        self.reference = spec.reference
        self.model_name = spec.model_name
        self.penalized = spec.penalized
        self.params = spec.table_map @ spec.Theta.T.reshape(-1)
        self.cov = cov
        self.nobs = float(nobs)
        self.llf = float(sums.llf.sum())
        self.llnull = float(self._llnull(sums))
        self.prsquared = 1.0 - self.llf / self.llnull if self.llnull else np.nan
        k = float(spec.block_params.sum())
        n_intercepts = len(spec.block_params) if spec.family == "binomial" else (
            len(spec.table_outputs))
        self.k_params = k
        self.df_model = k - (n_intercepts if spec.fit_intercept else 0)
        self.df_resid = self.nobs - k
        self.aic = -2.0 * self.llf + 2.0 * k
        self.bic = -2.0 * self.llf + np.log(self.nobs) * k
        self.table = self._frame(self.params, cov, np.repeat(
            np.asarray(spec.table_outputs, dtype=object), spec.n_terms))

    # -- construction ---------------------------------------------------------------------
    def _llnull(self, sums: RowSums) -> float:
        # intercept-only model (as statsmodels, with or without an intercept in the model)
        if self._spec.family == "multinomial":
            c = sums.ysum
            return float(np.sum(xlogy(c, c / c.sum())))
        n, pos = sums.count, sums.ysum
        with np.errstate(divide="ignore", invalid="ignore"):
            ybar = np.where(n > 0, pos / n, 0.5)
        return float(np.sum(xlogy(pos, ybar) + xlogy(n - pos, 1.0 - ybar)))

    def _frame(self, coef: np.ndarray, cov: np.ndarray, outputs: np.ndarray) -> pd.DataFrame:
        terms = self._spec.terms * (len(coef) // self._spec.n_terms)
        cols = {"output": outputs, "term": terms, "coef": coef, **_z_table(coef, cov, self.alpha),
                "odds_ratio": _odds(coef)}
        return pd.DataFrame(cols, columns=list(TABLE_COLUMNS))

    # -- accessors ------------------------------------------------------------------------
    @property
    def std_err(self) -> np.ndarray:
        """Standard errors of :attr:`params`."""
        return self.table["std_err"].to_numpy()

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table (a copy)."""
        return self.table.copy()

    def stats(self) -> dict[str, Any]:
        """The fit statistics as a plain dict."""
        return {"nobs": self.nobs, "df_model": self.df_model, "df_resid": self.df_resid,
                "llf": self.llf, "llnull": self.llnull, "prsquared": self.prsquared,
                "aic": self.aic, "bic": self.bic}

    # -- tests and contrasts --------------------------------------------------------------
    def wald_test(self, R: Any, q: Any = None) -> WaldTest:
        r"""Joint Wald test of :math:`R \beta = q`.

        Parameters
        ----------
        R : array-like of shape (r, p) or (p,)
            Restrictions on :attr:`params` (columns ordered as :attr:`table`).
        q : array-like of shape (r,), default zeros

        Returns
        -------
        WaldTest
            ``statistic``, ``pvalue`` (chi-square with ``df = r``), ``df``.
        """
        R = np.atleast_2d(np.asarray(R, dtype=np.float64))
        if R.shape[1] != len(self.params):
            raise ValueError(f"R must have {len(self.params)} columns (one per row of the "
                             f"table); got shape {R.shape}.")
        q = np.zeros(R.shape[0]) if q is None else np.asarray(q, dtype=np.float64).reshape(-1)
        diff = R @ self.params - q
        V = R @ self.cov @ R.T
        stat = float(diff @ np.linalg.lstsq(V, diff, rcond=None)[0])
        df = int(np.linalg.matrix_rank(V))
        return WaldTest(statistic=stat, pvalue=float(stats.chi2.sf(stat, df)), df=df)

    def contrast(self, a: Any, b: Any) -> pd.DataFrame:
        """Softmax: log-odds of class ``a`` against class ``b``, one row per term.

        Equals the rows of ``a`` in the table of the same model with ``reference=b``.
        """
        spec = self._spec
        if spec.family != "multinomial":
            raise ValueError("contrast(a, b) compares two classes of a softmax model; "
                             f"{spec.model_name} has one logit per output (see .table).")
        P = spec.n_terms
        blocks = {c: i for i, c in enumerate(spec.table_outputs)}
        C = np.zeros((P, len(self.params)))
        for cls, sign in ((a, 1.0), (b, -1.0)):
            if cls == spec.reference:
                continue
            if cls not in blocks:
                raise ValueError(f"{cls!r} is not a class of the model; classes: "
                                 f"{list(spec.logit_outputs)}.")
            C[:, blocks[cls] * P:(blocks[cls] + 1) * P] += sign * np.eye(P)
        return self._frame(C @ self.params, C @ self.cov @ C.T, np.full(P, a, dtype=object))

    def marginal_effects(self, at: str = "overall") -> pd.DataFrame:
        """Average marginal effects on each output's probability, delta-method standard errors.

        Parameters
        ----------
        at : {"overall", "mean"}
            ``"overall"``: the mean of the effects over the rows (statsmodels'
            ``get_margeff()``); ``"mean"``: the effect at the mean row.

        Returns
        -------
        DataFrame
            ``output, term, dydx, std_err, z, p_value, ci_low, ci_high``; for
            softmax one row per class (the reference class too) and feature.
        """
        if at not in self._effects:
            from .margins import marginal_effects

            X, w, mask = self._data
            dydx, J, terms = marginal_effects(self._spec, X, w, mask, at=at)
            k, d = dydx.shape
            outputs = np.repeat(np.asarray(self._spec.logit_outputs, dtype=object), d)
            coef = dydx.reshape(-1)
            self._effects[at] = pd.DataFrame(
                {"output": outputs, "term": terms * k, "dydx": coef,
                 **_z_table(coef, J @ self.cov @ J.T, self.alpha)})
        return self._effects[at].copy()

    # -- renderers ------------------------------------------------------------------------
    def _title(self) -> str:
        if self._spec.family == "multinomial":
            return f"{self.model_name}: log-odds of each class against {self.reference}"
        return f"{self.model_name}: log-odds of each output"

    def summary(self) -> str:
        """A text summary in the spirit of statsmodels' ``summary()``."""
        s = self.stats()
        left = [("Model", self.model_name), ("Covariance", self.cov_type),
                ("Penalized", "yes (L2, shrunk)" if self.penalized else "no"),
                ("No. observations", f"{s['nobs']:g}"), ("Df model", f"{s['df_model']:g}"),
                ("Df residuals", f"{s['df_resid']:g}")]
        right = [("Log-likelihood", f"{s['llf']:.4f}"), ("LL-null", f"{s['llnull']:.4f}"),
                 ("Pseudo R-sq.", f"{s['prsquared']:.4f}"), ("AIC", f"{s['aic']:.4f}"),
                 ("BIC", f"{s['bic']:.4f}"),
                 ("Reference", "-" if self.reference is None else str(self.reference))]
        head = [f"{a:<18}{b:>18}    {c:<16}{d:>20}" for (a, b), (c, d) in zip(left, right)]
        width = max(len(h) for h in head)
        tab = self.table.rename(columns={"ci_low": f"[{self.alpha / 2:g}",
                                         "ci_high": f"{1 - self.alpha / 2:g}]"})
        body = tab.to_string(index=False, float_format=lambda v: f"{v:.4g}")
        width = max(width, *(len(line) for line in body.splitlines()))
        rule = "=" * width
        return "\n".join([self._title().center(width), rule, *head, rule, body, rule])

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (f"<Inference {self.model_name} cov_type={self.cov_type!r} "
                f"{len(self.params)} coefficients, nobs={self.nobs:g}>")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: settings, statistics, table records and covariance."""
        def plain(v: Any) -> Any:
            return v.item() if isinstance(v, np.generic) else v

        records = [{k: plain(v) for k, v in row.items()}
                   for row in self.table.to_dict(orient="records")]
        return {"model": self.model_name, "kind": self._spec.kind, "cov_type": self.cov_type,
                "alpha": self.alpha, "penalized": self.penalized,
                "reference": plain(self.reference), "stats": self.stats(),
                "table": records, "cov": self.cov.tolist()}

    def to_html(self) -> str:
        """A self-contained HTML fragment: statistics line and the coefficient table."""
        s = self.stats()
        line = " · ".join([f"n = {s['nobs']:g}", f"log-likelihood {s['llf']:.3f}",
                           f"pseudo R² {s['prsquared']:.3f}", f"AIC {s['aic']:.1f}",
                           f"BIC {s['bic']:.1f}", f"cov: {self.cov_type}"]
                          + (["penalized (L2): estimates shrunk"] if self.penalized else []))
        table = self.table.to_html(index=False, classes="sigmax-coef", border=0,
                                   float_format=lambda v: f"{v:.4g}")
        return (f'<div class="sigmax-inference"><p><strong>{html.escape(self._title())}'
                f"</strong><br>{html.escape(line)}</p>{table}</div>")


class HeadsInference:
    """The inference of a linear multi-head model: one :class:`Inference` per head.

    The heads share no parameter (:func:`sigmax.inference.spec.head_specs`), so
    their covariance is block diagonal and each head's table, tests and fit
    statistics are those of its own likelihood, over the rows where its label
    is known.

    Attributes
    ----------
    heads : dict of str -> Inference
        In the model's head order; ``result[name]`` is ``result.heads[name]``.
    table : DataFrame
        Every head's table, a ``head`` column first.
    model_name : str
    """

    def __init__(self, model_name: str, heads: dict[str, Inference]) -> None:
        self.model_name = model_name
        self.heads = dict(heads)
        self.table = pd.concat(
            [inf.table.assign(head=name)[["head", *TABLE_COLUMNS]]
             for name, inf in self.heads.items()], ignore_index=True)

    def __getitem__(self, head: str) -> Inference:
        return self.heads[head]

    def to_frame(self) -> pd.DataFrame:
        """The combined coefficient table (a copy)."""
        return self.table.copy()

    def stats(self) -> dict[str, dict[str, Any]]:
        """Each head's fit statistics (:meth:`Inference.stats`)."""
        return {name: inf.stats() for name, inf in self.heads.items()}

    def summary(self) -> str:
        """Each head's summary, one after the other."""
        title = (f"{self.model_name}: {len(self.heads)} heads, each its own likelihood "
                 "(no shared parameters)")
        return "\n\n".join([title, *(inf.summary() for inf in self.heads.values())])

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<HeadsInference {self.model_name} heads={list(self.heads)}>"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the model and each head's :meth:`Inference.to_dict`."""
        return {"model": self.model_name,
                "heads": {name: inf.to_dict() for name, inf in self.heads.items()}}

    def to_html(self) -> str:
        """Each head's HTML fragment, in order."""
        return "".join(inf.to_html() for inf in self.heads.values())
