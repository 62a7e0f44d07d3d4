"""The ``sigmax`` command line: exit codes, files written, one-line errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from html import unescape

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sigmax.cli import main
from sigmax.datasets import DATASETS


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def data_csv(tmp_path):
    """A small binary table with a text column, plus variants with bad input."""
    r = np.random.default_rng(0)
    n = 90
    y = np.arange(n) % 2
    df = pd.DataFrame({"x1": r.normal(size=n) + y, "x2": r.normal(size=n) - 0.5 * y,
                       "shape": np.array(["round", "square", "oval"])[np.arange(n) % 3],
                       "label": np.array(["no", "yes"])[y]})
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    return path, df


def _run(runner, args):
    return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def _one_line_error(result, *needles):
    assert result.exit_code != 0
    err = result.stderr.strip()
    assert "Traceback" not in result.output + result.stderr
    lines = [ln for ln in err.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_help_lists_commands(runner):
    res = _run(runner, ["--help"])
    assert res.exit_code == 0
    for cmd in ("compare", "advise", "fit", "predict", "datasets"):
        assert cmd in res.output


def test_python_dash_m(tmp_path):
    res = subprocess.run([sys.executable, "-m", "sigmax", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and "compare" in res.stdout


def test_datasets_lists_builtins(runner):
    res = _run(runner, ["datasets"])
    assert res.exit_code == 0
    for name in DATASETS:
        assert name in res.output


def test_compare_csv_writes_report(runner, data_csv, tmp_path):
    path, _ = data_csv
    out = tmp_path / "report"
    res = _run(runner, ["compare", path, "--target", "label", "--quick", "-o", out])
    assert res.exit_code == 0, res.stderr
    assert (out / "index.html").is_file() and (out / "results.json").is_file()
    assert list((out / "figures").glob("*.png"))
    assert "Advice" in res.stdout and "LogisticRegression" in res.stdout
    html = unescape((out / "index.html").read_text())
    assert "shape=round" in (out / "results.json").read_text()  # text column one-hot encoded
    assert "one-hot encoded text column 'shape'" in html


def test_compare_builtin_no_plots(runner, tmp_path):
    out = tmp_path / "r"
    res = _run(runner, ["compare", "iris", "--quick", "--no-plots", "--cv", "3", "-o", out])
    assert res.exit_code == 0, res.stderr
    assert "<img" not in (out / "index.html").read_text()
    assert "SoftmaxRegression" in res.stdout
    res = _run(runner, ["compare", "iris", "--quick", "--no-report", "-o", tmp_path / "none"])
    assert res.exit_code == 0 and "Advice" in res.stdout
    assert not (tmp_path / "none").exists()


def test_compare_jobs_sets_the_cores_for_fits_side_by_side(runner, tmp_path):
    import json

    out = tmp_path / "r"
    res = _run(runner, ["compare", "iris", "--quick", "--no-plots", "--jobs", "1",
                        "--sections", "performance", "-o", out])
    assert res.exit_code == 0, res.stderr
    result = json.loads((out / "results.json").read_text())
    assert result["settings"]["n_jobs"] == 1
    assert "at a time" not in result["problems"][0]["performance"]["folds"]
    res = _run(runner, ["compare", "iris", "--quick", "--jobs", "0", "-o", out])
    assert res.exit_code == 2 and "--jobs" in res.stderr


def test_compare_refuses_a_foreign_folder(runner, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    res = _run(runner, ["compare", "iris", "--quick", "-o", tmp_path])
    assert res.exit_code == 2 and "not a sigmax report" in res.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("case", ["missing_file", "unknown_column", "one_class", "nan",
                                  "text_column", "unknown_name"])
def test_bad_input_gives_one_line(runner, data_csv, tmp_path, case):
    path, df = data_csv
    args = ["compare", path, "--target", "label", "--quick", "-o", tmp_path / "r"]
    if case == "missing_file":
        args[1] = tmp_path / "nope.csv"
        needles = ["No such file", "nope.csv"]
    elif case == "unknown_column":
        args[3] = "lable"
        needles = ["'lable' not in", "available columns: x1, x2, shape, label"]
    elif case == "one_class":
        df.assign(label="yes").to_csv(path, index=False)
        needles = ["only one class"]
    elif case == "nan":
        df.loc[[4, 9], "x2"] = np.nan
        df.to_csv(path, index=False)
        needles = ["2 missing value(s) in 1 column(s): 'x2' (2 cells)", "rows 4, 9",
                   "--missing drop"]
    elif case == "text_column":
        # 30 levels, repeated: too many to one-hot encode (unique per row is an id instead)
        df.assign(name=[f"film {i % 30}" for i in range(len(df))]).to_csv(path, index=False)
        needles = ["'name'", "--drop name"]
    else:
        args = ["compare", "irsi", "--quick", "-o", tmp_path / "r"]
        needles = ["no built-in dataset named 'irsi'"]
    res = _run(runner, args)
    _one_line_error(res, *needles)
    assert not (tmp_path / "r").exists()


def test_dropna_recovers(runner, data_csv, tmp_path):
    path, df = data_csv
    df.loc[[4, 9], "x2"] = np.nan
    df.to_csv(path, index=False)
    res = _run(runner, ["compare", path, "-t", "label", "--dropna", "--quick", "--no-plots",
                        "-o", tmp_path / "r"])
    assert res.exit_code == 0, res.stderr
    assert "dropped 2 of 90 rows" in (tmp_path / "r" / "results.json").read_text()


def test_target_without_data_is_a_usage_error(runner):
    res = _run(runner, ["compare", "--target", "y"])
    assert res.exit_code == 2 and "--target needs a DATA file" in res.stderr


def test_fit_then_predict(runner, data_csv, tmp_path):
    path, df = data_csv
    model = tmp_path / "m.safetensors"
    res = _run(runner, ["fit", path, "-t", "label", "--model", "logistic", "-o", model])
    assert res.exit_code == 0, res.stderr
    assert model.is_file() and "LogisticRegression" in res.stdout
    new = tmp_path / "new.csv"
    df.drop(columns="label").assign(id=range(len(df))).to_csv(new, index=False)
    out = tmp_path / "pred.csv"
    res = _run(runner, ["predict", model, new, "-o", out, "--keep", "id"])
    assert res.exit_code == 0, res.stderr
    pred = pd.read_csv(out)
    assert list(pred.columns) == ["id", "predicted", "p:no", "p:yes"]
    np.testing.assert_allclose(pred[["p:no", "p:yes"]].sum(axis=1), 1.0)
    assert ((pred["p:yes"] > 0.5) == (pred["predicted"] == "yes")).all()
    assert (pred["predicted"] == df["label"]).mean() > 0.6
    # Without -o the CSV goes to stdout.
    res = _run(runner, ["predict", model, new])
    assert res.stdout.splitlines()[0] == "predicted,p:no,p:yes"


def test_fit_multilabel_and_predict(runner, tmp_path):
    r = np.random.default_rng(1)
    X = r.normal(size=(80, 3))
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["t1"] = (X[:, 0] + r.normal(size=80) > 0).astype(int)
    df["t2"] = (X[:, 1] + r.normal(size=80) > 0).astype(int)
    path = tmp_path / "ml.parquet"
    df.to_parquet(path)
    model = tmp_path / "ml.safetensors"
    res = _run(runner, ["fit", path, "-t", "t1", "-t", "t2", "-o", model])
    assert res.exit_code == 0, res.stderr
    assert "MultiLabelLogistic" in res.stdout
    res = _run(runner, ["predict", model, path])
    header = res.stdout.splitlines()[0].split(",")
    assert header == ["predicted:t1", "predicted:t2", "p:t1", "p:t2"]


def test_fit_mixed_heads_and_predict(runner, tmp_path):
    # Three genres that exclude each other (one softmax head) and an independent label.
    r = np.random.default_rng(2)
    X = r.normal(size=(300, 3))
    genre = np.argmax(X[:, :2] @ [[2, -2, 0], [0, 2, -2]] + r.gumbel(size=(300, 3)), axis=1)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    for j, name in enumerate(["drama", "comedy", "horror"]):
        df[name] = (genre == j).astype(int)
    df["short"] = (X[:, 2] + r.normal(size=300) > 0).astype(int)
    path = tmp_path / "films.csv"
    df.to_csv(path, index=False)
    model = tmp_path / "mixed.safetensors"
    targets = ["-t", "drama", "-t", "comedy", "-t", "horror", "-t", "short"]
    res = _run(runner, ["fit", path, *targets, "-m", "mixed", "-o", model])
    assert res.exit_code == 0, res.stderr
    assert "MultiLabelHeads" in res.stdout
    from sigmax import load

    assert load(model).layout_.heads == {"drama|comedy|horror": "softmax", "short": "sigmoid"}
    res = _run(runner, ["predict", model, path])
    pred = pd.read_csv(io.StringIO(res.stdout))
    # One softmax: a row never gets two genres, and the genres' probabilities sum to one.
    assert (pred[["predicted:drama", "predicted:comedy", "predicted:horror"]].sum(axis=1)
            == 1).all()
    np.testing.assert_allclose(pred[["p:drama", "p:comedy", "p:horror"]].sum(axis=1), 1.0)
    # The coefficient table of each head: the genres against drama, short on its own.
    res = _run(runner, ["summary", model, path, *targets])
    assert res.exit_code == 0, res.stderr
    assert "MultiLabelHeads: 2 heads" in res.stdout
    assert "head 'drama|comedy|horror': log-odds of each class against comedy" in res.stdout
    assert "head 'short'" in res.stdout
    rows = [line.split() for line in res.stdout.splitlines()]
    assert {r[0] for r in rows if len(r) > 2 and r[1] in ("a", "b", "c", "intercept")} == {
        "drama", "horror", "short"}


def test_predict_errors(runner, data_csv, tmp_path):
    path, df = data_csv
    _one_line_error(_run(runner, ["predict", tmp_path / "none.safetensors", path]),
                    "No model file")
    _one_line_error(_run(runner, ["predict", path, path]), "not a valid sigmax model file")
    model = tmp_path / "m.safetensors"
    _run(runner, ["fit", path, "-t", "label", "-o", model])
    df.drop(columns=["x2"]).to_csv(tmp_path / "less.csv", index=False)
    _one_line_error(_run(runner, ["predict", model, tmp_path / "less.csv"]),
                    "lacks the feature column(s) 'x2'")


def test_fit_wrong_model_for_target(runner, data_csv, tmp_path):
    path, _ = data_csv
    _one_line_error(_run(runner, ["fit", path, "-t", "label", "--model", "multilabel",
                                  "-o", tmp_path / "m.safetensors"]), "several 0/1 target")
    _one_line_error(_run(runner, ["fit", path, "-t", "label", "--model", "svm",
                                  "-o", tmp_path / "m.safetensors"]), "Unknown model 'svm'")


def test_advise(runner, data_csv):
    res = _run(runner, ["advise", "movies", "--max-rows", "500"])
    assert res.exit_code == 0, res.stderr
    assert "MultiLabelLogistic" in res.stdout and "co-occur" in res.stdout
    path, _ = data_csv
    res = _run(runner, ["advise", path, "-t", "label"])
    assert res.exit_code == 0 and "LogisticRegression" in res.stdout


def test_compare_backend_torch(runner, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "r"
    res = _run(runner, ["compare", "iris", "--quick", "--no-plots", "--backend", "torch",
                        "--device", "cpu", "-o", out])
    assert res.exit_code == 0, res.stderr
    assert "Candidate fits ran on the torch backend (cpu)" in " ".join(res.stdout.split())
    settings = json.loads((out / "results.json").read_text())["settings"]
    assert (settings["backend"], settings["device"]) == ("torch", "cpu")


def test_compare_backend_errors_are_one_line(runner, tmp_path, monkeypatch):
    from sigmax.backends import BACKENDS

    base = ["compare", "iris", "--quick", "--no-report"]
    _one_line_error(_run(runner, [*base, "--backend", "numpy", "--device", "cuda:0"]),
                    "only applies to backend='torch'")
    # A backend whose library is missing: the install hint, not an ImportError traceback.
    monkeypatch.setattr(type(BACKENDS["torch"]), "available", lambda self: False)
    _one_line_error(_run(runner, [*base, "--backend", "torch"]), "needs torch",
                    "pip install")
    res = _run(runner, [*base, "--scheduler", "tcp://127.0.0.1:8786"])
    assert res.exit_code == 2
    _one_line_error(res, "--scheduler", "--backend dask")


def test_compare_on_a_dask_scheduler(runner, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        # A fixed C: every point of a tuned search would be a round trip to the
        # scheduler, minutes on a toy table; this checks where the fits run.
        res = _run(runner, ["compare", "iris", "--quick", "--no-plots", "--backend", "dask",
                            "--C", "1", "--scheduler", address, "-o", tmp_path / "r"])
    assert res.exit_code == 0, res.stderr
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    assert (data["settings"]["backend"], data["settings"]["scheduler"]) == ("dask", address)
    assert "dask" in data["environment"]
