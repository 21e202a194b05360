"""An agent in simulation on a clock the test drives, and a fake outbox that keeps the real one's
contract, so windows can be run, broken and re-run in milliseconds."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from appliance.agent.clock import ManualClock
from appliance.agent.hooks import AgentPartners
from appliance.agent.sdnotify import Notifier
from appliance.agent.service import Agent

MONDAY = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)  # Bamako is UTC all year


@dataclass
class FakeReport:
    """The fields of appliance.outbox.FlushReport the agent reads."""

    attempted: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    stopped: str = "empty"
    remaining: int = 0

    def summary_fr(self) -> str:
        return (f"{self.delivered} livré(s), {self.retried} à réessayer, {self.remaining} en attente ; "
                f"fin : {self.stopped}")


@dataclass
class FakeOutbox:
    """Follows appliance.outbox.Outbox.flush's contract (deadline_s, only_urgent, byte_budget; an item is
    delivered only once the other side answered; the report says the bytes moved), timed on the
    simulated modem's link so a drop mid-transfer behaves as it would on the wire."""

    agent: Agent | None = None
    items: list[dict] = field(default_factory=list)
    delivered: list[int] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)
    on_flush: Callable[[], None] | None = None
    on_delivered: Callable[[int], None] | None = None  # after each item the other side acknowledged

    def add(self, count: int, *, urgent: bool = False, size: int = 3000) -> None:
        for _ in range(count):
            self.items.append({"id": len(self.items), "urgent": urgent, "size": size})

    def flush(self, *, deadline_s=None, only_urgent=False, byte_budget=None) -> FakeReport:
        self.calls.append({"deadline_s": deadline_s, "only_urgent": only_urgent, "byte_budget": byte_budget})
        if self.on_flush:
            self.on_flush()
        report = FakeReport()
        modem, clock = self.agent.modem, self.agent.clock
        for item in self.waiting(only_urgent):
            if byte_budget is not None and report.bytes_sent >= byte_budget:
                report.stopped = "byte_budget"
                break
            report.attempted += 1
            clock.advance(modem.seconds_for(item["size"] + 300))
            if not modem.link_up():  # the answer never came back: not delivered, to retry
                report.retried += 1
                report.stopped = "link_down"
                break
            self.delivered.append(item["id"])
            report.delivered += 1
            report.bytes_sent += item["size"]
            report.bytes_received += 300
            if self.on_delivered:
                self.on_delivered(item["id"])
        report.remaining = len(self.waiting(False))
        return report

    def urgent_due(self, kinds: list[str] | None = None) -> bool:
        """appliance.outbox.urgent_due's contract: an urgent item is waiting (this fake has one kind)."""
        return bool(self.waiting(True))

    def waiting(self, only_urgent: bool) -> list[dict]:
        return [i for i in self.items if i["id"] not in self.delivered and (i["urgent"] or not only_urgent)]


@pytest.fixture
def make_agent(cfg, store):
    made: list[Agent] = []

    def make(*, start: datetime = MONDAY, power=None, modem=None, uploads=None, outbox: FakeOutbox | None = None,
             publish=None, fetch_update=None, start_agent: bool = True,
             watch_urgent: bool = False) -> tuple[Agent, ManualClock, FakeOutbox]:
        config = cfg
        if power:
            config = dataclasses.replace(config, power=dataclasses.replace(
                config.power, simulation=dataclasses.replace(config.power.simulation, **power)))
        if modem:
            config = dataclasses.replace(config, modem=dataclasses.replace(
                config.modem, simulation=dataclasses.replace(config.modem.simulation, **modem)))
        config = dataclasses.replace(config, uploads=dataclasses.replace(
            config.uploads, **{"catch_up_delay_s": 0, **(uploads or {})}))
        clock = ManualClock(start)
        outbox = outbox or FakeOutbox()
        agent = Agent(config, simulate=True, clock=clock, notifier=Notifier({}), partners=AgentPartners(
            flush_loader=lambda: outbox.flush, publish_telemetry=publish or (lambda deadline_s: None),
            fetch_update=fetch_update, urgent_due=outbox.urgent_due if watch_urgent else None))
        outbox.agent = agent
        made.append(agent)
        if start_agent:
            agent.start()  # what Agent.run does before the scheduler: first sample, read-only flag, catch-up
        return agent, clock, outbox

    yield make
    for agent in made:
        agent.close()
