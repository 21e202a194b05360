"""Tables of the users area: the staging of an import, and which account replaced which.

Staging rows hold what the file said and what is wrong with it; never a password: passwords
are generated at the moment of creation and only shown on the credentials sheet.
"""

from __future__ import annotations

import json

import peewee

from appliance.store.db import BaseModel
from appliance.store.models import User, utcnow
from appliance.users.csvfile import Problem


class BatchStatus:
    STAGED = "staged"  # waiting for the admin to create the accounts
    COMMITTED = "committed"  # every account created, in one transaction
    SUPERSEDED = "superseded"  # a corrected file was uploaded instead


def problems_to_json(problems: list[Problem]) -> str:
    return json.dumps([[p.line, p.column, p.message] for p in problems], ensure_ascii=False)


def _problems_from_json(text: str) -> list[Problem]:
    return [Problem(line, column, message) for line, column, message in json.loads(text or "[]")]


class UserImportBatch(BaseModel):
    created_at = peewee.DateTimeField(default=utcnow)
    created_by = peewee.TextField()
    filename = peewee.TextField()
    status = peewee.TextField(default=BatchStatus.STAGED)
    row_count = peewee.IntegerField(default=0)
    error_count = peewee.IntegerField(default=0)
    file_problems = peewee.TextField(default="[]")
    committed_at = peewee.DateTimeField(null=True)
    committed_by = peewee.TextField(null=True)

    class Meta:
        table_name = "user_import_batch"

    @property
    def problems(self) -> list[Problem]:
        return _problems_from_json(self.file_problems)

    @property
    def ready(self) -> bool:
        return self.status == BatchStatus.STAGED and self.error_count == 0 and self.row_count > 0


class UserImportRow(BaseModel):
    batch = peewee.ForeignKeyField(UserImportBatch, backref="rows", column_name="batch_id")
    line = peewee.IntegerField()
    username = peewee.TextField()
    first_name = peewee.TextField()
    last_name = peewee.TextField()
    role = peewee.TextField()
    phone = peewee.TextField()
    replaces = peewee.TextField(default="")
    problems_json = peewee.TextField(column_name="problems", default="[]")

    class Meta:
        table_name = "user_import_row"

    @property
    def problems(self) -> list[Problem]:
        return _problems_from_json(self.problems_json)

    def problems_for(self, column: str) -> list[str]:
        return [p.message for p in self.problems if p.column == column]


class UserReplacement(BaseModel):
    """The old account stays (deactivated, with its history); the new one is linked to it."""

    old_user = peewee.ForeignKeyField(User, column_name="old_user_id", unique=True)
    new_user = peewee.ForeignKeyField(User, column_name="new_user_id")
    replaced_at = peewee.DateTimeField(default=utcnow)
    replaced_by = peewee.TextField()
    reason = peewee.TextField()

    class Meta:
        table_name = "user_replacement"

