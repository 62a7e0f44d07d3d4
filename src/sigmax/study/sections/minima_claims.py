"""The sentences of the minima section, each generated from a measured number.

:func:`minima_summary` reads the section's measurements (the plain dict the
section builds: ``models``, ``design``, ``subproblem``, ``separation``) and
says, per model x penalty, what its ``conclusion`` says and nothing more:
"a unique minimum" only where no flat direction was measured, the count
matches theory and the data overlap; where theory and measurement differ
it says why, or "undecided".
"""

from __future__ import annotations

from typing import Any

_NAMES = {"ovr": "one-vs-rest", "multilabel": "independent sigmoids"}


def model_label(e: dict[str, Any]) -> str:
    """``"softmax (symmetric), no penalty"``, ``"logistic, L2 (C=1)"``..."""
    name = _NAMES.get(e["model"], e["model"])
    if e.get("parameterization"):
        name += f" ({e['parameterization']})"
    pen = "no penalty" if e["penalty"] in (None, "none") else f"L2 (C={e['C']:g})"
    return f"{name}, {pen}"


def dependency_text(group: list[str]) -> str:
    """``"Home=own + Home=rent + Home=other and the intercept"``."""
    cols = [c for c in group if c != "intercept"]
    text = " + ".join(cols)
    if "intercept" in group:
        text = f"{text} and the intercept" if cols else "the intercept"
    return text


def design_sentence(design: dict[str, Any], n_features: int, n_classes: int) -> str:
    """Full rank, or the collinear columns by name and the flat directions they add."""
    r = int(design["deficiency"])
    if r == 0:
        return (f"The design [X, 1] ({n_features} encoded features and the intercept) has full "
                f"column rank {design['rank']}: no flat direction comes from collinear columns.")
    groups = "; ".join(dependency_text(g) for g in design["dependencies"])
    verb = "are" if r > 1 or len(design["dependencies"][0]) > 1 else "is"
    s = "s" if r > 1 else ""
    return (f"{groups} {verb} linearly dependent (rank {design['rank']} of "
            f"{design['n_columns']} columns of [X, 1]): {r} extra flat direction{s} for every "
            f"output of an unpenalized model (logistic regression: {r}; each one-vs-rest or "
            f"sigmoid output: {r}; symmetric softmax: {r} per logit difference, "
            f"{r * max(n_classes - 1, 1)} on top of its own d + 1). Along them no logit changes; "
            "an L2 penalty removes them.")


def _mismatch_why(e: dict[str, Any]) -> str:
    if e.get("n_flat") is None:
        return ("every eigenvalue computed is below the zero threshold, so there may be more "
                "flat directions than were computed")
    if e.get("point") == "L2 fit":
        return ("the Hessian was measured at the L2 fit of data that are (or may be) "
                "separated, where fitted probabilities near 0 or 1 make curvature vanish to "
                "rounding")
    z, s, thr = (e.get("largest_zero_eigenvalue"), e.get("smallest_nonzero_eigenvalue"),
                 e.get("threshold"))
    gap = (f" (largest eigenvalue counted as zero {z:.1e}, smallest counted as nonzero "
           f"{s:.1e}, threshold {thr:.1e})" if z is not None and s is not None
           and thr is not None else "")
    return ("the count depends on the numerical threshold: near-collinear columns or a "
            f"nearly separated class give eigenvalues close to zero{gap}")


def model_sentence(e: dict[str, Any]) -> str:
    """What the measurements of one model x penalty allow to say about its minimum."""
    label = model_label(e)
    c = e.get("conclusion") or ""
    n, exp = e.get("n_flat"), e["expected_n_flat"]
    where = "at the minimum" if e.get("point") == "minimum" else "at the L2 fit"
    count = (f"{n} zero eigenvalue{'s' if n != 1 else ''} {where} (expected {exp}: "
             f"{e.get('expected_why', '')})" if n is not None else
             f"at least {len(e.get('eigenvalues') or [])} zero eigenvalues {where} "
             f"(expected {exp})")
    dp = e.get("max_prob_change")
    along = (f"; moving one unit along them changes no probability (max change {dp:.1e})"
             if dp is not None and n else "")
    rs = e.get("random_starts") or {}
    starts = (f" {rs['n_starts']} random starts reached coefficients up to "
              f"{rs['coef_spread']:.3g} apart with losses within {rs['objective_spread']:.1e}"
              if rs else "")
    if c == "unique":
        small = e.get("smallest_nonzero_eigenvalue")
        tail = f", smallest eigenvalue {small:.2e}" if small is not None else ""
        return f"{label}: {count}{tail}: a unique minimum.{starts}{'.' if starts else ''}"
    if c == "unique coefficients":
        return (f"{label}: {count}: the coefficients are unique; only the common intercept "
                f"shift is flat{along}.{starts}{'.' if starts else ''}")
    if c == "not unique":
        return (f"{label}: {count}{along}: infinitely many minima, one set of predictions."
                f"{starts}{'.' if starts else ''}")
    if c == "no finite minimum":
        flat = (f"its Hessian has {count}: directions along which the cost is flat "
                "everywhere" if n else f"its Hessian has {count}: no flat direction")
        return (f"{label}: no finite minimum, the training data are linearly separated (the "
                f"loss keeps decreasing as the coefficients grow); {flat}.")
    if c.startswith("undecided") and n is not None and n == exp:
        return (f"{label}: whether a finite minimum exists is {c}; its Hessian has {count}.")
    return (f"{label}: {count}: {c}: {_mismatch_why(e)}.")


def headline(models: list[dict[str, Any]]) -> str | None:
    """The section in one sentence (the terminal's line): each model's ``conclusion``."""
    parts = []
    for e in models:
        n, c = e.get("n_flat"), e.get("conclusion") or "?"
        flat = f" ({n} flat direction{'s' if n != 1 else ''})" if n and c == "not unique" else ""
        parts.append(f"{model_label(e)}: {c}{flat}")
    return ("Minimum of each model, from its Hessian on the fitted model: "
            + "; ".join(parts) + ".") if parts else None


def minima_summary(out: dict[str, Any]) -> list[str]:
    """Every sentence of the section, in the order the report prints them."""
    s: list[str] = []
    sub = out.get("subproblem") or {}
    models = out.get("models") or []
    first = headline(models)
    if first:
        s.append(first)
    if sub:
        methods = sorted({str(m["method"]).split(" (")[0] for m in models if m.get("method")})
        s.append(f"Measured on the fitted model: {sub['how']}; "
                 f"{'; '.join(methods) or 'no Hessian formed'}.")
    if out.get("design") is not None:
        s.append(design_sentence(out["design"], int(sub.get("n_features", 0)),
                                 len(sub.get("classes") or [])))
    s += [model_sentence(m) for m in models]
    seps = out.get("separation") or {}
    sep_names = [f"{n} ({e.get('kind') or 'separated'})" for n, e in seps.items()
                 if e.get("separated")]
    if sep_names:
        s.append(f"On all rows the training data are linearly separated for "
                 f"{', '.join(sep_names)}: without a penalty these have no finite minimum (the "
                 "loss keeps decreasing as the coefficients grow); the L2 penalty is what makes "
                 "the fit defined.")
    quiet = [n for n, e in seps.items() if e.get("separated")
             and not (e.get("unpenalized_fit") or {}).get("separable_warning")]
    if quiet:
        s.append(f"The unpenalized fit of {', '.join(quiet)} raised no SeparableWarning: the "
                 "estimators warn only when their fit classifies every row correctly (a proof "
                 "of complete separation); quasi-complete separation, or a fit stopped early, "
                 "is found by the linear program.")
    clear = [n for n, e in seps.items() if e.get("separated") is False]
    if clear:
        s.append(f"For {', '.join(clear)} the classes overlap on all rows (linear program): "
                 "the unpenalized minimum is attained (finite).")
    undecided = [f"{n}: {e.get('how') or 'undecided'}" for n, e in seps.items()
                 if e.get("separated") is None]
    if undecided:
        s.append(f"Separation on all rows: {'; '.join(undecided)}.")
    return s
