"""A section of the study: one question, one typed result, its HTML, terminal lines and figures.

Every section is one module of :mod:`sigmax.study.sections` holding a
:class:`Section` subclass and registered in :data:`SECTIONS` (one line in
``sections/__init__.py``). Everything else reads the registry: the order the
sections run and appear in, ``compare(sections=...)`` and the CLI's
``--sections`` choices, the keys of ``results.json`` (each result under its
section's ``id``), the JSON Schema, the HTML report, the terminal summary and
the figures.

A section
---------
- ``id``: its key in ``results.json`` and ``sections=``; ``aliases``: other
  names accepted on input (``"k2"`` for ``"k2_equivalence"``).
- ``title``, ``question``, ``lead``: the report's heading, its question and the
  theory in one paragraph.
- ``result_type``: a :class:`~sigmax.study.record.Record` dataclass; the
  schema is generated from it.
- ``depends_on``: ids whose results ``compute`` reads when they ran; they must
  be registered first, so they also run first. Choosing a section does not
  choose what it depends on (``sections=["advice"]`` advises from the labels
  alone).
- ``compute(run) -> result``; ``units(run)``: progress steps it reports.
- ``render_html(result, problem) -> str``; ``intro_html(compare_result)``
  (once per report, e.g. the formulas); ``render_terminal(result, problem)``
  -> rich renderables or strings.
- ``figures``: :class:`~sigmax.study.figure.FigureSpec` entries drawn from the
  problem.

Adding one
----------
``sections/tuning.py``::

    @dataclass(eq=False)
    class TuningResult(Record):
        C_selected: dict[str, float] | None = None   # None: absent (section not run)
        summary: list[str] | None = None

    class Tuning(Section):
        id, title, question, lead = "tuning", "Tuning", "Which C?", "..."
        result_type = TuningResult
        depends_on = ("performance",)

        def compute(self, run):          # run: sigmax.study.run.StudyRun
            ...
            return TuningResult(C_selected=..., summary=[...])

        def render_html(self, result, problem):
            return sentences(result.summary)

and ``register_section(Tuning)`` in ``sections/__init__.py`` at the place it
should run. ``problem.tuning`` is then a ``TuningResult``, ``results.json``
has a ``"tuning"`` key, and ``python -m sigmax.study.schema >
src/sigmax/study/schema.json`` regenerates the schema (a test fails until it
is).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from .record import Record

__all__ = ["SECTIONS", "Section", "SectionRegistry", "register_section"]


class Section:
    """Base of a study section; subclasses set the class attributes and ``compute``."""

    id: ClassVar[str]
    title: ClassVar[str]
    question: ClassVar[str] = ""
    lead: ClassVar[str] = ""
    result_type: ClassVar[type[Record]]
    aliases: ClassVar[tuple[str, ...]] = ()
    depends_on: ClassVar[tuple[str, ...]] = ()
    #: :class:`~sigmax.study.figure.FigureSpec` entries (typed ``Any`` here: the figure
    #: module draws from results, so this leaf module does not import it).
    figures: ClassVar[tuple[Any, ...]] = ()

    def units(self, run: Any) -> int:
        """Progress steps :meth:`compute` reports through ``run.progress``."""
        return 1

    def compute(self, run: Any) -> Record:
        """Measure on ``run`` (a :class:`~sigmax.study.run.StudyRun`); the typed result."""
        raise NotImplementedError

    def render_html(self, result: Any, problem: Any) -> str:
        """This section's HTML for one problem (without its figures); "" when nothing."""
        return ""

    def intro_html(self, result: Any) -> str:
        """HTML shown once above the problems (``result`` is the whole CompareResult)."""
        return ""

    def render_terminal(self, result: Any, problem: Any) -> list[Any]:
        """Lines (str with rich markup, or rich renderables) for the terminal summary."""
        return []


class SectionRegistry(Mapping[str, Section]):
    """The sections by id, in run and report order; iterating gives the ids."""

    def __init__(self) -> None:
        self._by_id: dict[str, Section] = {}

    def __getitem__(self, key: str) -> Section:
        return self._by_id[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def register(self, section: Section) -> Section:
        """Add ``section`` (replacing one with the same id, in place)."""
        for dep in section.depends_on:
            if dep not in self._by_id:
                raise ValueError(f"Section {section.id!r} depends on {dep!r}, which is not "
                                 "registered; register it first.")
        self._by_id[section.id] = section
        return section

    def unregister(self, section_id: str) -> None:
        del self._by_id[section_id]

    def aliases(self) -> dict[str, str]:
        return {a: s.id for s in self._by_id.values() for a in s.aliases}

    def resolve(self, sections: Sequence[str] | str | None) -> list[str]:
        """Section ids chosen by ``sections`` (ids, aliases, or a comma-separated string), in
        registry order, with what they depend on; None: all."""
        if sections is None:
            return list(self._by_id)
        if isinstance(sections, str):
            sections = [s.strip() for s in sections.split(",") if s.strip()]
        aliases = self.aliases()
        chosen: set[str] = set()
        for s in sections:
            key = aliases.get(s, s)
            if key not in self._by_id:
                raise ValueError(f"Unknown section {s!r}; choose from {', '.join(self._by_id)} "
                                 f"(or {', '.join(repr(a) for a in aliases)}).")
            chosen.add(key)
        return [s for s in self._by_id if s in chosen]

    def choices(self) -> list[str]:
        """Every name ``sections=`` accepts (ids, then aliases)."""
        return [*self._by_id, *self.aliases()]


#: The study's sections (filled by :mod:`sigmax.study.sections`).
SECTIONS = SectionRegistry()


def register_section(section: Section | type[Section]) -> Section:
    """Register a section (an instance or a class, instantiated without arguments)."""
    return SECTIONS.register(section() if isinstance(section, type) else section)
