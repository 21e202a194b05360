"""Foundation figures: the web process's memory and the login page's latency."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from tests.bench.support import Session, free_port, p95, rss_mb, web_process, write_config

PASSWORD = "bench-pass-1"


def run() -> dict:
    from appliance import config as config_module
    from appliance.accounts import create_user
    from appliance.store import open_and_migrate
    from appliance.store.audit import system_actor

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config_path = write_config(Path(tmp), port=port)
        cfg = config_module.load(config_path)
        db = open_and_migrate(cfg.paths.database)
        create_user(system_actor("bench"), username="bench", first_name="B", last_name="B", role="medecin",
                    password=PASSWORD, must_change_password=False)
        db.close()
        with web_process(config_path, port) as process:
            session = Session(port)
            session.login("bench", PASSWORD)
            for _ in range(20):  # warm-up
                session.request("GET", "/")
            anonymous = Session(port)
            timings = [anonymous.request("GET", "/connexion")[2] for _ in range(200)]
            for _ in range(100):
                session.request("GET", "/")
            memory = rss_mb(process.pid)
    return {
        "web_rss_mb": memory,
        "login_page_p95_ms": p95(timings),
        "sqlite_version": sqlite3.sqlite_version,
    }
