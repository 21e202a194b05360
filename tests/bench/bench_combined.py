"""The standing memory budget: web + agent together under 120 MB RSS on 100,000 patients.

Both run as their own processes on a copy of the cached 100k database, as systemd runs them on
the Pi; the web is warmed by searches, charts and worklists first so its caches are full.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

from tests.bench.bench_patients import patients_100k_database
from tests.bench.support import BUILD, Session, free_port, rss_mb, web_process, write_config

AGENT_SETTLE_S = 15


def run() -> dict:
    cached, meta = patients_100k_database()
    work = BUILD / "combined-100k-run"
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    shutil.copy2(cached, work / "data" / "appliance.db")
    port = free_port()
    config = write_config(work, data_dir=work / "data", port=port)
    env = {**os.environ, "APPLIANCE_CONFIG": str(config)}
    with web_process(config, port) as web:
        agent = subprocess.Popen([sys.executable, "-m", "appliance.agent", "--config", str(config), "--simulate"],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            session = Session(port)
            session.login("medecin", meta["credentials"]["medecin"])
            for path in ("/", "/patients/?q=traore", "/patients/?q=coulibaly", "/patients/1", "/patients/2",
                         "/a-revoir", "/alertes", "/rapports/"):
                for _ in range(5):
                    session.request("GET", path)
            time.sleep(AGENT_SETTLE_S)
            web_mb, agent_mb = rss_mb(web.pid), rss_mb(agent.pid)
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=30)
    return {
        "web_rss_mb_warm_100k": web_mb,
        "agent_rss_mb_100k": agent_mb,
        "web_plus_agent_rss_mb": round(web_mb + agent_mb, 1),
    }
