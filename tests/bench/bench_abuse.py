"""Abuse soak (issue 16): staff keep working while one phone holds half-open and slow connections
and another runs a password-guessing loop. Key: ``abuse_staff_p95_ms`` (budget <= 50 ms here)."""

from __future__ import annotations

import re
import socket
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from tests.bench.support import Session, p95, rss_mb, web_with_one_doctor

SOAK_S = 20


def _half_open(port: int, source: str, count: int, stop: threading.Event) -> None:
    """Connections that start a request and never finish it, reopened as the server closes them."""
    socks: list[socket.socket] = []
    while not stop.is_set():
        while len(socks) < count and not stop.is_set():
            try:
                sock = socket.socket()
                sock.bind((source, 0))
                sock.connect(("127.0.0.1", port))
                sock.sendall(b"GET / HTTP/1.1\r\nHost: clinique\r\nX-Slow: ")
                socks.append(sock)
            except OSError:
                break
        for sock in list(socks):  # a byte now and then: a slow client, not only a silent one
            try:
                sock.sendall(b"a")
            except OSError:
                sock.close()
                socks.remove(sock)
        stop.wait(1.0)
    for sock in socks:
        sock.close()


def _guessing(port: int, stop: threading.Event, counter: list[int]) -> None:
    while not stop.is_set():
        try:
            guesser = Session(port)
            _, page, _ = guesser.request("GET", "/connexion")
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
            while not stop.is_set():
                guesser.request("POST", "/connexion", urlencode(
                    {"csrf_token": token, "username": "bench", "password": f"essai{counter[0]}"}))
                counter[0] += 1
        except OSError:
            time.sleep(0.1)


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp, web_with_one_doctor(Path(tmp)) as (port, process, staff):
        quiet = [staff.request("GET", "/")[2] for _ in range(100)]
        stop = threading.Event()
        guesses = [0]
        attackers = [threading.Thread(target=_half_open, args=(port, "127.0.0.2", 150, stop)),
                     threading.Thread(target=_half_open, args=(port, "127.0.0.3", 20, stop)),
                     threading.Thread(target=_guessing, args=(port, stop, guesses))]
        for thread in attackers:
            thread.start()
        time.sleep(2)
        timings, failures = [], 0
        deadline = time.monotonic() + SOAK_S
        while time.monotonic() < deadline:
            for path in ("/", "/patients/?q=traore"):
                try:
                    status, _, elapsed = staff.request("GET", path)
                except OSError as exc:
                    print("   staff request failed:", path, exc)
                    failures += 1
                    staff = Session(port)
                    continue
                if status != 200:
                    print("   staff request answered", status, path)
                    failures += 1
                timings.append(elapsed)
            time.sleep(0.05)
        memory = rss_mb(process.pid)
        stop.set()
        for thread in attackers:
            thread.join(timeout=10)
    return {
        "abuse_staff_p95_ms": p95(timings),
        "abuse_staff_quiet_p95_ms": p95(quiet),
        "abuse_staff_failures": failures,
        "abuse_staff_requests": len(timings),
        "abuse_guesses_answered": guesses[0],
        "abuse_web_rss_mb": memory,
    }
