"""A Babel extractor for the French texts that charts read from data files (TOML, JSON).

babel.cfg maps the chart label files to ``extract`` so that `make extract-messages` puts their
texts in the catalogue next to the ``_()`` strings of the code; the charts translate them when
drawn. Every string value is a message (keys are names, not text).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from typing import IO, Any


def extract(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict) -> Iterator[tuple]:
    """Babel's extraction method contract: (line number, function name, message, comments) tuples."""
    raw = fileobj.read().decode("utf-8")
    tree = json.loads(raw) if getattr(fileobj, "name", "").endswith(".json") else tomllib.loads(raw)
    lines = raw.splitlines()
    for text in _strings(tree):
        line = next((number for number, content in enumerate(lines, 1) if _quoted(text) in content), 0)
        yield line, None, text, []


def _strings(tree: Any) -> Iterator[str]:
    if isinstance(tree, dict):
        for value in tree.values():
            yield from _strings(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _strings(value)
    elif isinstance(tree, str):
        yield tree


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
