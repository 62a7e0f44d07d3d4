"""CV estimators with and without float32 Hessian products (``sigmax.dataterms.float32_hessp``).

The ``paths`` group's sigmax CV fit (same Cs, folds, scoring as ``sigmax bench
paths``) timed with the path's float32 Hessian-vector products and with exact
float64 ones (``NumpyData.float32_hessp`` forced off), the two alternating in
each round, default threads; prints every time, the best of each and the
relative objective gap of both against the bench's tight reference fits.

    python benchmarks/float32_hessp_paths.py dense_multinomial --tol 1e-5 --rounds 3
    python benchmarks/float32_hessp_paths.py digits --tol 1e-7 --rounds 3
"""

from __future__ import annotations

import argparse
import time

from sigmax.bench import paths
from sigmax.dataterms.numpy_term import NumpyData


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("problem", choices=list(paths.PATH_PROBLEMS))
    ap.add_argument("--scale", type=float, default=1.0, help="of the group's rows")
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    case = paths.load_case(args.problem, args.scale)
    reference = paths.reference_objectives(case)
    exact = NumpyData.float32_hessp

    def off(self, on=True):
        return exact(self, False)

    times: dict[str, list[float]] = {"float64 products": [], "float32 products": []}
    gaps: dict[str, float] = {}
    for _ in range(args.rounds):
        for label in times:
            NumpyData.float32_hessp = off if label.startswith("float64") else exact
            t = time.perf_counter()
            coefs, icpts = paths._sigmax_cv(case, "auto", args.tol, 100_000)
            times[label].append(time.perf_counter() - t)
            gaps[label] = float(paths._gaps(paths._objectives(case, coefs, icpts),
                                            reference).max())
    NumpyData.float32_hessp = exact
    print(f"{args.problem}: {case.data.X.shape}, tol {args.tol:g}")
    for label, ts in times.items():
        print(f"  {label}: {' '.join(f'{t:.3f}' for t in ts)} s, best {min(ts):.3f} s, "
              f"max gap {gaps[label]:.1e}")
    print(f"  best float32 / best float64: "
          f"{min(times['float32 products']) / min(times['float64 products']):.2f}")


if __name__ == "__main__":
    main()
