"""Statistical inference for the fitted sigmax models: standard errors as statsmodels gives them.

``sigmax.inference(model, X, y)`` (or ``model.inference(X, y)``) returns an
:class:`Inference`: the coefficient table (z tests, confidence intervals, odds
ratios), the covariance (nonrobust, HC0, HC1, cluster), the fit statistics,
Wald tests, average marginal effects and softmax contrasts. Every matrix is a
sum over rows computed chunk by chunk (NumPy, dask, torch). See
``docs/inference.md``.

Modules, one concept each: :mod:`.chunks` (row-chunk sums on any backend),
:mod:`.information` (log-likelihood, information, meat), :mod:`.spec` (a fitted
estimator as a likelihood), :mod:`.covariance` (cov types), :mod:`.identification`
(separation, collinearity), :mod:`.margins` (marginal effects), :mod:`.result`
(the :class:`Inference` object), :mod:`.estimate` (the entry point).
"""

from .covariance import COV_TYPES
from .estimate import inference
from .identification import SeparationWarning
from .result import HeadsInference, Inference, WaldTest

__all__ = ["COV_TYPES", "HeadsInference", "Inference", "SeparationWarning", "WaldTest",
           "inference"]


def _make_callable() -> None:
    # ``sigmax.inference`` is both this package and the function: importing any
    # submodule rebinds the parent's attribute to the package, so the package
    # itself is made callable (calling it calls :func:`inference`).
    import sys
    import types

    class _CallablePackage(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return inference(*args, **kwargs)

    sys.modules[__name__].__class__ = _CallablePackage


_make_callable()
