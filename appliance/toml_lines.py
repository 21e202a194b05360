"""Line numbers in TOML files people edit by hand, so error messages can point at the line."""

from __future__ import annotations

import re


class TomlLines:
    """Line numbers of tables and keys in a TOML text, for messages (tomllib keeps no positions).

    Shared by every TOML file a person edits: this configuration, the DHIS2 mapping.
    """

    _table = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
    _key = re.compile(r"^\s*\"?([A-Za-z0-9_-]+)\"?\s*=")

    def __init__(self, text: str) -> None:
        self._positions: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            if match := self._table.match(line):
                table = tuple(part.strip().strip('"') for part in match.group(1).split("."))
                self._positions.setdefault(table, number)
            elif match := self._key.match(line):
                self._positions.setdefault((*table, match.group(1)), number)

    def of(self, table: tuple[str, ...], key: str | None) -> int | None:
        """The key's line, else its table's line, else None."""
        if key is not None and (line := self._positions.get((*table, key))):
            return line
        return self._positions.get(table)

    def line_of(self, table: tuple[str, ...], key: str) -> str:
        number = self.of(table, key)
        return f", ligne {number}" if number else ""
