"""A front that holds when someone on the WiFi abuses it (issue 16): huge bodies, half-open and slow
connections, one phone opening many — against the real waitress server built as in production."""

import dataclasses
import select
import socket
import threading
import time
import urllib.request

import pytest

from appliance.emr.server import CONNECTIONS_PER_CLIENT, make_server
from tests.conftest import free_port


@pytest.fixture
def front(app, cfg):
    web = dataclasses.replace(cfg.web, host="127.0.0.1", port=free_port(), client_timeout_s=2)
    server = make_server(app, dataclasses.replace(cfg, web=web))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield web.port
    server.close()
    thread.join(timeout=5)


def _connect(port: int, source: str) -> socket.socket:
    """A connection from another address of the hotspot (any 127.x is ours on loopback)."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def _staff_can_log_in(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/connexion", timeout=10) as reply:
        return reply.status == 200 and b"Connexion" in reply.read()


def test_a_huge_body_is_refused_from_its_length_before_it_is_read(front):
    sock = _connect(front, "127.0.0.2")
    sock.sendall(b"POST /connexion HTTP/1.1\r\nHost: clinique\r\nContent-Type: application/octet-stream\r\n"
                 b"Content-Length: 943718400\r\n\r\n" + b"x" * 65536)
    sock.settimeout(10)
    reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")  # after 64 KB of the 900 MB announced
    sock.close()


def test_half_open_connections_from_one_phone_leave_the_clinic_served(front):
    attacker = []
    for _ in range(150):
        try:
            sock = _connect(front, "127.0.0.3")
            sock.sendall(b"GET / HTTP/1.1\r\nHost: clinique\r\n")  # never finished
            attacker.append(sock)
        except OSError:
            break
    time.sleep(0.5)
    assert _staff_can_log_in(front)
    for sock in attacker:
        sock.close()


def test_a_phone_gets_only_its_share_of_connections(front):
    socks = [_connect(front, "127.0.0.4") for _ in range(CONNECTIONS_PER_CLIENT + 8)]
    time.sleep(0.5)  # well within the 2 s client timeout of this server
    readable, _, _ = select.select(socks, [], [], 0.2)
    closed = [sock for sock in readable if sock.recv(1) == b""]
    assert len(closed) == 8
    for sock in socks:
        sock.close()


def test_a_silent_connection_is_closed_after_the_client_timeout(front):
    sock = _connect(front, "127.0.0.5")
    sock.sendall(b"GET /connexion HTTP/1.1\r\nHost: clin")  # a slow client, then nothing
    sock.settimeout(15)
    assert sock.recv(1) == b""  # closed by the server, not left holding a thread or a slot
    sock.close()
