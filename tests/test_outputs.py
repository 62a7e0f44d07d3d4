"""Never destroy the user's files: outputs are checked before any work (issue 16, items 1-3, 10)."""

from __future__ import annotations

import errno
import os

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sigmax import io as sigmax_io
from sigmax.cli import main
from sigmax.outputs import OutputPathError, check_output_file, temporary_name


@pytest.fixture
def table(tmp_path):
    r = np.random.default_rng(0)
    n = 60
    y = np.arange(n) % 2
    df = pd.DataFrame({"x1": r.normal(size=n) + y, "x2": r.normal(size=n),
                       "label": np.array(["no", "yes"])[y]})
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture
def model(tmp_path, table):
    path = tmp_path / "m.safetensors"
    res = CliRunner().invoke(main, ["fit", str(table), "-t", "label", "-o", str(path)])
    assert res.exit_code == 0, res.output
    return path


def _invoke(args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _refused(res, *needles, code=2):
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, res.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_fit_refuses_to_overwrite_its_training_table(table):
    before = table.read_bytes()
    _refused(_invoke(["fit", table, "-t", "label", "-o", table]), "data.csv", "input")
    assert table.read_bytes() == before


def test_fit_refuses_the_table_through_another_name(table, tmp_path):
    link = tmp_path / "alias.csv"
    link.symlink_to(table)
    before = table.read_bytes()
    _refused(_invoke(["fit", table, "-t", "label", "-o", link]), "input")
    assert table.read_bytes() == before


def test_predict_refuses_to_overwrite_the_model(model, table):
    before = model.read_bytes()
    _refused(_invoke(["predict", model, table, "-o", model]), "input")
    assert model.read_bytes() == before
    _refused(_invoke(["predict", model, table, "-o", table]), "input")


def test_output_through_a_symlink_replaces_the_target_not_the_link(table, tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "model.safetensors"
    target.write_text("old")
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    res = _invoke(["fit", table, "-t", "label", "-o", link])
    assert res.exit_code == 0, res.output
    assert link.is_symlink()
    assert os.path.realpath(link) == str(target)
    assert target.read_bytes()[:8] != b"old"
    assert sigmax_io.load(link).classes_.tolist() == ["no", "yes"]
    # No temporary file is left in either folder.
    assert sorted(p.name for p in real_dir.iterdir()) == ["model.safetensors"]


def test_named_pipe_and_folder_are_refused(model, table, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    _refused(_invoke(["predict", model, table, "-o", fifo]), "not a regular file")
    assert fifo.exists() and not fifo.is_file()
    _refused(_invoke(["fit", table, "-t", "label", "-o", tmp_path]), "is a folder")


def test_path_below_a_file_and_empty_path(table, tmp_path):
    _refused(_invoke(["fit", table, "-t", "label", "-o", table.parent / "data.csv" / "m"]),
             "is a file, not a folder")
    _refused(_invoke(["fit", table, "-t", "label", "-o", ""]), "empty")


def test_long_file_name_writes(table, tmp_path):
    name = "m" * 240 + ".st"
    assert len(name) == 243
    res = _invoke(["fit", table, "-t", "label", "-o", tmp_path / name])
    assert res.exit_code == 0, res.output
    assert (tmp_path / name).exists()
    # and the temporary name built for it fits the limit
    prefix = temporary_name(tmp_path / name, ".tmp", 255)
    assert len(prefix.encode()) + 8 + len(".tmp") <= 255


def test_name_over_the_file_system_limit_is_refused(table, tmp_path):
    _refused(_invoke(["fit", table, "-t", "label", "-o", tmp_path / ("m" * 300)]),
             "shorter name")


@pytest.mark.parametrize(("code", "needle"), [(errno.ENOSPC, "no space left"),
                                              (errno.EROFS, "read-only")])
def test_file_system_faults_are_one_line(table, tmp_path, monkeypatch, code, needle):
    out = tmp_path / "m.safetensors"

    def fail(src, dst):
        raise OSError(code, os.strerror(code), str(dst))

    monkeypatch.setattr(sigmax_io.os, "replace", fail)
    line = _refused(_invoke(["fit", table, "-t", "label", "-o", out]), needle, code=1)
    assert str(out) in line
    assert not out.exists()
    assert list(tmp_path.glob(".m.safetensors.*")) == []  # the temporary is cleaned up


def test_compare_checks_out_before_any_work(table, tmp_path, monkeypatch):
    import sigmax.study.compare as study

    def never(*a, **k):  # the study must not start
        raise AssertionError("the study ran before --out was checked")

    monkeypatch.setattr(study, "compare", never)
    _refused(_invoke(["compare", table, "-t", "label", "--out", table / "report"]),
             "is a file, not a folder")
    _refused(_invoke(["compare", table, "-t", "label", "--out", table]), "is a file")
    _refused(_invoke(["compare", table, "-t", "label", "--out", tmp_path]), "holds the input")


def test_check_output_file_library_api(table, tmp_path):
    with pytest.raises(OutputPathError, match="input"):
        check_output_file(table, [table])
    assert check_output_file(tmp_path / "new" / "m.st") == tmp_path / "new" / "m.st"


def test_debug_shows_the_traceback(table, monkeypatch):
    monkeypatch.setenv("SIGMAX_DEBUG", "1")
    res = _invoke(["fit", table, "-t", "label", "-o", table])
    assert isinstance(res.exception, OutputPathError)


def _report(folder, text):
    folder.mkdir()
    (folder / "index.html").write_text(text)


def test_replace_folder_swaps_atomically(tmp_path):
    from sigmax.outputs import replace_folder

    out, new = tmp_path / "report", tmp_path / ".report.tmp"
    _report(out, "old")
    _report(new, "new")
    replace_folder(new, out)
    assert (out / "index.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def _fallback_swap(tmp_path, monkeypatch, on_call):
    """An old and a new report, the two-rename fallback forced, ``os.replace`` spied:
    ``on_call(n)`` runs before the n-th rename (1 or 2). Returns (out, new, real_replace)."""
    import sigmax.outputs as outputs

    out, new = tmp_path / "report", tmp_path / ".report.tmp"
    _report(out, "old")
    _report(new, "new")
    monkeypatch.setattr(outputs, "_exchange", lambda a, b: False)
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        on_call(len(calls))
        real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace)
    return out, new, real_replace


def test_interrupt_during_the_fallback_swap_keeps_the_old_report(tmp_path, monkeypatch):
    import sigmax.outputs as outputs

    def interrupt(n):
        if n == 2:  # the moment between the two renames
            raise KeyboardInterrupt

    out, new, real_replace = _fallback_swap(tmp_path, monkeypatch, interrupt)
    with pytest.raises(KeyboardInterrupt):
        outputs.replace_folder(new, out)
    monkeypatch.setattr(outputs.os, "replace", real_replace)
    assert (out / "index.html").read_text() == "old"


def test_signal_between_the_renames_is_delivered_after(tmp_path, monkeypatch):
    import signal

    import sigmax.outputs as outputs

    def signal_first(n):
        if n == 1:
            signal.raise_signal(signal.SIGINT)  # arrives between the two renames

    out, new, _ = _fallback_swap(tmp_path, monkeypatch, signal_first)
    # Python's own SIGINT handler, whatever an earlier test or library left installed
    # (once in a whole-suite run the deferred signal met another handler and did not raise).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            outputs.replace_folder(new, out)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (out / "index.html").read_text() == "new"  # the swap finished first


def test_predict_with_a_multihead_model(table, tmp_path):
    m = tmp_path / "mh.safetensors"
    res = _invoke(["fit", table, "-t", "label", "-m", "MultiHeadClassifier", "-o", m])
    assert res.exit_code == 0, res.output
    out = tmp_path / "pred.csv"
    res = _invoke(["predict", m, table, "-o", out])
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(out)
    assert list(pred.columns) == ["predicted:label", "p:label:no", "p:label:yes"]
    np.testing.assert_allclose(pred[["p:label:no", "p:label:yes"]].sum(axis=1), 1.0)


def test_keep_column_named_like_an_output_is_refused(model, tmp_path):
    df = pd.DataFrame({"x1": [0.1, 0.2], "x2": [1.0, 2.0], "predicted": ["a", "b"]})
    path = tmp_path / "new.csv"
    df.to_csv(path, index=False)
    res = _invoke(["predict", model, path, "--keep", "predicted"])
    _refused(res, "'predicted'", "rename", code=1)


def test_C_nan_is_a_usage_error(table, tmp_path):
    res = _invoke(["fit", table, "-t", "label", "--C", "nan", "-o", tmp_path / "m.st"])
    assert res.exit_code == 2
    assert "'nan'" in res.output and "--C" in res.output
    res = _invoke(["compare", table, "-t", "label", "--C", "nan", "--out", tmp_path / "r"])
    assert res.exit_code == 2 and "not a number" in res.output


def test_many_small_classes_are_a_target_but_an_id_is_not(tmp_path):
    from sigmax.datasets import from_frame

    r = np.random.default_rng(0)
    y = np.repeat(np.arange(100), 3)
    df = pd.DataFrame({"x": r.normal(size=300), "label": y, "row": np.arange(300)})
    ds = from_frame(df, "label", drop=["row"])
    assert ds.y.nunique() == 100
    with pytest.raises(ValueError, match=r"id or a continuous quantity.*more than half"):
        from_frame(df, "row", drop=["label"])
