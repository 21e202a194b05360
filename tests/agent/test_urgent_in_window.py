"""An urgent item (a suspected SIMR case) queued while an upload window's link is up leaves in that
window, before the modem hangs up: not at the next window, not over a second connection. The
agent's own window on its driven clock, the simulated 3G modem, the outbox fake of conftest."""

from __future__ import annotations

import pytest

from appliance.store.device import recent_windows
from tests.agent.conftest import MONDAY, FakeOutbox

SIX = MONDAY.replace(hour=6)


@pytest.mark.parametrize("queued", ["while the reports go", "while telemetry goes, after the flush"])
def test_an_urgent_item_queued_during_a_window_leaves_before_hang_up(make_agent, queued):
    flushes: list[tuple[bool, bool]] = []  # (only urgent, link up) of each flush

    def queue_urgent() -> None:
        outbox.add(1, urgent=True, size=800)

    outbox = FakeOutbox(on_flush=lambda: flushes.append((outbox.calls[-1]["only_urgent"], agent.modem.link_up())))
    if queued == "while the reports go":
        outbox.on_delivered = lambda item_id: queue_urgent() if item_id == 1 else None
    agent, clock, outbox = make_agent(outbox=outbox, watch_urgent=True, publish=(
        (lambda deadline_s: queue_urgent()) if queued.startswith("while telemetry") else None))
    outbox.add(3)
    clock.advance_to(SIX)
    connects = agent.modem.connects
    agent.run_window()

    assert outbox.delivered == [0, 1, 2, 3]  # the urgent item (id 3) too, once
    assert flushes == [(False, True), (True, True)]  # its own urgent-only flush, the link still up
    assert agent.modem.connects == connects + 1 and not agent.modem.link_up()  # one connection, then hang-up
    row = recent_windows()[0]
    assert row.outcome == "done" and "urgent arrivé pendant la fenêtre" in row.detail
    assert row.bytes_sent == 3 * 3000 + 800
    assert agent.windows.run_urgent() is None  # nothing left for an urgent connection of its own
    assert agent.modem.connects == connects + 1


def test_without_an_urgent_item_the_window_hangs_up_after_one_flush(make_agent):
    """The check before hang-up costs nothing when nothing urgent came: no second flush."""
    agent, clock, outbox = make_agent(watch_urgent=True)
    outbox.add(2)
    clock.advance_to(SIX)
    agent.run_window()
    assert len(outbox.calls) == 1 and outbox.delivered == [0, 1]
    assert "urgent" not in recent_windows()[0].detail
