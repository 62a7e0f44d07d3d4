"""One thread pool for the fused passes over ``X``, and the BLAS thread count it must respect.

Why a pool of our own: an objective evaluation is two matrix products with ``X``
plus elementwise work on the ``(n, k)`` logits. Run as three separate steps,
the elementwise part runs on one core and walks ``(n, k)`` arrays far larger
than the caches. Split into row blocks instead, each block's logits stay in
cache between the two products, and the blocks can be shared between threads:
NumPy's ``dot``, its ufuncs and SciPy's sparse kernels release the GIL.

Why the BLAS is set to one thread during such a pass: each worker already
keeps one core busy; a multi-threaded BLAS call inside a worker would start
more threads than cores and they would fight (oversubscription). The number of
workers is the number of threads NumPy's BLAS is allowed *now*, so that
``threadpoolctl.threadpool_limits(1)`` (or ``OPENBLAS_NUM_THREADS=1``) makes
sigmax single-threaded like every other library.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

import numpy as np

from . import _thread_warnings

__all__ = ["blas_threads", "compiled_blas", "run_blocks", "serial_blas", "small_gemm_kernels",
           "usable_cores"]

T = TypeVar("T")

_lock = threading.Lock()
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_blas: list[Any] | None = None
_others: list[Any] | None = None
# Set in the workers of a fused pass: a nested pass (from a callback) then runs serially.
_inside = threading.local()
# serial_blas: the BLAS thread count the passes may use while it holds the BLAS at 1.
_budget: int | None = None
# serial_blas depth of this thread: while it is > 0 the BLAS is already at one
# thread for this thread's passes, which then need not set it again.
_serial = threading.local()


class _Hold:
    """Who holds some BLAS libraries at one thread: nesting depth and the counts to restore.

    ``libs``: the libraries held (called when a hold starts: threadpoolctl finds
    them on first use); ``budget``: whether the hold also keeps the passes'
    thread budget (:func:`blas_threads`), as NumPy's does.
    """

    def __init__(self, libs: Callable[[], list[Any]], budget: bool) -> None:
        self.libs, self.budget = libs, budget
        self.depth = 0
        self.saved: list[int] = []


# One hold for every reason to keep the BLAS at one thread (a pass, a solve):
# with two holds, a pass in one user thread and a solve in another saved each
# other's "1" as the count to restore, and left the BLAS at one thread, or
# restored it under a running pass (oversubscription: 0.24 s -> 2.9 s for two
# threads fitting 50,000 x 30 logistic models, see tests/test_parallel.py).
_HOLD = _Hold(lambda: _numpy_blas(), budget=True)
_PASSES = _SOLVES = _HOLD
# The other BLAS (SciPy's), held while compiled passes run (compiled_blas).
_COMPILED = _Hold(lambda: _other_blas(), budget=False)
# Fits running now, in any thread; from two on, each pass runs on one worker.
_fits = 0
_NO_HOLD = nullcontext()


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity where the OS reports it.

    ``os.cpu_count()`` counts the machine's cores; a container, ``taskset`` or a
    batch scheduler may give the process fewer, and one thread per counted core
    would then oversubscribe the ones it has.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this OS (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def _numpy_blas() -> list[Any]:
    """threadpoolctl controllers of the BLAS that NumPy's ``dot`` calls (cached)."""
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController

            libs = [lib for lib in ThreadpoolController().lib_controllers
                    if lib.user_api == "blas"]
            root = os.path.dirname(os.path.dirname(np.__file__))
            mine = [lib for lib in libs if "numpy" in os.path.relpath(lib.filepath, root)
                    .split(os.sep)[0]]
            _blas = mine or libs
        except Exception:  # pragma: no cover - threadpoolctl cannot inspect this BLAS
            _blas = []
    return _blas


#: OpenBLAS targets whose products of at most about 10^6 multiply-adds run on faster
#: small-matrix kernels. Measured on SkylakeX only (``python
#: benchmarks/block_layout.py``, part 5); Cooperlake and SapphireRapids are the
#: AVX-512 targets OpenBLAS builds from SkylakeX's kernels, taken to behave alike.
_SMALL_GEMM_TARGETS = frozenset({"skylakex", "cooperlake", "sapphirerapids"})
_small_gemm: bool | None = None


def small_gemm_kernels() -> bool:
    """Whether NumPy's BLAS runs products of at most about ``10^6`` multiply-adds on
    small-matrix kernels (OpenBLAS on a SkylakeX-family core; cached).

    There :class:`sigmax.dataterms.blocks.BlockProducts` slices a block's
    products to that size (:data:`sigmax.dataterms.tuning.SMALL_GEMM_MACS`);
    elsewhere a slice would only add calls.
    """
    global _small_gemm
    if _small_gemm is None:
        _small_gemm = any(getattr(lib, "internal_api", "") == "openblas"
                          and str(getattr(lib, "architecture", "")).lower()
                          in _SMALL_GEMM_TARGETS for lib in _numpy_blas())
    return _small_gemm


def _other_blas() -> list[Any]:
    """The BLAS libraries loaded besides NumPy's (cached): SciPy's own OpenBLAS, where
    numba's ``np.dot`` (through ``scipy.linalg.cython_blas``) runs the compiled
    passes' products (:func:`compiled_blas`)."""
    global _others
    if _others is None:
        mine = _numpy_blas()
        try:
            from threadpoolctl import ThreadpoolController

            _others = [lib for lib in ThreadpoolController().lib_controllers
                       if lib.user_api == "blas"
                       and all(lib.filepath != m.filepath for m in mine)]
        except Exception:  # pragma: no cover - threadpoolctl cannot inspect this BLAS
            _others = []
    return _others


def _budget_outside() -> int:
    """The BLAS thread count outside any hold (what the passes may use)."""
    counts = [lib.num_threads for lib in _numpy_blas()]
    counts = [c for c in counts if isinstance(c, int) and c > 0]
    return max(counts) if counts else 1


def blas_threads() -> int:
    """Threads NumPy's BLAS may use now (1 when unknown).

    Inside :func:`serial_blas` this is the count from before it (the budget
    of the fused passes), not the 1 the BLAS is held at.
    """
    if _fits > 1:
        # Fits in several user threads: each already keeps a core busy, and
        # more workers per pass would only fight them for the cores.
        return 1
    if _budget is not None:
        return _budget
    return _budget_outside()


@contextmanager
def serial_blas() -> Iterator[None]:
    """Hold NumPy's BLAS at one thread for a whole solve; the fused passes keep their workers.

    A solver's own vector work between passes (L-BFGS's products with its
    stored pairs, CG's dot products: vectors of ``p`` parameters) is memory
    bound. A multi-threaded BLAS call there wakes threads that then spin,
    fighting the next pass's workers for the cores. On 2 vCPUs an L-BFGS fit
    of many_classes (50,000 x 200, K=100) at default threads takes 3.03 s
    with this context and 4.52 s without, where its 68 evaluations alone
    take 2.93 s (``python benchmarks/solver_overhead.py``). Inside this
    context :func:`blas_threads` still reports the thread count from before,
    so the passes over ``X`` run on that many workers, each with a one-thread
    BLAS, as always. Nested and concurrent uses share one saved state.
    """
    with _one_blas_thread(_SOLVES):
        _serial.depth = getattr(_serial, "depth", 0) + 1
        try:
            yield
        finally:
            _serial.depth -= 1


@contextmanager
def compiled_blas() -> Iterator[None]:
    """Hold the other BLAS (SciPy's OpenBLAS) at one thread while compiled passes run.

    numba's ``np.dot`` calls SciPy's OpenBLAS, not NumPy's: the compiled
    Newton-CG (:mod:`sigmax.solvers.compiled_cg`) and the softmax's compiled
    evaluation (:mod:`sigmax._softmax_block`) run their products there. Left
    at its thread count, two CV folds side by side each woke its threads on
    the same two cores, and the film label-set CV at 5% of its rows ran
    slower side by side than one fold after the other (seen while building
    this; with the hold it is 0.70x, ``python benchmarks/fold_threads.py``).
    A hold of its own, so
    that the solves which call SciPy's LAPACK directly (Newton-Cholesky's
    factorizations) keep their threads; nested and concurrent uses share one
    saved state, as :func:`serial_blas`.
    """
    with _one_blas_thread(_COMPILED):
        yield


@contextmanager
def fit_scope() -> Iterator[None]:
    """A fit runs: BLAS at one thread throughout; from two fits on, passes use one worker.

    Two threads fitting separate estimators would otherwise each start a
    pass on every core (4 busy threads on 2 cores).
    """
    global _fits
    with _lock:
        _fits += 1
    try:
        # The whole fit, not only its solve, holds the BLAS at one thread: a
        # multi-threaded BLAS call made by one thread (validation, the linear
        # part) while another thread's fit runs made OpenBLAS's workers spin
        # against it (two 0.04 s fits took 2.2 s together).
        with serial_blas():
            yield
    finally:
        with _lock:
            _fits -= 1


def _set_threads(lib: Any, count: int) -> None:
    """Set ``lib``'s thread count from whichever thread takes or releases a hold.

    threadpoolctl (3.6 on) lets only one "controlling" thread change a
    process-wide (pthreads) OpenBLAS pool and makes the same call from any
    other thread do nothing, silently. The first thread that ever set a limit
    (usually the main thread, e.g. a first fit there) keeps that role while it
    lives, so the holds of fits run in user threads did nothing: their BLAS
    calls ran on two threads beside each other and OpenBLAS spun (two 0.08 s
    fits took 3.3 s together; ``benchmarks/threaded_fits.py``). sigmax's holds
    are counted process-wide and changed only under ``_lock``, so the thread
    changing the count may take the role: where a plain set did not take,
    release the role and set again (releasing it before every set put a lock
    and a second call on every pass outside a solve; cProfile of movies'
    evaluations showed it among their largest costs).
    """
    lib.set_num_threads(count)
    clear = getattr(type(lib), "clear_controlling_thread", None)
    if clear is not None and lib.num_threads != count:
        clear(force=True)
        lib.set_num_threads(count)


@contextmanager
def _one_blas_thread(hold: _Hold) -> Iterator[None]:
    """``hold``'s BLAS libraries at one thread while any holder of it is inside.

    Uses from several user threads may overlap: the first one in saves the
    BLAS thread counts and the pass budget (:func:`blas_threads` from before),
    and the last one out restores them.
    """
    global _budget
    libs = hold.libs()
    with _lock:
        if hold.depth == 0:
            if hold.budget:
                _budget = blas_threads() if _fits <= 1 else _budget_outside()
            hold.saved = [lib.num_threads for lib in libs]
            for lib, count in zip(libs, hold.saved):
                if count != 1:  # already one (threadpool_limits(1)): nothing to set
                    _set_threads(lib, 1)
        hold.depth += 1
    try:
        yield
    finally:
        with _lock:
            hold.depth -= 1
            if hold.depth == 0:
                for lib, count in zip(libs, hold.saved):
                    if count != 1:
                        _set_threads(lib, count)
                if hold.budget:
                    _budget = None


def _get_pool(n: int) -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="sigmax")
        return _pool


def run_blocks(work: Callable[[Iterable[int]], T], n_blocks: int, n_workers: int) -> list[T]:
    """Run ``work(block_indices)`` on ``n_workers`` threads, NumPy's BLAS at one thread meanwhile.

    Workers take the next block from a shared counter until none is left:
    on a machine shared with other processes one core may stall, and a fixed
    split would make the whole pass wait for it. The calling thread is one of
    the workers. ``work`` receives an iterable of block indices and returns
    one result; the results come back one per worker.
    """
    n_workers = max(1, min(n_workers, n_blocks))
    if getattr(_inside, "active", False):
        return [work(range(n_blocks))]
    counter = itertools.count()

    def blocks():
        # next() on itertools.count is atomic under the GIL.
        while (i := next(counter)) < n_blocks:
            yield i

    def task(j: int) -> T:
        _inside.active = True
        try:
            return work(blocks())
        finally:
            _inside.active = False

    # Inside serial_blas (a solve) the BLAS is already held at one thread:
    # setting it again costs two threadpoolctl calls per pass (~20 us each,
    # the whole products of a small problem's pass; measured on digits).
    hold = _NO_HOLD if getattr(_serial, "depth", 0) else _one_blas_thread(_PASSES)
    with hold:
        if n_workers == 1:
            # Still one BLAS thread: a block is a few MB, too small for a
            # second BLAS thread to pay for waking it (measured up to 7x
            # slower at default threads on 2 vCPUs, where it fights for a core).
            return [task(0)]
        pool = _get_pool(n_workers - 1)
        # A warning raised in a block joins the calling fit's record (_thread_warnings).
        futures = [pool.submit(_thread_warnings.carry(task), j) for j in range(1, n_workers)]
        first = task(0)
        return [first, *(f.result() for f in futures)]
