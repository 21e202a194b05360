"""The district service's own tables, in its own SQLite file (``open_district``): clinics and
their tokens, district clinicians and the clinics each covers, the messages received from the
clinics (second-opinion cases with their photos, notifications, read receipts) and the inbox of
messages waiting for each clinic (answers, documents); the login failures the throttle counts (the
EMR's ``appliance.throttle``, same table) and the service's own audit trail."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from pathlib import Path

import peewee

from appliance.store.db import PRAGMAS

district_db = peewee.DatabaseProxy()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def token_digest(token: str) -> str:
    """Tokens are stored as their SHA-256: a copy of the database gives no clinic's token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class _Model(peewee.Model):
    class Meta:
        database = district_db


class Clinic(_Model):
    site_id = peewee.TextField(unique=True)  # the box's [site] id
    name = peewee.TextField()
    token_sha256 = peewee.TextField(unique=True)


class Clinician(_Model):
    username = peewee.TextField(unique=True)
    full_name = peewee.TextField()
    password_hash = peewee.TextField()
    active = peewee.BooleanField(default=True)


ADMINISTRATOR = "administrateur"  # reads the service's audit trail (``/journal``)
ROLES = (ADMINISTRATOR,)


class ClinicianRole(_Model):
    """A role beyond answering the cases of his clinics; its own table, so that a district database
    of an older version gets it from ``create_tables`` without changing the clinician table."""

    clinician = peewee.ForeignKeyField(Clinician, backref="roles", on_delete="CASCADE")
    role = peewee.TextField()

    class Meta:
        table_name = "district_role"
        indexes = ((("clinician", "role"), True),)


class Coverage(_Model):
    """A clinician covers a clinic: he sees its cases and only those."""

    clinician = peewee.ForeignKeyField(Clinician, backref="coverage", on_delete="CASCADE")
    site_id = peewee.TextField()

    class Meta:
        indexes = ((("clinician", "site_id"), True),)


class Received(_Model):
    """One message from a clinic, stored once whatever the number of deliveries."""

    site_id = peewee.TextField()
    message_id = peewee.TextField()  # the box's id for it
    kind = peewee.TextField()  # avis, simr_alert, read_receipt
    body = peewee.TextField()  # JSON, photos left out (CasePhoto)
    received_at = peewee.DateTimeField(default=utcnow)
    deliveries = peewee.IntegerField(default=1)  # how many times the box sent it (retries)

    class Meta:
        indexes = ((("site_id", "message_id"), True), (("kind", "site_id"), False))


class CasePhoto(_Model):
    message = peewee.ForeignKeyField(Received, backref="photos", on_delete="CASCADE")
    position = peewee.IntegerField()
    jpeg = peewee.BlobField()


class Answer(_Model):
    """A district clinician's answer to one case: one per case."""

    message = peewee.ForeignKeyField(Received, unique=True, backref="answers")
    clinician = peewee.ForeignKeyField(Clinician)
    text = peewee.TextField()
    answered_at = peewee.DateTimeField(default=utcnow)


class Outgoing(_Model):
    """A message waiting for a clinic (its id is the clinic's cursor): answers, documents."""

    site_id = peewee.TextField()
    kind = peewee.TextField()  # avis_answer, document
    body = peewee.TextField()  # JSON
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("site_id", "id"), False),)


class LoginFailure(_Model):
    """``appliance.throttle``'s table (the EMR's ``login_failure``, m0002), here in the district's file."""

    key = peewee.TextField()
    at = peewee.FloatField()

    class Meta:
        table_name = "login_failure"
        indexes = ((("key", "at"), False),)


class AuditEntry(_Model):
    """Who did what at the district: logins (and failures, throttling), each case or notification read,
    each answer and counter-referral. Written in the transaction of what it records; never changed."""

    at = peewee.DateTimeField(default=utcnow, index=True)
    username = peewee.TextField()  # the clinician's (as typed, for a failed login)
    action = peewee.TextField()  # login, login_failed, login_throttled, logout, case_read, case_answered...
    site_id = peewee.TextField(null=True)
    message = peewee.IntegerField(null=True)  # Received.id of the case, referral or notification
    client = peewee.TextField(default="")  # the request's address (waitress trusts the local proxy's X-Forwarded-For)

    class Meta:
        table_name = "district_audit"


TABLES = (Clinic, Clinician, ClinicianRole, Coverage, Received, CasePhoto, Answer, Outgoing, LoginFailure, AuditEntry)


def open_district(path: Path) -> peewee.SqliteDatabase:
    """Open (and create) the district service's database, WAL and synchronous=FULL as on the box."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = peewee.SqliteDatabase(str(path), pragmas=dict(PRAGMAS), check_same_thread=False)
    district_db.initialize(db)
    db.connect(reuse_if_open=True)
    db.create_tables(TABLES, safe=True)
    return db


def audit(username: str, action: str, *, site_id: str | None = None, message: int | None = None,
          client: str = "") -> None:
    """One row of the district's audit trail (inside the caller's transaction when one is open)."""
    AuditEntry.create(username=username[:64], action=action, site_id=site_id, message=message, client=client[:64])


def audit_entries(limit: int, *, before_id: int | None = None) -> list[AuditEntry]:
    """The audit trail newest first, ``limit`` rows older than ``before_id``: what
    ``appliance district audit`` prints and the administrator's page shows, one page at a time."""
    query = AuditEntry.select().order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(query)


def has_role(clinician: Clinician, role: str) -> bool:
    return ClinicianRole.select().where((ClinicianRole.clinician == clinician) & (ClinicianRole.role == role)).exists()


def grant_role(username: str, role: str) -> None:
    """Give an existing clinician a role (again: nothing changes); a name or role unknown is refused in French."""
    if role not in ROLES:
        raise ValueError(f"rôle inconnu : {role} (rôles : {', '.join(ROLES)})")
    clinician = Clinician.get_or_none(Clinician.username == username)
    if clinician is None:
        raise ValueError(f"aucun clinicien « {username} »")
    ClinicianRole.insert(clinician=clinician, role=role).on_conflict_ignore().execute()


def add_clinic(site_id: str, name: str) -> str:
    """A clinic and its new token, returned once (only its SHA-256 is kept)."""
    token = secrets.token_urlsafe(32)
    Clinic.create(site_id=site_id, name=name, token_sha256=token_digest(token))
    return token


def add_clinician(username: str, full_name: str, sites: list[str] | tuple[str, ...],
                  roles: tuple[str, ...] = ()) -> str:
    """A district clinician covering ``sites`` (and holding ``roles``), with a new password returned once."""
    from appliance.accounts import generate_password, hash_password

    password = generate_password()
    with district_db.atomic():
        clinician = Clinician.create(username=username, full_name=full_name, password_hash=hash_password(password))
        for site in sites:
            Coverage.create(clinician=clinician, site_id=site)
        for role in roles:
            grant_role(username, role)
    return password
