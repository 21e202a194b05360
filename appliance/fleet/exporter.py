"""``appliance fleet exporter``: the fleet's state in Prometheus's text exposition format.

It subscribes to the broker like ``fleet watch`` (the same Fleet folds the messages) and serves
``/metrics`` on a loopback address for the ops server's Prometheus, which keeps the history and
evaluates the alert rules. Nothing is kept on disk: after a restart the broker's retained
``$state`` and ``status`` rebuild the view within seconds.

Cardinality is bounded by the inventory: every per-clinic series carries ``site``, ``district``
and ``region`` from the inventory file, and a clinic missing from it gets no series of its own
(``fleet_unknown_clinics`` counts them). Values that change with time alone are not exported
(an age, "silent for") — only timestamps, which PromQL turns into ages with ``time()``; so a
clinic's lines are rendered once when one of its messages arrives, not at every scrape.

Metric names and their meaning are listed in FAMILIES (and docs/telemetry.md); the dashboards'
and alert rules' tests check every name they use against it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from appliance.fleet.inventory import Site
from appliance.fleet.view import ClinicView, Fleet, backup_age_s
from appliance.telemetry import topics
from appliance.telemetry.events import EVENT_KINDS
from appliance.telemetry.status import BATTERY_STATES
from appliance.telemetry.topics import State

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_UNKNOWN_REMEMBERED = 1000  # names of clinics missing from the inventory, kept to count them (bounded)
_STATES = tuple(State)


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # gauge or counter
    help: str


# Per-clinic families, in exposition order. Every series also has site, district and region.
CLINIC_FAMILIES = (
    Family("clinic_info", "gauge", "Always 1: a clinic of the inventory, with its name and software version"),
    Family("clinic_latitude_degrees", "gauge", "The clinic's latitude from the inventory (the dashboards' map)"),
    Family("clinic_longitude_degrees", "gauge", "The clinic's longitude from the inventory"),
    Family("clinic_state", "gauge", "1 for the clinic's Homie $state (init, ready, alert, sleeping, lost)"),
    Family("clinic_last_seen_timestamp_seconds", "gauge",
           "Newest moment the clinic itself spoke (its status or event time, or a live message's arrival)"),
    Family("clinic_status_timestamp_seconds", "gauge", "Time of the clinic's latest status (device clock, t)"),
    Family("clinic_status_invalid", "gauge", "1 when the latest status was not valid JSON of the schema"),
    Family("clinic_uptime_seconds", "gauge", "System uptime at the latest status (a small value betrays a power cut)"),
    Family("clinic_battery_volts", "gauge", "Battery voltage, smoothed, at the latest status"),
    Family("clinic_battery_charge_ratio", "gauge", "Battery state of charge, 0 to 1"),
    Family("clinic_battery_state", "gauge", "1 for the battery state at the latest status (ok, low, critical)"),
    Family("clinic_battery_charging", "gauge", "1 when the solar panel was charging at the latest status"),
    Family("clinic_modem_signal_ratio", "gauge", "3G signal quality, 0 to 1"),
    Family("clinic_modem_month_bytes", "gauge", "3G bytes used this month, sent and received (the data bill)"),
    Family("clinic_telemetry_today_bytes", "gauge", "Telemetry bytes on the wire today, UTC day"),
    Family("clinic_outbox_items", "gauge", "Items waiting in the outbox (reports, events, off-site backups)"),
    Family("clinic_outbox_oldest_age_seconds", "gauge", "Age of the oldest outbox item at the latest status"),
    Family("clinic_outbox_dead_letters", "gauge", "Outbox items that need a person (e.g. a DHIS2 report refused)"),
    Family("clinic_dhis2_last_success_timestamp_seconds", "gauge", "Last successful DHIS2 upload (device clock)"),
    Family("clinic_disk_free_bytes", "gauge", "Free space on the data disk"),
    Family("clinic_sd_written_today_bytes", "gauge", "Bytes written to the SD card today, UTC day"),
    Family("clinic_clock_synced", "gauge", "1 when the clinic's clock is synchronised (NTP)"),
    Family("clinic_clock_offset_seconds", "gauge",
           "Device clock minus the exporter's clock, measured on the latest live status (positive: ahead)"),
    Family("clinic_backup_age_seconds", "gauge",
           "Age of the newest verified local backup when the status was taken (absent: none yet)"),
    Family("clinic_backup_none", "gauge", "1 when the clinic has no verified backup yet"),
    Family("clinic_backup_failed", "gauge", "1 when the clinic's last local backup run failed"),
    Family("clinic_events_total", "counter", "Events received from the clinic since the exporter started, by kind"),
)
FLEET_FAMILIES = (
    Family("fleet_inventory_clinics", "gauge", "Clinics in the inventory file"),
    Family("fleet_unknown_clinics", "gauge", "Clinics heard on the broker but missing from the inventory (no series)"),
    Family("fleet_broker_connected", "gauge", "1 while the exporter is connected and subscribed to the broker"),
    Family("fleet_messages_total", "counter", "MQTT messages received, by topic leaf ($state, status, events)"),
    Family("fleet_ignored_messages_total", "counter", "Messages not exported: unknown_site, bad_topic"),
)
METRIC_NAMES = frozenset(family.name for family in CLINIC_FAMILIES + FLEET_FAMILIES)
_INDEX = {family.name: number for number, family in enumerate(CLINIC_FAMILIES)}


def label_value(value: str) -> str:
    """Escape a label value for the text format (backslash, double quote, line feed)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


class FleetMetrics:
    """Folds broker messages into per-clinic exposition lines (not thread-safe: the exporter locks)."""

    def __init__(self, inventory: dict[str, Site], prefix: str = "clinic") -> None:
        self.inventory = inventory
        self.fleet = Fleet(prefix)
        self.prefix = prefix
        self.connected = False
        self.unknown_sites: set[str] = set()
        self.unknown_overflow = False
        self.messages = {leaf: 0 for leaf in topics.LEAVES}
        self.ignored = {"unknown_site": 0, "bad_topic": 0}
        self._labels = {site_id: f'site="{label_value(site_id)}",district="{label_value(site.district)}",'
                                 f'region="{label_value(site.region)}"' for site_id, site in inventory.items()}
        self._clock_offsets: dict[str, int] = {}
        self._event_counts: dict[str, dict[str, int]] = {}
        # Per clinic, one list of encoded lines per family: a scrape only joins bytes (no copy as str).
        self._lines: dict[str, tuple[list[bytes], ...]] = {}

    def ingest(self, name: str, payload: bytes, *, retained: bool, received_at: float) -> None:
        parsed = topics.parse(self.prefix, name)
        if parsed is None:
            self.ignored["bad_topic"] += 1
            return
        site_id, leaf = parsed
        self.messages[leaf] += 1
        if site_id not in self.inventory:
            self.ignored["unknown_site"] += 1
            if len(self.unknown_sites) < MAX_UNKNOWN_REMEMBERED:
                if site_id not in self.unknown_sites:
                    log.warning("clinic %s is not in the inventory: no series exported for it", site_id)
                self.unknown_sites.add(site_id)
            else:
                self.unknown_overflow = True
            return
        before = self.fleet.clinics.get(site_id)
        events_before = before.events if before else 0
        self.fleet.ingest(name, payload, retained=retained, received_at=received_at)
        clinic = self.fleet.clinics[site_id]
        if leaf == topics.STATUS and clinic.status is not None and clinic.status_error is None and not retained:
            self._clock_offsets[site_id] = clinic.status.taken_at - int(received_at)
        if clinic.events > events_before and clinic.last_event is not None:
            kind = clinic.last_event.get("k")
            kind = kind if kind in EVENT_KINDS else "other"
            counts = self._event_counts.setdefault(site_id, {})
            counts[kind] = counts.get(kind, 0) + 1
        # Rendered now, once per message (a clinic sends a handful a day), so a scrape only gathers.
        self._lines[site_id] = self._render_clinic(site_id)

    def render(self) -> bytes:
        return b"".join(self.chunks())

    def chunks(self) -> list[bytes]:
        """The exposition's pieces in order; the lists are replaced, never changed, when a message
        arrives, so the caller may join them after releasing its lock."""
        chunks: list[bytes] = []
        per_clinic = [self._clinic_lines(site_id) for site_id in self.inventory]
        for number, family in enumerate(CLINIC_FAMILIES):
            chunks.append(f"# HELP {family.name} {family.help}\n# TYPE {family.name} {family.kind}\n".encode())
            for lines in per_clinic:
                chunks.extend(lines[number])
        fleet_values: dict[str, list[tuple[str, Any]]] = {
            "fleet_inventory_clinics": [("", len(self.inventory))],
            "fleet_unknown_clinics": [("", len(self.unknown_sites))],
            "fleet_broker_connected": [("", self.connected)],
            "fleet_messages_total": [(f'{{leaf="{leaf}"}}', count) for leaf, count in self.messages.items()],
            "fleet_ignored_messages_total": [(f'{{reason="{reason}"}}', count)
                                             for reason, count in self.ignored.items()],
        }
        for family in FLEET_FAMILIES:
            chunks.append(f"# HELP {family.name} {family.help}\n# TYPE {family.name} {family.kind}\n".encode())
            chunks.extend(f"{family.name}{labels} {_number(value)}\n".encode()
                          for labels, value in fleet_values[family.name])
        return chunks

    def _clinic_lines(self, site_id: str) -> tuple[list[bytes], ...]:
        cached = self._lines.get(site_id)
        if cached is None:
            cached = self._lines[site_id] = self._render_clinic(site_id)
        return cached

    def _render_clinic(self, site_id: str) -> tuple[list[bytes], ...]:
        lines: tuple[list[bytes], ...] = tuple([] for _ in CLINIC_FAMILIES)
        labels = self._labels[site_id]
        site = self.inventory[site_id]
        clinic = self.fleet.clinics.get(site_id) or ClinicView(site_id)
        status = clinic.status

        def put(name: str, value: float | int | bool | None, extra: str = "") -> None:
            if value is not None:
                lines[_INDEX[name]].append(f"{name}{{{labels}{extra}}} {_number(value)}\n".encode())

        version = status.version if status is not None else ""
        put("clinic_info", 1, f',name="{label_value(site.name)}",version="{label_value(version)}"')
        put("clinic_latitude_degrees", site.latitude)
        put("clinic_longitude_degrees", site.longitude)
        if clinic.state is not None:
            state = clinic.state if clinic.state in _STATES else "unknown"
            put("clinic_state", 1, f',state="{state}"')
        put("clinic_last_seen_timestamp_seconds", clinic.last_seen)
        if site_id in self.fleet.clinics:
            put("clinic_status_invalid", clinic.status_error is not None)
        for kind, count in sorted(self._event_counts.get(site_id, {}).items()):
            put("clinic_events_total", count, f',kind="{kind}"')
        if status is None:
            return lines
        put("clinic_status_timestamp_seconds", status.taken_at)
        put("clinic_uptime_seconds", status.uptime_s)
        put("clinic_battery_volts", status.battery_v)
        put("clinic_battery_charge_ratio", None if status.battery_soc_pct is None else status.battery_soc_pct / 100)
        if status.battery_state in BATTERY_STATES:
            put("clinic_battery_state", 1, f',state="{status.battery_state}"')
        put("clinic_battery_charging", status.charging)
        put("clinic_modem_signal_ratio", None if status.modem_signal_pct is None else status.modem_signal_pct / 100)
        put("clinic_modem_month_bytes", status.modem_bytes_month)
        put("clinic_telemetry_today_bytes", status.telemetry_bytes_today)
        put("clinic_outbox_items", status.outbox_depth)
        put("clinic_outbox_oldest_age_seconds", status.outbox_oldest_age_s)
        put("clinic_outbox_dead_letters", status.outbox_dead_letters)
        put("clinic_dhis2_last_success_timestamp_seconds", status.last_dhis2_success)
        put("clinic_disk_free_bytes", None if status.disk_free_mb is None else status.disk_free_mb * 1024 * 1024)
        put("clinic_sd_written_today_bytes",
            None if status.sd_written_today_kb is None else status.sd_written_today_kb * 1024)
        put("clinic_clock_synced", status.clock_synced)
        put("clinic_clock_offset_seconds", self._clock_offsets.get(site_id))
        put("clinic_backup_age_seconds", backup_age_s(status))
        if status.last_backup is not None:
            put("clinic_backup_none", status.last_backup == 0)
        put("clinic_backup_failed", status.backup_failed)
        return lines


class FleetExporter:
    """The collector and the HTTP server together: ``with FleetExporter(access, inventory, port=...)``."""

    def __init__(self, access: Any, inventory: dict[str, Site], *, host: str = "127.0.0.1", port: int = 9108) -> None:
        from appliance.fleet.collector import FleetCollector

        self.metrics = FleetMetrics(inventory, access.prefix)
        self._lock = threading.Lock()
        self.collector = FleetCollector(access, _LockedSink(self.metrics, self._lock),
                                        on_connection=self._connection_changed)
        self.server = ThreadingHTTPServer((host, port), _handler(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.server.server_address[:2]

    def scrape(self) -> bytes:
        with self._lock:  # gathering the pieces is quick; joining 25 MB of them is done unlocked
            chunks = self.metrics.chunks()
        return b"".join(chunks)

    def _connection_changed(self, connected: bool) -> None:
        with self._lock:
            self.metrics.connected = connected

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="exporter-http", daemon=True)
        self._thread.start()
        self.collector.start_background()

    def stop(self) -> None:
        self.collector.stop()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FleetExporter:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


class _LockedSink:
    """What the collector feeds: the metrics, under the exporter's lock (scrapes read them meanwhile)."""

    def __init__(self, metrics: FleetMetrics, lock: threading.Lock) -> None:
        self.metrics = metrics
        self.lock = lock
        self.prefix = metrics.prefix

    def ingest(self, name: str, payload: bytes, *, retained: bool, received_at: float) -> None:
        with self.lock:
            self.metrics.ingest(name, payload, retained=retained, received_at=received_at)


def _handler(exporter: FleetExporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] == "/metrics":
                started = time.perf_counter()
                body = exporter.scrape()
                log.debug("scrape: %d bytes in %.0f ms", len(body), (time.perf_counter() - started) * 1000)
                self._reply(200, CONTENT_TYPE, body)
            elif self.path == "/":
                self._reply(200, "text/html; charset=utf-8",
                            b'<html><body><a href="/metrics">/metrics</a></body></html>\n')
            else:
                self._reply(404, "text/plain; charset=utf-8", b"not found\n")

        def _reply(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http: " + format, *args)

    return Handler
