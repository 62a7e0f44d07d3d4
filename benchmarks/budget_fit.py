"""How close `sigmax compare --budget SECONDS` lands to its budget (issue 14, item 6).

    python benchmarks/budget_fit.py [--budget 30] [--rounds 1] [--data iris ...]

Runs, alternating, ``sigmax compare --no-plots`` (the reference: no budget) and
``sigmax compare --budget SECONDS --no-plots`` in fresh processes, as a user would, on the
built-in data (or the names given with ``--data``). Prints per run the wall seconds of the
whole process, and for the budget run the time as a share of the budget, the estimate the
plan made, each dataset's estimate against its measured study time, and the cut sentences.
Nothing is asserted: the figures go in the docs with the command that printed them; on a
shared machine say so, since other processes slow the run but not its probe alike.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(args: list[str], out: Path) -> float:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    src = Path(__file__).resolve().parent.parent / "src"
    env["PYTHONPATH"] = f"{src}{os.pathsep}{env.get('PYTHONPATH', '')}"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sigmax.cli", "compare", *args, "--no-plots",
                    "-o", str(out)], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=30.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--data", nargs="*", default=[])
    ap.add_argument("--no-reference", action="store_true", help="skip the run without budget")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            if not a.no_reference:
                wall = _run(list(a.data), Path(tmp) / f"ref{r}")
                print(f"round {r + 1}: no budget        {wall:6.1f} s")
            out = Path(tmp) / f"b{r}"
            wall = _run([*a.data, "--budget", f"{a.budget:g}"], out)
            res = json.loads((out / "results.json").read_text())
            plans = res["settings"]["budget"]
            plans = plans if isinstance(plans, list) else [plans] * len(res["problems"])
            print(f"round {r + 1}: --budget {a.budget:g}  {wall:6.1f} s "
                  f"({wall / a.budget:.0%} of the budget)")
            for p, plan in zip(res["problems"], plans):
                print(f"    {p['dataset']:<14} estimated {plan['estimated_seconds']:6.1f} s, "
                      f"measured {p['seconds']['total']:6.1f} s")
                for s in plan["sentences"]:
                    print(f"        {s}")


if __name__ == "__main__":
    main()
