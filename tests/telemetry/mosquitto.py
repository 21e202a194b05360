"""A real Mosquitto for tests and benches: own config, free loopback port, no system service.

Also the helpers around it: a test PKI made with openssl, a password file hashed by
mosquitto_passwd, and a recording subscriber.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

OPS_USER = "fleet-ops"
OPS_PASSWORD = "ops-secret"
# Clinics write only below their own site id (= MQTT user name); ops read everything.
CLINIC_ACL = f"""pattern write clinic/%u/#

user {OPS_USER}
topic read clinic/#
"""


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(directory: Path, *, server_ips: tuple[str, ...] = ("127.0.0.1",)) -> Pki:
    """A throw-away CA (EC P-256), a server certificate for ``server_ips``/localhost and a client one."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=30)

    def new_key(name: str) -> None:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key")

    new_key("ca")
    openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=Test clinic CA", "-days", "2",
            "-out", "ca.crt")
    names = ",".join([*(f"IP:{address}" for address in server_ips), "DNS:localhost"])
    (directory / "server.ext").write_text(f"subjectAltName={names}\n")
    (directory / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, subject in (("server", "/CN=localhost"), ("client", "/CN=ml-tls-test")):
        new_key(name)
        openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt")
    return Pki(directory / "ca.crt", directory / "server.crt", directory / "server.key",
               directory / "client.crt", directory / "client.key")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mosquitto:
    """``with Mosquitto(tmp, users={...}, acl=CLINIC_ACL) as broker: broker.port``."""

    def __init__(self, workdir: Path, *, users: dict[str, str] | None = None, acl: str | None = None,
                 pki: Pki | None = None, require_client_cert: bool = False) -> None:
        self.workdir = workdir
        self.users = users
        self.acl = acl
        self.pki = pki
        self.require_client_cert = require_client_cert
        self.port = 0
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "user root",
                 f"log_dest file {self.workdir / 'mosquitto.log'}", "log_type error", "log_type warning",
                 "log_type notice", "max_queued_messages 100000", "max_inflight_messages 100"]
        if self.users is None:
            lines.append("allow_anonymous true")
        else:
            passwords = self.workdir / "passwd"
            passwords.write_text("".join(f"{user}:{password}\n" for user, password in self.users.items()))
            subprocess.run(["mosquitto_passwd", "-U", str(passwords)], check=True, capture_output=True, timeout=120)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        if self.acl is not None:
            acl_file = self.workdir / "acl"
            acl_file.write_text(self.acl)
            lines.append(f"acl_file {acl_file}")
        if self.pki is not None:
            lines += [f"cafile {self.pki.ca_cert}", f"certfile {self.pki.server_cert}",
                      f"keyfile {self.pki.server_key}",
                      f"require_certificate {'true' if self.require_client_cert else 'false'}"]
        path = self.workdir / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> None:
        for _attempt in range(3):
            self.port = free_port()
            config = self._write_config()
            self._process = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL,
                                             stderr=subprocess.PIPE)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self._process.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    return
                except OSError:
                    time.sleep(0.05)
            self.stop()
        raise RuntimeError(f"mosquitto did not start: {self.log()}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stderr:
                self._process.stderr.close()
            self._process = None

    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""


def mosquitto_available() -> bool:
    return all(shutil.which(tool) for tool in ("mosquitto", "mosquitto_passwd", "openssl"))


class Recorder:
    """A subscriber that keeps every message it gets and lets a test wait for one."""

    def __init__(self, port: int, *, topics: tuple[str, ...] = ("clinic/#",), username: str | None = None,
                 password: str | None = None, client_id: str = "recorder", ca_cert: Path | None = None) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.granted: list[int] = []
        self._condition = threading.Condition()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if username:
            self._client.username_pw_set(username, password)
        if ca_cert is not None:
            self._client.tls_set(ca_certs=str(ca_cert))
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_connect = lambda client, *_: client.subscribe([(name, 1) for name in topics])
        self._client.connect("127.0.0.1", port, keepalive=30)
        self._client.loop_start()
        self.wait_for(lambda: bool(self.granted), timeout=10, what="SUBACK")

    def _on_message(self, client, userdata, message) -> None:
        with self._condition:
            self.messages.append(message)
            self._condition.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self._condition:
            self.granted = [code.value for code in reason_codes]
            self._condition.notify_all()

    def payloads(self, name: str) -> list[bytes]:
        with self._condition:
            return [message.payload for message in self.messages if message.topic == name]

    def wait_for(self, predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
        with self._condition:
            if not self._condition.wait_for(predicate, timeout=timeout):
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def wait_for_payload(self, name: str, payload: bytes, *, timeout: float = 10) -> None:
        self.wait_for(lambda: payload in self.payloads(name), timeout=timeout, what=f"{payload!r} on {name}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
