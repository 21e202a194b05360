"""The agent's figures: memory after start-up and CPU while idle, as systemd runs it.

``agent_rss_mb``: resident memory of ``python -m appliance.agent`` (the unit's command) in
simulation, once it has told systemd READY (over a real notify socket) and settled; the larger
of that and the value at the end of the idle period. ``agent_idle_cpu_pct``: user + system CPU
of the process over the idle period (60 s; ``AGENT_BENCH_IDLE_S`` shortens it for a quick local
look), as a percentage of one core. ``agent_rss_after_window_mb``: the same process after its
first upload window (a catch-up, arranged by recording an old last window), which loads the
outbox and its senders. Budgets (read by people, not asserted): ≤ 40 MB, < 1 %.

``web_plus_agent_rss_mb`` is measured by the web's bench (the web at 100k patients plus this
agent): start both processes on the same configuration and add their VmRSS, or better their Pss
from /proc/<pid>/smaps_rollup, which does not count shared library pages twice.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.bench.support import rss_mb, write_config

IDLE_S = float(os.environ.get("AGENT_BENCH_IDLE_S", "60"))
SETTLE_S = 3.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, system = int(fields[11]), int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return (user + system) / os.sysconf("SC_CLK_TCK")


def wait_ready(sock: socket.socket, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the agent stopped: {process.stderr.read().decode()}")
        try:
            if sock.recv(4096).startswith(b"READY=1"):
                return
        except TimeoutError:
            continue
    raise RuntimeError("the agent never said READY")


def arrange_catch_up(config_path: Path) -> None:
    """Record a last window two days ago: the agent will run one catch-up window right away."""
    from appliance import config as config_module
    from appliance.agent.state import StateStore
    from appliance.store import open_and_migrate

    db = open_and_migrate(config_module.load(config_path).paths.database)
    StateStore().set_last_window_at(datetime.now(UTC) - timedelta(days=2))
    db.close()


def window_done(config_path: Path, timeout: float = 60) -> bool:
    from appliance import config as config_module

    database = config_module.load(config_path).paths.database
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as connection:
            if connection.execute("SELECT COUNT(*) FROM upload_window").fetchone()[0]:
                return True
        time.sleep(0.5)
    return False


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        config_path = write_config(Path(tmp))
        with config_path.open("a", encoding="utf-8") as handle:
            handle.write(f"\n[uploads]\ncatch_up_delay_s = {int(SETTLE_S + IDLE_S + 2)}\n")
        arrange_catch_up(config_path)
        notify = Path(tmp) / "notify"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(notify))
        sock.settimeout(0.5)
        env = {**os.environ, "NOTIFY_SOCKET": str(notify), "APPLIANCE_CONFIG": str(config_path)}
        process = subprocess.Popen([sys.executable, "-m", "appliance.agent", "--config", str(config_path)],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_ready(sock, process)
            time.sleep(SETTLE_S)
            memory = rss_mb(process.pid)
            before, started = cpu_seconds(process.pid), time.monotonic()
            time.sleep(IDLE_S)
            used, elapsed = cpu_seconds(process.pid) - before, time.monotonic() - started
            memory = max(memory, rss_mb(process.pid))
            after_window = rss_mb(process.pid) if window_done(config_path) else None
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
            sock.close()
    return {"agent_rss_mb": memory, "agent_idle_cpu_pct": round(100 * used / elapsed, 2),
            "agent_rss_after_window_mb": after_window}


if __name__ == "__main__":
    print(run())
