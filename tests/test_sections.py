"""The study's section registry: one module per section, one line to register it.

A toy section registered here (one class, one ``register_section`` call) must
run in ``compare``, land in ``results.json`` and its schema, read back typed,
render in the HTML report and the terminal, draw its figure, and be accepted by
``sigmax compare --sections``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner

from sigmax.cli import main
from sigmax.study import render
from sigmax.study.compare import compare
from sigmax.study.figure import FigureSpec, new_figure
from sigmax.study.plots import FIGURES, draw_figures
from sigmax.study.record import Record
from sigmax.study.render import HtmlRenderer, TerminalRenderer
from sigmax.study.result import CompareResult
from sigmax.study.schema import build_schema, schema_text
from sigmax.study.section import SECTIONS, Section, register_section


def _data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)) + rng.gumbel(size=(n, 3)), axis=1)
    return X, y


@dataclass(eq=False)
class ToyResult(Record):
    """What the toy section measures."""

    n_rows: int | None = None
    mean_first_feature: float | None = None
    summary: list[str] | None = None


def _draw_toy(problem):
    fig = new_figure(2.0, 2.0)
    fig.subplots().bar([0], [problem.toy.n_rows])
    return fig


class Toy(Section):
    id = "toy"
    aliases = ("toy_alias",)
    title = "Toy section"
    question = "Does one class plus one line add a section?"
    lead = "It counts the rows."
    result_type = ToyResult
    figures = (FigureSpec("toy_bars", "toy", "Toy bars", "The number of rows.", _draw_toy),)

    def compute(self, run):
        run.progress("toy")
        return ToyResult(n_rows=int(run.X.shape[0]),
                         mean_first_feature=float(run.X[:, 0].mean()),
                         summary=[f"The toy counted {run.X.shape[0]} rows."])

    def render_html(self, result, problem):
        return f"<p class='toy'>toy rows: {result.n_rows}</p>"

    def render_terminal(self, result, problem):
        return [f"Toy: {result.n_rows} rows"]


@pytest.fixture
def toy():
    register_section(Toy)  # the one line a new section needs
    yield
    SECTIONS.unregister("toy")


def test_schema_json_is_the_generated_schema():
    from importlib import resources

    text = resources.files("sigmax.study").joinpath("schema.json").read_text()
    assert text == schema_text(), ("src/sigmax/study/schema.json is stale: run "
                                   "python -m sigmax.study.schema > src/sigmax/study/schema.json")
    required = json.loads(text)["properties"]["problems"]["items"]["required"]
    assert required[-len(SECTIONS) - 1:-1] == list(SECTIONS)


def test_the_registry_is_the_one_list_of_sections():
    ids = list(SECTIONS)
    assert ids == ["performance", "calibration", "computation", "derivatives", "minima",
                   "k2_equivalence", "coefficients", "visualization", "advice"]
    # The report's sections, the figures' sections and the schema all come from it.
    assert [s.id for s in render.SECTIONS] == ids
    assert {f.section for f in FIGURES.values()} <= set(ids)
    problem = build_schema()["properties"]["problems"]["items"]["properties"]
    assert [k for k in problem if k in ids] == ids
    # One id per section: the K = 2 section is "k2_equivalence" everywhere, "k2" an alias.
    assert SECTIONS.resolve("k2") == ["k2_equivalence"]
    assert SECTIONS.resolve(["advice", "perf"]) == ["performance", "advice"]
    with pytest.raises(ValueError, match=r"Unknown section 'speed'.*k2_equivalence"):
        SECTIONS.resolve(["speed"])


def test_cli_sections_choices_come_from_the_registry(toy):
    runner = CliRunner()
    bad = runner.invoke(main, ["compare", "iris", "--sections", "speed", "--no-report"])
    assert bad.exit_code == 2
    for sid in SECTIONS:
        assert sid in bad.output
    ok = runner.invoke(main, ["compare", "iris", "--quick", "--sections", "toy_alias",
                              "--no-report"])
    assert ok.exit_code == 0, ok.output
    assert "Toy: 150 rows" in ok.output


def test_a_toy_section_is_one_class_and_one_line(toy):
    X, y = _data()
    steps = []
    res = compare(X, y, C=1.0, name="toy-data", quick=True, sections=["toy"],
                  progress=lambda s, d, t: steps.append((s, d, t)))
    p = res.problems[0]
    assert res.settings["sections"] == ["toy"]
    assert isinstance(p.toy, ToyResult) and p.toy.n_rows == 90
    assert "toy" in p.seconds and any(s.endswith(": toy") for s, _, _ in steps)
    assert steps[-1][1] == steps[-1][2]
    # Other sections were not run: empty results, {} in JSON.
    assert p.minima == {} and not p.performance
    data = json.loads(res.to_json())
    assert data["problems"][0]["toy"] == {"n_rows": 90, "mean_first_feature":
                                          pytest.approx(X[:, 0].mean()),
                                          "summary": ["The toy counted 90 rows."]}
    jsonschema.validate(data, build_schema())
    assert build_schema()["properties"]["problems"]["items"]["properties"]["toy"][
        "properties"]["n_rows"] == {"type": "integer"}
    # Read back from disk: typed again.
    back = CompareResult.from_json(res.to_json())
    assert isinstance(back.problems[0].toy, ToyResult)
    assert back.problems[0].toy.mean_first_feature == pytest.approx(X[:, 0].mean())
    # Rendered: its own section in the HTML with its figure, and a terminal line.
    figs = {(0, f.spec.id): f for f in draw_figures(p, ids=["toy_bars"])}
    assert figs[(0, "toy_bars")].png is not None
    html = HtmlRenderer().render(res, figs)
    assert "<section id='toy'><h2>Toy section</h2>" in html
    assert "toy rows: 90" in html and "<h4>Toy bars</h4>" in html
    assert "href='#toy'" in html
    assert "Toy: 90 rows" in TerminalRenderer().render(res)


def test_unregistered_section_is_gone(toy):
    SECTIONS.unregister("toy")
    try:
        with pytest.raises(ValueError, match="Unknown section 'toy'"):
            SECTIONS.resolve("toy")
        assert "toy" not in FIGURES
    finally:
        register_section(Toy)


def test_study_modules_are_small_and_acyclic():
    """Every study module under 800 lines, every class under 400, no import cycle
    between the study's modules (imports inside functions counted)."""
    import ast
    from pathlib import Path

    import sigmax.study as study

    root = Path(study.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        name = ".".join(("sigmax", "study", *rel.parts)).removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert len(path.read_text(encoding="utf-8").splitlines()) < 800, path
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                assert node.end_lineno - node.lineno < 400, (path, node.name)
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
                for alias in node.names:  # "from . import x" names a module
                    deps.add(f"{mod}.{alias.name}" if not node.module else mod)
        graph[name] = {d for d in deps if d.startswith("sigmax.study")}
    graph = {k: {d for d in v if d in graph and d != k} for k, v in graph.items()}
    # A package's __init__ may import its own modules (it is their index), not the reverse.
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in graph[node]:
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack, node, dep]))
            if dep not in state:
                visit(dep, [*stack, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])
