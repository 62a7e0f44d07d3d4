"""Is there a finite, unique estimate to make inference about?

Collinear features (a one-hot column with all its levels beside the
intercept, a feature that is a sum of others) leave a direction in which the
likelihood is flat: the information is singular, and
:func:`check_collinearity` names the terms involved.

Without a penalty the log-likelihood of separated data keeps rising as the
coefficients grow: the fit stops somewhere arbitrary, and the information there
is nearly zero, so standard errors come out as silent huge numbers. Two checks
on the row sums (:class:`~sigmax.inference.information.RowSums`) catch it:

- *complete separation*: every observation of an output has its observed
  outcome on the right side of the decision boundary (a proof that the
  likelihood has no maximum): a :class:`ValueError`;
- *quasi-complete separation*: some observations are predicted with
  probability 1 (within 1e-10) and a coefficient is implausibly large (one
  standard deviation of its feature moves the log-odds by more than 20, an odds
  ratio above 5e8) or the information is near singular: the coefficients that
  separate those observations are drifting off, and their standard errors mean
  nothing. A :class:`SeparationWarning`.

With an L2 penalty the optimum is finite and neither applies.
"""

from __future__ import annotations

import warnings

import numpy as np

from .information import RowSums
from .spec import ModelSpec

__all__ = ["SeparationWarning", "check_collinearity", "check_separation", "condition_number"]

#: Condition number (of the unit-diagonal bread) past which the information is near singular.
NEAR_SINGULAR = 1e10
#: Relative eigenvalue of the unit-diagonal bread below which it is taken as singular.
SINGULAR = 1e-12
#: Change of the log-odds per standard deviation of a feature past which a coefficient
#: is taken for one drifting off to infinity.
HUGE_EFFECT = 20.0


class SeparationWarning(UserWarning):
    """Some observations are perfectly predicted: the estimates may not be finite."""


def condition_number(B: np.ndarray) -> float:
    """Condition number of ``B`` scaled to unit diagonal (blind to the features' units)."""
    s = 1.0 / np.sqrt(np.maximum(np.diag(B), np.finfo(float).tiny))
    ev = np.linalg.eigvalsh(B * s[:, None] * s[None, :])
    return float(ev[-1] / ev[0]) if ev[0] > 0 else np.inf


def _which(spec: ModelSpec, idx: np.ndarray) -> str:
    if spec.family == "multinomial" or len(spec.logit_outputs) == 1:
        return "the data"
    return "output(s) " + ", ".join(repr(spec.logit_outputs[i]) for i in idx)


def check_separation(spec: ModelSpec, sums: RowSums, bread: np.ndarray) -> None:
    """Raise on complete separation, warn on quasi-complete separation (unpenalized fits).

    Parameters
    ----------
    spec : ModelSpec
    sums : RowSums
    bread : ndarray
        The bread on the free parameters (flat directions already filled in).
    """
    if spec.penalized:
        return
    fix = ("Without a penalty no finite maximum-likelihood estimate exists, so there are no "
           "standard errors to report. Drop or merge the feature(s) that separate the "
           "classes, or refit with penalty='l2' and a finite C (shrunk estimates, reported "
           "with a 'penalized' warning).")
    complete = np.flatnonzero((sums.wrong == 0) & (sums.count > 0))
    if len(complete):
        raise ValueError(f"Complete separation: for {_which(spec, complete)} the fitted model "
                         f"classifies every observation correctly. {fix}")
    if not np.any(sums.certain > 0):
        return
    beta = (spec.table_map @ spec.Theta.T.reshape(-1)).reshape(-1, spec.n_terms)
    effect = float(np.max(np.abs(beta) * sums.feature_sd[None, :]))
    cond = condition_number(bread)
    if effect > HUGE_EFFECT or cond > NEAR_SINGULAR:
        which = _which(spec, np.flatnonzero(sums.certain > 0))
        warnings.warn(
            f"Quasi-complete separation: for {which}, {int(sums.certain.sum())} observation(s) "
            f"are predicted with probability 1, and a coefficient moves the log-odds by "
            f"{effect:.3g} per standard deviation of its feature (information condition "
            f"number {cond:.1e}): the coefficients that separate those observations are not "
            f"finite, and their standard errors are meaningless. {fix}",
            SeparationWarning, stacklevel=3)


def check_collinearity(spec: ModelSpec, bread: np.ndarray) -> None:
    """Raise a ValueError naming the terms of a flat direction of the bread, if any."""
    cond = condition_number(bread)
    if cond < 1.0 / SINGULAR:
        return
    s = 1.0 / np.sqrt(np.maximum(np.diag(bread), np.finfo(float).tiny))
    _, vecs = np.linalg.eigh(bread * s[:, None] * s[None, :])
    v = vecs[:, 0]
    P = spec.n_terms
    involved = sorted({spec.terms[spec.free[i] % P] for i in np.flatnonzero(np.abs(v) > 0.1)})
    raise ValueError(
        "The information matrix is singular: a combination of the terms "
        f"{involved[:8]} is constant (collinear features, e.g. every level of a one-hot "
        "encoded column beside the intercept, or a constant column), so their coefficients "
        "are not identified. Drop one of them (one level per text column) and refit.")
