"""Measured constants of the NumPy data term (row blocks, threads, compiled passes).

One module, read at call time (``tuning.BLOCK_BYTES``), so that a test or a
benchmark can change a constant in one place for every module of the engine.
"""

from __future__ import annotations

#: Bytes of one row block of ``X`` (with its logits). A block read from memory
#: for ``X_b @ W`` must still be in the core's cache for ``X_b.T @ G_b``:
#: measured best at 3-6 MB (4096-8192 rows of d=100 float64) on a 2 MB-L2,
#: 32 MB-L3 machine; smaller blocks pay NumPy's per-call overhead.
BLOCK_BYTES = 4 << 20
#: Multiply-adds of one matrix product (``M N K``) up to which OpenBLAS, on a
#: SkylakeX core, forms it on its small-matrix kernels
#: (:func:`sigmax._parallel.small_gemm_kernels`): the limit measured lies between
#: 0.90M and 1.02M (digits' 64 features and 10 classes at 1,400 / 1,600 rows: 24
#: against 43 ns per row of ``G_b^T X_b`` in float64), where a product of 100^3
#: sits. On the
#: row blocks' shapes they form ``G_b^T X_b`` of a row-major ``X`` 1.3-1.5x faster
#: than the general kernels (``python benchmarks/block_layout.py``, part 5), so
#: that product runs in row slices of at most this many multiply-adds where the
#: BLAS has them (:func:`sigmax.dataterms.blocks.slice_rows`).
SMALL_GEMM_MACS = 1_000_000
#: Features per output (``d / k``) from which a block's ``(k, b)`` logits are formed
#: as ``(b, k)`` row slices on the small-matrix kernels and copied transposed
#: (:attr:`sigmax.dataterms.blocks.BlockProducts.slice_logits`). The copy costs per
#: logit, the kernels save per multiply-add: on this SkylakeX core, one thread, a
#: block's logits took 0.47-1.00x the time of one product into the ``(k, b)``
#: layout wherever ``d >= 3k`` in float64 (k = 3-20, d = 16-200), 0.22-0.92x in
#: float32, and up to 1.7x (float64) / 2.4x (float32) where ``k`` is large next to
#: ``d`` (d = 16, k = 100; film's 14 features and 58-79 label sets are such a
#: case): ``python benchmarks/block_layout.py --part 6`` (the run in
#: docs/benchmarks.md; the run before it: 0.51-0.98x and 0.20-0.94x).
SLICED_LOGITS_FEATURES_PER_OUTPUT = 3
#: Rows below which a product is not sliced: shorter slices pay NumPy's per-call
#: overhead (a few microseconds) for products of a few tens.
SMALL_GEMM_MIN_ROWS = 256
#: Logits (``n * k``) from which a dense problem uses the losses' compiled
#: (numba) partition passes. Loading numba costs 0.2-1 s once per process
#: (import and disk cache), and the passes save about 0.5 ns per logit and
#: evaluation: below this (digits, movies, breast_cancer: fits of a few ms)
#: numba is never imported. As :data:`sigmax._csr.MIN_NNZ` for CSR products.
COMPILED_MIN_LOGITS = 1 << 18
#: Multiply-adds of one product (``n d k``) from which a float64 L-BFGS fit takes
#: its first iterates on the float32 twin (:mod:`sigmax.dataterms.float32_twin`).
#: Below, the float32 passes save no more than the switch costs: float64 L-BFGS
#: fits at ``tol=1e-6``, one thread, twin on at any size / off (``python
#: benchmarks/float32_start.py --small``): digits at 300 / 539 / 1,797 rows (0.19M
#: / 0.34M / 1.15M) 1.00 / 1.00 / 0.89, movies at 400 / 4,000 rows (0.05M /
#: 0.53M) 1.00 / 0.85, credit_onehot (0.15M) 1.00, the MPAA rating of the rated
#: ggplot2movies films (4,924 x 14, 4 classes: 0.28M) 1.04.
FLOAT32_TWIN_MIN_WORK = 1 << 19
#: Fewer entries (or stored values) of ``X`` than this: one thread (a pass is
#: then shorter than the cost of waking a second one).
PARALLEL_MIN_WORK = 1 << 17
#: Products of one cross-validation fold (training rows x features, or stored
#: values, x outputs) below which the CV estimators fit the folds one after the
#: other rather than side by side (``n_jobs=None``). Such a fold's path is mostly
#: the solver's Python between products of a few microseconds, and two folds in
#: threads only trade the GIL; a softmax path's Newton-CG solves its inner steps
#: in compiled code that releases it (:mod:`sigmax.solvers.compiled_cg`), and its
#: folds now gain from the second core. Side by side over sequential, 8 Cs, 5
#: folds, tol 1e-6, 2 vCPUs (``python benchmarks/fold_threads.py``):
#: breast_cancer 1.37, dense_binary at 2,000 rows 1.18, credit_onehot 1.15 (0.91
#: in another run), movies (0.43M) 0.96; dense_multinomial at 1,000 rows (0.80M)
#: 0.70, digits (0.92M) 0.80, film_labelsets at 5% (1.28M) 0.70, zipf_classes at
#: 5% (3.7M) 0.64. (Before the compiled solves: dense_multinomial 1.32, digits
#: 1.20, film 0.95.) The line sits between movies, whose path is Newton-Cholesky
#: (Hessian builds that release the GIL: about even), and the softmax paths.
FOLD_PARALLEL_MIN_WORK = 1 << 19
#: Entries of a float32 ``X`` from which the constant linear-part gradient
#: (``NumpyData._linear_part``) comes from float32 products of
#: ``LINEAR_F32_ROWS`` rows (summed in float64) instead of float64 copies of
#: ``X``: 5.6 ms instead of 15 ms on dense_binary (500k x 50). Smaller ``X``
#: keeps the exact float64 sums, which cost under a millisecond there; a
#: 1e-7 change of this constant alone moved where digits' float32 L-BFGS
#: (54 iterations) met tol=1e-5: 50 iterations at a 1.9e-5 gap.
LINEAR_F32_MIN_WORK = 1 << 22
#: Rows per float32 product of the linear part: its float32 sums stay this short.
LINEAR_F32_ROWS = 4096
#: A column's mean over its standard deviation (weighted by the loss's curvature)
#: above which the Hessian blocks of a Newton step are not formed from float32
#: products (:func:`sigmax.dataterms.hessian.intercept_collinear`): float32 rounding is
#: then about ``(1 + r^2) eps_32``, 1.2e-3 at 100, of the column's centred curvature.
#: Newton-Cholesky steps to ``tol=1e-8`` on a column ``r`` standard deviations from
#: zero (3,000 rows, five features, C = 1 / 100), float32 grams always against
#: float64: 5 against 5 up to r = 100, 6 at 300, 14 and 9 at 1000; R's Ecdat Males
#: as loaded, whose ``year`` (1980-87) sits at r = 866: 14 and 12 steps,
#: stopping short of the tolerance, against 6 (``python benchmarks/float32_grams.py
#: --part offset``; with this limit, the float64 counts).
FLOAT32_GRAMS_MAX_OFFSET = 100.0
#: Values of the scaled row copies formed at a time by
#: :func:`sigmax.dataterms.hessian.add_weighted_grams`.
_GRAM_CHUNK = 1 << 17
#: Rows of the softmax factor ``B`` formed at a time: bounds its memory by
#: this many rows of ``D k`` values (the Hessian itself holds ``(D k)^2``).
_SOFTMAX_ROWS = 512
