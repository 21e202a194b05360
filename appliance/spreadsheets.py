"""CSV files that a spreadsheet opens safely: no cell is run as a formula.

Excel and LibreOffice run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or
carriage return before one) as a formula: a patient or user named ``=HYPERLINK(...)``, or a site
id sent over MQTT, would run on the district's computer (OWASP "CSV injection"). Every export
writes through ``writer``/``dict_writer``, which prefix such a cell with an apostrophe, the
spreadsheet's own "this is text" mark. Plain numbers (``-3``, ``+22376123456``, ``-1,5``) stay
numbers.
"""

from __future__ import annotations

import csv
import re
from typing import IO, Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[-+]?[0-9]+([.,][0-9]+)?")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class _SafeWriter:
    def __init__(self, inner) -> None:
        self._inner = inner

    def writerow(self, row) -> Any:
        return self._inner.writerow([safe_cell(value) for value in row])

    def writerows(self, rows) -> None:
        for row in rows:
            self.writerow(row)


class _SafeDictWriter(csv.DictWriter):
    def writerow(self, rowdict) -> Any:
        return super().writerow({key: safe_cell(value) for key, value in rowdict.items()})


def writer(stream: IO[str], **options) -> _SafeWriter:
    return _SafeWriter(csv.writer(stream, **options))


def dict_writer(stream: IO[str], fieldnames, **options) -> csv.DictWriter:
    return _SafeDictWriter(stream, fieldnames=fieldnames, **options)
