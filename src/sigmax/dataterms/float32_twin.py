r"""A float32 view of a float64 data term, for the first iterates of a float64 solve.

A first-order solver's early iterates are far from the optimum: each step needs
the direction and the decrease to a few digits, not sixteen. A value+gradient
pass with float32 products runs OpenBLAS's float32 kernels and the losses'
float32 passes, about half the time of the float64 pass on the dense benchmark
shapes, and float32 resolves the objective to about :math:`10^{-7}` of its
size. So :class:`~sigmax.solvers.lbfgs.LBFGS` takes its steps on this twin
until the twin's gradient reaches the tolerance (or float32's own floor), then
goes on in float64 with the same curvature pairs: the convergence test and
every step after the switch are float64, so the fit stops where a float64 fit
stops, at the same tolerance.

No copy of ``X`` is made: the twin reads the float64 ``X`` block by block into a
float32 scratch block (:meth:`~sigmax.dataterms.blocks.BlockProducts.rows`)
that both products of the block read from the cache, so its extra memory is
one block per thread. The conversion reads ``X`` once per pass, as a float64
pass does. Dense ``X`` without an offset only: CSR blocks are not converted
(on text data float32 fits were within 3% of float64 ones at default threads:
sparse_text, AMD EPYC, 5.28 vs 5.15 s in ``sigmax bench`` of 363e3f7, 4.55 vs
4.66 s in that of 32e4cfe), and an offset would need its
``(n, k)`` float32 copies. Two or more outputs: with one (binary logistic
regression) a pass is matrix-vector products, bound by reading the float64 ``X``,
which the twin reads too (dense_binary, 500,000 x 50: 0.94x at one thread, 1.01x
at default threads), while its float32 block per thread is the size of an
``(n, 1)`` float64 buffer there (a ``sigmax bench`` of e6d6d63, stopped after
dense_binary and its log not kept, printed the fit's extra peak at 3.10 such
buffers with the twin, over the 3 of issue 17's criterion). And from
:data:`~sigmax.dataterms.tuning.FLOAT32_TWIN_MIN_WORK` multiply-adds per product
on, where the float32 passes save more than the switch costs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import tuning

if TYPE_CHECKING:  # pragma: no cover
    from .numpy_term import NumpyData

__all__ = ["allowed", "build"]


def allowed(term: NumpyData) -> bool:
    """Whether ``term`` has a float32 twin: float64, dense ``X``, no offset, two or
    more outputs, and products of at least
    :data:`~sigmax.dataterms.tuning.FLOAT32_TWIN_MIN_WORK` multiply-adds (``n d k``;
    below, it does not pay)."""
    return (term.dtype == np.float64 and isinstance(term.X, np.ndarray)
            and term.offset is None and term.k >= 2
            and term.X.size * term.k >= tuning.FLOAT32_TWIN_MIN_WORK)


def build(term: NumpyData) -> NumpyData | None:
    """A float32 :class:`~sigmax.dataterms.numpy_term.NumpyData` reading ``term.X``.

    Same loss, ``X`` (not copied), targets, weights and intercept; the constant
    gradient of the loss's linear part (``_linear_part``, float64) is shared,
    not recomputed from float32 products. None where :func:`allowed` says no.

    Parameters
    ----------
    term : NumpyData
        A float64 data term on a dense ``(n, d)`` ``X``.

    Returns
    -------
    NumpyData or None
        Its float32 twin: ``value_and_grad`` with float32 products (accumulated
        in float64), float64 results as every data term's.
    """
    if not allowed(term):
        return None
    twin = type(term)(term.loss, term.X, term.Y, term.weights, term.k, term.fit_intercept,
                      dtype=np.float32)
    if term._partition and twin._partition:
        twin._lin = term._linear_part()
    return twin
