"""``make run``'s district: the demo clinic known to the district service with its token on the box, a
demo district clinician who covers it, and the demo nurse's second opinion reaching him through the
real outbox; made once, the same login on a second start. (The whole ``make run`` with its banner is
tests/foundation/test_make_run.py, slow.)"""

from __future__ import annotations

from appliance import config as config_module
from appliance.demo import seed_demo
from appliance.demo.district import CLINICIAN, QUESTION, ask_demo_avis, prepare_district
from appliance.district.store import Received
from appliance.link.models import AvisRequest
from appliance.simulation import _add_district, _district_command, _district_db
from appliance.wiring import compose_outbox
from tests.conftest import free_port
from tests.link.conftest import start_district


def test_the_demo_district_answers_the_demo_clinic(tmp_path, store):
    port = free_port()
    path = tmp_path / "appliance.toml"
    _add_district(path, port)  # the section an older instance gets at its next start
    cfg = config_module.load(path)
    assert cfg.district.url == f"http://127.0.0.1:{port}"
    seed_demo(store, patients=80, seed=3)
    credentials = prepare_district(cfg, _district_db(tmp_path))
    assert set(credentials) == {CLINICIAN}
    assert prepare_district(cfg, _district_db(tmp_path)) == {}  # once: a second start keeps the login
    assert (cfg.paths.secrets_dir / "district_token").stat().st_mode & 0o777 == 0o600
    assert ask_demo_avis(cfg) and not ask_demo_avis(cfg)
    assert AvisRequest.get().question == QUESTION

    command = _district_command(cfg, path)
    assert command[-4:] == ["--host", "127.0.0.1", "--port", str(port)]
    district = start_district(_district_db(tmp_path), port)
    try:
        report = compose_outbox(cfg).flush()
        assert report.delivered >= 1, report.summary_fr()
        case = Received.get(Received.kind == "avis")
        assert case.site_id == cfg.site.id
        client = district.app.test_client()
        page = client.get("/connexion").get_data(as_text=True)
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        assert client.post("/connexion", data={"username": CLINICIAN, "password": credentials[CLINICIAN],
                                               "csrf_token": token}).status_code == 302
        assert "faut-il référer" in client.get(f"/cas/{case.id}").get_data(as_text=True)
    finally:
        district.stop()
