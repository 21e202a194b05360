"""WHO postnatal contacts (data/postnatal.toml): within 24 h, day 3, days 7-14, week 6."""

from datetime import date, timedelta

from appliance.clinical.schedules import PatientFacts, Postnatal, PostnatalContact, follow_up

BORN = date(2026, 3, 10)


def day(offset: int) -> date:
    return BORN + timedelta(days=offset)


def postnatal_items(subject: str, today: date, *contacts: PostnatalContact):
    facts = PatientFacts("p", date(1996, 1, 1) if subject == "mere" else BORN, "F",
                         postnatal=Postnatal(subject, BORN, contacts))  # type: ignore[arg-type]
    return [item for item in follow_up(facts, today).items if item.programme == "cpon"]


def test_the_four_who_contacts_with_their_windows():
    items = {item.rule_id: item for item in postnatal_items("mere", BORN)}
    assert list(items) == ["cpon.mere1", "cpon.mere2", "cpon.mere3", "cpon.mere4"]
    windows = [(item.due_on, item.overdue_on, item.expires_on) for item in items.values()]
    assert windows == [(day(0), day(1), day(2)), (day(2), day(4), day(7)), (day(7), day(15), day(35)),
                       (day(35), day(42), day(56))]
    assert items["cpon.mere1"].id == f"p~cpon.mere1~{BORN.isoformat()}"
    assert items["cpon.mere1"].status(BORN) == "du" and items["cpon.mere1"].status(day(1)) == "en_retard"


def test_newborn_labels_and_rule_ids():
    items = postnatal_items("nouveau_ne", BORN)
    assert [item.rule_id for item in items][:2] == ["cpon.nouveau_ne1", "cpon.nouveau_ne2"]
    assert items[0].label == "CPoN 1 nouveau-né (dans les 24 h)"


def test_a_numbered_visit_closes_its_contact_whatever_its_date():
    items = postnatal_items("mere", day(5), PostnatalContact(day(5), 2))
    assert [item.rule_id for item in items] == ["cpon.mere3", "cpon.mere4"]  # contact 1 expired on day 2


def test_an_unnumbered_visit_closes_the_contact_whose_window_holds_its_date():
    items = postnatal_items("mere", day(8), PostnatalContact(day(0)), PostnatalContact(day(8)))
    assert [item.rule_id for item in items] == ["cpon.mere4"]
    still_open = postnatal_items("mere", day(3), PostnatalContact(day(0)))
    assert [item.rule_id for item in still_open] == ["cpon.mere2", "cpon.mere3", "cpon.mere4"]


def test_a_missed_contact_is_overdue_until_the_next_is_due_then_leaves():
    late = {item.rule_id: item for item in postnatal_items("nouveau_ne", day(20))}
    assert late["cpon.nouveau_ne3"].status(day(20)) == "en_retard"
    assert "cpon.nouveau_ne2" not in late
    assert postnatal_items("nouveau_ne", day(56)) == []  # the postnatal period is over


def test_a_visit_before_the_birth_belongs_to_an_earlier_one():
    items = postnatal_items("mere", BORN, PostnatalContact(day(-400), 1))
    assert items[0].rule_id == "cpon.mere1"
