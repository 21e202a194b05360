"""Users in bulk: check a file, stage it, then create all its accounts or none; replace and deactivate.

Passwords are generated only when the accounts are created and handed back once, to be shown
on the credentials sheet: they are never written anywhere in clear (not in the staging tables,
the session, the audit trail or a log). Hashing is slow on purpose (argon2), so every hash is
computed before the one short transaction that creates the accounts: the clinic's other
writes are not held up while 200 passwords are hashed.
"""

from __future__ import annotations

from dataclasses import dataclass

import peewee

from appliance.accounts import generate_password, hash_password
from appliance.store.audit import Actor, audited_save
from appliance.store.db import database
from appliance.store.models import ROLES, User, utcnow
from appliance.users.csvfile import CsvRow, Problem, parse
from appliance.users.models import BatchStatus, UserImportBatch, UserImportRow, UserReplacement, problems_to_json
from appliance.users.validation import ExistingAccount, RowCheck, check_rows


@dataclass(frozen=True)
class Credential:
    """What goes on the one-time sheet. Lives only in memory, for one response."""

    username: str
    full_name: str
    role_label: str
    phone: str
    password: str
    replaces: str = ""


@dataclass
class FileCheck:
    rows: list[RowCheck]
    problems: list[Problem]  # every problem, file and rows, in line order
    file_problems: list[Problem]  # those that are not about one row (encoding, header, size)

    @property
    def valid(self) -> bool:
        return not self.problems and bool(self.rows)


class CommitRefused(RuntimeError):
    """The staged rows no longer fit the accounts on the box (someone took a username meanwhile)."""


def existing_accounts() -> dict[str, ExistingAccount]:
    return {user.username: ExistingAccount(user.username, user.full_name, user.active)
            for user in User.select(User.username, User.first_name, User.last_name, User.active)}


def check_file(data: bytes) -> FileCheck:
    parsed = parse(data)
    rows = check_rows(parsed.rows, existing_accounts()) if not parsed.problems else []
    file_problems = list(parsed.problems)
    if not parsed.problems and not rows:
        file_problems.append(Problem(None, None, "aucun compte dans le fichier (seulement l'en-tête)"))
    problems = file_problems + [problem for row in rows for problem in row.problems]
    problems.sort(key=lambda p: (p.line or 0))
    return FileCheck(rows, problems, file_problems)


def stage(actor: Actor, filename: str, data: bytes) -> UserImportBatch:
    """Check a file and keep its rows and problems for review; earlier staged files are superseded."""
    checked = check_file(data)
    with database.atomic():
        _supersede_staged()
        batch = UserImportBatch.create(
            created_by=actor.username, filename=filename[:200] or "fichier.csv", row_count=len(checked.rows),
            error_count=len(checked.problems), file_problems=problems_to_json(checked.file_problems),
        )
        records = [
            {"batch": batch.id, "line": row.line, "username": row.username, "first_name": row.first_name,
             "last_name": row.last_name, "role": row.role, "phone": row.phone, "replaces": row.replaces,
             "problems_json": problems_to_json(row.problems)}
            for row in checked.rows
        ]
        for chunk in peewee.chunked(records, 500):  # stay far below SQLite's bound-parameter limit
            UserImportRow.insert_many(chunk).execute()
    return batch


def _supersede_staged() -> None:
    staged = UserImportBatch.select(UserImportBatch.id).where(UserImportBatch.status == BatchStatus.STAGED)
    UserImportRow.delete().where(UserImportRow.batch.in_(staged)).execute()
    UserImportBatch.update(status=BatchStatus.SUPERSEDED).where(UserImportBatch.status == BatchStatus.STAGED).execute()


def commit(actor: Actor, batch: UserImportBatch) -> list[Credential]:
    """Create every account of a staged batch in one transaction, or none (CommitRefused)."""
    if batch.status != BatchStatus.STAGED:
        raise CommitRefused("Ce fichier a déjà été traité : envoyez-le à nouveau pour créer d'autres comptes.")
    staged = list(batch.rows.order_by(UserImportRow.line))
    rows = [RowCheck(r.line, r.username, r.first_name, r.last_name, r.role, r.phone, r.replaces) for r in staged]
    _recheck(rows, staged, batch)
    credentials = create_accounts(actor, rows, batch=batch)
    return credentials


def _recheck(rows: list[RowCheck], staged: list[UserImportRow], batch: UserImportBatch) -> None:
    """Accounts may have been created since the file was checked: check again, keep any new problem."""
    again = check_rows([CsvRow(row.line, {"identifiant": row.username, "prenom": row.first_name,
                                          "nom": row.last_name, "role": row.role, "telephone": row.phone,
                                          "remplace": row.replaces}) for row in rows], existing_accounts())
    problems = sum(len(row.problems) for row in again)
    if problems or not rows or batch.error_count:
        with database.atomic():
            for record, row in zip(staged, again, strict=True):
                record.problems_json = problems_to_json(row.problems)
                record.save()
            batch.error_count = problems or batch.error_count
            batch.save()
        raise CommitRefused("Le fichier contient des erreurs : aucun compte n'a été créé. Corrigez-le et "
                            "envoyez-le à nouveau.")


def create_accounts(actor: Actor, rows: list[RowCheck], *, batch: UserImportBatch | None = None
                    ) -> list[Credential]:
    """Hash first (slow), then one transaction: every account and replacement, or none."""
    passwords = [generate_password() for _ in rows]
    hashes = [hash_password(password) for password in passwords]
    credentials = []
    with database.atomic():
        if batch is not None:
            claimed = (UserImportBatch.update(status=BatchStatus.COMMITTED, committed_at=utcnow(),
                                              committed_by=actor.username)
                       .where((UserImportBatch.id == batch.id) & (UserImportBatch.status == BatchStatus.STAGED))
                       .execute())
            if claimed != 1:  # a double click, or two admins at once
                raise CommitRefused("Ce fichier a déjà été traité.")
            UserImportRow.delete().where(UserImportRow.batch == batch.id).execute()
        for row, password, password_hash in zip(rows, passwords, hashes, strict=True):
            user = audited_save(actor, User(
                username=row.username, first_name=row.first_name, last_name=row.last_name, role=row.role,
                phone=row.phone, password_hash=password_hash, must_change_password=True,
            ), reason="import CSV" if batch is not None else None)
            if row.replaces:
                _link_replacement(actor, User.get(User.username == row.replaces), user, "remplacé (import CSV)")
            credentials.append(Credential(user.username, user.full_name, ROLES[user.role], user.phone, password,
                                          row.replaces))
    return credentials


def _link_replacement(actor: Actor, old: User, new: User, reason: str) -> None:
    old.active = False
    audited_save(actor, old, reason=f"{reason} par {new.username}")
    UserReplacement.create(old_user=old, new_user=new, replaced_by=actor.username, reason=reason)


def replace_user(actor: Actor, old: User, *, username: str, first_name: str, last_name: str, role: str,
                 phone: str, reason: str) -> Credential:
    """A new account for the person taking over; the old one is deactivated and keeps its history."""
    if not old.active:
        raise CommitRefused(f"Le compte « {old.username} » est déjà désactivé.")
    (row,) = check_rows([CsvRow(0, {"identifiant": username.strip(), "prenom": first_name.strip(),
                                    "nom": last_name.strip(), "role": role, "telephone": phone.strip(),
                                    "remplace": old.username})], existing_accounts())
    if row.problems:
        raise CommitRefused(" ; ".join(f"{p.column} : {p.message}" for p in row.problems))
    password = generate_password()
    password_hash = hash_password(password)
    with database.atomic():
        new = audited_save(actor, User(username=row.username, first_name=row.first_name, last_name=row.last_name,
                                       role=row.role, phone=row.phone, password_hash=password_hash,
                                       must_change_password=True), reason=f"remplace {old.username}")
        _link_replacement(actor, User.get_by_id(old.id), new, reason.strip() or "remplacement")
    return Credential(new.username, new.full_name, ROLES[new.role], new.phone, password, old.username)


def deactivate_user(actor: Actor, user: User, reason: str) -> None:
    """Deactivate an account (it can no longer log in); it stays with its history, never deleted."""
    if not reason.strip():
        raise ValueError("Un motif est obligatoire.")
    user.active = False
    audited_save(actor, user, reason=reason.strip())


def replacement_of(user: User) -> UserReplacement | None:
    return UserReplacement.get_or_none(UserReplacement.old_user == user.id)
