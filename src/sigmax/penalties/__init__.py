"""Penalties on the coefficient matrix (never on the intercept), as strategies.

Each penalty is one module implementing the contract of
:class:`~sigmax.penalties.base.Penalty` (value, smooth gradient / Hessian
product / diagonal, prox, minimum-norm subgradient, scaling, capabilities);
:data:`PENALTIES` maps names to factories. A new penalty is one module plus
one line in :mod:`sigmax.penalties.registry`.
"""

from .base import CAPABILITIES, Penalty
from .elasticnet import ElasticNet
from .group import GroupLasso
from .registry import PENALTIES, make_penalty

__all__ = ["CAPABILITIES", "PENALTIES", "ElasticNet", "GroupLasso", "Penalty",
           "make_penalty"]
