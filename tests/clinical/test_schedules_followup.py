"""ANC contacts, FP resupply, chronic appointments, growth monitoring; next-due per programme."""

from datetime import date, timedelta

from appliance.clinical.schedules import (
    ChronicCare,
    FamilyPlanning,
    GivenDose,
    PatientFacts,
    Pregnancy,
    follow_up,
    next_due_by_programme,
)

LMP = date(2026, 1, 5)


def sa(weeks, days=0):
    return LMP + timedelta(weeks=weeks, days=days)


def woman(**facts):
    return PatientFacts(patient_id="w1", birth_date=date(1998, 3, 1), sex="F", **facts)


def items(result, programme):
    """The programme's items; for CPN the contacts only, for growth the weighings only (prevention,
    vitamin A and albendazole have their own tests)."""
    return [item for item in result.items if item.programme == programme
            and (programme != "cpn" or item.rule_id.startswith("cpn.sa"))
            and (programme != "croissance" or item.rule_id == "croissance.pesee")]


# --- CPN -------------------------------------------------------------------------------------

def test_cpn_all_eight_contacts_planned_each_superseded_by_the_next():
    result = follow_up(woman(pregnancy=Pregnancy(lmp=LMP)), sa(8))
    cpn = items(result, "cpn")
    assert [item.due_on for item in cpn] == [sa(week) for week in (12, 20, 26, 30, 34, 36, 38, 40)]
    assert [item.expires_on for item in cpn] == [sa(week) for week in (20, 26, 30, 34, 36, 38, 40, 42)]
    assert cpn[0].overdue_on == sa(12, 7)
    assert cpn[1].id == f"w1~cpn.sa20~{sa(20).isoformat()}"


def test_cpn_contact_closes_the_item_and_the_next_one_respects_the_minimum_gap():
    result = follow_up(woman(pregnancy=Pregnancy(lmp=LMP, contacts=(sa(11), sa(23)))), sa(23))
    cpn = items(result, "cpn")
    assert cpn[0].due_on == sa(26)  # not 24: the gap from 23 weeks is at least 2 weeks
    assert cpn[0].label == "CPN (26 SA)"


def test_cpn_late_booking_skips_the_contacts_whose_time_has_passed():
    booked = sa(27)
    result = follow_up(woman(pregnancy=Pregnancy(lmp=LMP, contacts=(booked,))), booked)
    assert [item.due_on for item in items(result, "cpn")][:2] == [sa(30), sa(34)]


def test_cpn_missed_contact_stays_overdue_until_the_next_contact_date():
    pregnancy = Pregnancy(lmp=LMP, contacts=(sa(10),))
    at_22 = items(follow_up(woman(pregnancy=pregnancy), sa(22)), "cpn")
    assert at_22[0].due_on == sa(20)
    assert at_22[0].status(sa(22)) == "en_retard"
    at_26 = items(follow_up(woman(pregnancy=pregnancy), sa(26)), "cpn")
    assert at_26[0].due_on == sa(26)  # the 20-week contact no longer applies


def test_cpn_stops_when_the_pregnancy_ends_or_after_42_weeks():
    assert items(follow_up(woman(pregnancy=Pregnancy(lmp=LMP, ended_on=sa(39))), sa(39)), "cpn") == []
    assert items(follow_up(woman(pregnancy=Pregnancy(lmp=LMP)), sa(42)), "cpn") == []
    assert items(follow_up(woman(pregnancy=Pregnancy(lmp=LMP)), sa(41)), "cpn")[0].due_on == sa(40)


# --- Family planning -------------------------------------------------------------------------

def test_dmpa_due_at_13_weeks_overdue_after_the_4_week_grace():
    injected = date(2026, 3, 2)
    item = items(follow_up(woman(family_planning=FamilyPlanning("dmpa_im", injected)), injected), "pf")[0]
    assert (item.due_on, item.overdue_on) == (injected + timedelta(weeks=13), injected + timedelta(weeks=17))
    assert item.label == "Réinjection DMPA"
    assert item.status(injected + timedelta(weeks=16)) == "du"


def test_pills_resupply_depends_on_cycles_given():
    day = date(2026, 3, 2)
    three = items(follow_up(woman(family_planning=FamilyPlanning("coc", day)), day), "pf")[0]
    six = items(follow_up(woman(family_planning=FamilyPlanning("coc", day, quantity=6)), day), "pf")[0]
    assert three.due_on == day + timedelta(days=84)
    assert six.due_on == day + timedelta(days=168)


def test_implant_replacement_and_old_items_dropped_after_a_year():
    inserted = date(2021, 6, 1)
    implant = FamilyPlanning("implant_jadelle", inserted)
    assert items(follow_up(woman(family_planning=implant), date(2026, 1, 1)), "pf")[0].due_on == date(2026, 6, 1)
    assert items(follow_up(woman(family_planning=implant), date(2027, 6, 2)), "pf") == []


def test_unknown_method_is_a_warning_not_a_crash():
    result = follow_up(woman(family_planning=FamilyPlanning("anneau", date(2026, 1, 1))), date(2026, 1, 2))
    assert items(result, "pf") == []
    assert result.warnings == ("méthode PF « anneau » absente de family_planning.toml",)


# --- Chronic care ----------------------------------------------------------------------------

def test_chronic_appointment_chosen_by_the_clinician_wins():
    visit = date(2026, 2, 1)
    care = ChronicCare("hta", visit, next_appointment_on=date(2026, 2, 20), controlled=True)
    item = items(follow_up(woman(chronic=(care,)), visit), "chronique")[0]
    assert (item.due_on, item.overdue_on) == (date(2026, 2, 20), date(2026, 2, 21))
    assert item.rule_id == "chronique.hta"


def test_chronic_default_interval_depends_on_control():
    visit = date(2026, 1, 31)
    uncontrolled = ChronicCare("hta", visit, controlled=False)
    controlled = ChronicCare("diabete", visit, controlled=True)
    result = follow_up(woman(chronic=(uncontrolled, controlled)), visit)
    assert {item.rule_id: item.due_on for item in items(result, "chronique")} == {
        "chronique.hta": date(2026, 2, 28),  # one calendar month, clamped to the month's end
        "chronique.diabete": date(2026, 4, 30),
    }


def test_chronic_overdue_patient_leaves_the_list_after_365_days():
    care = ChronicCare("hta", date(2025, 1, 1), next_appointment_on=date(2025, 2, 1))
    assert items(follow_up(woman(chronic=(care,)), date(2026, 1, 31)), "chronique")[0].status(
        date(2026, 1, 31)) == "en_retard"
    assert items(follow_up(woman(chronic=(care,)), date(2026, 2, 1)), "chronique") == []


# --- Growth monitoring -----------------------------------------------------------------------

def test_growth_monthly_before_two_years_then_quarterly():
    birth = date(2025, 1, 15)
    baby = PatientFacts("c1", birth, "M", last_weighed_on=date(2025, 11, 15))
    toddler = PatientFacts("c1", birth, "M", last_weighed_on=date(2027, 3, 1))
    assert items(follow_up(baby, date(2025, 11, 15)), "croissance")[0].due_on == date(2025, 12, 15)
    assert items(follow_up(toddler, date(2027, 3, 1)), "croissance")[0].due_on == date(2027, 6, 1)


def test_growth_never_weighed_is_due_from_birth_and_stops_at_five_years():
    birth = date(2021, 1, 15)
    never = follow_up(PatientFacts("c1", birth, "F"), date(2025, 6, 1))
    assert items(never, "croissance")[0].due_on == birth
    assert items(never, "croissance")[0].expires_on == date(2026, 1, 15)
    assert items(follow_up(PatientFacts("c1", birth, "F"), date(2026, 1, 15)), "croissance") == []


# --- Across programmes -----------------------------------------------------------------------

def test_next_due_per_programme_and_urgency_order():
    today = date(2026, 3, 1)
    facts = PatientFacts(
        patient_id="w2", birth_date=date(2000, 1, 1), sex="F",
        pregnancy=Pregnancy(lmp=date(2025, 12, 1), contacts=(date(2026, 2, 20),)),
        family_planning=None,
        chronic=(ChronicCare("hta", date(2026, 1, 1), next_appointment_on=date(2026, 2, 1)),),
    )
    result = follow_up(facts, today)
    # Td1, the net and iron/folic acid were due at the first contact (20 February) and not given.
    assert next_due_by_programme(facts, today) == {"cpn": date(2026, 2, 20), "chronique": date(2026, 2, 1)}
    assert result.items[0].rule_id == "chronique.hta"  # overdue since February: most urgent
    assert [item.sort_key for item in result.items] == sorted(item.sort_key for item in result.items)


def test_adult_gets_no_child_schedules_and_a_man_no_antenatal_care():
    adult = follow_up(woman(), date(2026, 1, 1))
    assert (adult.items, adult.missed) == ((), ())
    man = PatientFacts("m1", date(1990, 1, 1), "M", pregnancy=Pregnancy(lmp=LMP))
    assert follow_up(man, sa(10)).items == ()


def test_no_birth_date_no_child_schedules():
    result = follow_up(PatientFacts("x", None, doses=(GivenDose("bcg", date(2026, 1, 1)),)), date(2026, 2, 1))
    assert result.items == ()
