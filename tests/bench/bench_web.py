"""Foundation figures: the web process's memory and the login page's latency."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from tests.bench.support import Session, p95, rss_mb, web_with_one_doctor


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp, web_with_one_doctor(Path(tmp)) as (port, process, session):
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
