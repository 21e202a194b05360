"""The appliance's one TOML configuration file, typed and validated at start.

Every package owns its section as a frozen dataclass; this module maps TOML tables onto
them. A wrong key, type or value stops start-up with one message naming the key and its
line, because a technician in a district town must be able to fix it from that message alone.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.files import write_atomically
from appliance.settings.backup import BackupSettings
from appliance.settings.dhis2 import Dhis2Settings
from appliance.settings.district import DistrictSettings
from appliance.settings.modem import ModemSettings
from appliance.settings.outbox import OutboxSettings
from appliance.settings.power import PowerSettings
from appliance.settings.referrals import ReferralSettings
from appliance.settings.reports import ReportSettings
from appliance.settings.telemetry import TelemetrySettings
from appliance.settings.update import UpdateSettings
from appliance.settings.uploads import UploadSettings
from appliance.toml_lines import TomlLines

DEFAULT_PATH = Path("/etc/appliance/appliance.toml")
ENV_VAR = "APPLIANCE_CONFIG"


class ConfigError(ValueError):
    """A configuration problem, worded for the technician who must fix it."""


@dataclass(frozen=True)
class SiteSettings:
    id: str
    name: str

    def validate(self) -> list[str]:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,39}", self.id):
            return ["site.id : lettres minuscules, chiffres et tirets seulement (2 à 40 caractères)"]
        return []


@dataclass(frozen=True)
class PathSettings:
    data_dir: Path = Path("/var/lib/appliance")
    secrets_dir: Path = Path("/etc/appliance/secrets")

    @property
    def database(self) -> Path:
        return self.data_dir / "appliance.db"


@dataclass(frozen=True)
class WebSettings:
    host: str = "0.0.0.0"
    port: int = 8080
    threads: int = 4
    session_idle_minutes: int = 30
    session_max_hours: int = 12  # a shift: after it, log in again whatever the activity
    client_timeout_s: int = 30  # a connection silent this long is closed (slow and half-open clients)
    default_language: str = "fr"

    def validate(self) -> list[str]:
        errors = []
        if not 1 <= self.port <= 65535:
            errors.append("web.port : doit être entre 1 et 65535")
        if not 1 <= self.threads <= 16:
            errors.append("web.threads : doit être entre 1 et 16")
        if self.session_idle_minutes < 1:
            errors.append("web.session_idle_minutes : au moins 1 minute")
        if not 2 <= self.client_timeout_s <= 600:
            errors.append("web.client_timeout_s : entre 2 et 600 secondes")
        if not 1 <= self.session_max_hours <= 72:
            errors.append("web.session_max_hours : entre 1 et 72 heures")
        if self.default_language not in ("fr", "en"):
            errors.append("web.default_language : « fr » ou « en »")
        return errors


@dataclass(frozen=True)
class SecuritySettings:
    max_failed_logins: int = 5
    lockout_minutes: int = 15

    def validate(self) -> list[str]:
        if self.max_failed_logins < 1 or self.lockout_minutes < 1:
            return ["security : max_failed_logins et lockout_minutes doivent valoir au moins 1"]
        return []


@dataclass(frozen=True)
class Config:
    site: SiteSettings
    paths: PathSettings = field(default_factory=PathSettings)
    web: WebSettings = field(default_factory=WebSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    power: PowerSettings = field(default_factory=PowerSettings)
    modem: ModemSettings = field(default_factory=ModemSettings)
    uploads: UploadSettings = field(default_factory=UploadSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    dhis2: Dhis2Settings = field(default_factory=Dhis2Settings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    referrals: ReferralSettings = field(default_factory=ReferralSettings)
    update: UpdateSettings = field(default_factory=UpdateSettings)
    district: DistrictSettings = field(default_factory=DistrictSettings)
    simulation: bool = False
    source: Path | None = None

    def secret(self, name: str, *, nbytes: int = 32) -> str:
        """A secret read from its 0600 file, created at first use: never in the repo or the image.

        Under systemd the web gets its one secret as a credential (``LoadCredential=`` in its unit,
        read by systemd as root into ``$CREDENTIALS_DIRECTORY``): the web's user cannot read the
        secrets folder at all, so a flaw in the web leaks no DHIS2 token, MQTT password or SSH key.
        """
        credentials = os.environ.get("CREDENTIALS_DIRECTORY")
        if credentials and (Path(credentials) / name).is_file():
            return (Path(credentials) / name).read_text(encoding="utf-8").strip()
        return read_or_create_secret(self.paths.secrets_dir / name, nbytes=nbytes)


def read_or_create_secret(path: Path, *, nbytes: int = 32) -> str:
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    return write_secret(path, secrets.token_urlsafe(nbytes))


def write_secret(path: Path, value: str) -> str:
    """Write a secret file readable by its owner only (0600 from creation, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomically(path, value + "\n", 0o600)
    return value


def load(path: Path | str | None = None) -> Config:
    """Read and validate the configuration file (``APPLIANCE_CONFIG`` or the default path)."""
    path = Path(path or os.environ.get(ENV_VAR) or DEFAULT_PATH)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} : fichier de configuration introuvable") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} : illisible ({exc})") from exc
    return loads(text, source=path)


def loads(text: str, *, source: Path | None = None) -> Config:
    where = str(source) if source else "configuration"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} : syntaxe TOML invalide : {exc}") from exc
    locator = TomlLines(text)
    config = _build(Config, raw, (), locator, where)
    errors = _validate_all(config)
    if errors:
        raise ConfigError("\n".join(f"{where} : {message}" for message in errors))
    return dataclasses.replace(config, source=source)


def _validate_all(section: Any) -> list[str]:
    errors = []
    if hasattr(section, "validate"):
        errors.extend(section.validate())
    for item in dataclasses.fields(section):
        value = getattr(section, item.name)
        if dataclasses.is_dataclass(value):
            errors.extend(_validate_all(value))
    return errors


_INTERNAL_FIELDS = {"source"}


def _build(cls: type, raw: dict[str, Any], keys: tuple[str, ...], locator: TomlLines, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {item.name: item for item in dataclasses.fields(cls) if item.name not in _INTERNAL_FIELDS}
    for key in raw:
        if key not in known:
            dotted = ".".join((*keys, key))
            raise ConfigError(
                f"{where}{locator.line_of(keys, key)} : clé inconnue « {dotted} » "
                f"(clés possibles : {', '.join(sorted(known)) or 'aucune'})"
            )
    values = {}
    for name, item in known.items():
        dotted = ".".join((*keys, name))
        if name not in raw:
            required = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
            if not required:
                continue
            target = hints[name]
            if dataclasses.is_dataclass(target) and _all_defaults(target):
                continue
            raise ConfigError(f"{where} : valeur obligatoire manquante « {dotted} »")
        values[name] = _coerce(hints[name], raw[name], (*keys, name), locator, where)
    try:
        return cls(**values)
    except TypeError as exc:  # a nested section missing its required keys
        raise ConfigError(f"{where} : section « {'.'.join(keys)} » incomplète ({exc})") from exc


def _all_defaults(cls: type) -> bool:
    return all(
        item.default is not dataclasses.MISSING or item.default_factory is not dataclasses.MISSING
        for item in dataclasses.fields(cls)
    )


_TYPE_NAMES = {str: "un texte", int: "un nombre entier", float: "un nombre", bool: "true ou false"}


def _coerce(target: Any, value: Any, keys: tuple[str, ...], locator: TomlLines, where: str) -> Any:
    dotted = ".".join(keys)
    line = locator.line_of(keys[:-1], keys[-1])

    def wrong(expected: str) -> ConfigError:
        return ConfigError(f"{where}{line} : « {dotted} » doit être {expected}, pas {value!r}")

    origin = typing.get_origin(target)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(target) if arg is not type(None)]
        return _coerce(options[0], value, keys, locator, where)
    if dataclasses.is_dataclass(target):
        if not isinstance(value, dict):
            raise wrong("une section [ ]")
        return _build(target, value, keys, locator, where)
    if origin is list:
        (item_type,) = typing.get_args(target)
        if not isinstance(value, list):
            raise wrong("une liste")
        return [_coerce(item_type, item, keys, locator, where) for item in value]
    if origin is dict:
        _, item_type = typing.get_args(target)
        if not isinstance(value, dict):
            raise wrong("une table")
        return {key: _coerce(item_type, item, keys, locator, where) for key, item in value.items()}
    if target is bool:
        if not isinstance(value, bool):
            raise wrong(_TYPE_NAMES[bool])
        return value
    if target is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong(_TYPE_NAMES[int])
        return value
    if target is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong(_TYPE_NAMES[float])
        return float(value)
    if target is str:
        if not isinstance(value, str):
            raise wrong(_TYPE_NAMES[str])
        return value
    if target is Path:
        if not isinstance(value, str) or not value or "\0" in value:
            raise wrong("un chemin")
        path = Path(value)
        if not path.is_absolute():
            raise ConfigError(f"{where}{line} : « {dotted} » doit être un chemin absolu, pas {value!r}")
        return path
    raise TypeError(f"unsupported config type {target!r} for {dotted}")


def dev_config_text(instance_dir: Path, *, port: int = 8080) -> str:
    """The configuration ``make run`` writes once under instance/: simulation, local paths."""
    return f"""# Configuration de développement, écrite par « make run ». Modifiable.
simulation = true

[site]
id = "demo-cscom"
name = "CSCom de démonstration (simulation)"

[paths]
data_dir = "{instance_dir / 'data'}"
secrets_dir = "{instance_dir / 'secrets'}"

[web]
host = "127.0.0.1"
port = {port}
"""
