""""À revoir" by windows: this week first, then the recently overdue (most recent first), lapsed
items (past the programme's call window or their own limit) on a list of their own; the same
order on the printed list; filters by programme, village and status."""

from __future__ import annotations

import datetime as dt
import re

from appliance.clinical import followup_windows
from appliance.followup import queries
from appliance.followup.queries import DueView
from appliance.patients.models import AntenatalVisit
from tests.conftest import text_of
from tests.followup.conftest import TODAY, days_ago
from tests.followup.test_pages import listed_items, listed_patients


def test_each_item_has_a_window_from_its_programme_file():
    overdue_on = TODAY - dt.timedelta(days=10)
    item = DueView("x", "pev", "Penta 1", overdue_on - dt.timedelta(days=14), overdue_on, None, TODAY)
    assert item.status == "en_retard" and item.lapses_on == overdue_on + dt.timedelta(days=180)
    assert DueView("x", "pev", "Penta 1", days_ago(400), days_ago(386), None, TODAY).status == "depasse"
    assert DueView("x", "cpn", "CPN 3", days_ago(40), days_ago(33), None, TODAY).status == "depasse"
    assert DueView("x", "pev", "BCG", days_ago(20), days_ago(6), None, TODAY,
                   expires_on=TODAY).status == "depasse"  # its age limit came first
    assert DueView("x", "pev", "BCG", TODAY, TODAY + dt.timedelta(days=14), None, TODAY).status == "du"
    assert followup_windows.call_window_days("a_new_list") == 90  # the file's default


def _rank(item: DueView) -> tuple[int, int]:
    """Where an item belongs on the daily list: this week by date, then overdue newest first."""
    if item.status in ("a_venir", "du"):
        return 0, item.overdue_on.toordinal()
    return 1, -item.overdue_on.toordinal()


def test_this_week_first_then_the_recently_overdue_then_nothing_lapsed(login_as, person):
    due = person("Due", age_days=3)           # BCG due, not yet late
    soon = person("Soon", age_days=38)        # Penta 1 due in 4 days (BCG late)
    recent = person("Recent", age_days=60)    # Penta 1 late by 4 days
    older = person("Older", age_days=250)     # nothing due this week, the last dose late by weeks
    lapsed = person("Lapsed", age_days=700)   # every dose late by more than the 180-day window
    lines = queries.worklist(("pev",), TODAY, per_page=100).lines
    firsts = [_rank(line.items[0]) for line in lines]
    assert firsts == sorted(firsts)
    assert all(item.status != "depasse" for line in lines for item in line.items)

    nurse = login_as("infirmier")
    order = listed_patients(nurse.get("/a-revoir?programme=pev"))
    assert order == [line.patient.id for line in lines]
    assert order[:2] == [due.id, soon.id] and order.index(recent.id) < order.index(older.id)
    assert lapsed.id not in order
    page = nurse.get("/a-revoir?programme=pev&statut=depasse")
    assert lapsed.id in listed_patients(page) and "Dépassé" in text_of(page)
    assert listed_patients(nurse.get("/a-revoir?programme=pev&statut=semaine")) == [due.id, soon.id]
    overdue = listed_patients(nurse.get("/a-revoir?programme=pev&statut=retard"))
    assert overdue[0] == recent.id and set(overdue) == {recent.id, soon.id, older.id}
    printed = text_of(nurse.get("/a-revoir/imprimer?programme=pev&village=pelengana"))
    names = {due.id: "Due", soon.id: "Soon", recent.id: "Recent", older.id: "Older"}
    positions = [printed.index(f"Traoré {names[patient]}") for patient in order]
    assert positions == sorted(positions) and "Traoré Lapsed" not in printed


def test_a_cpn_missed_by_more_than_four_weeks_leaves_the_daily_list(login_as, person, visit):
    missed = person("Mariam", age_days=365 * 25)
    visit(missed, AntenatalVisit(visit_date=days_ago(90), gestational_age_weeks=16))
    midwife = login_as("sage_femme")
    mine = f"{missed.id}~"
    lapsed = [item for item in listed_items(midwife.get("/a-revoir?statut=depasse")) if item.startswith(mine)]
    daily = [item for item in listed_items(midwife.get("/a-revoir")) if item.startswith(mine)]
    assert lapsed and not set(lapsed) & set(daily), (lapsed, daily)


def test_filters_combine_programme_village_and_status(login_as, person):
    here = person("Awa", age_days=70, village="Kalaban")
    person("Fanta", age_days=70, village="Sébougou")
    nurse = login_as("infirmier")
    page = nurse.get("/a-revoir?programme=pev&village=kalaban&statut=retard")
    assert listed_patients(page) == [here.id]
    html = page.get_data(as_text=True)
    assert '<option value="retard" selected>' in html
    assert re.search(r'href="/a-revoir/imprimer\?[^"]*statut=retard', html) is None  # the printout is the daily list


def test_pages_of_the_daily_list_cross_from_this_week_to_overdue_without_repeats(person):
    for index in range(4):
        person(f"Semaine{index}", age_days=38 + index)
        person(f"Retard{index}", age_days=70 + index * 10)
    seen, after = [], None
    for _ in range(20):
        page = queries.worklist(("pev",), TODAY, after=after, per_page=2)
        seen += [item.id for line in page.lines for item in line.items]
        if not page.has_next:
            break
        after = page.next_cursor
    everything = [item.id for line in queries.worklist(("pev",), TODAY, per_page=200).lines for item in line.items]
    assert sorted(seen) == sorted(everything) and len(seen) == len(set(seen))
