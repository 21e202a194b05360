"""Serving the EMR with waitress: pure Python, small, and fine for a clinic's handful of phones."""

from __future__ import annotations

import logging

from waitress import serve as waitress_serve

from appliance.config import Config
from appliance.emr import create_app
from appliance.memory import return_large_blocks_to_the_system


def serve(cfg: Config) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return_large_blocks_to_the_system()
    app = create_app(cfg)
    try:
        waitress_serve(app, host=cfg.web.host, port=cfg.web.port, threads=cfg.web.threads,
                       ident="appliance", clear_untrusted_proxy_headers=True, channel_timeout=60)
    except KeyboardInterrupt:  # Ctrl-C in `make run` reaches every process of the group
        logging.getLogger(__name__).info("arrêt demandé")
