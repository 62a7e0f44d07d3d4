r"""The stability point, measured: naive and shifted forms at logits such as 1000.

:func:`stability_demo` evaluates, at large logits, each quantity the losses
need twice: once by its textbook formula in plain NumPy (overflow and
invalid-value warnings silenced, so the failure shows as ``inf`` or ``nan``
instead of a warning) and once with the library's own stable function from
:mod:`sigmax.numerics`, the one the losses call. Nothing in the table is
typed in: every value is computed when the study runs.

The tricks (:mod:`sigmax.numerics`):

- :math:`\log\sum_k e^{z_k} = m + \log\sum_k e^{z_k - m}`, :math:`m = \max_k z_k`
  (every exponent :math:`\le 0`, the sum lies in :math:`[1, K]`);
- :math:`\log(1 + e^{z}) = \max(z, 0) + \operatorname{log1p}(e^{-|z|})`;
- :math:`\log\sigma(z) = -\log(1 + e^{-z})` by the same softplus.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ... import numerics
from ..formatting import esc, html_table
from ..record import Record


@dataclass(eq=False)
class StabilityRow(Record):
    """One quantity at one logit vector: the naive formula against sigmax's stable function."""

    quantity: str
    logits: list[float]
    naive_formula: str
    naive: list[str] = field(metadata={
        "doc": "plain NumPy, as text: 'inf', '-inf' and 'nan' are not JSON numbers"})
    naive_finite: bool
    stable_function: str
    stable: list[float]
    stable_finite: bool


def _naive_logsumexp(z: np.ndarray) -> np.ndarray:
    return np.log(np.sum(np.exp(z)))


def _naive_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z)
    return e / np.sum(e)


def _naive_log1pexp(z: np.ndarray) -> np.ndarray:
    return np.log(1.0 + np.exp(z))


def _naive_log_expit(z: np.ndarray) -> np.ndarray:
    return np.log(1.0 / (1.0 + np.exp(-z)))


#: (quantity, logits, naive formula, naive function, name of the stable function in numerics)
CASES: tuple[tuple[str, tuple[float, ...], str, Callable[[np.ndarray], Any], str], ...] = (
    ("log-sum-exp", (1000.0, 0.0), "log(sum(exp(z)))", _naive_logsumexp, "logsumexp"),
    ("log-sum-exp", (-1000.0, -1000.0), "log(sum(exp(z)))", _naive_logsumexp, "logsumexp"),
    ("softmax", (1000.0, 0.0), "exp(z) / sum(exp(z))", _naive_softmax, "softmax"),
    ("log(1 + e^z)", (1000.0,), "log(1 + exp(z))", _naive_log1pexp, "log1pexp"),
    ("log sigmoid", (-1000.0,), "log(1 / (1 + exp(-z)))", _naive_log_expit, "log_expit"),
)


def stability_demo() -> list[StabilityRow]:
    """Evaluate every case of :data:`CASES`, naive and stable; returns one row per case."""
    rows = []
    for quantity, logits, formula, naive_fn, stable_name in CASES:
        z = np.asarray(logits, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            naive = np.atleast_1d(np.asarray(naive_fn(z), dtype=np.float64))
        stable = np.atleast_1d(np.asarray(getattr(numerics, stable_name)(z), dtype=np.float64))
        rows.append(StabilityRow(
            quantity=quantity, logits=[float(v) for v in z], naive_formula=formula,
            naive=[f"{v:.6g}" for v in naive], naive_finite=bool(np.all(np.isfinite(naive))),
            stable_function=f"sigmax.numerics.{stable_name}",
            stable=[float(v) for v in stable], stable_finite=bool(np.all(np.isfinite(stable)))))
    return rows


def stability_sentence(rows: list[StabilityRow]) -> str:
    """One sentence from the measured rows: how many naive forms failed, and where."""
    failed = [r for r in rows if not r.naive_finite]
    stable_ok = all(r.stable_finite for r in rows)
    if not failed:
        return ("At the logits tried every naive formula stayed finite: nothing to show "
                "here.")
    ex = failed[0]
    big = max(abs(v) for r in rows for v in r.logits)
    return (f"At logits of ±{big:g} the textbook formula fails in {len(failed)} of {len(rows)} "
            f"cases (e.g. {ex.naive_formula} at z = {_vec(ex.logits)} gives "
            f"{', '.join(ex.naive)}); sigmax's stable functions give "
            + ("finite values in every case." if stable_ok else
               "a non-finite value too: a bug, please report it."))


def _vec(v: list[float]) -> str:
    return f"{v[0]:g}" if len(v) == 1 else "(" + ", ".join(f"{x:g}" for x in v) + ")"


def stability_html(rows: list[StabilityRow]) -> str:
    """The measured table: quantity, logits, naive formula and value, stable function and value."""
    if not rows:
        return ""
    body = [[(esc(r.quantity), ""), (esc(_vec(r.logits)), "num"),
             (f"<code>{esc(r.naive_formula)}</code>", ""),
             (esc(", ".join(r.naive)), "num" + ("" if r.naive_finite else " bad")),
             (f"<code>{esc(r.stable_function)}</code>", ""),
             (esc(", ".join(f"{v:.6g}" for v in r.stable)), "num")]
            for r in rows]
    return ("<h4>Why the shifted forms: measured at large logits</h4>" + html_table(
        ["quantity", "logits z", "naive formula", "naive value (NumPy)",
         "stable function", "stable value"], body))
