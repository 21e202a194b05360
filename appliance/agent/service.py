"""The ``appliance agent`` process: wires the battery, the modem and the windows, and runs.

Nothing here loops: APScheduler's thread wakes for the battery sample (every
``sample_interval_s``), the windows (cron times, in-memory job store) and the systemd watchdog;
gpiozero's thread wakes on the low-voltage pin's edges; pyudev's thread wakes on hotplug; a
thread blocked in poll() on /proc/self/mounts wakes when a USB stick is mounted (``sticks``) and
hands it to the stick-copy worker; the main thread sleeps on an event until SIGTERM or SIGINT.
The jobs are plain methods (``sample``, ``run_window``), so a test can drive a simulated week
through them in seconds with the very same triggers (see ``drive``).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from appliance.agent.clock import Clock, ClockWatch, ManualClock, ScaledClock, SystemClock, kernel_clock_synced
from appliance.agent.hooks import AgentPartners
from appliance.agent.sdnotify import Notifier
from appliance.agent.state import StateStore
from appliance.agent.status import AgentStatus, ClockStatus, EventBus
from appliance.agent.sticks import FolderStickWatcher, MountTableWatcher, StickCopier
from appliance.agent.windows import WindowRunner, latest_window_between, next_window, window_triggers
from appliance.backup.usb import FolderUsbMedia, MountedUsbMedia, UsbMedia, simulated_sticks_root
from appliance.config import Config
from appliance.modem.base import Link, Modem
from appliance.modem.hotplug import ModemPresence
from appliance.modem.usage import DataUsageMeter, InterfaceCounters, SysfsCounters
from appliance.power.history import HistoryRecorder
from appliance.power.monitor import BatterySensor, BatteryState, PowerMonitor
from appliance.power.shutdown import CommandPowerOff, PowerOff, ShutdownController, SimulatedPowerOff
from appliance.store import readonly

log = logging.getLogger(__name__)


@dataclass
class Job:
    name: str
    trigger: BaseTrigger | None
    run: Callable[[], Any]


class Agent:
    def __init__(
        self,
        cfg: Config,
        *,
        simulate: bool | None = None,
        clock: Clock | None = None,
        sensor: BatterySensor | None = None,
        modem: Modem | None = None,
        presence: ModemPresence | None = None,
        counters: InterfaceCounters | None = None,
        poweroff: PowerOff | None = None,
        notifier: Notifier | None = None,
        watch_udev: bool | None = None,
        watch_sticks: bool = True,
        partners: AgentPartners | None = None,
    ) -> None:
        """``partners`` (the outbox's flush, telemetry) come from the process's composition,
        ``appliance.agent.hooks.agent_partners``; without them the agent runs alone."""
        self.cfg = cfg
        self.simulation = cfg.simulation if simulate is None else simulate
        self.clock = clock or SystemClock()
        self.tz = cfg.uploads.zone()
        self.started_at = self.clock.now()
        self.events = EventBus(self.clock.now)
        self.state = StateStore()
        self.notifier = notifier or Notifier()
        self.presence = presence or ModemPresence()
        self.presence.listeners.append(self._modem_presence_changed)
        self._stop = threading.Event()
        self._link: Link | None = None
        self._scheduler: Any = None
        self._udev: Any = None
        self.simulated_battery: Any = None
        # One backup at a time in this process: the nightly job and a stick just plugged in.
        self.backup_lock = threading.Lock()
        self.stick_copier = StickCopier(cfg.backup.usb_marker, self.copy_to_plugged_stick)
        self._stick_watcher: MountTableWatcher | FolderStickWatcher | None = None
        self._watch_sticks = watch_sticks

        self.shutdown = ShutdownController(
            cfg.paths.data_dir,
            poweroff or self._default_poweroff(),
            announce=lambda reason: self.events.emit(
                "shutdown", f"Extinction propre de l'appareil ({reason})", severity="critical", reason=reason),
            before_checkpoint=self._flush_history,
        )
        self.power = PowerMonitor(cfg.power, sensor or self._default_sensor(), now=self.clock.now,
                                  on_event=self.events.emit, on_critical=self._critical)
        self.history = HistoryRecorder(cfg.power)
        self.power.listeners.append(lambda verdict, snap: self.history.add(verdict, snap, self.clock.now()))
        self.counters = counters or self._default_counters()
        self.modem = modem or self._default_modem()
        self.usage = DataUsageMeter(cfg.modem, self.counters, self.state, now=self.clock.now, tz=self.tz,
                                    on_event=self.events.emit)
        self.clock_watch = ClockWatch(self.clock)
        self.triggers = window_triggers(cfg.uploads, self.tz)
        partners = partners or AgentPartners()
        self._attach_telemetry = partners.attach_agent
        self.windows = WindowRunner(
            uploads=cfg.uploads, modem_settings=cfg.modem, power=self.power, modem=self.modem,
            presence=self.presence, usage=self.usage, state=self.state, events=self.events, clock=self.clock,
            shutdown=self.shutdown, flush_loader=partners.flush_loader,
            publish_telemetry=partners.publish_telemetry, on_link=self._set_link,
            fetch_update=partners.fetch_update, urgent_due=partners.urgent_due,
        )
        self.presence.listeners.append(lambda present, _name: present and self.windows.modem_plugged())
        self.events.subscribe(self._on_event)
        self._watch_udev = (not self.simulation) if watch_udev is None else watch_udev

    # -- hardware, real or simulated ------------------------------------------------------------------

    def _default_sensor(self) -> BatterySensor:
        if self.simulation:
            from appliance.power.simulation import SimulatedBatterySensor, SolarBatteryModel

            power = self.cfg.power
            # ``speed`` fast-forwards the bank only (a demo shows days of sun in minutes); the
            # agent's own clock, its windows and its history stay on real time.
            bank_now = ScaledClock(power.simulation.speed).now if power.simulation.speed != 1 else self.clock.now
            self.simulated_battery = SolarBatteryModel(power.simulation, power.curve, power.chemistry,
                                                       bank_now(), self.tz)
            self._bank_now = bank_now
            return SimulatedBatterySensor(self.simulated_battery, power, bank_now)
        from appliance.power.sensors import GpioBatterySensor

        return GpioBatterySensor(self.cfg.power)

    def _default_counters(self) -> InterfaceCounters:
        if self.simulation:
            from appliance.modem.simulation import SimulatedCounters

            return SimulatedCounters()
        return SysfsCounters(self.cfg.modem.sysfs_net)

    def _default_modem(self) -> Modem:
        if self.simulation:
            from appliance.modem.simulation import SimulatedModem

            return SimulatedModem(self.cfg.modem.simulation, self.presence, self.counters, now=self.clock.now,
                                  on_power=self._simulated_modem_power)
        from appliance.modem.manager import ModemManagerModem

        return ModemManagerModem(self.cfg.modem, self.presence, now=self.clock.now)

    def _default_poweroff(self) -> PowerOff:
        if self.simulation:
            return SimulatedPowerOff(on_poweroff=self.stop)
        return CommandPowerOff(self.cfg.power.poweroff_command)

    def _simulated_modem_power(self, on: bool) -> None:
        if self.simulated_battery is not None:
            self.simulated_battery.advance_to(self._bank_now())
            self.simulated_battery.extra_load_w = self.cfg.power.simulation.modem_w if on else 0.0

    # -- the jobs ---------------------------------------------------------------------------------------

    def start(self) -> datetime | None:
        """Everything before the scheduler runs; returns the missed window to catch up, if any."""
        if self._attach_telemetry is not None:
            try:
                self._attach_telemetry(self)
            except Exception:
                log.exception("Télémétrie : attach_agent en échec")
        if self._watch_udev:
            from appliance.modem.hotplug import UdevHotplugWatcher

            self._udev = UdevHotplugWatcher(self.presence)
            try:
                self._udev.start()
            except Exception as exc:
                log.error("Branchement du modem non surveillé (%s) : on suppose le modem présent", exc)
                self.presence.port_added("udev-unavailable", "modem (udev indisponible)")
        if self._watch_sticks:
            self._start_stick_watch()
        snapshot = self.power.sample()
        if snapshot.state is not BatteryState.CRITICAL and readonly.clear_read_only(self.cfg.paths.data_dir):
            log.warning("Lecture seule levée : l'appareil a redémarré et la batterie n'est plus critique")
        now = self.clock.now()
        last = self.state.last_window_at()
        if last is None:
            self.state.set_last_window_at(now)  # first start ever: nothing was missed
            return None
        return latest_window_between(self.triggers, last, now)

    def sample(self) -> None:
        """The periodic job: battery, clock, and the data counters while the link is up."""
        try:
            self.power.sample()
            jump = self.clock_watch.check()
            if jump is not None:
                self.events.emit("clock_jump", f"L'horloge a sauté de {jump:+.0f} s", severity="warning",
                                 seconds=jump)
                if self._scheduler is not None:
                    self._scheduler.wakeup()
            link = self._link
            if link is not None:
                self.usage.sample(link.interface)
        except Exception:
            log.exception("Échantillonnage en erreur")

    def run_window(self, scheduled_at: datetime | None = None, catch_up: bool = False) -> None:
        try:
            summary = self.windows.run(scheduled_at or self._nominal_window_time(), catch_up=catch_up)
            self.notifier.status(f"Dernière fenêtre : {summary.outcome}")
        except Exception:
            log.exception("Fenêtre d'envoi en erreur")

    def send_urgent(self) -> None:
        """The urgent check (every ``uploads.urgent_check_s``): an urgent item due leaves at once."""
        try:
            summary = self.windows.run_urgent()
        except Exception:
            log.exception("Envoi urgent en erreur")
            return
        if summary is not None:
            self.notifier.status(f"Envoi urgent : {summary.outcome}")

    def jobs(self, start: datetime) -> list[Job]:
        interval = IntervalTrigger(seconds=self.cfg.power.sample_interval_s, start_date=start, timezone=self.tz)
        jobs = [Job("battery-sample", interval, self.sample)]
        if self.windows.watches_urgent:
            began = start - timedelta(seconds=self.cfg.power.sample_interval_s)  # ``start``: the first sample
            every = self.cfg.uploads.urgent_check_s
            check = IntervalTrigger(seconds=every, start_date=began + timedelta(seconds=every), timezone=self.tz)
            jobs.append(Job("urgent-check", check, self.send_urgent))
        for (hour, minute), trigger in zip(self.cfg.uploads.times, self.triggers, strict=True):
            jobs.append(Job(f"window-{hour:02d}{minute:02d}", trigger, self.run_window))
        hour, minute = self.cfg.backup.nightly_time()
        jobs.append(Job("nightly-backup", CronTrigger(hour=hour, minute=minute, timezone=self.tz), self.backup))
        return jobs

    def backup(self) -> None:
        """The nightly job: a verified local copy (and a stick, and the off-site copy queued)."""
        if self.shutdown.started:
            return
        from appliance.backup.local import run_nightly_backup

        try:
            with self.backup_lock:
                report = run_nightly_backup(self.cfg, usb=self.usb_media())
        except Exception:
            log.exception("Sauvegarde de nuit impossible")
            return
        if report.ok:
            log.info("Sauvegarde de nuit : %s", report.file)
        else:
            log.error("Sauvegarde de nuit incomplète : %s", " ; ".join(report.problems))

    def usb_media(self) -> UsbMedia:
        """The sticks as this agent sees them: mounted ones, or the simulated folders."""
        marker = self.cfg.backup.usb_marker
        if self.simulation:
            return FolderUsbMedia([], marker, root=simulated_sticks_root(self.cfg.paths.data_dir))
        return MountedUsbMedia(self.cfg.backup.usb_mount_roots, marker)

    def copy_to_plugged_stick(self, stick_folder: Path) -> None:
        """The stick-copy worker's job: the newest verified backup onto a stick just plugged in (made
        first if there is none), logged in ``backup_run`` like the nightly copy, and announced."""
        from appliance.backup.local import copy_latest_to_stick

        with self.backup_lock:
            if self.shutdown.started:
                return
            report = copy_latest_to_stick(self.cfg, stick_folder)
        stick = stick_folder.parent
        copied = report.usb_copies[0].name if report.usb_copies else ""
        if copied and not report.problems:
            message = f"Sauvegarde copiée et vérifiée sur la clé USB {stick.name} ({copied})"
            self.events.emit("usb_backup", message, stick=str(stick), ok=True, file=copied)
            log.info("%s", message)
        else:
            message = f"Copie sur la clé USB {stick.name} : {' ; '.join(report.problems) or 'rien copié'}"
            self.events.emit("usb_backup", message, severity="warning", stick=str(stick), ok=bool(copied),
                             file=copied)
            log.error("%s", message)
        self.notifier.status(message)

    def status(self) -> AgentStatus:
        return AgentStatus(
            at=self.clock.now(),
            started_at=self.started_at,
            battery=self.power.snapshot(),
            modem=self.modem.status(),
            data=self.usage.current(),
            clock=ClockStatus(kernel_clock_synced(), self.clock_watch.last_jump_s, self.clock_watch.last_jump_at),
            last_window=self.windows.last,
            next_window_at=next_window(self.triggers, self.clock.now()),
            read_only=readonly.read_only_state(self.cfg.paths.data_dir) is not None,
            shutting_down=self.shutdown.started,
            simulation=self.simulation,
        )

    # -- running under systemd ------------------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM/SIGINT, ``stop()`` or a simulated poweroff; returns the exit status."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        if threading.current_thread() is threading.main_thread():  # a test may run the loop in a thread
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda number, frame: self.stop())
        missed = self.start()
        grace = self.cfg.uploads.misfire_grace_minutes * 60
        scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=3)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
            timezone=self.tz,
        )
        now = self.clock.now()
        for job in self.jobs(now + timedelta(seconds=self.cfg.power.sample_interval_s)):
            scheduler.add_job(job.run, job.trigger, id=job.name, name=job.name)
        if missed is not None:
            log.info("Fenêtre manquée de %s (coupure ?) : rattrapage unique dans %d s",
                     missed.astimezone(self.tz).isoformat(timespec="minutes"), self.cfg.uploads.catch_up_delay_s)
            scheduler.add_job(self.run_window, "date", id="window-catch-up",
                              run_date=now + timedelta(seconds=self.cfg.uploads.catch_up_delay_s),
                              kwargs={"scheduled_at": missed, "catch_up": True}, misfire_grace_time=None)
        interval = self.notifier.watchdog_interval_s
        if interval:
            scheduler.add_job(self.notifier.watchdog, "interval", seconds=interval, id="watchdog")
        self._scheduler = scheduler
        scheduler.start()
        nxt = next_window(self.triggers, now)
        self.notifier.ready(f"Batterie {self.power.state.value} ; prochaine fenêtre "
                            f"{nxt.astimezone(self.tz).strftime('%H:%M') if nxt else '—'}")
        log.info("Agent prêt (%s) ; fenêtres %s", "simulation" if self.simulation else "matériel réel",
                 ", ".join(self.cfg.uploads.windows))
        self._stop.wait()
        log.info("Arrêt de l'agent demandé")
        self.notifier.stopping()
        self.windows.abort()
        scheduler.shutdown(wait=True)
        self.close()
        log.info("Agent arrêté proprement")
        return 0

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._flush_history()
        if self._udev is not None:
            self._udev.stop()
        if self._stick_watcher is not None:
            self._stick_watcher.stop()
            self._stick_watcher = None
        self.stick_copier.stop()
        self.power.close()
        self.modem.close()

    # -- internals ------------------------------------------------------------------------------------

    def _nominal_window_time(self) -> datetime:
        now = self.clock.now()
        return latest_window_between(self.triggers, now - timedelta(hours=1), now) or now

    def _start_stick_watch(self) -> None:
        """Sticks already plugged in count as just plugged: the box may have been off when they were."""
        appeared = self.stick_copier.appeared
        watcher: MountTableWatcher | FolderStickWatcher
        if self.simulation:
            root = simulated_sticks_root(self.cfg.paths.data_dir)
            watcher = FolderStickWatcher(root, self.cfg.backup.usb_marker, appeared)
        else:
            watcher = MountTableWatcher(self.cfg.backup.usb_mount_roots, appeared)
        self.stick_copier.start()
        try:
            watcher.start()
        except OSError as exc:
            log.error("Clés USB non surveillées (%s) : la copie se fera à la sauvegarde de nuit", exc)
            return
        self._stick_watcher = watcher
        if self.simulation:
            log.info("Clés USB simulées : créer dans %s un dossier contenant un dossier %s pour en brancher une",
                     root, self.cfg.backup.usb_marker)

    def _set_link(self, link: Link | None) -> None:
        self._link = link

    def _critical(self, cause: str) -> None:
        reason = {"low_voltage_pin": "signal tension basse du régulateur"}.get(cause, "batterie critique")
        self.shutdown.shutdown(reason)

    def _flush_history(self) -> None:
        try:
            self.history.flush()
        except Exception:
            log.exception("Historique de la batterie non écrit")

    def _modem_presence_changed(self, present: bool, name: str) -> None:
        if present:
            self.events.emit("modem_added", f"Modem branché ({name})", port=name)
        else:
            self.events.emit("modem_removed", f"Modem débranché ({name})", severity="warning", port=name)

    def _on_event(self, event) -> None:
        if event.kind != "battery_state":
            return
        self.notifier.status(event.message)
        if event.data.get("state") == BatteryState.LOW.value and not self.windows.busy:
            self.modem.power_down()  # LOW: the modem stays off between windows


def drive(agent: Agent, clock: ManualClock, until: datetime, *, catch_up: datetime | None = None) -> None:
    """Run the agent's jobs over simulated time, in order, without sleeping: the same triggers
    APScheduler would use, so a week of samples and windows takes seconds."""
    queue: list[tuple[datetime, int, Job]] = []
    start = clock.now()
    jobs = agent.jobs(start + timedelta(seconds=agent.cfg.power.sample_interval_s))
    for order, job in enumerate(jobs):
        first = job.trigger.get_next_fire_time(None, start)
        if first is not None:
            queue.append((first, order, job))
    if catch_up is not None:
        delay = timedelta(seconds=agent.cfg.uploads.catch_up_delay_s)
        queue.append((start + delay, -1, Job("window-catch-up", None,
                                             lambda: agent.run_window(catch_up, catch_up=True))))
    while queue and not agent._stop.is_set():
        queue.sort(key=lambda item: (item[0], item[1]))
        moment, order, job = queue.pop(0)
        if moment > until:
            break
        clock.advance_to(moment)
        job.run()
        if job.trigger is not None:
            following = job.trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))
            if following is not None:
                queue.append((following, order, job))
    if not agent._stop.is_set():
        clock.advance_to(until)
