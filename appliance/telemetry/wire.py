"""Bytes on the wire, read from the kernel's own TCP counters (``TCP_INFO``).

An operator bills IP packets, so counting MQTT packets alone would hide the TLS handshake,
TLS record headers, TCP/IP headers and pure ACKs, which together outweigh our payloads. For
each connection the kernel keeps (Linux ≥ 5.5): payload bytes sent including retransmissions
(``tcpi_bytes_sent``), payload bytes received (``tcpi_bytes_received``) and segments in and out
(``tcpi_segs_out``/``tcpi_segs_in``, SYN and ACKs included). Wire bytes = sent + received +
segments × IP/TCP header size (40 bytes for IPv4, 60 for IPv6, +12 with TCP timestamps).
The kernel's figures are read just before paho closes the socket, so the last two segments
we send (our FIN and the ACK of the broker's FIN) are added as an estimate: two headers.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

from appliance.telemetry.counters import WIRE_BYTES, CounterStore, utc_day

_TCPI_OPT_TIMESTAMPS = 1
# TCP states in which the peer's FIN has arrived: bytes_received then counts it as one byte.
_PEER_FIN_STATES = frozenset({6, 8, 9, 11})  # TIME_WAIT, CLOSE_WAIT, LAST_ACK, CLOSING
_OFFSET_OPTIONS = 5
_OFFSET_BYTES_ACKED = 120  # u64, counts the SYN too
_OFFSET_BYTES_RECEIVED = 128  # u64
_OFFSET_SEGS = 136  # u32 segs_out, u32 segs_in
_OFFSET_BYTES_SENT = 200  # u64, Linux 5.5+, retransmissions included
_TCP_INFO_LEN = 232
TEARDOWN_SEGMENTS = 2  # sent after the socket is closed, so never in its counters


@dataclass(frozen=True)
class TcpCounters:
    """One TCP connection as the kernel saw it."""

    payload_sent: int  # retransmissions included
    payload_received: int
    segments: int  # in and out, SYN and pure ACKs included
    header_bytes: int  # IP + TCP header size of one segment on this connection

    @property
    def wire_bytes(self) -> int:
        return self.payload_sent + self.payload_received + self.segments * self.header_bytes


def tcp_counters(sock: socket.socket) -> TcpCounters | None:
    """The kernel's counters for this connection so far; None where TCP_INFO is unavailable."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)
        family = sock.family
    except (OSError, AttributeError, ValueError):
        return None
    if len(info) < _OFFSET_SEGS + 8:
        return None
    if len(info) >= _OFFSET_BYTES_SENT + 8:
        (sent,) = struct.unpack_from("=Q", info, _OFFSET_BYTES_SENT)
    else:
        (acked,) = struct.unpack_from("=Q", info, _OFFSET_BYTES_ACKED)
        sent = max(0, acked - 1)
    (received,) = struct.unpack_from("=Q", info, _OFFSET_BYTES_RECEIVED)
    if info[0] in _PEER_FIN_STATES:
        received = max(0, received - 1)
    segs_out, segs_in = struct.unpack_from("=II", info, _OFFSET_SEGS)
    header = 60 if family == socket.AF_INET6 else 40
    if info[_OFFSET_OPTIONS] & _TCPI_OPT_TIMESTAMPS:
        header += 12
    return TcpCounters(sent, received, segs_out + segs_in, header)


class WireMeter:
    """Today's telemetry bytes: persisted closed-connection totals plus the live connection.

    paho calls ``socket_opened``/``socket_closed`` from its network thread; ``flush`` and
    ``today`` run in the caller's thread, which is the only one that touches the database.
    """

    def __init__(self, counters: CounterStore, clock: Callable[[], float]) -> None:
        self._counters = counters
        self._clock = clock
        self._lock = threading.Lock()
        self._live: socket.socket | None = None
        self._live_counted = 0  # part of the live connection already moved to _pending
        self._pending = 0  # counted but not yet written to the store
        self.unmeasured_connections = 0
        self.last_closed: TcpCounters | None = None  # for diagnosis and tests

    def socket_opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._live = sock
            self._live_counted = 0

    def socket_closed(self, sock: socket.socket) -> None:
        counters = tcp_counters(sock)
        with self._lock:
            self.last_closed = counters
            if counters is None:
                self.unmeasured_connections += 1
            else:
                unseen = TEARDOWN_SEGMENTS * counters.header_bytes
                self._pending += max(0, counters.wire_bytes - self._live_counted) + unseen
            if self._live is sock:
                self._live = None
            self._live_counted = 0

    def flush(self) -> None:
        """Move everything counted so far into today's persisted total."""
        with self._lock:
            if self._live is not None and (counters := tcp_counters(self._live)) is not None:
                self._pending += max(0, counters.wire_bytes - self._live_counted)
                self._live_counted = counters.wire_bytes
            pending, self._pending = self._pending, 0
        self._counters.add(utc_day(self._clock()), WIRE_BYTES, pending)

    def today(self) -> int:
        self.flush()
        return self._counters.get(utc_day(self._clock()), WIRE_BYTES)


def mqtt_publish_bytes(topic: str, payload: bytes) -> int:
    """Size of a QoS 1 PUBLISH packet (MQTT 3.1.1): fixed header, topic, packet id, payload."""
    remaining = 2 + len(topic.encode()) + 2 + len(payload)
    length_bytes = 1
    while remaining >= 128**length_bytes:
        length_bytes += 1
    return 1 + length_bytes + remaining
