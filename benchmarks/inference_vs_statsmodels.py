"""Fit plus full inference table: sigmax against statsmodels Logit / MNLogit.

For each problem (fixed-seed synthetic data, 50 features):

- ``binary``: 1,000,000 rows, logistic model;
- ``softmax``: 200,000 rows, K = 10 classes;

each library fits an unpenalized model and produces its full coefficient table
(sigmax: ``LogisticRegression(penalty=None)`` / ``SoftmaxRegression(penalty=None)``
then ``sigmax.inference(...).summary()``; statsmodels: ``Logit`` / ``MNLogit``
``.fit()`` then ``.summary()``). With ``--margeff`` the average marginal effects
and their standard errors are part of the work (``marginal_effects()`` /
``get_margeff()``).

Every (problem, library) runs in its own subprocess twice: once timed (wall
clock of fit + table, after the data are made and the library imported), once
under ``tracemalloc`` for the peak of the memory allocated by that work (NumPy
buffers included; the data themselves are made before and not counted). Each
subprocess gets an address-space limit (``--memory-limit-gb``, default 6): work
that needs more fails with a MemoryError, reported as ``out of memory``, instead
of taking the machine down (statsmodels' ``MNLogit.get_margeff()`` forms
``n x (K d) x (K p)`` derivatives: 23 GB at 10,000 x 50, K = 10). Not a timed
test: the figures depend on the machine.

Usage::

    python benchmarks/inference_vs_statsmodels.py              # the issue's sizes (scale 1)
    python benchmarks/inference_vs_statsmodels.py --scale 0.05 # 5% of the rows
    python benchmarks/inference_vs_statsmodels.py --scale 0.05 --margeff --json out.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np

#: Rows at scale 1, features, classes.
PROBLEMS = {"binary": (1_000_000, 50, 2), "softmax": (200_000, 50, 10)}
LIBRARIES = ("sigmax", "statsmodels")


def make_data(problem: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Standard normal features, coefficients of moderate size, labels drawn from the model."""
    n, d, K = PROBLEMS[problem]
    n = max(int(n * scale), 20 * d * K)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    B = rng.normal(scale=0.3 / np.sqrt(d), size=(d, K))
    B[:, 0] = 0.0
    Z = X @ B
    if K == 2:
        y = (rng.random(n) < 1 / (1 + np.exp(-(Z[:, 1] - Z[:, 0])))).astype(np.int64)
    else:
        G = -np.log(-np.log(rng.random((n, K))))  # Gumbel trick: argmax is a softmax draw
        y = np.argmax(Z + G, axis=1)
    return X, y


def work_sigmax(X: np.ndarray, y: np.ndarray, margeff: bool) -> str:
    import sigmax

    cls = sigmax.LogisticRegression if len(np.unique(y)) == 2 else sigmax.SoftmaxRegression
    model = cls(penalty=None, tol=1e-8).fit(X, y)
    res = sigmax.inference(model, X, y)
    text = res.summary()
    if margeff:
        text += res.marginal_effects().to_string()
    return text


def work_statsmodels(X: np.ndarray, y: np.ndarray, margeff: bool) -> str:
    import statsmodels.api as sm

    Xc = sm.add_constant(X)
    model = sm.Logit(y, Xc) if len(np.unique(y)) == 2 else sm.MNLogit(y, Xc)
    res = model.fit(disp=0, method="newton", maxiter=100)
    text = str(res.summary())
    if margeff:
        text += str(res.get_margeff().summary())
    return text


WORK = {"sigmax": work_sigmax, "statsmodels": work_statsmodels}


def _child(problem: str, library: str, scale: float, margeff: bool, memory: bool,
           limit_gb: float) -> None:
    """Make the data, run one library's work once, print a JSON line."""
    limit = int(limit_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    X, y = make_data(problem, scale)
    warnings.simplefilter("ignore")
    __import__({"sigmax": "sigmax.inference", "statsmodels": "statsmodels.api"}[library])
    if memory:
        tracemalloc.start()
        tracemalloc.reset_peak()
        WORK[library](X, y, margeff)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(json.dumps({"peak_mb": peak / 2**20}))
    else:
        t = time.perf_counter()
        WORK[library](X, y, margeff)
        print(json.dumps({"seconds": time.perf_counter() - t, "n": len(y)}))


def _measure(problem: str, library: str, scale: float, margeff: bool, memory: bool,
             limit_gb: float) -> dict:
    cmd = [sys.executable, __file__, "--child", problem, library, "--scale", str(scale),
           "--memory-limit-gb", str(limit_gb)]
    cmd += ["--margeff"] * margeff + ["--memory"] * memory
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        why = "out of memory" if "MemoryError" in run.stderr else (
            run.stderr.strip().splitlines() or [f"exit {run.returncode}"])[-1]
        return {"failed": f"{library}: {why}"}
    return json.loads(run.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="share of the issue's rows (1,000,000 binary, 200,000 softmax)")
    parser.add_argument("--problem", action="append", choices=list(PROBLEMS))
    parser.add_argument("--margeff", action="store_true",
                        help="include average marginal effects with standard errors")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    parser.add_argument("--memory-limit-gb", type=float, default=6.0,
                        help="address-space limit of each measured subprocess")
    parser.add_argument("--child", nargs=2, metavar=("PROBLEM", "LIBRARY"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child, args.scale, args.margeff, args.memory, args.memory_limit_gb)
        return []
    rows = []
    for problem in args.problem or list(PROBLEMS):
        got = {}
        for lib in LIBRARIES:
            timed = _measure(problem, lib, args.scale, args.margeff, False, args.memory_limit_gb)
            got[lib] = timed if "failed" in timed else {**timed, **_measure(
                problem, lib, args.scale, args.margeff, True, args.memory_limit_gb)}
        s, m = got["sigmax"], got["statsmodels"]
        nan = float("nan")
        rows.append({"problem": problem, "n": int(max(PROBLEMS[problem][0] * args.scale,
                                                     20 * PROBLEMS[problem][1]
                                                     * PROBLEMS[problem][2])),
                     "d": PROBLEMS[problem][1], "K": PROBLEMS[problem][2],
                     "margeff": args.margeff,
                     "sigmax_s": s.get("seconds", nan), "statsmodels_s": m.get("seconds", nan),
                     "sigmax_peak_mb": s.get("peak_mb", nan),
                     "statsmodels_peak_mb": m.get("peak_mb", nan),
                     "failed": "; ".join(g["failed"] for g in (s, m) if "failed" in g)})
        r = rows[-1]
        r["time_ratio"] = r["sigmax_s"] / r["statsmodels_s"]
        r["memory_ratio"] = r["sigmax_peak_mb"] / r["statsmodels_peak_mb"]
    print("| problem | n x d, K | sigmax s | statsmodels s | time ratio | sigmax peak MB | "
          "statsmodels peak MB | memory ratio | failed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['problem']}{' + margeff' if r['margeff'] else ''} | {r['n']:,} x {r['d']}, "
              f"{r['K']} | {r['sigmax_s']:.2f} | {r['statsmodels_s']:.2f} | "
              f"{r['time_ratio']:.3f} | {r['sigmax_peak_mb']:.1f} | "
              f"{r['statsmodels_peak_mb']:.1f} | {r['memory_ratio']:.3f} | {r['failed']} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return rows


if __name__ == "__main__":
    main()
