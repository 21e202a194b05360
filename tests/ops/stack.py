"""The ops server's real parts for tests and benches, each on a free loopback port in a test folder:
the fleet exporter (``appliance fleet exporter``, a process as systemd runs it), Debian's Prometheus and
Alertmanager configured from the Ansible roles' own templates, and a local SMTP server that keeps what
Alertmanager sends."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jinja2
import yaml

from tests.telemetry.mosquitto import OPS_PASSWORD, OPS_USER, free_port

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "ansible" / "roles"
ALERT_RULES = ROLES / "prometheus" / "files" / "fleet-alerts.yml"
ALERTMANAGER = "prometheus-alertmanager"  # Debian's name for the alertmanager binary


def ops_tools_available() -> bool:
    return all(shutil.which(tool) for tool in ("prometheus", "promtool", ALERTMANAGER, "amtool", "mosquitto"))


def render_role_template(role: str, template: str, **overrides: Any) -> str:
    """A role's Jinja template with its defaults and the test's values (what Ansible would write)."""
    values = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    values.update(overrides)
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLES / role / "templates"),
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.get_template(template).render(**values)


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited ({process.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


class Service:
    """A process with its log file, stopped with SIGTERM (then SIGKILL) by its own pid."""

    def __init__(self, name: str, command: list[str], workdir: Path, port: int) -> None:
        self.name = name
        self.port = port
        self.log = workdir / f"{name}.log"
        self._log_stream = self.log.open("wb")
        self.process = subprocess.Popen(command, stdout=self._log_stream, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            wait_for_port(port, self.process, self.log)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_stream.close()

    def get(self, path: str, timeout: float = 30) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as response:
            return response.read()


def write_inventory(path: Path, sites: dict[str, tuple[str, str]]) -> Path:
    path.write_text("site_id,district,region\n" + "".join(
        f"{site},{district},{region}\n" for site, (district, region) in sites.items()), encoding="utf-8")
    return path


def start_exporter(workdir: Path, broker_port: int, inventory: Path) -> Service:
    """``appliance fleet exporter`` as the unit runs it (password in a file, inventory checked at start)."""
    workdir.mkdir(parents=True, exist_ok=True)
    password = workdir / "mqtt_password"
    password.write_text(OPS_PASSWORD + "\n")
    port = free_port()
    return Service("exporter", [sys.executable, "-m", "appliance", "fleet", "exporter", "--broker", "127.0.0.1",
                                "--port", str(broker_port), "--no-tls", "--username", OPS_USER,
                                "--password-file", str(password), "--inventory", str(inventory),
                                "--listen", f"127.0.0.1:{port}"], workdir, port)


def start_prometheus(workdir: Path, *, targets: dict[str, str], rules: str | None = None,
                     alertmanager_port: int | None = None, interval: str = "1s",
                     scrape_timeout: str | None = None) -> Service:
    """Debian's Prometheus with the role's prometheus.yml (jobs renamed/added for the test's targets)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    rules_dir = workdir / "rules"
    rules_dir.mkdir(exist_ok=True)
    (rules_dir / "fleet-alerts.yml").write_text(rules if rules is not None else "groups: []\n")
    config = yaml.safe_load(render_role_template(
        "prometheus", "prometheus.yml.j2", prometheus_scrape_interval=interval,
        prometheus_evaluation_interval=interval, prometheus_rules_dir=str(rules_dir),
        prometheus_listen=f"127.0.0.1:{port}", prometheus_exporter_target=targets.get("fleet-exporter", ""),
        prometheus_alertmanager_target=f"127.0.0.1:{alertmanager_port or free_port()}"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    config["scrape_configs"] = []
    for name, target in targets.items():
        job = dict(jobs.get(name, {"job_name": name}))
        job.update(static_configs=[{"targets": [target]}], scrape_timeout=scrape_timeout or interval)
        config["scrape_configs"].append(job)
    if alertmanager_port is None:
        config.pop("alerting")
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    check = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        raise RuntimeError(check.stdout + check.stderr)
    service = Service("prometheus", ["prometheus", f"--config.file={path}", f"--storage.tsdb.path={workdir / 'data'}",
                                     f"--web.listen-address=127.0.0.1:{port}", "--rules.alert.resend-delay=1s",
                                     "--log.level=warn"], workdir, port)
    deadline = time.monotonic() + 30
    while True:  # the port opens before the TSDB is ready (503 until then)
        try:
            service.get("/-/ready")
            return service
        except OSError:
            if time.monotonic() > deadline:
                service.stop()
                raise
            time.sleep(0.1)


def query(prometheus: Service, expression: str) -> list[dict]:
    from urllib.parse import quote

    answer = json.loads(prometheus.get(f"/api/v1/query?query={quote(expression)}"))
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def start_alertmanager(workdir: Path, smtp_port: int, *, email_to: list[str], sms_to: list[str],
                       group_wait: str, group_interval: str) -> Service:
    """Debian's Alertmanager with the role's configuration and message templates, amtool-checked."""
    workdir.mkdir(parents=True, exist_ok=True)
    templates = workdir / "templates"
    templates.mkdir(exist_ok=True)
    shutil.copy(ROLES / "alertmanager" / "files" / "fleet.tmpl", templates / "fleet.tmpl")
    port = free_port()
    path = workdir / "alertmanager.yml"
    path.write_text(render_role_template(
        "alertmanager", "alertmanager.yml.j2", alertmanager_smtp_smarthost=f"127.0.0.1:{smtp_port}",
        alertmanager_smtp_require_tls=False, alertmanager_email_to=email_to, alertmanager_sms_to=sms_to,
        alertmanager_group_wait=group_wait, alertmanager_group_interval=group_interval,
        alertmanager_repeat_interval="1h", alertmanager_templates_dir=str(templates)))
    check = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        raise RuntimeError(check.stdout + check.stderr)
    return Service("alertmanager", [ALERTMANAGER, f"--config.file={path}", f"--storage.path={workdir / 'data'}",
                                    f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
                                    "--log.level=warn"], workdir, port)


@dataclass
class Mail:
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


@dataclass
class SmtpSink:
    """A loopback SMTP server (aiosmtpd) that keeps every message it accepts."""

    mails: list[Mail] = field(default_factory=list)

    def __post_init__(self) -> None:
        from aiosmtpd.controller import Controller

        self._lock = threading.Lock()
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.mails.append(Mail(list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def received(self) -> list[Mail]:
        with self._lock:
            return list(self.mails)

    def stop(self) -> None:
        self._controller.stop()
