"""Every value a browser sends, cleaned once, before any view or form reads it.

The clinic's WiFi is open to any phone, and what is stored ends up on charts, letters, CSV
files and DHIS2. So, for every query and form value (``CleanRequest``):

- Unicode is put in NFC, so "é" typed on two keyboards is one spelling for search and
  duplicates;
- digits of any script (Arabic-Indic on some phones, superscripts such as "²") become ASCII
  digits, so ``int()`` and phone numbers see what the person meant;
- control characters (NUL...), bidirectional overrides and zero-width characters are refused
  with a French 400 naming the field: invisible, they can make a name read backwards on a
  referral letter or two records look like one (tab and line breaks stay, for text areas);
- an integer read with ``request.args.get(..., type=int)`` is one SQLite can store, else the
  default; an ``<int:...>`` in a route is bounded the same way (a larger one is a 404).
"""

from __future__ import annotations

import re

from flask import Request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from appliance import text

SQLITE_MAX_INT = 2**63 - 1
_SAFE_INT = re.compile(r"-?[0-9]{1,18}")


class RefusedCharacter(BadRequest):
    """A value holding a character the EMR refuses; the error page names the field."""

    def __init__(self, field: str, character: str) -> None:
        super().__init__()
        self.field = field[:40]
        self.character = character


def clean_text(field: str, value: str) -> str:
    """The value through the shared text rule (``appliance.text``); RefusedCharacter names the field."""
    try:
        return text.clean_text(value)
    except text.InvisibleCharacter as refused:
        raise RefusedCharacter(field, refused.character) from None


class CleanMultiDict(ImmutableMultiDict):
    """Query and form values, each through ``clean_text`` (files pass untouched)."""

    def __init__(self, mapping=None) -> None:
        if mapping is not None:
            if isinstance(mapping, MultiDict):
                items = mapping.items(multi=True)
            elif isinstance(mapping, dict):
                items = mapping.items()
            else:
                items = mapping
            mapping = [(key, clean_text(str(key), value) if isinstance(value, str) else value)
                       for key, value in items]
        super().__init__(mapping)

    def get(self, key, default=None, type=None):
        if type is int:
            raw = super().get(key)
            return int(raw) if isinstance(raw, str) and _SAFE_INT.fullmatch(raw.strip()) else default
        return super().get(key, default, type)


class CleanRequest(Request):
    parameter_storage_class = CleanMultiDict


class StorableIntConverter(IntegerConverter):
    """``<int:id>`` that SQLite can compare: a 30-digit id is a 404, not an OverflowError."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", SQLITE_MAX_INT)
        super().__init__(map, *args, **kwargs)


def storable_id(text: str | None) -> int | None:
    """An id typed or posted as text, or None if it is not one SQLite could hold."""
    text = (text or "").strip()
    return int(text) if _SAFE_INT.fullmatch(text) and not text.startswith("-") else None


def install(app) -> None:
    app.request_class = CleanRequest
    app.url_map.converters["int"] = StorableIntConverter
