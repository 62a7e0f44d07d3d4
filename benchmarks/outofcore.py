"""Out-of-core fit from Parquet on a dask LocalCluster whose memory is smaller than the data.

What it measures (results in ``benchmarks/results/outofcore.json`` and a table on stdout):

- time per pass (one evaluation of the objective and its gradient: read every
  Parquet file, ``X @ W``, ``X.T @ G``, one compute) with 1 and 2 worker
  processes of one thread each, and the peak resident memory of each worker;
- a full fit with ``solver="lbfgs"`` and one with ``solver="minibatch"`` on 2
  workers: passes, wall time, peak memory per worker, and the distance to an
  in-memory NumPy fit of the same data (loaded whole in this process: the
  check, not part of the timing).

The data (``--rows`` x ``--features`` float64, equicorrelated, logistic labels
from a fixed coefficient vector, seeded) are written once to ``--data`` as Parquet files of
``--rows-per-file`` rows; a second run reuses them.

Run (about 15 minutes on a 2-vCPU machine)::

    python benchmarks/outofcore.py --rows 9000000 --features 50 --memory-limit 800MB
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import threading
import time
import warnings
from pathlib import Path

import numpy as np


def write_data(path: Path, rows: int, features: int, rows_per_file: int, seed: int) -> None:
    import pandas as pd

    if (path / "_done").exists():
        return
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w = rng.normal(size=features) / np.sqrt(features)
    cols = [f"x{j}" for j in range(features)]
    for i, lo in enumerate(range(0, rows, rows_per_file)):
        n = min(rows_per_file, rows - lo)
        # Equicorrelated features (correlation 0.5: condition number ~ features / 2),
        # so that the solvers have some work to do.
        X = np.sqrt(0.5) * rng.normal(size=(n, features))
        X += np.sqrt(0.5) * rng.normal(size=(n, 1))
        y = (X @ w + 0.5 + rng.logistic(size=n) > 0).astype(np.int8)
        frame = pd.DataFrame(X, columns=cols)
        frame["y"] = y
        frame.to_parquet(path / f"part-{i:05d}.parquet", index=False)
    (path / "_done").write_text("ok")


class PeakRSS:
    """Poll the resident memory of the worker processes from outside (psutil)."""

    def __init__(self, pids: list[int], every: float = 0.1) -> None:
        import psutil

        self.procs = [psutil.Process(p) for p in pids]
        self.peak = [0] * len(pids)
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for i, p in enumerate(self.procs):
                try:
                    self.peak[i] = max(self.peak[i], p.memory_info().rss)
                except Exception:  # a worker restarted: its old pid is gone
                    pass
            time.sleep(self.every)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _inputs(path: Path, features: int):
    import dask.dataframe as dd

    ddf = dd.read_parquet(str(path))
    return ddf[[f"x{j}" for j in range(features)]], ddf["y"]


def run_cluster(path: Path, features: int, n_workers: int, memory_limit: str,
                passes: int, fits: bool) -> dict:
    import dask
    from distributed import Client, LocalCluster

    from sigmax import LogisticRegression
    from sigmax.backends import BACKENDS, dask_backend
    from sigmax.losses import LOSSES
    from sigmax.penalties import make_penalty

    out: dict = {"workers": n_workers, "memory_limit": memory_limit}
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      memory_limit=memory_limit, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        limits = [w["memory_limit"] for w in
                  client.scheduler_info(n_workers=-1)["workers"].values()]
        out["total_memory_limit_bytes"] = int(sum(limits))
        Xdf, ydf = _inputs(path, features)
        with PeakRSS(pids) as rss:
            # Same steps as fit(): labels to the client, one checking pass over X.
            est = LogisticRegression()
            t0 = time.perf_counter()
            X, y, _ = BACKENDS["dask"].prepare_fit(est, Xdf, ydf, None, None)
            out["prepare_seconds"] = time.perf_counter() - t0
            obj = dask_backend.ChunkedObjective(
                LOSSES["binomial"], X, np.asarray(y, dtype=float), np.ones(len(y)), 1,
                C=1.0, penalty=make_penalty("l2"))
            out["persisted"] = obj.data.persisted
            out["data_bytes"] = int(X.nbytes)
            out["chunks"] = int(X.numblocks[0])
            w = np.zeros(obj.n_params)
            times, cpu = [], []
            for i in range(passes):
                c0 = [p.cpu_times() for p in rss.procs]
                t = time.perf_counter()
                obj.value_and_grad(w + 0.01 * i)
                times.append(time.perf_counter() - t)
                # CPU seconds the workers spent: the work of a pass, whatever else
                # the machine is running (wall time is not, on a shared machine).
                cpu.append(sum(p.cpu_times().user + p.cpu_times().system - a.user - a.system
                               for p, a in zip(rss.procs, c0)))
            out["seconds_per_pass"] = times
            out["worker_cpu_seconds_per_pass"] = cpu
        out["peak_rss_per_pass_bytes"] = rss.peak
        if fits:
            for solver in ("lbfgs", "minibatch"):
                with PeakRSS(pids) as rss, warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t = time.perf_counter()
                    est = LogisticRegression(C=1.0, solver=solver, tol=1e-6,
                                             max_iter=200).fit(*_inputs(path, features))
                    seconds = time.perf_counter() - t
                rec = est.fit_record_
                out[f"fit_{solver}"] = {
                    "seconds": seconds, "n_iter": rec.n_iter, "n_grad_evals": rec.n_grad_evals,
                    "objective": rec.objective, "grad_norm": rec.grad_norm,
                    "converged": rec.converged, "message": rec.message,
                    "coef": est.coef_.ravel().tolist(), "intercept": est.intercept_.tolist(),
                    "peak_rss_bytes": rss.peak}
        dask.config.refresh()
    return out


def numpy_reference(path: Path, features: int) -> dict:
    """The same model fitted in memory (the whole data set loaded in this process)."""
    import pandas as pd

    from sigmax import LogisticRegression

    frame = pd.read_parquet(path)
    X = frame[[f"x{j}" for j in range(features)]].to_numpy()
    y = frame["y"].to_numpy()
    del frame
    t = time.perf_counter()
    est = LogisticRegression(C=1.0, solver="lbfgs", tol=1e-6).fit(X, y)
    rec = est.fit_record_
    return {"seconds": time.perf_counter() - t, "n_grad_evals": rec.n_grad_evals,
            "objective": rec.objective, "coef": est.coef_.ravel().tolist(),
            "intercept": est.intercept_.tolist()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=9_000_000)
    p.add_argument("--features", type=int, default=50)
    p.add_argument("--rows-per-file", type=int, default=50_000)
    p.add_argument("--memory-limit", default="800MB", help="per worker")
    p.add_argument("--passes", type=int, default=3, help="timed passes per configuration")
    p.add_argument("--data", type=Path, default=Path("/tmp/sigmax-outofcore"))
    p.add_argument("--out", type=Path,
                   default=Path(__file__).parent / "results" / "outofcore.json")
    p.add_argument("--no-check", action="store_true", help="skip the in-memory NumPy fit")
    p.add_argument("--no-fits", action="store_true",
                   help="time passes only (1 and 2 workers), no full fits")
    args = p.parse_args()

    t = time.perf_counter()
    write_data(args.data, args.rows, args.features, args.rows_per_file, seed=0)
    disk = sum(f.stat().st_size for f in args.data.glob("*.parquet"))
    result = {
        "command": "python benchmarks/outofcore.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
            if k in ("rows", "features", "memory_limit", "rows_per_file"))
        + (" --no-fits" if args.no_fits else ""),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or
                    platform.machine(), "python": platform.python_version()},
        "rows": args.rows, "features": args.features, "parquet_bytes_on_disk": disk,
        "data_seconds": time.perf_counter() - t, "runs": [],
        # Other processes on the machine slow every timing down: say how busy it was.
        "load_average_before": os.getloadavg()}
    try:
        import psutil

        result["machine"]["memory_bytes"] = psutil.virtual_memory().total
    except ImportError:  # pragma: no cover
        pass
    for n_workers in (1, 2):
        result["runs"].append(run_cluster(args.data, args.features, n_workers,
                                          args.memory_limit, args.passes,
                                          fits=n_workers == 2 and not args.no_fits))
    result["load_average_after_clusters"] = os.getloadavg()
    if not (args.no_check or args.no_fits):
        result["numpy"] = numpy_reference(args.data, args.features)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(args.out)
    print(render(result))


def render(result: dict) -> str:
    mb = 2**20
    load = result.get("load_average_before")
    lines = [f"load average of the machine before the runs (1, 5, 15 min): {load}",
             f"data: {result['rows']:,} rows x {result['features']} float64 features = "
             f"{result['runs'][0]['data_bytes'] / mb:,.0f} MiB in memory "
             f"({result['parquet_bytes_on_disk'] / mb:,.0f} MiB of Parquet)", "",
             "| workers | memory limit (total) | data / limit | persisted | s per pass "
             "(median) | worker CPU s per pass | peak RSS per worker (MiB) |",
             "|---|---|---|---|---|---|---|"]
    for run in result["runs"]:
        ratio = run["data_bytes"] / run["total_memory_limit_bytes"]
        peak = ", ".join(f"{b / mb:,.0f}" for b in run["peak_rss_per_pass_bytes"])
        lines.append(f"| {run['workers']} | {run['total_memory_limit_bytes'] / mb:,.0f} MiB | "
                     f"{ratio:.1f}x | {run['persisted']} | "
                     f"{np.median(run['seconds_per_pass']):.2f} | "
                     f"{np.median(run.get('worker_cpu_seconds_per_pass', [np.nan])):.1f} | "
                     f"{peak} |")
    two = result["runs"][-1]
    lines += ["", "| fit (2 workers) | passes | iterations | wall s | objective | grad norm | "
              "max abs coef diff vs NumPy | peak RSS per worker (MiB) |",
              "|---|---|---|---|---|---|---|---|"]
    ref = result.get("numpy")
    for solver in ("lbfgs", "minibatch"):
        fit = two.get(f"fit_{solver}")
        if not fit:
            continue
        diff = (f"{np.max(np.abs(np.subtract(fit['coef'], ref['coef']))):.1e}"
                if ref else "n/a")
        # minibatch: 2 passes per epoch (snapshot + steps) + the first evaluation.
        passes = fit["n_grad_evals"] + (fit["n_iter"] if solver == "minibatch" else 0)
        peak = ", ".join(f"{b / mb:,.0f}" for b in fit["peak_rss_bytes"])
        lines.append(f"| {solver} | {passes} | {fit['n_iter']} | {fit['seconds']:.0f} | "
                     f"{fit['objective']:.10f} | {fit['grad_norm']:.1e} | {diff} | {peak} |")
    if ref:
        lines.append(f"| numpy in memory (check) | {ref['n_grad_evals']} | | "
                     f"{ref['seconds']:.0f} | {ref['objective']:.10f} | | 0 | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
