import stat

import pytest

from appliance import config as config_module
from appliance.config import ConfigError, loads

GOOD = """
simulation = true

[site]
id = "cscom-sanando"
name = "CSCom de Sanando"

[paths]
data_dir = "/var/lib/appliance"

[web]
port = 8080
"""


def test_a_valid_file_gives_typed_settings():
    cfg = loads(GOOD)
    assert cfg.site.id == "cscom-sanando"
    assert cfg.web.port == 8080 and cfg.web.session_idle_minutes == 30
    assert str(cfg.paths.database) == "/var/lib/appliance/appliance.db"
    assert cfg.simulation is True


def test_unknown_key_names_the_key_and_line():
    with pytest.raises(ConfigError) as error:
        loads(GOOD.replace("port = 8080", "port = 8080\nprot = 8081"))
    assert "clé inconnue « web.prot »" in str(error.value)
    assert "ligne 13" in str(error.value)


def test_wrong_type_names_the_key_and_line():
    with pytest.raises(ConfigError) as error:
        loads(GOOD.replace("port = 8080", 'port = "8080"'))
    message = str(error.value)
    assert "« web.port » doit être un nombre entier" in message and "ligne 12" in message


def test_missing_required_value_is_named():
    with pytest.raises(ConfigError, match=r"valeur obligatoire manquante « site\.name »"):
        loads(GOOD.replace('name = "CSCom de Sanando"', ""))


def test_relative_path_is_refused():
    with pytest.raises(ConfigError, match=r"« paths\.data_dir » doit être un chemin absolu"):
        loads(GOOD.replace('"/var/lib/appliance"', '"data"'))


def test_out_of_range_value_is_refused():
    with pytest.raises(ConfigError, match=r"web\.port : doit être entre 1 et 65535"):
        loads(GOOD.replace("port = 8080", "port = 80800"))


def test_broken_toml_says_so():
    with pytest.raises(ConfigError, match="syntaxe TOML invalide"):
        loads("[site\nid=1")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="introuvable"):
        config_module.load(tmp_path / "absent.toml")


def test_secrets_are_created_once_with_0600(cfg):
    first = cfg.secret("flask_secret_key")
    path = cfg.paths.secrets_dir / "flask_secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cfg.secret("flask_secret_key") == first and len(first) >= 40


def test_bad_config_stops_the_command_with_one_message(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "appliance.toml"
    path.write_text(GOOD.replace("port = 8080", "port = true"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "appliance", "check-config", "--config", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "« web.port » doit être un nombre entier" in result.stderr
    assert "Traceback" not in result.stderr
