"""Coded lists shipped as data (diagnoses, antigens, FP methods, danger signs...).

Visits store the ``code``; labels live in ``data/codes/<list>.csv`` (French, then English), so a
label can be corrected without touching stored visits or code. See data/README.md for sources.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

CODES_DIR = Path(__file__).with_name("data") / "codes"


@dataclass(frozen=True)
class Code:
    code: str
    label_fr: str
    label_en: str
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def label(self, locale: str = "fr") -> str:
        return self.label_en if locale.startswith("en") and self.label_en else self.label_fr


@cache
def code_list(name: str) -> dict[str, Code]:
    """The list ``name`` (file stem under data/codes), in file order, keyed by code."""
    with (CODES_DIR / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        result: dict[str, Code] = {}
        for row in csv.DictReader(handle):
            code = row.pop("code")
            result[code] = Code(code, row.pop("label_fr"), row.pop("label_en", ""), row)
    return result


def label(name: str, code: str | None, locale: str = "fr") -> str:
    """The label of ``code``, or the code itself if the list no longer has it."""
    if not code:
        return ""
    entry = code_list(name).get(code)
    return entry.label(locale) if entry else code


def choices(name: str, locale: str = "fr") -> list[tuple[str, str]]:
    return [(entry.code, entry.label(locale)) for entry in code_list(name).values()]


def split_codes(text: str | None) -> list[str]:
    """Multi-select values are stored as space-separated codes ("saignement fievre")."""
    return (text or "").split()
