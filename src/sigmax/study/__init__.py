"""The study behind ``sigmax compare``: engine, result data and renderers."""

from .result import CandidateResult, Comparison, CompareResult, ProblemResult

__all__ = ["CandidateResult", "CompareResult", "Comparison", "ProblemResult"]
