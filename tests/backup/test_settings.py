"""The [backup] section: defaults that work, mistakes named with their key."""

from __future__ import annotations

import pytest

from appliance import config as config_module

BASE = '[site]\nid = "cscom-kati"\nname = "CSCom de Kati"\n'


def test_defaults_keep_copies_and_leave_off_site_off():
    cfg = config_module.loads(BASE)
    assert cfg.backup.keep_local == 10 and cfg.backup.offsite_repository == ""
    assert "/media" in cfg.backup.usb_mount_roots


@pytest.mark.parametrize(("section", "message"), [
    ("keep_local = 0", "backup.keep_local"),
    ("gzip_level = 12", "backup.gzip_level"),
    ('usb_mount_roots = ["media"]', "backup.usb_mount_roots"),
    ('usb_marker = "a/b"', "backup.usb_marker"),
    ("retention = 3", "clé inconnue « backup.retention »"),
    ('offsite_key_file = "cle"', "chemin absolu"),
])
def test_mistakes_are_named(section, message):
    with pytest.raises(config_module.ConfigError, match=message):
        config_module.loads(f"{BASE}\n[backup]\n{section}\n")
