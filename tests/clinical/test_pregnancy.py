"""Pregnancy risk rules read from data: each rule fires on its own facts, with its French label."""

from dataclasses import replace

import pytest

from appliance.clinical.pregnancy import (
    DATA_FILE,
    PregnancyFacts,
    assess,
    highest_severity,
    load_rules,
    severe_hypertension,
)

HEALTHY = PregnancyFacts(age_years=25, parity=2, previous_caesareans=0, systolic_bp=110, diastolic_bp=70,
                         hb_g_dl=11.5, temperature_c=37.0)


def fired(facts):
    return [alert.rule_id for alert in assess(facts)]


def test_a_healthy_pregnancy_raises_no_alert():
    assert assess(HEALTHY) == []
    assert highest_severity([]) is None
    assert assess(PregnancyFacts()) == []  # nothing measured: nothing fires


@pytest.mark.parametrize(
    ("change", "rule_id", "severity"),
    [
        ({"age_years": 17}, "age_moins_18", "moderate"),
        ({"age_years": 36}, "age_plus_35", "moderate"),
        ({"parity": 5}, "grande_multipare", "high"),
        ({"previous_caesareans": 1}, "uterus_cicatriciel", "high"),
        ({"systolic_bp": 140}, "hta", "high"),
        ({"diastolic_bp": 90}, "hta", "high"),
        ({"hb_g_dl": 6.9}, "anemie_severe", "high"),
        ({"vaginal_bleeding": True}, "saignement", "urgent"),
        ({"convulsions": True}, "convulsions", "urgent"),
        ({"severe_headache": True}, "cephalees_vision", "urgent"),
        ({"blurred_vision": True}, "cephalees_vision", "urgent"),
        ({"fever": True}, "fievre", "urgent"),
        ({"temperature_c": 38.5}, "fievre", "urgent"),
        ({"fluid_loss": True}, "perte_liquide", "urgent"),
        ({"reduced_fetal_movements": True}, "mouvements_foetaux", "urgent"),
        ({"severe_abdominal_pain": True}, "douleur_abdominale", "urgent"),
        ({"difficulty_breathing": True}, "difficulte_respiratoire", "urgent"),
        ({"multiple_pregnancy": True}, "grossesse_multiple", "high"),
        ({"previous_stillbirth_or_neonatal_death": True}, "antecedent_mort_ne", "high"),
    ],
)
def test_each_rule_fires_alone(change, rule_id, severity):
    alerts = assess(replace(HEALTHY, **change))
    assert [(alert.rule_id, alert.severity) for alert in alerts] == [(rule_id, severity)]
    assert alerts[0].label and alerts[0].severity_label


@pytest.mark.parametrize(
    "change",
    [{"age_years": 18}, {"age_years": 35}, {"parity": 4}, {"systolic_bp": 139, "diastolic_bp": 89},
     {"hb_g_dl": 7.0}, {"temperature_c": 37.9}],
)
def test_boundaries_do_not_fire(change):
    assert assess(replace(HEALTHY, **change)) == []


def test_alert_says_which_values_fired_in_french():
    alerts = assess(replace(HEALTHY, systolic_bp=150, diastolic_bp=85, hb_g_dl=6.5))
    assert [alert.text for alert in alerts] == [
        "Hypertension (TA ≥ 140/90) : TA 150/85 mmHg",
        "Anémie sévère (Hb < 7 g/dL) : Hb 6,5 g/dL",
    ]
    assert alerts[0].severity_label == "Grossesse à haut risque"


def test_severe_hypertension_replaces_the_milder_alert_and_sorts_first():
    alerts = assess(replace(HEALTHY, age_years=16, systolic_bp=165, diastolic_bp=100))
    assert [alert.rule_id for alert in alerts] == ["hta_severe", "age_moins_18"]
    assert highest_severity(alerts) == "urgent"
    assert alerts[0].severity_label == "Urgence : référer"


def test_the_visit_forms_severe_threshold_is_the_rule_file_s(tmp_path):
    assert severe_hypertension() == (160, 110)
    edited = tmp_path / "rules.toml"
    edited.write_text(DATA_FILE.read_text(encoding="utf-8").replace('op = ">=", value = 160', 'op = ">=", value = 150'),
                      encoding="utf-8")
    assert severe_hypertension(load_rules(edited)) == (150, 110)


def test_unknown_fact_in_a_rule_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "rules.toml"
    bad.write_text(
        '[severities]\nhigh = { rank = 1, label = "Haut" }\n'
        '[[rule]]\nid = "x"\nlabel = "X"\nseverity = "high"\n'
        'when = [{ fact = "tension", op = ">", value = 1 }]\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"règle n°1 \(x\) : fait « tension » inconnu"):
        load_rules(bad)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('id = "x"\nlabel = "X"\nseverity = "grave"\nwhen = [{ fact = "fever" }]', "sévérité « grave »"),
        ('id = "x"\nlabel = "X"\nseverity = "high"\nwhen = [{ fact = "parity", op = "=>", value = 5 }]',
         "opérateur « => »"),
        ('id = "x"\nseverity = "high"\nwhen = [{ fact = "fever" }]', "« label » manquant"),
        ('id = "x"\nlabel = "X"\nseverity = "high"\nwhen = [{ fact = "parity", op = ">", value = "5" }]',
         "numérique"),
        ('id = "x"\nlabel = "X"\nseverity = "high"\nwhen = [{ fact = "fever" }]\ndetail = "{tension}"',
         "fait inconnu"),
        ('id = "x"\nlabel = "X"\nseverity = "high"\nreplaces = ["y"]\nwhen = [{ fact = "fever" }]',
         "replaces"),
    ],
)
def test_rule_file_errors_name_the_rule(tmp_path, rule, message):
    bad = tmp_path / "rules.toml"
    header = '[severities]\nhigh = { rank = 1, label = "Haut" }\n[[rule]]\n'
    bad.write_text(header + rule + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_rules(bad)


def test_a_rule_added_to_a_copy_of_the_data_file_fires(tmp_path):
    from appliance.clinical.pregnancy import DATA_FILE

    extended = tmp_path / "rules.toml"
    extended.write_text(
        DATA_FILE.read_text(encoding="utf-8")
        + '\n[[rule]]\nid = "anemie_moderee"\nlabel = "Anémie modérée"\nseverity = "moderate"\n'
        'when = [{ fact = "hb_g_dl", op = "<", value = 9 }]\n',
        encoding="utf-8",
    )
    alerts = assess(replace(HEALTHY, hb_g_dl=8.5), load_rules(extended))
    assert [alert.rule_id for alert in alerts] == ["anemie_moderee"]
