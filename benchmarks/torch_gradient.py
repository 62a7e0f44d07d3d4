"""Torch backend (CPU or CUDA) against NumPy on the same problem.

Measures, for softmax regression on ``--rows`` x ``--features`` synthetic data with
``--classes`` classes:

- time per evaluation of the objective and its gradient (median of ``--repeats``
  after one warm-up; a CUDA evaluation ends with the gradient on the host, so it
  includes the synchronisation);
- time for an L-BFGS fit to the same tolerance, and the objective each reaches.

NumPy runs under ``threadpool_limits(--threads)``; torch under
``torch.set_num_threads(--threads)`` on CPU. Results go to
``benchmarks/results/torch_gradient-<device>.json``.

Run::

    python benchmarks/torch_gradient.py --device cpu
    python benchmarks/torch_gradient.py --device cuda --dtype float32
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np


def main() -> None:
    import torch
    from threadpoolctl import threadpool_limits

    from sigmax import SoftmaxRegression
    from sigmax.backends.array import ArrayObjective
    from sigmax.io import atomic_write_text
    from sigmax.losses import LOSSES
    from sigmax.objective import LinearObjective
    from sigmax.penalties import make_penalty

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--features", type=int, default=100)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()

    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, args.features)).astype(args.dtype)
    W = rng.normal(size=(args.features, args.classes)) / np.sqrt(args.features)
    y = np.argmax(X @ W + rng.gumbel(size=(args.rows, args.classes)), axis=1)
    dev = torch.device(args.device)
    Xt = torch.from_numpy(X).to(dev)
    loss, pen = LOSSES["multinomial"], make_penalty("l2")
    weights = np.ones(args.rows)
    objs = {"numpy": LinearObjective(loss, X, y, weights, args.classes, C=1.0, penalty=pen),
            "torch": ArrayObjective(loss, Xt, y, weights, args.classes, C=1.0, penalty=pen)}
    if dev.type == "cpu":
        torch.set_num_threads(args.threads)
    out = {"device": args.device, "device_name": (torch.cuda.get_device_name(dev)
                                                  if dev.type == "cuda" else platform.processor()
                                                  or platform.machine()),
           "cpus": os.cpu_count(), "torch": torch.__version__, **vars(args)}
    out.pop("out")
    w = 0.01 * rng.normal(size=objs["numpy"].n_params)
    with threadpool_limits(args.threads):
        for name, obj in objs.items():
            obj.value_and_grad(w)  # warm-up (allocations, CUDA context, kernels)
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                obj.value_and_grad(w)
                times.append(time.perf_counter() - t)
            out[f"{name}_seconds_per_eval"] = float(np.median(times))
        fits = {"numpy": X, "torch": Xt}
        for name, data in fits.items():
            t = time.perf_counter()
            est = SoftmaxRegression(C=1.0, solver="lbfgs", tol=1e-6, dtype=args.dtype).fit(data, y)
            out[f"{name}_fit_seconds"] = time.perf_counter() - t
            out[f"{name}_fit_objective"] = est.fit_record_.objective
            out[f"{name}_fit_evals"] = est.fit_record_.n_grad_evals
    path = args.out or Path(__file__).parent / "results" / f"torch_gradient-{dev.type}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
