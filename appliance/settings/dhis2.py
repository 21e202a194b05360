"""Settings of the ``[dhis2]`` section. No secret here: the token and password live in 0600 files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ZERO_POLICIES = ("all", "changes")
UID = re.compile(r"[a-zA-Z][a-zA-Z0-9]{10}")
# The mapping shipped for the demo and the tests (a data file of appliance.dhis2, named here by path
# so the settings stay below every package that reads them).
DEMO_MAPPING = Path(__file__).parent.parent / "dhis2" / "data" / "demo_mapping.toml"


def is_uid(value: object) -> bool:
    """A DHIS2 UID: 11 characters, a letter then letters or digits."""
    return isinstance(value, str) and UID.fullmatch(value) is not None


@dataclass(frozen=True)
class Dhis2Settings:
    # Empty: DHIS2 not configured yet; sealed reports wait in the outbox until it is.
    base_url: str = ""
    # File holding the personal access token (``d2pat_…``); default <paths.secrets_dir>/dhis2_token.
    token_file: Path | None = None
    # Basic authentication, used only when there is no token file.
    username: str = ""
    password_file: Path | None = None  # default <paths.secrets_dir>/dhis2_password
    mapping_file: Path = DEMO_MAPPING
    # The site's own identifiers; empty = the mapping file's.
    data_set: str = ""
    org_unit: str = ""
    attribute_option_combo: str = ""
    connect_timeout_s: float = 20.0
    read_timeout_s: float = 120.0  # an import of a few hundred values can take a while on a busy server
    # DHIS2 detects a gzip body by its magic bytes (StreamUtils.wrapAndCheckCompressionFormat), so a
    # gzipped body works with or without the header; a proxy that refuses Content-Encoding answers 415.
    gzip_requests: bool = True
    content_encoding_header: bool = True
    # "all": every mapped cell, zeros included (the report is the whole truth for its month);
    # "changes": non-zero cells plus zeros for cells that were non-zero in an earlier version.
    zeros: str = "all"
    complete_data_set: bool = True  # send completeDate: DHIS2 marks the month's data set as complete

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    def token_path(self, secrets_dir: Path) -> Path:
        return self.token_file or secrets_dir / "dhis2_token"

    def password_path(self, secrets_dir: Path) -> Path:
        return self.password_file or secrets_dir / "dhis2_password"

    def validate(self) -> list[str]:
        errors = []
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            errors.append(f"dhis2.base_url : doit commencer par https:// (ou http://), pas {self.base_url!r}")
        if self.base_url.rstrip("/").endswith("/api"):
            errors.append(
                "dhis2.base_url : l'adresse du serveur sans « /api » (ex. https://dhis2.sante.gov.ml)"
            )
        for key in ("data_set", "org_unit", "attribute_option_combo"):
            value = getattr(self, key)
            if value and not is_uid(value):
                errors.append(
                    f"dhis2.{key} : UID DHIS2 attendu (11 caractères, une lettre puis lettres et "
                    f"chiffres), pas {value!r}"
                )
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0:
            errors.append("dhis2 : connect_timeout_s et read_timeout_s doivent être positifs")
        if self.zeros not in ZERO_POLICIES:
            errors.append(f"dhis2.zeros : « all » ou « changes », pas {self.zeros!r}")
        if not self.mapping_file.is_file():
            errors.append(f"dhis2.mapping_file : fichier introuvable {self.mapping_file}")
        return errors
