"""mkdocs hook: relative links may point into the repository, not only into docs/.

The user-guide pages are also read on GitHub, where ``../benchmarks/README.md``
is a valid link; mkdocs only knows the files under ``docs/``. mkdocs' own
check of such links is set to ``info`` in mkdocs.yml, and this hook warns
(which fails ``mkdocs build --strict``) for a relative link whose target
exists neither under ``docs/`` nor in the repository.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

log = logging.getLogger("mkdocs.plugins.sigmax_links")

_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)\s]*)?\)")


def on_page_markdown(markdown, page, config, files):
    src = Path(config["docs_dir"]) / page.file.src_path
    for target in _LINK.findall(markdown):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
            continue  # a URL (https:, mailto:) or a site-absolute path
        if not (src.parent / target).resolve().exists():
            log.warning("%s: broken link %r (no such file)", page.file.src_path, target)
    return markdown
