"""Solvers: one registry, :data:`SOLVERS`, and ``solver="auto"`` via :func:`choose_solver`."""

from . import lbfgs, minibatch, newton, proximal  # noqa: F401  (registers the solvers)
from .base import SOLVERS, FitResult, Solver, choose_solver, register_solver

__all__ = ["SOLVERS", "FitResult", "Solver", "choose_solver", "register_solver"]
