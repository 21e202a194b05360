"""The demo's writer: machine-made rows inserted with executemany, not one model at a time."""

from __future__ import annotations

import peewee

from appliance.store.db import database


class Table:
    """Rows of one model collected as tuples and written with executemany in large chunks."""

    def __init__(self, model: type[peewee.Model], defaults: dict[str, object]) -> None:
        self.model = model
        fields = model._meta.sorted_fields
        self.names = [item.name for item in fields]
        columns = ", ".join(f'"{item.column_name}"' for item in fields)
        self.sql = (f'INSERT INTO "{model._meta.table_name}" ({columns}) '
                    f"VALUES ({', '.join('?' for _ in fields)})")
        self.defaults = defaults
        self.rows: list[tuple] = []
        self.count = 0

    def add(self, values: dict[str, object]) -> None:
        merged = {**self.defaults, **values}
        self.rows.append(tuple(merged.get(name) for name in self.names))
        self.count += 1

    def flush(self) -> None:
        if self.rows:
            database.connection().executemany(self.sql, self.rows)
            self.rows.clear()
