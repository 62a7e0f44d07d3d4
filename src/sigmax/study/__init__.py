"""The study behind ``sigmax compare``: engine, result data and renderers.

The engine is :func:`sigmax.study.compare.compare` (also ``sigmax.compare``) and
the advice :func:`sigmax.study.advise.advise` (also ``sigmax.advise``); the
submodules carry those names, so the functions are not re-exported here.
"""

from . import sections as _sections  # noqa: F401  (fills the SECTIONS registry)
from .result import CandidateResult, CompareResult, Comparison, ProblemResult

__all__ = ["CandidateResult", "CompareResult", "Comparison", "ProblemResult"]
