"""Property: on any record, the SQL builder gives exactly the figures of a plain Python recount."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.patients import codes
from appliance.patients.models import (
    AntenatalVisit,
    ChronicVisit,
    Consultation,
    Delivery,
    DeliveryBaby,
    FamilyPlanningVisit,
    GrowthMeasurement,
    Immunisation,
    PostnatalVisit,
    Pregnancy,
)
from appliance.reports.builder import Month, build_report, records_behind
from appliance.settings.reports import ReportSettings
from appliance.store.db import database
from tests.reports.factories import make_patient, make_visit
from tests.reports.recount import recount

MONTH = Month.parse("2024-03")


def days(low: int, high: int):
    return st.integers(low, high).map(lambda offset: MONTH.start + dt.timedelta(days=offset))


def maybe(strategy):
    return st.none() | strategy


VISITS = st.one_of(
    st.fixed_dictionaries({"model": st.just(Consultation),
                           "diagnosis_code": st.sampled_from([*codes.code_list("diagnoses"), "XX99"])}),
    st.fixed_dictionaries({"model": st.just(AntenatalVisit), "contact_number": maybe(st.integers(1, 6)),
                           "iptp_dose": maybe(st.integers(1, 3)), "td_dose": maybe(st.integers(1, 5)),
                           "net_given": st.booleans()}),
    st.fixed_dictionaries({"model": st.just(Delivery),
                           "place": st.sampled_from(["ici", "domicile", "en_route", "autre_formation"]),
                           "attendant": st.sampled_from([None, "sage_femme", "medecin", "matrone", "accoucheuse"]),
                           "outcome": st.sampled_from(["vivant", "vivant", "mort_frais", "mort_macere"]),
                           "baby_sex": st.sampled_from([None, "F", "M"]),
                           "birth_weight_g": maybe(st.integers(1200, 4200)),
                           # baby 2 of twins: (outcome, sex, weight, row voided by a correction)
                           "second": maybe(st.tuples(st.sampled_from(["vivant", "mort_frais"]),
                                                     st.sampled_from([None, "F", "M"]),
                                                     maybe(st.integers(1200, 4200)), st.booleans()))}),
    st.fixed_dictionaries({"model": st.just(PostnatalVisit), "subject": st.sampled_from(["mere", "nouveau_ne"])}),
    st.fixed_dictionaries({"model": st.just(Immunisation),
                           "antigen": st.sampled_from(list(codes.code_list("antigens"))),
                           "dose_number": st.integers(0, 5), "given_here": st.booleans()}),
    st.fixed_dictionaries({"model": st.just(GrowthMeasurement),
                           "weight_kg": maybe(st.floats(1.5, 25, allow_nan=False).map(lambda w: round(w, 1))),
                           "height_cm": maybe(st.floats(45, 125, allow_nan=False).map(lambda h: round(h, 1))),
                           "position": st.sampled_from([None, "couche", "debout"]),
                           "muac_mm": maybe(st.integers(95, 170)), "oedema": st.booleans()}),
    st.fixed_dictionaries({"model": st.just(FamilyPlanningVisit),
                           "method": st.sampled_from(list(codes.code_list("fp_methods"))),
                           "user_status": st.sampled_from(["nouvelle", "continue"])}),
    st.fixed_dictionaries({"model": st.just(ChronicVisit), "programme": st.sampled_from(["hta", "diabete"]),
                           "next_appointment": maybe(days(-200, 40))}),
)

PATIENTS = st.lists(
    st.fixed_dictionaries({
        "sex": st.sampled_from(["F", "M"]),
        # Birthdays near the boundaries are frequent: whole years before a day of the month, ± a day.
        "birth": st.one_of(
            days(-80 * 366, 0),
            st.tuples(st.sampled_from([0, 1, 5, 15, 25, 50]), st.integers(-1, 1), st.integers(0, 30)).map(
                lambda t: (MONTH.start + dt.timedelta(days=t[2])).replace(year=MONTH.start.year - t[0])
                + dt.timedelta(days=t[1])),
        ),
        "voided": st.sampled_from([False] * 9 + [True]),  # a record cancelled by mistake, one in ten
        # Her pregnancy's dating: by LMP, or by an ultrasound (date, weeks), or undated.
        "dating": st.one_of(st.none(), days(-300, 0).map(lambda lmp: {"lmp_date": lmp}),
                            st.tuples(days(-200, 0), st.integers(6, 23)).map(
                                lambda t: {"ultrasound_on": t[0], "ultrasound_weeks": t[1]})),
        "visits": st.lists(st.tuples(VISITS, days(-150, 40), st.integers(0, 9)), max_size=6),
        # How her pregnancy ended, if it did: a loss (counted by its date), a delivery, a death; and
        # whether that pregnancy record was voided.
        "ending": st.one_of(st.none(), st.tuples(
            days(-150, 40), st.sampled_from(["fausse_couche", "avortement", "geu", "mort_in_utero", "inconnue",
                                             "accouchement", "deces_maternel"]), st.integers(0, 9))),
    }),
    min_size=1, max_size=10,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(people=PATIENTS, today_offset=st.integers(-10, 60), bands=st.sampled_from([[0, 1, 5, 15, 25, 50], [0, 5, 15]]),
       lost_after=st.sampled_from([30, 90]))
def test_sql_builder_equals_a_recount_from_the_visits(store, people, today_offset, bands, lost_after):
    report_settings = ReportSettings(age_bands=bands, lost_after_days=lost_after)
    today = MONTH.end + dt.timedelta(days=today_offset)
    with database.atomic() as transaction:
        for person in people:
            patient = make_patient(person["sex"], person["birth"], voided=person["voided"])
            ending = {}
            if person["ending"]:
                ended_on, reason, voided_roll = person["ending"]
                ending = {"ended_on": ended_on, "end_reason": reason, "voided": voided_roll == 0}
            pregnancy = Pregnancy.create(patient=patient.id, opened_on=MONTH.start, **(person["dating"] or {}),
                                         **ending)
            for fields, when, voided_roll in person["visits"]:
                values = dict(fields)
                model = values.pop("model")
                if model is AntenatalVisit:
                    values["pregnancy"] = pregnancy.id
                second = values.pop("second", None)
                twins = {"babies": 2} if second else {}
                visit = make_visit(model, patient, max(when, person["birth"]), voided=voided_roll == 0,
                                   **twins, **values)
                if second:
                    outcome, sex, weight, row_voided = second
                    DeliveryBaby.create(delivery=visit.id, position=2, outcome=outcome, sex=sex,
                                        birth_weight_g=weight, voided=row_voided)
        report = build_report(MONTH.period, report_settings, today=today)
        built = {cell: value for cell, value in report.figures.values.items() if value}
        assert built == recount(MONTH.period, report_settings, today)
        for (indicator, disaggregation), value in list(built.items())[:5]:
            sex, band = disaggregation.split("_", 1)
            listed = records_behind(MONTH.period, indicator, report_settings, sex=sex, band=band, today=today)
            assert len(listed) == value
        transaction.rollback()
