"""Serving the EMR with waitress, with the limits that keep one phone from stopping the clinic.

Anyone on the clinic's WiFi can reach the port. Waitress's own adjustments bound what a
client costs (measured by tests/bench/bench_abuse.py, the RAM against nginx in docs/security.md):

- ``max_request_body_size``: a body larger than the app accepts is refused (413) from its
  Content-Length, before a byte of it is read, instead of being spooled to the Pi's small /tmp;
  the refusal is the app's own French « Fichier trop gros » page, rendered once at start;
- ``channel_timeout`` (checked every ``cleanup_interval``): a silent or half-open connection
  is closed after the client timeout;
- ``connection_limit``: the total of open connections, and here a share per client address
  (``CONNECTIONS_PER_CLIENT``, more than a browser opens): the connections beyond it are
  closed at once, so a hundred half-open sockets from one phone leave the others room.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask
from werkzeug.exceptions import RequestEntityTooLarge

from appliance.config import Config
from appliance.emr import create_app
from appliance.memory import return_large_blocks_to_the_system

CONNECTIONS_PER_CLIENT = 12  # Chromium opens up to 6 per host; a shared phone, two tabs
CONNECTION_LIMIT = 100
BODY_MARGIN = 64 * 1024
LOG_EVERY_S = 60  # the multipart envelope around the largest accepted file

log = logging.getLogger(__name__)


def make_server(app, cfg: Config):
    """The waitress server for ``app`` with the clinic's limits (also used by the tests)."""
    timeout = cfg.web.client_timeout_s
    server = create_server(
        app, host=cfg.web.host, port=cfg.web.port, threads=cfg.web.threads, ident="appliance",
        clear_untrusted_proxy_headers=True, channel_timeout=timeout, cleanup_interval=max(1, timeout // 2),
        connection_limit=CONNECTION_LIMIT, max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + BODY_MARGIN,
        max_request_header_size=32 * 1024,
    )
    server.channel_class = _per_client_channel(server, _channel_refusing_in_french(app))
    return server


def _channel_refusing_in_french(app) -> type[HTTPChannel]:
    """Waitress's channel whose 413 (a body over the limit, refused before it is read) is the app's own
    French page with its security headers, not waitress's English text: staff sending a phone photo
    without JavaScript learn why, and nothing was stored."""
    with app.test_request_context("/"):
        response = app.process_response(app.make_response(app.handle_http_exception(RequestEntityTooLarge())))
    body = response.get_data()
    headers = [(name, value) for name, value in response.headers.items() if name.lower() != "content-length"]

    class FrenchErrorTask(ErrorTask):
        def execute(self):
            if getattr(self.request.error, "code", None) != 413:
                return super().execute()
            self.status = "413 Request Entity Too Large"
            self.response_headers.extend(headers)
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)
            return None

    return type("ClinicChannel", (HTTPChannel,), {"error_task_class": FrenchErrorTask})


def _per_client_channel(server, channel_class: type[HTTPChannel]):
    """A channel factory that closes a client's connections beyond its share."""
    warned: dict[str, float] = {}

    def make_channel(srv, conn, addr, adj, map=None):
        client = addr[0] if isinstance(addr, tuple) else addr
        open_now = Counter(getattr(channel, "addr", ("",))[0] for channel in list(map.values())
                           if isinstance(channel, HTTPChannel))
        if open_now[client] >= CONNECTIONS_PER_CLIENT:
            conn.close()
            # once a minute per client: an attacker reconnecting in a loop must not flood the
            # journal (nor block this loop on a full log pipe)
            now = time.monotonic()
            if now - warned.get(client, -LOG_EVERY_S) >= LOG_EVERY_S:
                if len(warned) > 256:
                    warned.clear()
                warned[client] = now
                log.warning("trop de connexions depuis %s : connexions en trop fermées", client)
            return None
        return channel_class(srv, conn, addr, adj, map=map)

    return make_channel


def serve(cfg: Config) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return_large_blocks_to_the_system()
    server = make_server(create_app(cfg), cfg)
    try:
        server.run()
    except KeyboardInterrupt:  # Ctrl-C in `make run` reaches every process of the group
        log.info("arrêt demandé")
