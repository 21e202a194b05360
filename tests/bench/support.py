"""Helpers shared by bench scripts: a real server process, its memory, latency percentiles."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

BUILD = Path(__file__).resolve().parents[2] / "build" / "bench"
BENCH_USER = "bench"
BENCH_PASSWORD = "bench-pass-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(directory: Path, *, data_dir: Path | None = None, port: int | None = None) -> Path:
    from appliance.config import dev_config_text

    directory.mkdir(parents=True, exist_ok=True)
    text = dev_config_text(directory, port=port or free_port())
    if data_dir is not None:
        text = text.replace(f'data_dir = "{directory / "data"}"', f'data_dir = "{data_dir}"')
    path = directory / "appliance.toml"
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def web_process(config_path: Path, port: int):
    """``appliance web`` as its own process, as systemd runs it on the Pi."""
    env = {**os.environ, "APPLIANCE_CONFIG": str(config_path)}
    process = subprocess.Popen([sys.executable, "-m", "appliance", "web", "--config", str(config_path)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(process.stderr.read().decode()) from None
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def web_with_one_doctor(directory: Path):
    """A fresh site in ``directory`` with one médecin (``BENCH_USER``/``BENCH_PASSWORD``) and its
    web process started; yields (port, process) and a warm, logged-in staff session."""
    from appliance import config as config_module
    from appliance.accounts import create_user
    from appliance.store import open_and_migrate
    from appliance.store.audit import system_actor

    port = free_port()
    config_path = write_config(directory, port=port)
    db = open_and_migrate(config_module.load(config_path).paths.database)
    create_user(system_actor("bench"), username=BENCH_USER, first_name="B", last_name="B", role="medecin",
                password=BENCH_PASSWORD, must_change_password=False)
    db.close()
    with web_process(config_path, port) as process:
        staff = Session(port)
        staff.login(BENCH_USER, BENCH_PASSWORD)
        for _ in range(20):  # warm-up
            staff.request("GET", "/")
        yield port, process, staff


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024, 1)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2)


class Session:
    """A keep-alive HTTP client that logs in like a browser (cookie + CSRF token)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str, float]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        elapsed = (time.perf_counter() - started) * 1000
        for cookie in response.msg.get_all("Set-Cookie") or []:  # the session and the device cookie
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name] = value
        self.cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        return response.status, text, elapsed

    def login(self, username: str, password: str) -> None:
        from urllib.parse import urlencode

        _, page, _ = self.request("GET", "/connexion")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        status, _, _ = self.request("POST", "/connexion", urlencode(
            {"csrf_token": token, "username": username, "password": password}))
        if status != 302:
            raise RuntimeError(f"login failed: {status}")
