"""The district service's API over http.client: bearer token, gzip request bodies, bytes counted
(the 3G budget), strict time-outs. Any failure to get a reply is a ``LinkDown``."""

from __future__ import annotations

import gzip
import http.client
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from appliance.settings.district import DistrictSettings

TOKEN_FILE = "district_token"


class LinkDown(RuntimeError):
    """No reply from the district (refused, unreachable, time-out, cut): try at the next window."""

    def __init__(self, message: str, bytes_sent: int = 0) -> None:
        super().__init__(message)
        self.bytes_sent = bytes_sent


class NoToken(RuntimeError):
    """The box has no district token: a person must provision it."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict
    bytes_sent: int
    bytes_received: int


def read_token(secrets_dir: Path) -> str:
    path = secrets_dir / TOKEN_FILE
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise NoToken(f"{path} : jeton du district absent "
                      "(appliance district add-clinic, puis provisionnement)") from exc
    if not token:
        raise NoToken(f"{path} : jeton du district vide")
    return token


class DistrictClient:
    def __init__(self, settings: DistrictSettings, token: str) -> None:
        parts = urlsplit(settings.url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._token = token
        self._settings = settings

    def post_message(self, envelope: bytes) -> Reply:
        return self._request("POST", "/api/v1/messages", gzip.compress(envelope, mtime=0))

    def inbox(self, after: int) -> Reply:
        return self._request("GET", "/api/v1/inbox?" + urlencode({"after": after}), None)

    def _request(self, method: str, path: str, body: bytes | None) -> Reply:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                   "User-Agent": "clinic-appliance"}
        if body is not None:
            headers |= {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        head = f"{method} {self._prefix}{path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sent = len(head) + 2 + len(body or b"")
        if self._https:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._settings.connect_timeout_s, context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._settings.connect_timeout_s)
        try:
            conn.connect()
            conn.sock.settimeout(self._settings.read_timeout_s)
            conn.request(method, self._prefix + path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            received = len(raw) + sum(len(k) + len(v) + 4 for k, v in response.getheaders()) + 17
        except (OSError, http.client.HTTPException) as exc:
            raise LinkDown(f"district injoignable ({exc})", bytes_sent=sent) from exc
        finally:
            conn.close()
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError:
            parsed = {"message": raw[:200].decode("utf-8", "replace")}
        return Reply(response.status, parsed if isinstance(parsed, dict) else {}, sent, received)
