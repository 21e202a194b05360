"""The fleet's alert rules: promtool's own unit tests on synthetic series, and what every alert must carry."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from appliance.fleet.exporter import METRIC_NAMES
from tests.ops.promql import metric_names

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "ansible" / "roles" / "prometheus" / "files" / "fleet-alerts.yml"
RULE_TESTS = Path(__file__).parent / "rules" / "fleet-alerts.test.yml"
PROMETHEUS_OWN = {"up"}  # series Prometheus writes itself for every scrape target

needs_promtool = pytest.mark.skipif(not shutil.which("promtool"), reason="promtool (Debian's prometheus) missing")


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


@needs_promtool
def test_promtool_checks_the_rules_and_their_unit_tests_pass():
    check = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    result = subprocess.run(["promtool", "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_says_what_and_what_to_do_in_french_and_english():
    for rule in rules():
        if "alert" not in rule:
            continue
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert set(rule["annotations"]) == {"summary_fr", "summary_en", "action_fr", "action_en"}, rule["alert"]


def test_every_alert_is_exercised_by_the_promtool_tests():
    tested = {case["alertname"] for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    assert tested == {rule["alert"] for rule in rules() if "alert" in rule}


def test_rules_use_only_what_the_exporter_exports():
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    for rule in rules():
        unknown = metric_names(rule["expr"]) - METRIC_NAMES - recorded - PROMETHEUS_OWN
        assert not unknown, f"{rule.get('alert') or rule.get('record')}: {unknown}"


def test_the_metric_name_finder_sees_through_promql():
    expression = ('sum by (district) (rate(clinic_events_total{kind=~"battery.*"}[1h] offset 1d)) '
                  '/ on (district) group_left count by (district) (clinic_info) > 0.5 and up == 1 '
                  'or label_replace(foo_bar, "x", "$1", "y", "(.*)")')
    assert metric_names(expression) == {"clinic_events_total", "clinic_info", "up", "foo_bar"}
