"""The JSON Schema of ``results.json``, generated from the typed results.

:func:`build_schema` walks :class:`~sigmax.study.result.CompareResult` and the
result type of every registered section (:data:`sigmax.study.section.SECTIONS`)
and turns their type hints into JSON Schema: ``int`` -> integer, ``float`` ->
number, ``X | None`` on a record field -> the key may be absent, ``Literal`` ->
enum, records -> objects with their fields as properties. Field metadata adds
descriptions and keywords a type hint cannot say (``minimum``, ``const``).
``schema.json`` beside this module is its output; regenerate it with::

    python -m sigmax.study.schema > src/sigmax/study/schema.json

and a test checks that the file equals :func:`build_schema`.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

from .record import ABSENT, Record, field_types
from .result import CompareResult, ProblemResult
from .section import SECTIONS

__all__ = ["build_schema", "schema_of", "schema_text"]

_SCALARS = {int: {"type": "integer"}, float: {"type": "number"}, str: {"type": "string"},
            bool: {"type": "boolean"}}


def schema_of(tp: Any) -> dict[str, Any]:
    """The JSON Schema of values of type ``tp`` (a type hint)."""
    if tp is Any or tp is object:
        return {}
    if tp in _SCALARS:
        return dict(_SCALARS[tp])
    if isinstance(tp, type) and issubclass(tp, Record):
        return _record_schema(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        options = [schema_of(a) for a in args if a is not type(None)]
        if type(None) in args:
            options.append({"type": "null"})
        return options[0] if len(options) == 1 else {"anyOf": options}
    if origin in (list, tuple):
        return {"type": "array", **({"items": schema_of(args[0])} if args and
                                    schema_of(args[0]) else {})}
    if origin is dict:
        value = schema_of(args[1]) if len(args) == 2 else {}
        return {"type": "object", **({"additionalProperties": value} if value else {})}
    if tp is dict:
        return {"type": "object"}
    if tp is list:
        return {"type": "array"}
    raise TypeError(f"no JSON Schema for type {tp!r}")


def _record_schema(cls: type[Record]) -> dict[str, Any]:
    hints = field_types(cls)
    props: dict[str, Any] = {}
    required = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("section_results"):
            continue
        tp = hints[f.name]
        args = typing.get_args(tp)
        optional = type(None) in args or f.default is ABSENT
        if optional and not f.metadata.get("nullable"):
            # None means "absent" on a record: the key is optional, never null.
            rest = tuple(a for a in args if a is not type(None))
            tp = rest[0] if len(rest) == 1 else typing.Union[rest]  # noqa: UP007
        s = schema_of(tp)
        extra = dict(f.metadata.get("schema") or {})
        if "const" in extra:
            s = {}
        s.update(extra)
        if f.metadata.get("doc"):
            s["description"] = f.metadata["doc"]
        props[f.name] = s
        if not optional and f.default is dataclasses.MISSING \
                and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    out: dict[str, Any] = {"type": "object"}
    doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    if doc and cls is not ProblemResult:
        out["description"] = " ".join(doc.split())
    out["properties"] = props
    if required:
        out["required"] = required
    return out


def build_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``CompareResult.to_json()``."""
    root = _record_schema(CompareResult)
    problem = _record_schema(ProblemResult)
    props = problem["properties"]
    head = {k: props.pop(k) for k in list(props)[:9]}
    sections = {}
    for sid, section in SECTIONS.items():
        s = schema_of(section.result_type)
        s["description"] = (f"{section.title}: {section.question} Empty when the section "
                            "was not run.")
        sections[sid] = s
    problem["properties"] = {**head, **sections, **props}
    problem["required"] = [*problem.get("required", []), "candidates", "comparisons",
                           *SECTIONS, "figures"]
    root["properties"]["problems"] = {"type": "array", "items": problem}
    root["required"] = ["problems", "settings", "environment", "schema_version"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/sigmax/sigmax/blob/main/src/sigmax/study/schema.json",
        "title": "sigmax compare results (results.json)",
        "description": ("CompareResult.to_json(): one entry per dataset in problems. "
                        "Generated by sigmax.study.schema.build_schema() from the typed "
                        "results in sigmax.study.result and sigmax.study.sections; a section "
                        "that was not run is an empty object."),
        **{k: v for k, v in root.items() if k != "description"},
    }


def schema_text() -> str:
    """:func:`build_schema` as the text of ``schema.json``."""
    return json.dumps(build_schema(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # python -m sigmax.study.schema > src/sigmax/study/schema.json
    print(schema_text(), end="")
