"""A small DHIS2 Web API client on http.client: gzip both ways, bytes counted, strict time-outs.

The standard library is enough here and keeps ~10 MB of ``requests``/urllib3 off a 512 MB Pi.
Bytes on the wire are counted at the HTTP level: request line, headers and body as sent (gzipped),
status line, headers and body as received (still compressed). Chunk framing and TLS (records and
the handshake, a few kB per new connection) are not counted; the connection is kept alive across
one flush to pay the handshake once.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import ssl
import time
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from appliance.dhis2.payload import gzip_bytes
from appliance.settings.dhis2 import Dhis2Settings

USER_AGENT = "clinic-in-a-box/0.1 (+https://github.com/; DHIS2 monthly reports)"


class CredentialsError(RuntimeError):
    """No usable DHIS2 credentials on this box; the message says which file to provision."""


class TransportError(RuntimeError):
    """The exchange did not complete: no reply, or a reply cut short. Always worth retrying.

    ``kind``: timeout, connection (refused, unreachable, DNS), reset, truncated, tls, protocol.
    """

    def __init__(self, kind: str, message: str, *, bytes_sent: int = 0, bytes_received: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.bytes_sent = bytes_sent
        self.bytes_received = bytes_received

    @property
    def link_down(self) -> bool:
        """Nothing came back at all: the link (modem, route, DNS) is probably down."""
        return self.kind in ("timeout", "connection")


@dataclass(frozen=True)
class Credentials:
    scheme: str  # "ApiToken" or "Basic"
    secret: str = field(repr=False)

    def header(self) -> str:
        return f"{self.scheme} {self.secret}"


def read_credentials(settings: Dhis2Settings, secrets_dir: Path) -> Credentials:
    """The token from its file, or Basic from username + password file when there is no token."""
    token_path = settings.token_path(secrets_dir)
    token = _read_secret(token_path)
    if token:
        return Credentials("ApiToken", token)
    if settings.username:
        password = _read_secret(settings.password_path(secrets_dir))
        if password:
            raw = f"{settings.username}:{password}".encode()
            return Credentials("Basic", base64.b64encode(raw).decode("ascii"))
        raise CredentialsError(
            f"mot de passe DHIS2 introuvable : créez {settings.password_path(secrets_dir)} (droits 0600)"
        )
    raise CredentialsError(
        f"jeton DHIS2 introuvable : placez le jeton d'accès personnel (d2pat_…) dans {token_path} "
        "(droits 0600)"
    )


def _read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"{path} : fichier secret illisible ({exc})") from exc


@dataclass(frozen=True)
class HttpExchange:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names
    body: bytes  # decompressed
    bytes_sent: int
    bytes_received: int
    elapsed_s: float

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class Dhis2Client:
    """One DHIS2 server; keeps its connection alive between requests until ``close``."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        connect_timeout_s: float = 20.0,
        read_timeout_s: float = 120.0,
        gzip_requests: bool = True,
        content_encoding_header: bool = True,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"adresse DHIS2 invalide : {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._host_header = parts.netloc.rsplit("@", 1)[-1]
        self._prefix = parts.path.rstrip("/")
        self._credentials = credentials
        self._connect_timeout = connect_timeout_s
        self._read_timeout = read_timeout_s
        self._gzip_requests = gzip_requests
        self._content_encoding_header = content_encoding_header
        self._conn: http.client.HTTPConnection | None = None

    @classmethod
    def from_settings(cls, settings: Dhis2Settings, secrets_dir: Path) -> Dhis2Client:
        return cls(
            settings.base_url,
            read_credentials(settings, secrets_dir),
            connect_timeout_s=settings.connect_timeout_s,
            read_timeout_s=settings.read_timeout_s,
            gzip_requests=settings.gzip_requests,
            content_encoding_header=settings.content_encoding_header,
        )

    def __enter__(self) -> Dhis2Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def get(self, path: str, params: dict[str, str] | None = None) -> HttpExchange:
        return self.request("GET", path, params=params)

    def post_data_value_set(self, json_body: bytes) -> HttpExchange:
        """``POST /api/dataValueSets`` synchronously (the reply carries the import summary), with
        ``strictPeriods=true``: a value whose period is not of its data set's type (a month for the weekly
        SIMR set) is refused value by value (E7632) instead of being filed under a period nobody reads."""
        return self.request("POST", "/api/dataValueSets", params={"strictPeriods": "true"}, body=json_body,
                            content_type="application/json")

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> HttpExchange:
        url = self._prefix + path + (f"?{urlencode(params)}" if params else "")
        headers = {
            "Host": self._host_header,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            "Authorization": self._credentials.header(),
        }
        if body is not None:
            if self._gzip_requests:
                body = gzip_bytes(body)
                if self._content_encoding_header:
                    headers["Content-Encoding"] = "gzip"
            headers["Content-Type"] = content_type or "application/json"
            headers["Content-Length"] = str(len(body))
        head = f"{method} {url} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        request_bytes = len(head.encode("latin-1")) + len(body or b"")
        reused = self._conn is not None
        try:
            return self._exchange(method, url, headers, body, request_bytes)
        except TransportError as exc:
            # A kept-alive connection the server already closed fails before any reply: try once
            # more on a fresh one. Safe even for the POST: DHIS2's upsert makes a repeat harmless.
            if not (reused and exc.kind == "reset" and exc.bytes_received == 0):
                raise
            retried = self._exchange(method, url, headers, body, request_bytes)
            return replace(retried, bytes_sent=retried.bytes_sent + exc.bytes_sent)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                context = ssl.create_default_context()
                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._connect_timeout, context=context
                )
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._connect_timeout)
            self._conn.connect()
            self._conn.sock.settimeout(self._read_timeout)
        return self._conn

    def _exchange(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, request_bytes: int
    ) -> HttpExchange:
        started = time.monotonic()
        sent = 0
        received = 0
        try:
            conn = self._connection()
            conn.putrequest(method, url, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders(body)
            sent = request_bytes
            response = conn.getresponse()
            status_line = f"HTTP/1.1 {response.status} {response.reason}\r\n"
            response_headers = {name.lower(): value for name, value in response.getheaders()}
            received = len(status_line) + sum(len(f"{k}: {v}\r\n") for k, v in response.getheaders()) + 2
            raw = response.read()
            received += len(raw)
            if response.will_close:
                self.close()
        except TimeoutError as exc:
            self.close()
            raise TransportError(
                "timeout",
                f"pas de réponse de DHIS2 dans le délai ({exc})",
                bytes_sent=sent,
                bytes_received=received,
            ) from exc
        except http.client.IncompleteRead as exc:
            self.close()
            raise TransportError(
                "truncated",
                "réponse de DHIS2 tronquée (connexion coupée pendant la réponse)",
                bytes_sent=sent,
                bytes_received=received + len(exc.partial),
            ) from exc
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected) as exc:
            self.close()
            raise TransportError(
                "reset",
                f"connexion coupée par le serveur ou le réseau ({exc})",
                bytes_sent=sent,
                bytes_received=received,
            ) from exc
        except ssl.SSLError as exc:
            self.close()
            raise TransportError(
                "tls", f"échec TLS avec DHIS2 ({exc.reason or exc})", bytes_sent=sent, bytes_received=received
            ) from exc
        except http.client.HTTPException as exc:
            self.close()
            raise TransportError(
                "protocol",
                f"réponse HTTP illisible ({type(exc).__name__})",
                bytes_sent=sent,
                bytes_received=received,
            ) from exc
        except OSError as exc:  # refused, unreachable, DNS failure
            self.close()
            raise TransportError(
                "connection",
                f"DHIS2 injoignable ({exc.strerror or exc})",
                bytes_sent=sent,
                bytes_received=received,
            ) from exc
        if response_headers.get("content-encoding", "").lower() == "gzip":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error) as exc:
                raise TransportError(
                    "truncated",
                    "réponse gzip de DHIS2 illisible ou tronquée",
                    bytes_sent=sent,
                    bytes_received=received,
                ) from exc
        return HttpExchange(
            status=response.status,
            reason=response.reason,
            headers=response_headers,
            body=raw,
            bytes_sent=sent,
            bytes_received=received,
            elapsed_s=time.monotonic() - started,
        )
