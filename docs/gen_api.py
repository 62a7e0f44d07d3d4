"""Write the API reference pages (docs/api/*.md) for mkdocstrings.

Run ``python docs/gen_api.py`` after adding a public name to ``sigmax.__all__``
or a public module; ``tests/test_docs_site.py`` checks that every name of
``sigmax.__all__`` has its page. Each page holds ``::: dotted.path`` blocks
that mkdocstrings renders from the numpydoc docstrings at build time.

- ``api/index.md``: the top-level names, each documented where it is defined
  (the lazy names, ``compare``, ``calibrate``..., included);
- ``api/<module>.md``: one page per public module (no leading underscore in
  its dotted path), with the members its ``__all__`` lists.
"""

from __future__ import annotations

import inspect
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import sigmax  # noqa: E402

#: Modules left out of the reference: the command line has its own page
#: (docs/cli.md) and ``__main__`` only runs it.
SKIP = {"sigmax.cli", "sigmax.__main__"}


def _defined_at(name: str) -> str:
    """Dotted path where a top-level name is defined (what mkdocstrings loads)."""
    obj = getattr(sigmax, name)
    if inspect.isclass(obj) or inspect.isfunction(obj):
        return f"{obj.__module__}.{obj.__qualname__}"
    return f"sigmax.{name}"


def public_modules() -> list[str]:
    mods = [m.name for m in pkgutil.walk_packages(sigmax.__path__, "sigmax.")]
    return sorted(m for m in mods if m not in SKIP
                  and not any(p.startswith("_") for p in m.split(".")))


def pages() -> dict[str, str]:
    """File name (under docs/api) -> Markdown text."""
    out: dict[str, str] = {}
    names = [n for n in sigmax.__all__ if n != "__version__"]
    lines = ["# API reference", "",
             "The names `import sigmax` offers (`sigmax.__all__`; `sigmax.__version__` is "
             "the version string). Each module has its own page below.", ""]
    inline: list[str] = []
    for name in names:
        path = _defined_at(name)
        module = path.rsplit(".", 1)[0]
        if any(p.startswith("_") for p in module.split(".")) or module == "sigmax":
            # Defined in a private module (no page of its own): documented here.
            inline += [f"## `sigmax.{name}`", "", f"::: {path}", "    options:",
                       "      show_root_heading: false", ""]
        else:
            # A cross-reference (mkdocs build --strict fails if it does not resolve).
            lines += [f"- [`sigmax.{name}`][{path}]: defined in [`{module}`]({module}.md)"]
    lines += ["", *inline]
    lines += ["## Modules", ""]
    lines += [f"- [`{m}`]({m}.md)" for m in public_modules()]
    out["index.md"] = "\n".join(lines) + "\n"
    for mod in public_modules():
        out[f"{mod}.md"] = f"# `{mod}`\n\n::: {mod}\n"
    return out


def write_nav(pages_: dict[str, str]) -> None:
    """Rewrite the API part of mkdocs.yml's nav (between its BEGIN / END api markers)."""
    yml = HERE.parent / "mkdocs.yml"
    text = yml.read_text(encoding="utf-8")
    begin, end = "    # BEGIN api pages: written by docs/gen_api.py\n", "    # END api pages\n"
    a, b = text.index(begin) + len(begin), text.index(end)
    modules = sorted(name[:-3] for name in pages_ if name != "index.md")
    entries = ["    - Overview: api/index.md"] + [f"    - {m}: api/{m}.md" for m in modules]
    yml.write_text(text[:a] + "\n".join(entries) + "\n" + text[b:], encoding="utf-8")


def main() -> None:
    api = HERE / "api"
    api.mkdir(exist_ok=True)
    wanted = pages()
    for old in api.glob("*.md"):
        if old.name not in wanted:
            old.unlink()
    for name, text in wanted.items():
        (api / name).write_text(text, encoding="utf-8")
    write_nav(wanted)
    print(f"wrote {len(wanted)} pages to {api} and their nav to mkdocs.yml")


if __name__ == "__main__":
    main()
