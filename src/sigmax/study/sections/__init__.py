"""The study's sections, one module each; this list is the registry (run and report order).

A new section is one module here with a :class:`~sigmax.study.section.Section`
subclass, plus one line below. See :mod:`sigmax.study.section` for the protocol.
"""

from ..section import SECTIONS, register_section
from .advice import AdviceSection
from .calibration import Calibration
from .coefficients import Coefficients
from .computation import Computation
from .derivatives import Derivatives
from .k2_equivalence import K2Equivalence
from .minima import Minima
from .performance import Performance
from .visualization import Visualization

__all__ = ["SECTIONS"]

register_section(Performance)
register_section(Calibration)
register_section(Computation)
register_section(Derivatives)
register_section(Minima)
register_section(K2Equivalence)
register_section(Coefficients)
register_section(Visualization)
register_section(AdviceSection)
