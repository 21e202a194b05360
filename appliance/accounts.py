"""User accounts without the web: hashing, creation and login throttling.

Shared by the EMR, the CLI and the bulk CSV import so that every path hashes and locks
accounts the same way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import string
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from appliance.store.audit import Actor, audited_save, record_event
from appliance.store.db import database
from appliance.store.models import ROLES, User, utcnow

# OWASP's argon2id minimum (19 MiB, t=2, p=1): safe, and it fits a 512 MB Pi where the
# library default (64 MiB, p=4) would cost a login a second and a large slice of memory.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

MIN_PASSWORD_LENGTH = 8
# A real hash to verify against when the username is unknown, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("not-a-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str) -> str | None:
    """Why a new password is refused, in French, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Le mot de passe doit contenir au moins {MIN_PASSWORD_LENGTH} caractères."
    if password.isdigit() or password.isalpha():
        return "Le mot de passe doit mêler lettres et chiffres."
    return None


def generate_password(length: int = 10) -> str:
    """A password a nurse can copy from paper: no look-alike characters (0/O, 1/l/I)."""
    alphabet = "".join(ch for ch in string.ascii_lowercase + string.digits if ch not in "0o1li")
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if password_problem(candidate) is None:
            return candidate


def create_user(actor: Actor, *, username: str, first_name: str, last_name: str, role: str,
                password: str, phone: str = "", language: str = "fr",
                must_change_password: bool = True) -> User:
    if role not in ROLES:
        raise ValueError(f"Rôle inconnu « {role} » (rôles : {', '.join(ROLES)})")
    user = User(username=username.strip().lower(), first_name=first_name.strip(), last_name=last_name.strip(),
                role=role, phone=phone.strip(), password_hash=hash_password(password), language=language,
                must_change_password=must_change_password)
    return audited_save(actor, user)


def set_password(actor: Actor, user: User, password: str, *, must_change: bool) -> None:
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    user.failed_logins = 0
    user.locked_until = None
    audited_save(actor, user, reason="mot de passe changé")


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    error: str | None = None
    locked_until: dt.datetime | None = None
    newly_locked: bool = False  # this very attempt locked the account: worth telling remote ops


def _actor_for(user: User) -> Actor:
    return Actor(user.id, user.username, user.role)


def authenticate(username: str, password: str, *, max_failures: int, lockout: dt.timedelta,
                 now: dt.datetime | None = None) -> LoginResult:
    """Check a login; repeated failures lock the account for ``lockout`` and say so.

    A lock further in the future than ``lockout`` can only come from a clock that jumped
    back (the Pi has no RTC): it is treated as expired rather than locking staff out for days.
    """
    now = now or utcnow()
    user = User.get_or_none(User.username == username.strip().lower())
    if user is None or not user.active:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return LoginResult(None, "Identifiant ou mot de passe incorrect.")
    if user.locked_until and now < user.locked_until <= now + lockout:
        return LoginResult(None, "Compte verrouillé après trop d'essais.", user.locked_until)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        with database.atomic():
            failures = (0 if user.locked_until else user.failed_logins) + 1
            locked_until = now + lockout if failures >= max_failures else None
            User.update(failed_logins=failures, locked_until=locked_until).where(User.id == user.id).execute()
            record_event(_actor_for(user), "login_locked" if locked_until else "login_failed", "user", user.id)
        if locked_until:
            return LoginResult(None, "Compte verrouillé après trop d'essais.", locked_until, newly_locked=True)
        return LoginResult(None, "Identifiant ou mot de passe incorrect.")
    fields = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if _hasher.check_needs_rehash(user.password_hash):
        fields["password_hash"] = _hasher.hash(password)
    with database.atomic():
        User.update(**fields).where(User.id == user.id).execute()
        record_event(_actor_for(user), "login", "user", user.id)
    return LoginResult(User.get_by_id(user.id))
