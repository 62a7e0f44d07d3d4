"""Figures and renderers of the study: terminal, HTML (also in headless Chromium), JSON."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from conftest import make_classification_data, make_multilabel_data

from sigmax.study.compare import compare
from sigmax.study.plots import FIGURES, draw_figures
from sigmax.study.render import (
    RENDERERS,
    SECTIONS,
    HtmlRenderer,
    TerminalRenderer,
    png_size,
    write_report,
)
from sigmax.study.result import CompareResult, ProblemResult

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium"
                                        if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture(scope="module")
def result() -> CompareResult:
    """A real (quick) study of three tiny problems: binary, K = 3, multi-label."""
    Xb, yb = make_classification_data(n=90, d=3, k=2, seed=1)
    X3, y3 = make_classification_data(n=90, d=3, k=3, seed=2)
    Xm, Ym = make_multilabel_data(n=120, d=4, n_labels=3, seed=3)
    return CompareResult.combine([
        compare(Xb, yb, name="bin", quick=True),
        compare(X3, np.array(["a", "b", "c"])[y3], name="three", quick=True),
        compare(Xm, Ym, name="multi", quick=True),
    ])


def _fresh(result: CompareResult) -> CompareResult:
    return CompareResult.from_json(result.to_json())


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[str] = []
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.h2: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href", "").startswith("#"):
            self.hrefs.append(a["href"][1:])
        if tag in ("link", "script") and (a.get("href") or a.get("src")):
            raise AssertionError(f"external resource in the report: {a}")
        self._in_h2 = tag == "h2"

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data)
            self._in_h2 = False


def _decode_png(src: str) -> bytes:
    assert src.startswith("data:image/png;base64,"), src[:40]
    data = base64.b64decode(src.split(",", 1)[1], validate=True)
    assert data[:8] == PNG_MAGIC
    w, h = png_size(data)
    assert w > 100 and h > 100
    return data


# -- figures ----------------------------------------------------------------------------------
def test_figures_per_task(result):
    drawn = {p.task: {f.spec.id: f for f in draw_figures(p)} for p in result.problems}
    always = {"reliability", "k_sweep", "loss_curves", "hessian_spectrum", "decision_regions"}
    for task, figs in drawn.items():
        assert set(figs) == set(FIGURES)
        for fid in always:
            assert figs[fid].png is not None, (task, fid, figs[fid].skipped)
            assert figs[fid].png[:8] == PNG_MAGIC
    assert drawn["binary"]["confusion"].png is not None
    assert drawn["multiclass"]["simplex"].png is not None
    assert drawn["multilabel"]["per_label"].png is not None
    assert drawn["multilabel"]["cooccurrence"].png is not None
    # Not applicable: skipped with a reason (the simplex says why K matters).
    assert "K = 2" in drawn["binary"]["simplex"].skipped
    assert drawn["multilabel"]["confusion"].png is None
    assert drawn["binary"]["per_label"].quiet


def test_confusion_matrix_scales_with_k(result):
    from sigmax.study.plots import draw_confusion

    p3 = _fresh(result).problems[1]
    p10 = _fresh(result).problems[1]
    p10.class_names = [str(i) for i in range(10)]
    p10.n_classes = 10
    cm = np.diag(np.full(10, 9))
    cm[0, 1] = 3
    p10.visualization["confusion"] = {c.name: cm.tolist() for c in p10.candidates}
    small, large = draw_confusion(p3), draw_confusion(p10)
    assert large.get_size_inches()[1] > small.get_size_inches()[1]
    texts = [t.get_text() for ax in large.axes for t in ax.texts]
    assert "75" in texts  # 9 of 12 rows of class 0: row-normalized, in percent


def test_empty_problem_still_renders():
    p = ProblemResult(dataset="empty", task="multiclass", n_samples=10, n_features=2,
                      n_classes=3, class_names=["a", "b", "c"])
    res = CompareResult(problems=[p])
    figs = draw_figures(p)
    assert all(f.png is None and f.skipped for f in figs)
    html = HtmlRenderer().render(res, {(0, f.spec.id): f for f in figs})
    assert "Not measured for this problem" in html
    assert "empty" in TerminalRenderer().render(res)


# -- the report folder -----------------------------------------------------------------------
def test_write_report_is_self_contained(result, tmp_path):
    res = _fresh(result)
    index = write_report(res, tmp_path / "report")
    out = index.parent
    assert index.name == "index.html" and (out / "results.json").is_file()
    files = sorted((out / "figures").glob("*.png"))
    assert files and all(f.read_bytes()[:8] == PNG_MAGIC for f in files)
    parser = _Collector()
    parser.feed(index.read_text(encoding="utf-8"))
    # Every figure file is embedded once, byte for byte.
    embedded = [_decode_png(src) for src in parser.imgs]
    assert sorted(embedded) == sorted(f.read_bytes() for f in files)
    # One section per question, in order, and every in-page link lands somewhere.
    titles = [s.title for s in SECTIONS]
    assert [h for h in parser.h2 if h in titles] == titles
    assert set(parser.hrefs) <= parser.ids
    # results.json round-trips and names the figure files it came with.
    back = CompareResult.from_json((out / "results.json").read_text())
    assert back.to_dict() == res.to_dict()
    for p in back.problems:
        for name in p.figures.values():
            assert (out / name).is_file()


def test_results_json_matches_schema(result, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = Path(__import__("sigmax.study", fromlist=["x"]).__file__).parent / "schema.json"
    if not schema_path.exists():
        pytest.skip("the study's schema.json is not there")
    index = write_report(_fresh(result), tmp_path / "r", plots=False)
    data = json.loads((index.parent / "results.json").read_text())
    jsonschema.validate(data, json.loads(schema_path.read_text()))


def test_no_plots_means_no_images(result, tmp_path):
    index = write_report(_fresh(result), tmp_path / "r", plots=False)
    assert "<img" not in index.read_text()
    assert not list((index.parent / "figures").glob("*"))


def test_report_replaces_only_reports(result, tmp_path):
    res = _fresh(result)
    out = tmp_path / "report"
    write_report(res, out, plots=False)
    (out / "figures" / "stale.png").write_bytes(b"old")
    write_report(res, out, plots=False)
    assert not (out / "figures" / "stale.png").exists()  # replaced as a whole
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="not a sigmax report"):
        write_report(res, mine, plots=False)
    assert (mine / "thesis.tex").read_text() == "precious"
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match="a file"):
        write_report(res, tmp_path / "afile", plots=False)


def test_crash_keeps_previous_report(result, tmp_path, monkeypatch):
    res = _fresh(result)
    out = tmp_path / "report"
    write_report(res, out, plots=False)
    before = (out / "index.html").read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("sigmax.study.render.atomic_write_text", boom)
    with pytest.raises(RuntimeError):
        write_report(res, out, plots=False)
    assert (out / "index.html").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no temp folder left


def test_terminal_summary_ends_in_advice(result):
    text = TerminalRenderer().render(_fresh(result))
    for name in ("bin", "three", "multi"):
        assert name in text
    assert text.index("Advice") > text.index("multi")
    for p in result.problems:
        assert p.advice["estimator"] in text.split("Advice", 1)[1]
    # The three binary candidates are one model: one merged sentence, not nine.
    assert "the same predictions, so the same model" in text


def test_renderer_registry(result):
    assert set(RENDERERS) == {"terminal", "html", "json"}
    res = _fresh(result)
    assert json.loads(RENDERERS["json"]().render(res))["problems"][0]["dataset"] == "bin"
    assert RENDERERS["html"]().render(res).startswith("<!DOCTYPE html>")


# -- in a real browser --------------------------------------------------------------------------
_CHECK = """<script>window.addEventListener('load', () => {
  const imgs = [...document.images];
  const out = {n: imgs.length, broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0))
               .map(i => i.alt), width: document.documentElement.scrollWidth};
  const pre = document.createElement('pre'); pre.id = 'sigmax-check';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
});</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--virtual-time-budget=10000", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                                               "(apt-get install chromium)")
def test_report_in_headless_chromium(result, tmp_path):
    index = write_report(_fresh(result), tmp_path / "report")
    n_imgs = index.read_text().count("<img ")
    # The same page plus a script that writes what the browser saw into the DOM.
    probe = tmp_path / "probe.html"
    probe.write_text(index.read_text().replace("</body>", _CHECK + "</body>"))
    dom = _chromium("--window-size=1366,900", "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="sigmax-check">(.*?)</pre>', dom.stdout)
    assert found, dom.stderr[-2000:]
    seen = json.loads(found.group(1))
    assert seen["n"] == n_imgs > 0
    assert seen["broken"] == []
    assert seen["width"] <= 1366  # no horizontal scrolling on a laptop screen
    shot = tmp_path / "shot.png"
    _chromium("--window-size=1366,900", f"--screenshot={shot}", index.as_uri())
    assert shot.read_bytes()[:8] == PNG_MAGIC
    assert png_size(shot.read_bytes()) == (1366, 900)


def test_the_header_describes_labels_by_their_measured_counts_per_row(result):
    # The header is a claim about the user's target: labels that never share a
    # row are not called non-exclusive; labels that do say how many at most.
    from sigmax.study.render import _task_words

    multi = next(p for p in result.problems if p.task == "multilabel")
    card = multi.advice.label_structure["cardinality"]
    most = max(i for i, c in enumerate(card) if c)
    assert most >= 2
    assert _task_words(multi) == f"3 labels, up to {most} per row"
    assert f"3 labels, up to {most} per row" in HtmlRenderer().render(result, {})
    # One-hot classes passed as labels: at most one per row, and the header says so.
    X, y = make_classification_data(n=90, d=3, k=3, seed=5)
    onehot = compare(X, np.eye(3)[y], name="onehot", quick=True).problems[0]
    assert onehot.task == "multilabel"
    assert _task_words(onehot) == "3 labels, at most one per row"
    assert "non-exclusive" not in TerminalRenderer().render(CompareResult(problems=[onehot]))
    # Without the advice section's label structure, only the count is stated.
    bare = ProblemResult(dataset="bare", task="multilabel", n_samples=10, n_features=2,
                         n_classes=4, class_names=list("abcd"))
    assert _task_words(bare) == "4 labels"
