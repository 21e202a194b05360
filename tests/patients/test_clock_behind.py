"""A clock that restarted behind what the box already wrote (no RTC on the Pi, fake-hwclock's save lost):
staff are warned on every page, a visit's date defaults to the day of the latest write (not the clock's
wrong year) and the real date typed from a phone is not refused as "in the future".
"""

from __future__ import annotations

import datetime as dt
import html

from appliance.patients.models import Consultation
from appliance.store.clock import behind_since, trusted_today
from appliance.store.models import AuditEntry
from appliance.store.utc import utcnow
from tests.patients.conftest import visit_form_data

WARNING = "L'horloge de l'appareil est en retard"
AHEAD = dt.timedelta(days=365)


def written_a_year_ahead() -> dt.datetime:
    """Writes made when the clock was right, a year after what it says now (a year behind)."""
    moment = utcnow() + AHEAD
    AuditEntry.create(at=moment, username="infirmier1", role="infirmier", action="create", table_name="patient")
    return moment


def test_a_right_clock_shows_no_warning(login_as, new_patient) -> None:
    web = login_as("sage_femme")
    new_patient()
    assert behind_since() is None and trusted_today() == dt.date.today()
    assert WARNING not in web.get("/").data.decode()


def test_staff_are_warned_and_visits_keep_the_true_date(login_as, new_patient) -> None:
    web = login_as("sage_femme")
    patient = new_patient()
    latest = written_a_year_ahead()
    assert behind_since() == latest and trusted_today() == latest.date()

    page = html.unescape(web.get("/").data.decode())
    assert WARNING in page and latest.strftime("%d/%m/%Y") in page and dt.date.today().strftime("%d/%m/%Y") in page
    form = web.get(f"/patients/{patient.id}/consultation/nouveau").data.decode()
    assert f'value="{latest.date().isoformat()}"' in form  # the default date is not the clock's wrong year

    true_day = latest.date() - dt.timedelta(days=1)  # what the nurse's phone says
    url = f"/patients/{patient.id}/consultation/nouveau"
    assert web.post(url, {**visit_form_data("consultation"), "visit_date": true_day.isoformat()}).status_code == 302
    assert Consultation.get().visit_date == true_day

    beyond = latest.date() + dt.timedelta(days=3)  # later than anything the box ever saw: still refused
    refused = html.unescape(web.post(url, {**visit_form_data("consultation"),
                                           "visit_date": beyond.isoformat()}).data.decode())
    assert "La date est dans le futur." in refused and Consultation.select().count() == 1
