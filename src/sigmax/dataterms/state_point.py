"""The point a data term's per-sample Hessian state was last formed at.

Newton solvers ask a data term for Hessian products at the iterate ``w`` whose
value and gradient it has just evaluated: the pass that gave them also left the
per-sample state (``(k, n)``: probabilities, weights of the loss's curvature)
those products need. :class:`StatePoint` records which ``w`` that state belongs
to, so a product at any other point forms it again, and counts the rewrites, so
copies of the state (the float32 twin of
:mod:`sigmax.dataterms.float32_hessp`) know when to convert it again without a
``w`` of their own.
"""

from __future__ import annotations

import numpy as np

__all__ = ["StatePoint"]


class StatePoint:
    """``w`` of the last state written (a private copy) and the number of writes.

    Attributes
    ----------
    version : int
        Incremented by every :meth:`mark`.
    """

    def __init__(self) -> None:
        self._w: np.ndarray | None = None
        self._valid = False
        self.version = 0

    def holds(self, w: np.ndarray) -> bool:
        """Whether the state was last formed at ``w`` (equal values)."""
        return self._valid and np.array_equal(self._w, w)  # _valid: _w was marked

    def forget(self) -> None:
        """The state is being rewritten: it belongs to no point until :meth:`mark`."""
        # A pass stopped half-way (an interrupt, a floating-point error) leaves a
        # buffer that is neither the old point's state nor the new one's.
        self._valid = False

    def mark(self, w: np.ndarray) -> None:
        """Record that the state now belongs to ``w``, shape ``(n_params,)``."""
        # Copied in place: on text data w is half an (n, k) buffer, and a fresh
        # copy per evaluation would briefly hold two.
        if self._w is None or self._w.shape != np.shape(w):
            self._w = np.array(w, dtype=float)
        else:
            np.copyto(self._w, w)
        self._valid = True
        self.version += 1
