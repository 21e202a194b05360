"""The status document, the daily counters and the [telemetry] section, without a broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance.telemetry.counters import (
    SD_BYTES,
    MemoryCounters,
    SqliteCounters,
    read_sectors_written,
    sd_written_today,
    utc_day,
)
from appliance.telemetry.status import StatusSnapshot, build_status
from tests.telemetry.conftest import assert_valid

NOW = 1_780_000_000.0


def test_a_status_with_nothing_known_is_still_valid_and_tiny():
    status = build_status(version="0.1.0", now=NOW, uptime_s=12.7)
    assert status.to_payload() == b'{"v":"0.1.0","t":1780000000,"up":13}'
    assert_valid("status", status.to_payload())


def test_hardware_vocabulary_is_normalised_and_bounded():
    status = build_status(version="0.1.0", now=NOW, uptime_s=1, battery_state="CRITICAL", battery_soc_pct=104.2,
                          modem_registration="Registered-Foreign", modem_signal_pct=-3, charging=False)
    document = json.loads(status.to_payload())
    assert document["bst"] == "critical" and document["soc"] == 100 and document["sig"] == 0
    assert document["reg"] == "unknown" and document["chg"] == 0
    assert_valid("status", status.to_payload())
    assert status.attention_reasons() == ["battery_critical"]
    with pytest.raises(ValueError, match="battery_state"):
        build_status(version="0.1.0", now=NOW, uptime_s=1, battery_state="empty")


def test_a_status_round_trips_and_garbage_is_refused():
    status = build_status(version="0.1.0", now=NOW, uptime_s=5, battery_v=12.5, clock_synced=False,
                          outbox_dead_letters=2, disk_free_mb=150)
    assert StatusSnapshot.from_payload(status.to_payload()) == status
    assert status.attention_reasons() == ["dead_letters", "disk_low"]
    for garbage in (b"[1,2]", b"\xff", b'{"t":1,"up":1}', b'{"v":"x","t":"noon","up":1}'):
        with pytest.raises(ValueError):
            StatusSnapshot.from_payload(garbage)


def test_sd_writes_are_counted_per_day_across_a_reboot(store):
    counters = SqliteCounters()
    assert sd_written_today(counters, sectors=1000, boot_id="boot-a", now=NOW) == 0  # first look: baseline
    assert sd_written_today(counters, sectors=1400, boot_id="boot-a", now=NOW + 60) == 400 * 512
    # Power cut, reboot: the kernel starts again from zero; all of it happened since the last look.
    assert sd_written_today(counters, sectors=100, boot_id="boot-b", now=NOW + 120) == 500 * 512
    next_day = NOW + 86_400
    assert sd_written_today(counters, sectors=300, boot_id="boot-b", now=next_day) == 200 * 512
    assert counters.get(utc_day(NOW), SD_BYTES) == 500 * 512
    assert sd_written_today(MemoryCounters(), sectors=None, boot_id="x", now=NOW) is None


def test_sectors_are_read_from_the_kernel_block_statistics(tmp_path: Path):
    device = tmp_path / "mmcblk0"
    device.mkdir()
    # reads, merges, sectors, ms, writes, merges, SECTORS WRITTEN, ms, in flight, ...
    (device / "stat").write_text("  4825  1245  398214  2931  15201  9712  1234567  52108  0  30120  55040\n")
    assert read_sectors_written("mmcblk0", tmp_path) == 1_234_567
    assert read_sectors_written("sda", tmp_path) is None
    real = [path.name for path in Path("/sys/block").iterdir()] if Path("/sys/block").exists() else []
    if real:
        assert isinstance(read_sectors_written(real[0]), int)


def config_with(section: str) -> config_module.Config:
    return config_module.loads(f'[site]\nid = "ml-kati"\nname = "Kati"\n\n[telemetry]\n{section}\n')


def test_the_telemetry_section_has_safe_defaults():
    cfg = config_module.loads('[site]\nid = "ml-kati"\nname = "Kati"\n')
    assert not cfg.telemetry.enabled and cfg.telemetry.tls and cfg.telemetry.keepalive_s == 60
    enabled = config_with('enabled = true\nbroker_host = "mqtt.sante.gov.ml"\nca_file = "/etc/appliance/ca.crt"')
    assert enabled.telemetry.ca_file == Path("/etc/appliance/ca.crt")


@pytest.mark.parametrize(("section", "message"), [
    ("enabled = true", "telemetry.broker_host"),
    ("broker_port = 0", "telemetry.broker_port"),
    ("keepalive_s = 1", "telemetry.keepalive_s"),
    ('topic_prefix = "clinic/x"', "telemetry.topic_prefix"),
    ('client_cert_file = "/etc/c.crt"', "client_key_file"),
    ("reconnect_min_s = 60\nreconnect_max_s = 10", "reconnect_min_s"),
    ('brokerhost = "x"', "clé inconnue « telemetry.brokerhost »"),
    ('ca_file = "relative.crt"', "chemin absolu"),
])
def test_a_bad_telemetry_section_stops_with_one_clear_message(section, message):
    with pytest.raises(config_module.ConfigError, match=message):
        config_with(section)
