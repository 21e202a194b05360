"""The Grafana dashboards kept in the repository: every query is valid PromQL (promtool parses it)
and reads only series that exist (the exporter's, the rules' recordings, Prometheus's own)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from appliance.fleet.exporter import METRIC_NAMES
from tests.ops.promql import metric_names
from tests.ops.test_alert_rules import rules

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((REPO / "ansible" / "roles" / "grafana_dashboards" / "files" / "dashboards").glob("*.json"))
PROMETHEUS_OWN = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds"}
# What Grafana puts in place of its variables before the query reaches Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1d", "$region": ".*",
                     "$district": ".*", "$site": "cscom-kati-01"}


def queries(dashboard: dict) -> list[tuple[str, str]]:
    found = []
    for panel in dashboard["panels"]:
        found += [(panel["title"], target["expr"]) for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):  # label_values(<series selector>, label): the selector is PromQL
            match = re.fullmatch(r"label_values\((.+),\s*\w+\)", query["query"])
            assert match, f"{variable['name']}: {query['query']}"
            found.append((f"variable {variable['name']}", match.group(1)))
    return found


def grafana_expanded(expression: str) -> str:
    for variable, value in sorted(GRAFANA_VARIABLES.items(), key=lambda item: -len(item[0])):
        expression = expression.replace(variable, value)
    assert "$" not in expression.replace("$1", ""), f"unknown Grafana variable in {expression}"
    return expression


def test_the_four_dashboards_are_there_with_unique_ids():
    names = {path.stem for path in DASHBOARDS}
    assert names == {"fleet-map", "clinic-week", "battery-trends", "data-bill"}
    loaded = [json.loads(path.read_text()) for path in DASHBOARDS]
    assert len({board["uid"] for board in loaded}) == len(loaded)
    for board in loaded:
        panel_ids = [panel["id"] for panel in board["panels"]]
        assert len(set(panel_ids)) == len(panel_ids), board["uid"]


def test_every_query_reads_only_known_series():
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    for path in DASHBOARDS:
        for title, expression in queries(json.loads(path.read_text())):
            unknown = metric_names(grafana_expanded(expression)) - METRIC_NAMES - recorded - PROMETHEUS_OWN
            assert not unknown, f"{path.name}, {title}: {unknown}"


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool (Debian's prometheus) is not installed")
def test_promtool_parses_every_query(tmp_path: Path):
    recording = [{"record": f"dashboard:query_{number}", "expr": grafana_expanded(expression)}
                 for number, (_, expression) in enumerate(
                     query for path in DASHBOARDS for query in queries(json.loads(path.read_text())))]
    assert len(recording) > 30
    rules_file = tmp_path / "dashboards.rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": recording}]}))
    result = subprocess.run(["promtool", "check", "rules", str(rules_file)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
