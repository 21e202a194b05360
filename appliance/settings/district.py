"""Settings of the ``[district]`` section: the health district's service that receives second-opinion
requests and sends answers and documents back. Its token is the secret file ``district_token``
(written by provisioning from ``appliance district add-clinic``), never in this file."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class DistrictSettings:
    # The district service's address, e.g. "https://district-segou.example.ml"; empty: no link
    # (the requests wait in the outbox until one is configured).
    url: str = ""
    connect_timeout_s: float = 20.0
    read_timeout_s: float = 60.0

    def validate(self) -> list[str]:
        errors = []
        if self.url:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                errors.append(f"district.url : adresse http(s) attendue, pas {self.url!r}")
        if not 1 <= self.connect_timeout_s <= 300 or not 1 <= self.read_timeout_s <= 600:
            errors.append("district : connect_timeout_s entre 1 et 300, read_timeout_s entre 1 et 600")
        return errors
