r"""float64 evaluations of a float32 data term, for the solvers that form the full Hessian.

A float32 fit (``dtype="float32"``) keeps ``X`` in float32, and its passes form
the logits and the gradient in float32 products: each gradient entry is exact to
about :math:`10^{-7}` of the sum of the magnitudes behind it,
:math:`\sum_i |x_{ij}|\,|r_i|`. Features in their own units (an income in
dollars next to a 0/1 column) make that error large against the entries the
fit has to resolve. A first-order solver's steps tolerate it; the solvers that
take Newton steps on a model built from the exact Hessian do not:

- proximal Newton's L1 model (:mod:`sigmax.solvers.l1_model`) reads the
  gradient to its last digits against the L1 weight :math:`1/(C S)`. Along the
  flat direction of one-hot columns kept with every level (the levels sum to the
  intercept, and L1 alone does not pin that direction) the rounding of a float32
  gradient exceeds that weight, and the model's step ran off along it;
- Newton's methods reach steps whose decrease is below the float32 rounding of
  the value, and their line search then stopped short of the tolerance.

So :class:`~sigmax.solvers.proximal.ProximalNewton` (``float64_evaluations``)
runs a float32 fit on this view from its first step, and
:class:`~sigmax.solvers.newton.NewtonCholesky`, ``NewtonCG`` and
:class:`~sigmax.solvers.lbfgs.LBFGS` go on on it from the step float32 cannot
resolve (:func:`sigmax.solvers.base.widened`): the same
float32 ``X``, its blocks read into a float64 scratch block as they are used
(:meth:`~sigmax.dataterms.blocks.BlockProducts.rows`; where ``X`` is one block,
converted once and kept), so the data stay in float32 and the arithmetic is
float64. Proximal Newton forms the full Hessian at every step, ``n D^2 k``
multiply-adds at least, ``D`` times a pass: the float64 pass adds little to it.
Where float32 does not fail, the view costs nothing measurable: the benchmark's
breast_cancer_l1, credit_onehot and movies in float32 took 1.01, 1.02 and 1.00
times as long (``python benchmarks/float64_view.py``, one thread). CSR ``X``:
its values are copied to float64 once (the indices are shared). The torch data
term offers the same view on a float64 copy of ``X`` on its device
(:meth:`sigmax.backends.array.ArrayData.in_float64`).

Fourteen R tables one-hot with every level, numeric columns raw and
standardized, four values of ``C``, float32, ``solver="auto"`` (``python
benchmarks/one_hot_l1.py --dtype float32 [--penalty l2] [--former-precision]``,
relative objective gaps to a float64 fit on the same float32 values):

- L1 (proximal Newton on all 112 fits): before this view 48 fits stopped short
  with a ConvergenceWarning, 28 more than 1e-3 above the optimum, the worst 6.7
  (AER's CreditCard as loaded, C = 0.1: after 2 steps); now none, the worst 6.8e-6;
- L2 (Newton-Cholesky on all 112): 17 stopped short, the worst 1.1e-3; now none,
  the worst 4.3e-7; with ``solver="newton-cg"``: 18, the worst 6.0e-2; now none,
  the worst 4.0e-7; with ``solver="lbfgs"``: 11 ran to ``max_iter`` at the float32
  floor; now none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:  # pragma: no cover
    from .numpy_term import NumpyData

__all__ = ["build"]


def build(term: NumpyData) -> NumpyData:
    """A float64 :class:`~sigmax.dataterms.numpy_term.NumpyData` on the data of ``term``.

    Parameters
    ----------
    term : NumpyData
        A float32 data term: ``X`` ``(n, d)`` dense or CSR, targets, weights
        ``(n,)`` or ``(n, k)`` and offset ``(n, k)`` as it holds them (float32
        values, which float64 represents exactly).

    Returns
    -------
    NumpyData
        The same loss, targets, weights, intercept and offset, evaluated in
        float64: dense ``X`` not copied (converted block by block), CSR ``X``
        with its values copied to float64.
    """
    X = term.X
    if sp.issparse(X):
        X = sp.csr_matrix((X.data.astype(np.float64), X.indices, X.indptr), shape=X.shape)
    return type(term)(term.loss, X, term.Y, term.weights, term.k, term.fit_intercept,
                      offset=term.offset, dtype=np.float64)
