"""The API reference site: every public name and module has a page."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import sigmax

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api"
FIX = "run `python docs/gen_api.py` to regenerate docs/api"


def _gen_api():
    spec = importlib.util.spec_from_file_location("gen_api", ROOT / "docs" / "gen_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_name_appears_in_an_api_page():
    text = "\n".join(p.read_text(encoding="utf-8") for p in API.glob("*.md"))
    missing = [n for n in sigmax.__all__ if not re.search(rf"sigmax\.{re.escape(n)}\b", text)]
    assert not missing, f"no docs/api page names {missing}: {FIX}"


def test_api_pages_are_up_to_date():
    wanted = _gen_api().pages()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in API.glob("*.md")}
    assert set(on_disk) == set(wanted), f"pages differ from the public modules: {FIX}"
    stale = [name for name, text in wanted.items() if on_disk[name] != text]
    assert not stale, f"stale pages {stale}: {FIX}"


def test_nav_lists_every_api_page():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    unlisted = [p.name for p in API.glob("*.md") if f"api/{p.name}" not in nav]
    assert not unlisted, f"mkdocs.yml nav lacks {unlisted}: add them under API reference"
