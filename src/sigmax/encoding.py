r"""From a user's table to numeric features, and the same again at predict time.

A :class:`TableEncoding` is fitted on the training table's feature columns and
stored with the model (plain JSON, see :meth:`TableEncoding.to_dict`), so that
``sigmax predict`` encodes a new table exactly as the training one was:

- numbers and booleans are used as they are (float64);
- text columns with at most :data:`MAX_ONEHOT_LEVELS` levels are one-hot
  encoded, ``colour=red``, ``colour=blue``; with ``reference=True`` the first
  level (in sorted order) is the reference and gets no column, so that with
  an intercept the design stays full rank (every level's column plus the
  intercept are linearly dependent: the unpenalized likelihood then has a
  flat direction, and its minimum is not unique);
- missing values follow one policy of :data:`MISSING_POLICIES`:
  ``"error"`` (refuse, naming the user's own columns and counting cells,
  never encoded columns), ``"drop"`` (the loader drops those rows),
  ``"indicator"`` (a numeric column is imputed with its training median and
  gains a 0/1 column ``col=(missing)``; a text column gets the level
  ``(missing)``).

Id-like columns (unique per row, or named like an id) are found by
:func:`id_like_columns` so that the loader can leave them out with a note.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MAX_ONEHOT_LEVELS", "MISSING_LEVEL", "MISSING_POLICIES", "ColumnEncoding",
           "TableEncoding", "describe_missing", "id_like_columns", "is_text"]

#: Text columns with more levels than this are refused (one column per level).
MAX_ONEHOT_LEVELS = 20
#: The level that stands for a missing text value under ``missing="indicator"``.
MISSING_LEVEL = "(missing)"
#: Names (case-insensitive) that mark a column as an identifier, not a feature.
ID_NAMES = frozenset({"id", "rownames", "index", "unnamed: 0", "row", "row_id", "rowid"})


def is_text(s: pd.Series) -> bool:
    """True for object, string and categorical columns."""
    return (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)
            or isinstance(s.dtype, pd.CategoricalDtype))


def _rows(index: np.ndarray, limit: int = 5) -> str:
    rows = ", ".join(str(int(i)) for i in index[:limit])
    more = f" and {len(index) - limit} more" if len(index) > limit else ""
    return f"row{'s' if len(index) > 1 else ''} {rows}{more}"


def describe_missing(df: pd.DataFrame, what: str, *, option: str = "--missing") -> str | None:
    """One sentence on the missing cells of ``df``'s own columns, with the fixes; None if none.

    Counts cells per raw column (a missing text value is one cell, however
    many one-hot columns it would become) and the rows they touch.
    """
    na = df.isna().to_numpy()
    if not na.any():
        return None
    per_col = na.sum(axis=0)
    cols = [(c, int(n)) for c, n in zip(df.columns, per_col) if n]
    rows = np.flatnonzero(na.any(axis=1))
    listed = ", ".join(f"{c!r} ({n} cell{'s' if n > 1 else ''})" for c, n in cols[:6])
    more = f" and {len(cols) - 6} more columns" if len(cols) > 6 else ""
    share = len(rows) / max(len(df), 1)
    return (f"{what} has {int(per_col.sum())} missing value(s) in {len(cols)} column(s): "
            f"{listed}{more}; {len(rows)} of {len(df)} rows ({share:.0%}) are affected, first "
            f"{_rows(rows)} (counted from 0). Use {option} drop to leave those rows out, or "
            f"{option} indicator to impute numbers (with a missing flag) and give text a "
            f"{MISSING_LEVEL!r} level.")


def id_like_columns(df: pd.DataFrame, candidates: Sequence[str]) -> dict[str, str]:
    """Columns among ``candidates`` that identify rows rather than describe them: name -> why.

    An id is a column named like one (``id``, ``rownames``, ``index``, ``..._id``)
    or one whose values are unique per row and are text or consecutive integers
    (a float column with unique values is an ordinary measurement).
    """
    out: dict[str, str] = {}
    n = len(df)
    for c in candidates:
        s = df[c]
        low = str(c).strip().lower()
        if low in ID_NAMES or low.endswith("_id") or low.endswith(" id"):
            out[c] = "named like an identifier"
            continue
        if n < 3 or s.isna().any() or s.nunique() != n:
            continue
        if is_text(s):
            out[c] = "text, unique per row"
        elif pd.api.types.is_integer_dtype(s) and int(s.max()) - int(s.min()) + 1 == n:
            out[c] = "consecutive integers, unique per row"
    return out


@dataclass
class ColumnEncoding:
    """How one column of the user's table becomes features.

    Attributes
    ----------
    name : str
        The user's column name.
    kind : {"number", "text"}
    levels : list of str
        Text levels with a column each (after the reference level, if any).
    reference : str or None
        The text level without a column (``reference=True``).
    fill : float or None
        The training median that replaces a missing number (``"indicator"``).
    flag : bool
        Whether a ``name=(missing)`` 0/1 column follows (``"indicator"``).
    """

    name: str
    kind: str
    levels: list[str] = field(default_factory=list)
    reference: str | None = None
    fill: float | None = None
    flag: bool = False

    def feature_names(self) -> list[str]:
        if self.kind == "text":
            return [f"{self.name}={lv}" for lv in self.levels]
        return [self.name] + ([f"{self.name}={MISSING_LEVEL}"] if self.flag else [])


def _encoders() -> dict[str, Callable[[pd.Series, ColumnEncoding], dict[str, np.ndarray]]]:
    def number(s: pd.Series, spec: ColumnEncoding) -> dict[str, np.ndarray]:
        v = s.astype(np.float64).to_numpy()
        out = {spec.name: v if spec.fill is None else np.where(np.isnan(v), spec.fill, v)}
        if spec.flag:
            out[f"{spec.name}={MISSING_LEVEL}"] = np.isnan(v).astype(np.float64)
        return out

    def text(s: pd.Series, spec: ColumnEncoding) -> dict[str, np.ndarray]:
        missing = s.isna().to_numpy()
        values = s.astype(str).to_numpy()
        if MISSING_LEVEL in spec.levels or spec.reference == MISSING_LEVEL:
            values = np.where(missing, MISSING_LEVEL, values)
            missing = np.zeros(len(s), dtype=bool)
        out = {}
        for lv in spec.levels:
            col = (values == lv).astype(np.float64)
            col[missing] = np.nan  # refused by the finiteness check, with its column named
            out[f"{spec.name}={lv}"] = col
        return out

    return {"number": number, "text": text}


#: Column kind -> function(series, spec) -> {feature name: values}.
ENCODERS = _encoders()
MISSING_POLICIES = ("error", "drop", "indicator")


@dataclass
class TableEncoding:
    """The encoding of a table's feature columns, fitted once, applied to any table.

    Attributes
    ----------
    columns : list of ColumnEncoding
    missing : {"error", "drop", "indicator"}
    """

    columns: list[ColumnEncoding]
    missing: str = "error"

    @classmethod
    def fit(cls, df: pd.DataFrame, *, missing: str = "error", reference: bool = False,
            what: str = "the data") -> TableEncoding:
        """Learn the encoding of every column of ``df`` (the feature columns only)."""
        if missing not in MISSING_POLICIES:
            raise ValueError(f"missing={missing!r}; choose one of {', '.join(MISSING_POLICIES)}.")
        specs = []
        for col in df.columns:
            s = df[col]
            has_na = bool(s.isna().any())
            if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                impute = missing == "indicator" and has_na
                fill = float(np.nanmedian(s.astype(np.float64))) if impute else None
                specs.append(ColumnEncoding(str(col), "number", fill=fill, flag=impute))
            elif is_text(s):
                levels = sorted(s.dropna().astype(str).unique())
                if len(levels) > MAX_ONEHOT_LEVELS:
                    raise ValueError(
                        f"Feature column {col!r} of {what} is text with {len(levels)} distinct "
                        f"values (more than {MAX_ONEHOT_LEVELS}, too many to one-hot encode); "
                        f"drop it (--drop {col}) or encode it as numbers yourself.")
                if missing == "indicator" and has_na:
                    levels.append(MISSING_LEVEL)
                ref = levels.pop(0) if reference and len(levels) > 1 else None
                specs.append(ColumnEncoding(str(col), "text", levels=levels, reference=ref))
            else:
                raise ValueError(
                    f"Feature column {col!r} of {what} has type {s.dtype}, which is not a "
                    f"number, a boolean or text; drop it (--drop {col}) or convert it to "
                    "numbers.")
        if not specs:
            raise ValueError(f"{what} has no feature columns besides the target(s); add "
                             "feature columns.")
        return cls(specs, missing)

    @property
    def feature_names(self) -> list[str]:
        """Encoded feature names, in column order."""
        return [n for spec in self.columns for n in spec.feature_names()]

    def notes(self) -> list[str]:
        """Sentences for the report: what was encoded, imputed, and the reference levels."""
        out = []
        for spec in self.columns:
            if spec.kind == "text":
                n = len(spec.levels) + (spec.reference is not None)
                ref = (f"; reference level {spec.reference!r} (no column)"
                       if spec.reference is not None else "")
                out.append(f"one-hot encoded text column {spec.name!r} ({n} levels{ref})")
            elif spec.flag:
                out.append(f"missing values of {spec.name!r} imputed with its training median "
                           f"{spec.fill:g}, with the flag column {spec.name}={MISSING_LEVEL}")
        return out

    def transform(self, df: pd.DataFrame, *, what: str = "the data") -> pd.DataFrame:
        """Encode ``df`` (it must hold every column the encoding was fitted on)."""
        absent = [s.name for s in self.columns if s.name not in df.columns]
        if absent:
            raise ValueError(
                f"{what} lacks the feature column(s) {', '.join(map(repr, absent))} the model "
                f"was fitted on; available columns: {', '.join(map(str, df.columns))}.")
        if self.missing != "indicator":
            msg = describe_missing(df[[s.name for s in self.columns]], what)
            if msg:
                raise ValueError(msg)
        parts: dict[str, np.ndarray] = {}
        for spec in self.columns:
            s = df[spec.name]
            if spec.kind == "number" and is_text(s):
                raise ValueError(f"Feature column {spec.name!r} of {what} holds text, but "
                                 "the model was fitted on numbers in that column.")
            parts.update(ENCODERS[spec.kind](s, spec))
        # Infinite numbers pass through: the caller names them with their rows.
        return pd.DataFrame(parts, index=df.index)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (stored in the model file's header)."""
        return {"missing": self.missing, "columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Any) -> TableEncoding:
        """Inverse of :meth:`to_dict`, with every field checked."""
        if not isinstance(data, dict) or data.get("missing") not in MISSING_POLICIES \
                or not isinstance(data.get("columns"), list):
            raise ValueError("bad table encoding")
        specs = []
        for c in data["columns"]:
            ok = (isinstance(c, dict) and isinstance(c.get("name"), str)
                  and c.get("kind") in ENCODERS
                  and isinstance(c.get("levels", []), list)
                  and all(isinstance(v, str) for v in c.get("levels", []))
                  and (c.get("reference") is None or isinstance(c["reference"], str))
                  and (c.get("fill") is None or isinstance(c["fill"], (int, float)))
                  and isinstance(c.get("flag", False), bool))
            if not ok:
                raise ValueError("bad table encoding")
            specs.append(ColumnEncoding(c["name"], c["kind"], list(c.get("levels", [])),
                                        c.get("reference"), c.get("fill"),
                                        bool(c.get("flag", False))))
        return cls(specs, data["missing"])
