"""The ``[telemetry]`` section: where and how a clinic reports its health over MQTT.

The broker address, CA and per-clinic password come from provisioning: the password sits in
a 0600 file under the secrets directory, never in this file, the repository or the image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_TOPIC_LEVEL = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True)
class TelemetrySettings:
    enabled: bool = False
    broker_host: str = ""
    broker_port: int = 8883
    tls: bool = True
    # CA that signed the broker's certificate; None = the system's trust store.
    ca_file: Path | None = None
    # Optional client certificate (when the broker authenticates clinics by certificate too).
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    # MQTT user name; empty = the site id (the broker's ACL patterns rely on that).
    username: str = ""
    # File holding the clinic's broker password; None = <paths.secrets_dir>/mqtt_password.
    password_file: Path | None = None
    topic_prefix: str = "clinic"
    keepalive_s: int = 60
    connect_timeout_s: float = 30.0
    publish_timeout_s: float = 20.0
    reconnect_min_s: int = 2
    reconnect_max_s: int = 120
    # paho keeps unsent messages in RAM only; the bound keeps a dead link from eating memory.
    max_queued_messages: int = 50
    # false: connect only inside upload windows (the modem is off between them).
    always_connected: bool = False
    # Block device of the SD card, for the "bytes written today" figure.
    sd_device: str = "mmcblk0"

    def validate(self) -> list[str]:
        errors = []
        if self.enabled and not self.broker_host:
            errors.append("telemetry.broker_host : obligatoire quand telemetry.enabled = true")
        if not 1 <= self.broker_port <= 65535:
            errors.append("telemetry.broker_port : doit être entre 1 et 65535")
        if not _TOPIC_LEVEL.fullmatch(self.topic_prefix):
            errors.append("telemetry.topic_prefix : lettres, chiffres, « - » ou « _ » (1 à 32)")
        if not 2 <= self.keepalive_s <= 1200:
            errors.append("telemetry.keepalive_s : entre 2 et 1200 secondes")
        if self.connect_timeout_s <= 0 or self.publish_timeout_s <= 0:
            errors.append("telemetry : connect_timeout_s et publish_timeout_s doivent être positifs")
        if not 1 <= self.reconnect_min_s <= self.reconnect_max_s:
            errors.append("telemetry : il faut 1 ≤ reconnect_min_s ≤ reconnect_max_s")
        if not 1 <= self.max_queued_messages <= 10000:
            errors.append("telemetry.max_queued_messages : entre 1 et 10000")
        if (self.client_cert_file is None) != (self.client_key_file is None):
            errors.append("telemetry : client_cert_file et client_key_file vont ensemble")
        if not re.fullmatch(r"[A-Za-z0-9]{1,32}", self.sd_device):
            errors.append("telemetry.sd_device : un nom de périphérique comme « mmcblk0 »")
        return errors
