"""No RTC: the card restarts with its clock a year behind, then the time is corrected.

A Pi has no real-time clock: it boots with fake-hwclock's last save, and chrony steps the clock once the
modem reaches a time server. Here the save is a year old (a card left in a drawer, or a save lost in a
cut) and QEMU's virtual RTC says the same, so the card starts behind what it already wrote: as far back
as systemd lets it (never before systemd's own build date), months here. Staff
are warned on every page, a visit recorded meanwhile keeps the date the nurse gives (her phone's), none
is stored with the clock's wrong year, and once the clock is stepped right (as chrony does) the warning
goes and nothing was lost.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import time

import pytest

from tests.boot.conftest import BootedCard
from tests.boot.staff import NEW_PASSWORD, Staff
from tests.image.building import ON_THE_CARD

pytestmark = [ON_THE_CARD, pytest.mark.slow, pytest.mark.timeout(3600)]  # the first test builds and boots the image

WARNING = "L'horloge de l'appareil est en retard"
# Every visit of this test, read as the service user: its date and when it was written by the clock.
VISITS = """
import json, sqlite3
db = sqlite3.connect("file:/var/lib/appliance/appliance.db?mode=ro", uri=True)
rows = db.execute("SELECT reason, visit_date FROM consultation WHERE reason LIKE 'horloge %'").fetchall()
print(json.dumps(dict(rows)))
"""


def logged_in_again(nurse: Staff) -> None:
    """After a clock jump staff may have to log in again (nothing typed is lost: she had nothing open)."""
    if nurse.request("GET", "/")[0] != 200:
        nurse.login("infirmier1", NEW_PASSWORD)
    assert nurse.request("GET", "/")[0] == 200


def guest_now(card: BootedCard) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(card.machine.ssh("date +%s").stdout), dt.UTC)


def test_a_card_a_year_behind_warns_staff_and_keeps_true_dates(booted: BootedCard) -> None:
    machine = booted.machine
    nurse, patient_id = booted.nurse_session()
    nurse.record_visit(patient_id, "horloge avant")
    a_year_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=365)
    # fake-hwclock's save a year old, then the power goes before it is saved again.
    machine.ssh(f"sudo sh -c 'echo \"{a_year_ago:%Y-%m-%d %H:%M:%S}\" > /etc/fake-hwclock.data && sync'")
    machine.power_cut()
    machine.rtc_base = a_year_ago.strftime("%Y-%m-%dT%H:%M:%S")
    try:
        machine.start()
        machine.wait_for_http(timeout=900)
        machine.wait_for_ssh()
        # systemd never starts the clock before its own build date: a year asked, months behind obtained.
        guest_day = guest_now(booted).date()
        behind = dt.date.today() - guest_day
        assert behind > dt.timedelta(days=30), behind  # the card really believes it is months ago
        # The session cookie is signed with its time: "from the future" by this clock, it is refused.
        logged_in_again(nurse)

        home = html.unescape(nurse.request("GET", "/")[2])
        assert WARNING in home and guest_day.strftime("%d/%m/%Y") in home
        _, _, form = nurse.request("GET", f"/patients/{patient_id}/consultation/nouveau")
        assert f'value="{guest_day.isoformat()}"' not in form  # no default in the clock's wrong month
        nurse.record_visit(patient_id, "horloge en retard")  # the nurse's date: yesterday, by her phone

        # The clock is stepped to the true time, as chrony does at the first contact over the modem.
        machine.ssh(f"sudo date -u -s @{int(time.time())}")
        assert abs(dt.datetime.now(dt.UTC) - guest_now(booted)) < dt.timedelta(minutes=2)
        # Her session was last seen months ago by the wrong clock: if it now counts as idle, she logs in again.
        logged_in_again(nurse)
        home = nurse.request("GET", "/")[2]
        assert WARNING not in html.unescape(home) and "Se déconnecter" in home
        nurse.record_visit(patient_id, "horloge corrigée")
    finally:
        machine.rtc_base = "utc"

    stored = json.loads(machine.ssh("sudo -u appliance /opt/appliance/venv/bin/python -", stdin=VISITS).stdout)
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    # Every visit kept exactly the date the nurse gave; none took the clock's wrong year.
    assert stored == {"horloge avant": yesterday, "horloge en retard": yesterday, "horloge corrigée": yesterday}
