"""The study behind ``sigmax compare``: orchestration of the sections over one dataset.

:func:`compare` takes ``X`` and ``y`` (class labels, a 0/1 label matrix or a
DataFrame of target columns), fits every candidate model that fits the label
type (:data:`~sigmax.study.candidates.CANDIDATES`) once on all rows, then runs
the chosen sections of the registry :data:`~sigmax.study.section.SECTIONS`
in order, each on the same :class:`~sigmax.study.run.StudyRun`, and returns a
:class:`~sigmax.study.result.CompareResult`: typed data, rendered elsewhere.
Every number in it is measured on the data at hand; what each section measures
and the keys of its result are documented in its module
(:mod:`sigmax.study.sections`).

Protocol
--------
Rows are split into ``cv`` folds (``repeats`` times), stratified on the class
(multi-label: on the label set, sets with fewer than ``cv`` rows pooled), with
a fixed seed; every candidate sees the same folds. In each fold a
``StableScaler`` (overflow-free standardization) is fitted on the training
rows only. Timings are wall
times (``time.perf_counter``) with BLAS limited to ``threads`` threads (1 by
default, so that numbers compare like for like on any machine); peak memory
is the ``tracemalloc`` peak of one fit on all rows, capped at
:data:`~sigmax.study.fitting.MEMORY_FIT_MAX_ITER` iterations (a Newton solver:
:data:`~sigmax.study.fitting.MEMORY_FIT_NEWTON_ITER`; a network trained by
epochs: :data:`~sigmax.study.fitting.MEMORY_FIT_MAX_EPOCHS` epochs) (Python and NumPy
buffers allocated during the fit; the input ``X`` is allocated before and not
counted).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ..preprocessing import StableScaler
from ..solvers.base import hessian_products
from . import fitting
from .advise import encode_target
from .budget import budget_for
from .candidates import CANDIDATES, CandidateSpec, register_candidate
from .cost import schedule, schedule_after_fits
from .environment import environment
from .eta import TimeLeft, tell
from .fitting import (
    MEMORY_FIT_MAX_EPOCHS,
    memory_fit_iter,
    n_outputs,
    n_params,
    record_warnings,
    warning_notes,
    y_for,
)
from .inputs import check_options, check_X, cover_subsample, restore_target, subsample
from .placement import (
    NUMPY_SECTIONS,
    check_estimator_params,
    cuda_device,
    placement,
    placement_text,
)
from .planning import Plan, plan_time_budget
from .result import (
    CandidateCompute,
    CandidateParams,
    CandidateResult,
    CompareResult,
    ProblemResult,
)
from .run import StudyRun
from .section import SECTIONS
from .side_by_side import cores, jobs_of
from .tuning import tuning_grid, tuning_params

__all__ = ["CANDIDATES", "SECTIONS", "CandidateSpec", "compare", "compare_problem",
           "register_candidate"]

#: ``CandidateParams.target``: what each kind of candidate is fitted on, in words.
_TARGET_WORDS = {"codes": "classes", "indicator": "indicator", "sets": "label sets"}

#: ``progress(step, done, total)``: called after each unit of work.
ProgressCallback = Callable[[str, int, int], None]


def _warm_up(run: StudyRun) -> None:
    """One untimed fit per candidate on a few rows, on a backend other than NumPy.

    The first torch or dask fit in a process pays one-time costs (imports, the
    CUDA context, kernel loading, the dask client's first graph) that are not
    part of fitting the data; without this they would land in the first
    candidate's timed fit. A candidate that runs on torch only (the shared
    trunk) is warmed up on any backend (movies: its fit on all rows took 3.3 s
    with torch's import, 0.8 s per fold without).
    """
    numpy = run.estimator_params.get("backend", "numpy") == "numpy"
    # Candidates that fit on torch whatever the backend (a shared trunk) pay torch's
    # import in their first fit: warmed up too, so that it is not in their timed fit.
    others = [s for s in run.specs if not s.convex and "numpy" not in s.backends]
    if numpy and not others:
        return
    idx = cover_subsample(run.target.strata, 64, run.seed)
    sub = run.target.subset(idx)
    for spec in ([] if numpy else run.convex_specs) + others:
        if run.placed(spec) or spec in others:
            try:
                short = {"max_iter": 5, **({"max_epochs": 1} if spec in others else {})}
                fitting.fit(run.make(spec, **short), run.Xs[idx], y_for(spec, sub))
            except ValueError:  # a subsample the model refuses: the real fits report errors
                pass


def _full_fits(run: StudyRun) -> None:
    """Fit every candidate on all rows: solver, history, memory, and the models for later."""
    for spec in run.specs:
        y = y_for(spec, run.target)
        tuning: dict[str, Any] = {}
        if run.tuned_class(spec) is not None:
            # Tuned comparison: C by cross-validation on all rows first; the model at
            # that C is then timed and measured like any other.
            cv_est, search, _ = fitting.fit(run.make_tuned(spec), run.Xs, y)
            run.fit_cost[spec.name] = search
            tuning = tuning_params(cv_est)
            if tuning:
                run.tuned_C[spec.name] = tuning["C_selected"]
        est, seconds, caught = fitting.fit(run.make(spec), run.Xs, y)
        run.fit_cost[spec.name] = run.fit_cost.get(spec.name, 0.0) + seconds
        # Memory in a second fit: tracemalloc slows allocation-heavy code, so the timed fit
        # above runs without it. Every iteration allocates the same buffers and L-BFGS
        # stores at most 30 pairs, so the peak is reached within MEMORY_FIT_MAX_ITER
        # iterations (a Newton solver's within its first: MEMORY_FIT_NEWTON_ITER; "auto"
        # picks the same solver as for the timed fit): the memory fit stops there.
        # tracemalloc sees Python and NumPy buffers only; on a CUDA device torch's own
        # counter gives the device memory.
        dev = cuda_device(run.estimator_params) if run.placed(spec) else None
        if dev is not None:
            import torch

            torch.cuda.synchronize(dev)
            torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev)
        tracemalloc.start()
        try:
            fitting.fit(run.make(spec, max_iter=memory_fit_iter(est.fit_record_.solver),
                                 max_epochs=MEMORY_FIT_MAX_EPOCHS), run.Xs, y)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        device_peak = (int(torch.cuda.max_memory_allocated(dev) - base) if dev is not None
                       else None)
        run.full[spec.name] = est
        rec = est.fit_record_
        k = n_outputs(est)
        cand = CandidateResult(
            # The model class, not its CV wrapper: the advice names what `sigmax fit` builds.
            name=spec.name, label=spec.title.format(K=k), estimator=spec.estimator.__name__,
            params=CandidateParams(**{
                "C": float(getattr(est, "C", run.C)), "C_note": spec.C_note,
                "penalty": est.penalty, "solver": rec.solver, "tol": float(est.tol),
                "target": _TARGET_WORDS[spec.target], "family": spec.family, "n_outputs": k,
                **tuning}),
            compute=CandidateCompute(
                n_params=n_params(est), full_fit_seconds=seconds,
                full_fit_n_iter=int(rec.n_iter), peak_memory_bytes=int(peak),
                fit_seconds=seconds, n_iter=int(rec.n_iter),
                n_grad_evals=int(rec.n_grad_evals), n_hessp_evals=hessian_products(rec),
                peak_device_memory_bytes=device_peak),
            history={k_: list(v) for k_, v in rec.history.items()},
        )
        defaults = spec.estimator().get_params()
        changed = {k: v for k, v in run.sized_params(spec).items() if defaults.get(k) != v}
        if changed:
            cand.notes.append(
                "trained with " + ", ".join(f"{k}={v!r}" for k, v in changed.items())
                + " (the estimator's default: "
                + ", ".join(f"{k}={defaults.get(k)!r}" for k in changed)
                + f") in every fit of this study, sized to its {run.X.shape[0]:,} rows")
        records: dict[str, list[int]] = {}
        record_warnings(records, caught, 0)
        cand.notes += warning_notes(records, 1, "fits on all rows")
        backend = run.estimator_params.get("backend", "numpy")
        if not run.placed(spec) and backend != "numpy":
            cand.notes.append(f"fitted on its default backend, not {backend!r}: this model "
                              f"fits on {' / '.join(spec.backends)} only")
        run.problem.candidates.append(cand)
        run.progress(f"fit on all rows: {spec.name}")


def compare_problem(X: Any, y: Any, *, name: str = "data", description: str = "",
                    cv: int = 5, repeats: int = 1, C: float | str = "cv",
                    random_state: int = 0,
                    sections: Sequence[str] | str | None = None, quick: bool = False,
                    progress: ProgressCallback | None = None, threads: int = 1,
                    max_samples: int | None = None, feature_names: Sequence[str] | None = None,
                    notes: Sequence[str] = (),
                    estimator_params: Mapping[str, Any] | None = None,
                    groups: Any = None, time_budget: Plan | None = None,
                    n_jobs: int | None = None) -> ProblemResult:
    """Study one dataset; see :func:`compare` (which wraps this in a :class:`CompareResult`).

    ``time_budget``: the sizes chosen to fit a time budget (:mod:`sigmax.study.planning`).
    """
    check_options(cv, repeats, C, threads, max_samples, n_jobs)
    where = check_estimator_params(estimator_params)
    secs = SECTIONS.resolve(sections)
    tuned = C == "cv"
    try:
        y_len = int(y.shape[0]) if hasattr(y, "shape") else (None if y is None else len(y))
    except TypeError:
        y_len = None
    Xa, names, x_notes = check_X(X, y_len)
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (Xa.shape[0],):
            raise ValueError(f"groups has shape {groups.shape}; it needs one group label per "
                             f"row ({Xa.shape[0]},).")
    target = encode_target(y, n_samples=Xa.shape[0], min_per_class=2)
    if feature_names is not None:
        names = [str(f) for f in feature_names]
        if len(names) != Xa.shape[1]:
            raise ValueError(f"feature_names has {len(names)} names for {Xa.shape[1]} columns.")
    budget = budget_for(quick) if time_budget is None else time_budget.budget
    seed = int(random_state)
    all_notes = list(notes) + x_notes + ([] if time_budget is None else time_budget.sentences())
    if max_samples is not None and Xa.shape[0] > max_samples:
        idx = subsample(Xa.shape[0], target.strata, max_samples, seed)
        all_notes.append(f"subsampled {max_samples} of {Xa.shape[0]} rows (stratified, "
                         f"seed {seed})")
        Xa = Xa[idx]
        groups = None if groups is None else groups[idx]
        target = encode_target(restore_target(target, idx), n_samples=len(idx), min_per_class=2)
    n_folds = min(cv, budget.max_folds) if budget.max_folds else cv
    if Xa.shape[0] < 2 * n_folds:
        raise ValueError(f"{Xa.shape[0]} rows are too few for {n_folds}-fold cross-validation; "
                         "use a smaller cv or more data.")
    if target.task == "multilabel" and "performance" in secs:
        # Every training fold must see each label both present and absent.
        pos = target.Y.sum(axis=0)
        few = [f"{name!r} ({int(min(p, len(target.Y) - p))})"
               for name, p in zip(target.names, pos) if min(p, len(target.Y) - p) < n_folds]
        if few:
            raise ValueError(
                f"Label(s) {', '.join(few[:5])} have fewer rows on one side (present or "
                f"absent) than the {n_folds} folds of cross-validation; drop those label "
                "columns or use a smaller cv.")
    specs = []
    for spec in CANDIDATES[target.task]:
        why = spec.applies(target, quick) if spec.applies is not None else None
        if why is None:
            specs.append(spec)
        elif why not in all_notes:
            all_notes.append(why)
    if where.get("backend", "numpy") != "numpy":
        all_notes.append(f"candidate fits (on all rows and in cross-validation) ran on "
                         f"{placement_text(where)}; the diagnostics on small "
                         f"subproblems ran on NumPy ({NUMPY_SECTIONS})")
    problem = ProblemResult(
        dataset=name, task=target.task, n_samples=int(Xa.shape[0]),
        n_features=int(Xa.shape[1]), n_classes=target.n_classes, class_names=target.names,
        description=description, feature_names=names, notes=all_notes)
    state = {"done": 0, "total": 0}
    clock = TimeLeft()

    def tick(step: str) -> None:
        state["done"] = min(state["done"] + 1, state["total"])
        if progress is not None:
            tell(progress, name, clock.seconds(state["done"]))
            progress(f"{name}: {step}", state["done"], state["total"])

    t_all = time.perf_counter()
    with threadpool_limits(limits=threads):
        scaler = StableScaler().fit(Xa)
        run = StudyRun(name=name, X=Xa, Xs=scaler.transform(Xa), target=target,
                       feature_names=names, specs=specs,
                       C=1.0 if tuned else float(C), budget=budget,
                       seed=seed, progress=tick, problem=problem, threads=threads,
                       estimator_params=where, n_folds=n_folds, repeats=repeats,
                       groups=groups, search_jobs=jobs_of(n_jobs),
                       Cs=tuning_grid(quick, budget.path_length) if tuned else None)
        units = {"full_fits": len(specs), **{s: SECTIONS[s].units(run) for s in secs}}
        total = state["total"] = sum(units.values())
        if time_budget is not None:  # the estimate that chose the sizes: time left from the start
            clock.plan(schedule(time_budget.estimate, units), 0)
        if progress is not None:
            tell(progress, name, clock.seconds(0))
            progress(f"{name}: start", 0, total)
        _warm_up(run)
        t0 = time.perf_counter()
        _full_fits(run)
        problem.seconds["full_fits"] = time.perf_counter() - t0
        clock.plan(schedule_after_fits(run, secs, units), len(specs))
        for sid in secs:
            t0 = time.perf_counter()
            setattr(problem, sid, SECTIONS[sid].compute(run))
            problem.seconds[sid] = time.perf_counter() - t0
    problem.seconds["total"] = time.perf_counter() - t_all
    if progress is not None:
        progress(f"{name}: done", total, total)
    return problem


def compare(X: Any, y: Any, *, name: str = "data", description: str = "", cv: int = 5,
            repeats: int = 1, C: float | str = "cv", random_state: int = 0,
            sections: Sequence[str] | str | None = None, quick: bool = False,
            progress: ProgressCallback | None = None, threads: int = 1,
            max_samples: int | None = None, feature_names: Sequence[str] | None = None,
            notes: Sequence[str] = (),
            estimator_params: Mapping[str, Any] | None = None,
            groups: Any = None, time_budget: float | Plan | None = None,
            n_jobs: int | None = None) -> CompareResult:
    """Fit logistic, softmax, one-vs-rest and multi-label models side by side and measure.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
        Numeric features (a DataFrame's column names become the feature names).
    y : array-like of shape (n_samples,) or (n_samples, n_labels), DataFrame, or list of sets
        Class labels (2 classes: binary; more: multiclass), or a 0/1 indicator
        matrix / DataFrame with one column per label / list of label sets
        (multi-label).
    name, description : str
        For the report.
    cv : int, default=5
        Folds (``quick`` caps them at 3).
    repeats : int, default=1
        Repetitions of the k-fold split (more folds for the paired tests).
    C : float or "cv", default="cv"
        ``"cv"``: each candidate with a cross-validated counterpart picks its own
        C by cross-validated log-loss over a grid of 1e-3 .. 1e3 (13 values, 7
        with ``quick``), on all rows for its model and inside each outer
        training fold (nested) for the performance table
        (:mod:`sigmax.study.tuning`). A number: that C shared by the candidates
        (two-class softmax gets ``C/2``, its exact equivalent; see the module
        docstring). The K = 2 section always uses the fixed view.
    random_state : int, default=0
        Seed of the folds, subsamples and random starts.
    sections : list of str or comma-separated str, optional
        Subset of :data:`SECTIONS` (default all). The candidates are always
        fitted once on all rows.
    quick : bool, default=False
        Smaller sizes everywhere (3 folds, K sweep 2..8, smaller subproblems
        and grids): for tests and previews.
    progress : callable, optional
        ``progress(step: str, done: int, total: int)``: called once with
        ``done=0`` (``step`` ``"<name>: start"``), after each unit of work
        (``step`` ``"<name>: <what just ran>"``, e.g. ``"digits: fold 2/5:
        softmax"``), and last with ``done == total`` (``"<name>: done"``);
        ``done`` counts this dataset's units and never decreases.
    threads : int, default=1
        BLAS threads during the study (timings are like for like at 1).
    max_samples : int, optional
        Subsample larger data to this many rows (stratified).
    feature_names : sequence of str, optional
        Overrides the names of ``X``'s columns.
    notes : sequence of str
        What was done to the data before (shown in the report).
    estimator_params : dict, optional
        Where the candidate fits run: ``{"backend": "torch", "device": "cuda"}``,
        ``{"backend": "dask"}`` (on the connected ``dask.distributed`` client,
        else on local threads), ``{"backend": "numpy"}``; no other keys. Used
        for every fit of a candidate, on all rows and in cross-validation;
        a candidate that cannot use the backend keeps its default and says so
        in its notes. The diagnostics on small subproblems (gradient timings,
        K sweep, derivative checks, minima, separation, K=2, PCA regions) run
        on NumPy. ``settings`` records ``backend``, ``device`` and
        ``scheduler``.
    groups : array-like of shape (n_samples,), optional
        Group labels (a person measured in several years, a site): the
        cross-validation folds keep each group whole (``StratifiedGroupKFold``),
        so no group sits in both a training and a test fold.
    time_budget : float, optional
        Seconds the study may take. Before the heavy work every candidate is
        timed on a few hundred rows (:mod:`sigmax.study.cost`) and the sizes
        are cut, in the order of :data:`sigmax.study.budget.CUT_ORDER`
        (diagnostic rows, sweep sizes, the separation time limit, random
        starts, path length, folds down to 3), until the estimate fits
        (:mod:`sigmax.study.planning`); it starts from the quick sizes with
        ``quick=True``. ``settings["budget"]`` records the sizes used, the
        estimate and the cuts, and each cut is one sentence in the problem's
        notes. When even the smallest sizes are estimated over the budget the
        study runs at them and says so. A :class:`~sigmax.study.planning.Plan`
        (several datasets planned together) is used as given.
    n_jobs : int, optional
        Cores for fits side by side (:mod:`sigmax.study.side_by_side`): the
        (fold, model) fits of the performance and calibration sections, the
        minima section's probes and models, and the inner folds of each C
        search on all rows; every fit on one thread. None or -1: every core
        this process may use; 1: one fit at a time (the timings then never
        share the machine with another fit). ``settings["n_jobs"]`` records it.

    Returns
    -------
    CompareResult
        One :class:`ProblemResult`; all keys are listed in this module's docstring.

    Raises
    ------
    ValueError
        One line saying what is wrong and how to fix it: non-numeric
        features (which columns), missing values (how many, where),
        mismatched lengths, one class, a continuous target, bad options.
    ImportError
        ``estimator_params`` names a backend whose library is not installed.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> import sigmax
    >>> X, y = load_iris(return_X_y=True)
    >>> res = sigmax.compare(X, y, quick=True, sections=["performance", "advice"])
    >>> res.problems[0].advice["model"]
    'softmax'
    """
    where = check_estimator_params(estimator_params)
    if time_budget is not None and not isinstance(time_budget, Plan):
        time_budget = plan_time_budget(
            X, y, time_budget, name=name, cv=cv, repeats=repeats, C=C, quick=quick,
            random_state=random_state, max_samples=max_samples, estimator_params=where,
            sections=SECTIONS.resolve(sections), threads=threads, n_jobs=n_jobs)
    problem = compare_problem(X, y, name=name, description=description, cv=cv,
                              repeats=repeats, C=C, random_state=random_state,
                              sections=sections, quick=quick, progress=progress,
                              threads=threads, max_samples=max_samples,
                              feature_names=feature_names, notes=notes,
                              estimator_params=where or None, groups=groups,
                              time_budget=time_budget, n_jobs=n_jobs)
    budget = budget_for(quick) if time_budget is None else time_budget.budget
    settings = {
        "cv": int(min(cv, budget.max_folds) if budget.max_folds else cv),
        "repeats": int(repeats), "C": C if C == "cv" else float(C),
        "n_jobs": cores(n_jobs, where),  # 1 on dask / torch (side_by_side.cores)
        "random_state": int(random_state),
        "sections": SECTIONS.resolve(sections), "quick": bool(quick), "threads": int(threads),
        "max_samples": max_samples,
        "preprocessing": "StableScaler (overflow-free) fitted on the training rows of each fold",
        **placement(where),
        "budget": {**budget.to_dict(),
                   **({} if time_budget is None else time_budget.to_dict())},
    }
    return CompareResult(problems=[problem], settings=settings,
                         environment=environment(threads, where))
