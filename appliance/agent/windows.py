"""Upload windows: when they open, which one was missed, and what happens inside one.

A window brings the link up, flushes the outbox, publishes telemetry and brings the link down,
all within ``max_minutes``: if a partner overruns, the link is cut at the deadline, which makes
its network calls fail fast. The outbox only marks an item sent once DHIS2 answered, so a link
lost mid-window loses nothing: the next window sends what is left.

Battery OK: a full window. LOW (or unknown): urgent items only, and the modem is disabled
afterwards. CRITICAL: no window. Past 100 % of the monthly data budget: urgent items only; below
it, the outbox is given the bytes left as ``byte_budget``.

Urgent items (a suspected SIMR case, a shutdown event) do not wait for a window: ``run_urgent``,
called every ``urgent_check_s``, finds one with one indexed query and opens a short urgent-only
connection at once (a window under way sends it itself before it disconnects). A modem unplugged
or a failed connection: tried again as soon as a modem is plugged in, or after ``urgent_retry_s``
(no coverage: that often; the link up but the sending failed: doubled at each such failure in a row,
so a district down for a day costs a few connections, not hundreds).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from appliance.agent.clock import Clock
from appliance.agent.state import StateStore
from appliance.agent.status import EventBus, WindowSummary
from appliance.modem.base import Link, Modem, ModemError
from appliance.modem.hotplug import ModemPresence
from appliance.modem.usage import DataUsageMeter, UsageLevel
from appliance.power.monitor import BatteryState, PowerMonitor
from appliance.power.shutdown import ShutdownController
from appliance.settings.modem import ModemSettings
from appliance.settings.uploads import UploadSettings
from appliance.store.db import database
from appliance.store.device import UploadWindowLog
from appliance.store.utc import aware_utc, naive_utc

log = logging.getLogger(__name__)

CUT_GRACE_S = 30
URGENT_RETRY_MAX_S = 6 * 3600  # an urgent item never waits longer than this for a new try (windows aside)
SEARCH_BACK = timedelta(days=2)


def window_triggers(settings: UploadSettings, tz: tzinfo) -> list[CronTrigger]:
    return [CronTrigger(hour=hour, minute=minute, timezone=tz) for hour, minute in settings.times]


def next_window(triggers: list[CronTrigger], now: datetime) -> datetime | None:
    """The first window strictly after ``now``."""
    after = now + timedelta(microseconds=1)
    times = [t for t in (trigger.get_next_fire_time(None, after) for trigger in triggers) if t]
    return min(times, default=None)


def latest_window_between(triggers: list[CronTrigger], after: datetime, now: datetime) -> datetime | None:
    """The last scheduled time in (after, now], or None: at most one catch-up, however long the cut."""
    start = max(after, now - SEARCH_BACK) + timedelta(seconds=1)
    latest = None
    for trigger in triggers:
        moment = trigger.get_next_fire_time(None, start)
        while moment is not None and moment <= now:
            latest = moment if latest is None or moment > latest else latest
            moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return latest


@dataclass
class WindowPlan:
    scheduled_at: datetime
    catch_up: bool
    battery: BatteryState
    only_urgent: bool = False
    byte_budget: int | None = None
    notes: list[str] = field(default_factory=list)
    connected: bool = False  # the link came up (a failure after it cost data; one before it, only power)


class WindowRunner:
    def __init__(
        self,
        *,
        uploads: UploadSettings,
        modem_settings: ModemSettings,
        power: PowerMonitor,
        modem: Modem,
        presence: ModemPresence,
        usage: DataUsageMeter,
        state: StateStore,
        events: EventBus,
        clock: Clock,
        shutdown: ShutdownController,
        flush_loader: Callable[[], Callable[..., Any] | None],
        publish_telemetry: Callable[..., Any] | None,
        on_link: Callable[[Link | None], None] = lambda link: None,
        fetch_update: Callable[..., tuple[int, str]] | None = None,
        urgent_due: Callable[[list[str] | None], bool] | None = None,
    ) -> None:
        self.uploads = uploads
        self.modem_settings = modem_settings
        self.power = power
        self.modem = modem
        self.presence = presence
        self.usage = usage
        self.state = state
        self.events = events
        self.clock = clock
        self.shutdown = shutdown
        self._flush_loader = flush_loader
        self._flush: Callable[..., Any] | None = None
        self._flush_loaded = False
        self.publish_telemetry = publish_telemetry
        self._on_link = on_link
        self.fetch_update = fetch_update
        self._urgent_due = urgent_due
        self._urgent_not_before = float("-inf")  # monotonic: no urgent connection before (after a failure)
        self._urgent_failures = 0  # in a row: each doubles the wait (the district down for a day: a few tries)
        self._running = threading.Lock()
        self._aborted = threading.Event()
        self.last: WindowSummary | None = None

    @property
    def watches_urgent(self) -> bool:
        return self._urgent_due is not None

    @property
    def busy(self) -> bool:
        return self._running.locked()

    def abort(self) -> None:
        """Stop a window in progress (SIGTERM): cut the link so the flush fails fast."""
        self._aborted.set()
        if self.busy:
            self.modem.disconnect()

    def run(self, scheduled_at: datetime | None = None, *, catch_up: bool = False) -> WindowSummary:
        now = self.clock.now()
        scheduled_at = aware_utc(scheduled_at or now)
        if not self._running.acquire(blocking=False):
            log.info("Fenêtre de %s ignorée : une fenêtre est déjà en cours", scheduled_at)
            return WindowSummary(scheduled_at, "skipped", "une fenêtre est déjà en cours")
        try:
            plan = WindowPlan(scheduled_at, catch_up, self.power.state)
            reason = self._skip_reason(plan)
            if reason:
                summary, sent, received = WindowSummary(scheduled_at, "skipped", reason), 0, 0
            else:
                summary, sent, received = self._open(plan)
            self._record(plan, now, summary, sent, received)
            return summary
        finally:
            self._running.release()

    def run_urgent(self) -> WindowSummary | None:
        """Urgent items due now: a short urgent-only connection at once, recorded like a window (but
        not counted as one for the catch-up). None when there is nothing to send or it must wait:
        a window under way (it sends them before it disconnects), no modem plugged in (tried as soon
        as one is), a battery critical or a connection failed (tried again after urgent_retry_s)."""
        if (self._urgent_due is None or self.busy or not self.presence.present
                or self.clock.monotonic() < self._urgent_not_before or not self._urgent_due(None)):
            return None
        if not self._running.acquire(blocking=False):
            return None
        try:
            now = self.clock.now()
            plan = WindowPlan(now, False, self.power.state, only_urgent=True, notes=["envoi urgent immédiat"])
            reason = self._skip_reason(plan)
            if reason is None and not self._urgent_due(self._sendable_kinds()):
                return None  # urgent items of a kind this process cannot send (its sender not configured)
            if reason is not None:
                self._urgent_wait(doubled=False)
                log.info("Envoi urgent différé : %s", reason)
                return None
            summary, sent, received = self._open(plan)
            if summary.outcome == "failed":
                self._urgent_wait(doubled=plan.connected)
            else:
                self._urgent_failures = 0
            self._record(plan, now, summary, sent, received, urgent=True)
            return summary
        finally:
            self._running.release()

    def _urgent_wait(self, *, doubled: bool) -> None:
        """No new urgent try before urgent_retry_s: a link that did not come up (no coverage) is tried again
        that often, so the notice leaves soon after the network returns; a link that came up but whose
        sending failed (the district down) waits twice longer at each such failure, up to URGENT_RETRY_MAX_S,
        since each try costs data."""
        self._urgent_failures = self._urgent_failures + 1 if doubled else 0
        wait = self.uploads.urgent_retry_s * 2 ** min(max(self._urgent_failures - 1, 0), 16)
        wait = max(min(wait, URGENT_RETRY_MAX_S), self.uploads.urgent_retry_s)
        self._urgent_not_before = self.clock.monotonic() + wait

    def modem_plugged(self) -> None:
        """A modem appeared: urgent items waiting for one go at the next check, not after urgent_retry_s."""
        self._urgent_not_before, self._urgent_failures = float("-inf"), 0

    def _sendable_kinds(self) -> list[str] | None:
        kinds = getattr(self._flush, "kinds", None)
        return kinds() if callable(kinds) else None

    def _skip_reason(self, plan: WindowPlan) -> str | None:
        if self.shutdown.started:
            return "extinction en cours"
        if self._aborted.is_set():
            return "agent en cours d'arrêt"
        if plan.battery is BatteryState.CRITICAL:
            return "batterie critique"
        if not self.presence.present:
            return "aucun modem branché"
        if not self._flush_loaded:
            self._flush, self._flush_loaded = self._flush_loader(), True
        if self._flush is None and self.publish_telemetry is None:
            return "rien à envoyer : ni boîte d'envoi (appliance.outbox) ni télémétrie installées"
        usage = self.usage.current()
        if plan.battery is not BatteryState.OK:
            plan.only_urgent = True
            plan.notes.append(f"batterie {plan.battery.value} : envois urgents seulement")
        if usage.level is UsageLevel.EXCEEDED:
            plan.only_urgent = True
            plan.notes.append("forfait de données épuisé : envois urgents seulement")
        else:
            plan.byte_budget = usage.remaining
        return None

    def _open(self, plan: WindowPlan) -> tuple[WindowSummary, int, int]:
        deadline = self.clock.monotonic() + self.uploads.max_minutes * 60

        def remaining() -> float:
            return max(0.0, deadline - self.clock.monotonic())

        before = self.usage.current()
        try:
            link = self.modem.connect(timeout_s=min(self.modem_settings.connect_timeout_s, remaining()))
        except ModemError as exc:
            self._after_link(plan)
            return WindowSummary(plan.scheduled_at, "failed", f"connexion impossible : {exc}"), 0, 0
        plan.connected = True
        self._on_link(link)
        cutter = threading.Timer(remaining() + CUT_GRACE_S, self._cut)
        cutter.daemon = True
        cutter.start()
        outcome, details = "done", list(plan.notes)
        try:
            outcome, detail = self._flush_outbox(plan, remaining())
            details.append(detail)
            if self.publish_telemetry is not None and self.modem.link_up() and remaining() > 0:
                try:
                    self.publish_telemetry(remaining())
                except Exception as exc:
                    log.exception("Publication de la télémétrie en échec")
                    details.append(f"télémétrie en échec : {exc}")
            details.append(self._fetch_update(plan, remaining()))
            if outcome == "done":  # a flush that met a dead link would only meet it again
                details.append(self._urgent_before_disconnect(plan, remaining()))
        finally:
            cutter.cancel()
            self.usage.sample(link.interface)
            self._on_link(None)
            self.modem.disconnect()
            self._after_link(plan)
        after = self.usage.current()
        sent = max(0, after.bytes_sent - before.bytes_sent) if after.month == before.month else after.bytes_sent
        received = (max(0, after.bytes_received - before.bytes_received) if after.month == before.month
                    else after.bytes_received)
        return WindowSummary(plan.scheduled_at, outcome, " ; ".join(d for d in details if d)), sent, received

    def _flush_outbox(self, plan: WindowPlan, seconds_left: float) -> tuple[str, str]:
        if self._flush is None:
            return "done", "boîte d'envoi absente"
        try:
            report = self._flush(deadline_s=seconds_left, only_urgent=plan.only_urgent,
                                 byte_budget=plan.byte_budget)
            account = getattr(self.modem, "account", None)  # simulation: the bytes went over loopback
            if account is not None:
                account(getattr(report, "bytes_sent", 0) or 0, getattr(report, "bytes_received", 0) or 0)
        except Exception as exc:
            log.warning("Envoi de la boîte d'envoi interrompu : %s", exc, exc_info=True)
            lost = "" if self.modem.link_up() else " (liaison perdue)"
            return "failed", f"envoi interrompu{lost} : {exc}"
        return describe_report(report)

    def _urgent_before_disconnect(self, plan: WindowPlan, seconds_left: float) -> str:
        """An urgent item queued while the link was up (after the flush) leaves before the link goes down."""
        if (self._urgent_due is None or not self.modem.link_up() or seconds_left <= 0
                or not self._urgent_due(self._sendable_kinds())):
            return ""
        _outcome, detail = self._flush_outbox(dataclasses.replace(plan, only_urgent=True, byte_budget=None),
                                              seconds_left)
        return f"urgent arrivé pendant la fenêtre : {detail}"

    def _fetch_update(self, plan: WindowPlan, seconds_left: float) -> str:
        """A piece of an application update, last: reports and telemetry go first, and never on a
        low battery or an exhausted budget (``only_urgent``)."""
        if self.fetch_update is None or plan.only_urgent or not self.modem.link_up() or seconds_left <= 0:
            return ""
        try:
            received, detail = self.fetch_update(deadline_s=seconds_left, byte_budget=plan.byte_budget)
        except Exception as exc:
            log.warning("Téléchargement de la mise à jour interrompu : %s", exc, exc_info=True)
            return f"mise à jour : {exc}"
        account = getattr(self.modem, "account", None)  # simulation: the bytes went over loopback
        if account is not None:
            account(0, received)
        return detail

    def _after_link(self, plan: WindowPlan) -> None:
        if plan.battery is not BatteryState.OK or self.modem_settings.off_between_windows:
            self.modem.power_down()

    def _cut(self) -> None:
        log.warning("Fenêtre d'envoi trop longue : liaison coupée à l'échéance")
        self.modem.disconnect()

    def _record(self, plan: WindowPlan, started: datetime, summary: WindowSummary, sent: int,
                received: int, *, urgent: bool = False) -> None:
        finished = self.clock.now()
        with database.atomic():
            UploadWindowLog.create(
                scheduled_at=naive_utc(plan.scheduled_at), started_at=naive_utc(started),
                finished_at=naive_utc(finished), outcome=summary.outcome, detail=summary.detail[:2000],
                only_urgent=plan.only_urgent, catch_up=plan.catch_up, battery_state=plan.battery.value,
                bytes_sent=sent, bytes_received=received,
            )
            if not urgent:  # an urgent send is no window: a missed window is still caught up
                self.state.set_last_window_at(max(started, plan.scheduled_at))
        self.last = summary
        level = logging.WARNING if summary.outcome in ("failed", "partial") else logging.INFO
        which = " (rattrapage)" if plan.catch_up else " (envoi urgent)" if urgent else ""
        log.log(level, "Fenêtre d'envoi %s%s : %s (%s)", plan.scheduled_at.isoformat(timespec="minutes"), which,
                summary.outcome, summary.detail)
        self.events.emit("upload_window", f"Fenêtre d'envoi : {summary.outcome} ({summary.detail})",
                         severity="info", outcome=summary.outcome, detail=summary.detail,
                         scheduled_at=plan.scheduled_at.isoformat(), catch_up=plan.catch_up,
                         only_urgent=plan.only_urgent, bytes_sent=sent, bytes_received=received)
        if summary.outcome in ("failed", "partial"):
            self.events.emit("upload_failed", f"Envoi en échec : {summary.detail}", severity="warning",
                             outcome=summary.outcome, detail=summary.detail)


def describe_report(report: Any) -> tuple[str, str]:
    """Outcome and French summary of the outbox's FlushReport (read defensively: a partner's type).

    ``failed``: the link went down before anything was delivered; ``partial``: the link went
    down later, or items are to be retried or went to the dead letters; ``done`` otherwise.
    """
    summary = report.summary_fr() if hasattr(report, "summary_fr") else str(report)[:300]
    stopped = getattr(report, "stopped", None)
    delivered = getattr(report, "delivered", 0) or 0
    troubled = bool(getattr(report, "retried", 0) or getattr(report, "dead", 0))
    if stopped == "link_down" and not delivered:
        return "failed", summary
    if stopped in ("link_down", "locked") or troubled:
        return "partial", summary
    return "done", summary
