"""User accounts without the web: hashing, creation, password checks under the throttle.

Shared by the EMR, the CLI and the bulk CSV import so that every path hashes and locks
accounts the same way.
"""

from __future__ import annotations

import functools
import re
import secrets
import string
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from appliance import sessions, throttle
from appliance.store.audit import Actor, audited_save, record_event
from appliance.store.db import database
from appliance.store.models import ROLES, User, utcnow

if TYPE_CHECKING:
    from appliance.config import SecuritySettings

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


def _fold(text: str, *, look_alikes: bool = True) -> str:
    """Lower case without accents, with the usual look-alikes (p@ssw0rd → password)."""
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return plain.translate(_LOOK_ALIKES) if look_alikes else plain


_LOOK_ALIKES = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_MIN_OWN_LETTERS = 4  # what must remain once the clinic's and the person's words are taken out


@functools.cache
def _word_list(name: str) -> frozenset[str]:
    text = (Path(__file__).parent / "data" / name).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problem(password: str, *, words: Iterable[str] = ()) -> str | None:
    """Why a new password is refused, in French, or None.

    ``words``: the person's username and names, the site's name and id. A password made of
    them (or of the clinic's words in data/clinic_words.txt) with digits around, or one of the
    common passwords of data/weak_passwords.txt, is the first thing someone on the WiFi tries.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Le mot de passe doit contenir au moins {MIN_PASSWORD_LENGTH} caractères."
    if password.isdigit() or password.isalpha():
        return "Le mot de passe doit mêler lettres et chiffres."
    lower = password.lower()
    core = re.sub(r"^[\W\d_]+|[\W\d_]+$", "", lower)
    if lower in _word_list("weak_passwords.txt") or core in _word_list("weak_passwords.txt") \
            or _fold(core) in _word_list("weak_passwords.txt"):
        return "Ce mot de passe est parmi les plus courants : choisissez-en un autre."
    own = {_fold(word) for text in words for word in re.split(r"[\W_]+", text) if len(word) >= 3}
    banned = sorted({re.sub(r"[^a-z]", "", word) for word in own | _word_list("clinic_words.txt")}, key=len,
                    reverse=True)
    left = []
    for variant in (_fold(lower), _fold(lower, look_alikes=False)):  # s3gou is segou; awa1234x is "awa" + x
        variant = re.sub(r"[^a-z]", "", variant)
        for word in banned:
            variant = variant.replace(word, "") if word else variant
        left.append(len(variant))
    if min(left) < _MIN_OWN_LETTERS:
        return ("Le mot de passe ne doit pas être fait de votre nom, de votre identifiant ou du nom du centre : "
                "ajoutez des mots à vous.")
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
    """A new password ends every open session of the account and forgets the failures against it."""
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    with database.atomic():
        audited_save(actor, user, reason="mot de passe changé")
        sessions.revoke_user(user.id)
        throttle.clear(user.username)


@dataclass(frozen=True)
class CheckResult:
    """A password check: the user when right; ``retry_after_s`` when refused before checking."""

    user: User | None
    retry_after_s: float = 0.0
    newly_throttled: bool = False  # this very failure brought a key to its limit: worth telling remote ops


@dataclass(frozen=True)
class Attempt:
    """Who is trying, as the throttle counts it (see ``appliance.throttle``)."""

    client: str
    device: str | None
    limit: int
    window_s: float

    @classmethod
    def under(cls, security: SecuritySettings, client: str, device: str | None = None) -> Attempt:
        """An attempt counted under the ``[security]`` policy: the EMR's, and the district service's."""
        return cls(client=client, device=device, limit=security.max_failed_logins,
                   window_s=security.lockout_minutes * 60)


@dataclass(frozen=True)
class Guarded:
    """A throttled password check: right or not, and the throttle's reservation (refused, newly blocked)."""

    right: bool
    reservation: throttle.Reservation


def guarded_check(name: str, stored_hash: Callable[[], str | None], password: str, attempt: Attempt, *,
                  db: throttle.Database = database) -> Guarded:
    """The one throttled password check, for the box's users and the district's clinicians (``db``: where
    the failures are counted). The failure is reserved before the hash is read; an unknown or inactive
    name (``stored_hash()`` None) is verified against a real dummy hash, so timing says nothing."""
    keys = throttle.keys_for(name, attempt.client, attempt.device, limit=attempt.limit)
    reservation = throttle.reserve(keys, attempt.window_s, db=db)
    if reservation.refused:
        return Guarded(False, reservation)
    stored = stored_hash()
    right = verify_password(stored or _DUMMY_HASH, password) and stored is not None
    if right:
        throttle.release(reservation, db=db)
    return Guarded(right, reservation)


def check_password(username: str, password: str, attempt: Attempt, *, action: str = "login") -> CheckResult:
    """Check a password under the throttle; audit every failure as ``<action>_failed``.

    Known and unknown names take the same path (a real hash is verified either way, the same
    keys are counted), so neither the reply nor its timing tells which names exist.
    """
    name = username.strip().lower()
    user = None

    def stored_hash() -> str | None:
        nonlocal user
        user = User.get_or_none(User.username == name)
        return user.password_hash if user is not None and user.active else None

    checked = guarded_check(name, stored_hash, password, attempt)
    reservation = checked.reservation
    if reservation.refused:
        return CheckResult(None, retry_after_s=reservation.retry_after_s)
    if not checked.right:
        actor = _actor_for(user) if user is not None else Actor(None, name[:40] or "?", "")
        with database.atomic():
            record_event(actor, f"{action}_failed", "user", user.id if user else "", reason=f"client {attempt.client}")
            if reservation.newly_blocked:
                record_event(actor, f"{action}_throttled", "user", user.id if user else "",
                             reason=", ".join(reservation.newly_blocked))
        return CheckResult(None, newly_throttled=bool(reservation.newly_blocked))
    return CheckResult(user)


def authenticate(username: str, password: str, attempt: Attempt) -> CheckResult:
    """A login: the password check, then the login recorded (and the hash upgraded if needed)."""
    result = check_password(username, password, attempt)
    user = result.user
    if user is None:
        return result
    fields = {"last_login_at": utcnow()}
    if _hasher.check_needs_rehash(user.password_hash):
        fields["password_hash"] = _hasher.hash(password)
    with database.atomic():
        User.update(**fields).where(User.id == user.id).execute()
        record_event(_actor_for(user), "login", "user", user.id)
    return CheckResult(User.get_by_id(user.id))


def _actor_for(user: User) -> Actor:
    return Actor(user.id, user.username, user.role)
