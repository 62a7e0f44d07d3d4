"""Typed records of the study's results: dataclasses that read like the JSON they become.

Every piece of ``results.json`` is a :class:`Record`: a dataclass whose fields
are the JSON keys, with type hints that say what each value is. The JSON
Schema (:mod:`sigmax.study.schema`) is generated from those hints, and
``from_dict`` rebuilds nested records from the hints too, so the schema, the
writer and the reader cannot disagree.

A field whose value is ``None`` is *absent*: it is left out of ``to_dict`` (a
section that was not run is ``{}``; a key measured only in some runs, such as
the K sweep's growth exponents, is there only when measured). A field made
with :func:`nullable` may be JSON ``null``: there ``None`` is written as
``null``, and a field never set (its default, :data:`ABSENT`) is left out. Records also
answer ``record["key"]``, ``record.get("key")``, ``"key" in record`` and
``record == {...}``, so code written against the former dicts keeps working.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

__all__ = ["ABSENT", "Record", "from_value", "nullable"]

R = TypeVar("R", bound="Record")


class _Absent:
    """The value of a :func:`nullable` field that was never set (falsy, left out of JSON)."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "ABSENT"


#: Default of a :func:`nullable` field: not measured, so not in the JSON.
ABSENT: Any = _Absent()


def nullable(doc: str = "") -> Any:
    """A record field whose value may be ``None`` (JSON ``null``); unset, it is absent."""
    return dataclasses.field(default=ABSENT, metadata={"nullable": True, "doc": doc})


@dataclasses.dataclass(eq=False)
class Record:
    """Base of the study's typed results (see the module docstring)."""

    # -- JSON --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict: fields in declaration order, ``None`` fields left out."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)
                if _is_set(f, getattr(self, f.name))}

    @classmethod
    def from_dict(cls: type[R], data: Mapping[str, Any] | None, *, strict: bool = False) -> R:
        """Rebuild from :meth:`to_dict` output.

        ``strict=False`` (reading a file) drops keys this version does not know;
        ``strict=True`` (a section building its result) raises on them, so that a
        measured key without a field cannot vanish from the results.
        """
        if isinstance(data, cls):
            return data
        hints = field_types(cls)
        data = dict(data or {})
        if strict:
            unknown = [k for k in data if k not in _names(cls)]
            if unknown:
                raise KeyError(f"{cls.__name__} has no field for {', '.join(unknown)}: add "
                               f"the field(s) to {cls.__name__} (and regenerate schema.json).")
        kw = {f.name: from_value(hints[f.name], data[f.name], strict=strict)
              for f in dataclasses.fields(cls) if f.init and f.name in data}
        return cls(**kw)

    # -- read like a dict ---------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        f = _fields(type(self)).get(key)
        if f is None or not _is_set(f, getattr(self, key)):
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in _names(type(self)):
            raise KeyError(f"{type(self).__name__} has no field {key!r}; its fields are "
                           f"{', '.join(_names(type(self)))}.")
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        f = _fields(type(self)).get(key) if isinstance(key, str) else None
        return f is not None and _is_set(f, getattr(self, f.name))

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __bool__(self) -> bool:
        return bool(self.to_dict())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record | Mapping):
            return self.to_dict() == (other.to_dict() if isinstance(other, Record)
                                      else dict(other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dict it stands for

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self) -> list[str]:
        return [n for n, f in _fields(type(self)).items() if _is_set(f, getattr(self, n))]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, getattr(self, k)) for k in self.keys()]

    def update(self, values: Mapping[str, Any]) -> None:
        for k, v in values.items():
            self[k] = v


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _is_set(f: dataclasses.Field, value: Any) -> bool:
    """Is the field's value in the JSON? (None is absent unless the field is nullable.)"""
    if value is ABSENT:
        return False
    return value is not None or bool(f.metadata.get("nullable"))


_TYPES: dict[type, dict[str, Any]] = {}


def field_types(cls: type) -> dict[str, Any]:
    if cls not in _TYPES:
        _TYPES[cls] = typing.get_type_hints(cls)
    return _TYPES[cls]


def _plain(value: Any) -> Any:
    """Records to dicts, recursively (lists, tuples and dicts of them too)."""
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def from_value(tp: Any, value: Any, *, strict: bool = False) -> Any:
    """``value`` (plain JSON data) as type ``tp``: records rebuilt, containers walked."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if isinstance(tp, type) and issubclass(tp, Record):
        return tp.from_dict(value, strict=strict) if isinstance(value, Mapping) else value
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is type(None):
                continue
            if isinstance(arg, type) and issubclass(arg, Record) and not isinstance(value,
                                                                                    Mapping):
                continue
            return from_value(arg, value, strict=strict)
        return value
    if origin is list and args and isinstance(value, list):
        return [from_value(args[0], v, strict=strict) for v in value]
    if origin is dict and len(args) == 2 and isinstance(value, Mapping):
        return {k: from_value(args[1], v, strict=strict) for k, v in value.items()}
    return value
Mapping.register(Record)  # isinstance(record, Mapping): code written for the former dicts
