"""Penalties on the coefficient matrix (never on the intercept), as strategies.

Each penalty is one module implementing the contract of
:class:`~sigmax.penalties.base.Penalty` (value, smooth gradient / Hessian
product / diagonal, prox, minimum-norm subgradient, scaling, capabilities);
:data:`PENALTIES` maps names to factories. A new penalty is one module plus
one line in :mod:`sigmax.penalties.registry`.

Adding a penalty (:mod:`sigmax.penalties.group` is the worked example):

1. a module with a :class:`~sigmax.penalties.base.Penalty` subclass (the
   contract's methods; :attr:`~sigmax.penalties.base.Penalty.capabilities`
   follow from ``smooth`` and ``separable_weight``) and a ``make(l1_ratio)``
   factory;
2. its line in :data:`PENALTIES`.

The estimators, the CLI's ``--penalty`` choices and ``tests/test_penalty_contract.py``
read the registry; ``solver="auto"`` and the solvers' early checks read the
capabilities, so no solver changes.
"""

from .base import CAPABILITIES, Penalty
from .elasticnet import ElasticNet
from .group import GroupLasso
from .registry import PENALTIES, make_penalty

__all__ = ["CAPABILITIES", "PENALTIES", "ElasticNet", "GroupLasso", "Penalty",
           "make_penalty"]
