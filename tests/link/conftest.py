"""A real district service (its Flask app served by waitress on a loopback port, its own SQLite
file) with two clinics and two district clinicians, and a box configured to talk to it."""

from __future__ import annotations

import io
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from appliance import config as config_module
from tests.conftest import PASSWORD, free_port


def phone_photo(width: int = 2400, height: int = 1800) -> bytes:
    """A photo as a phone takes it: large, noisy (JPEG cannot squeeze noise), a few MB."""
    rng = random.Random(7)
    image = Image.effect_noise((width // 4, height // 4), 60).convert("RGB").resize((width, height))
    tinted = Image.new("RGB", (width, height), (rng.randrange(256), 120, 90))
    out = io.BytesIO()
    Image.blend(image, tinted, 0.4).save(out, "JPEG", quality=95)
    return out.getvalue()


@dataclass
class District:
    url: str
    db_path: Path
    tokens: dict[str, str]
    release: threading.Event  # a paused reply goes on when set
    pause_replies: bool = False
    server: object = None

    def stop(self) -> None:
        self.server.close()


class _PauseAfterStoring:
    """WSGI middleware: the message is stored, then the reply waits (a cut mid-reply)."""

    def __init__(self, app, district: District) -> None:
        self.app, self.district = app, district

    def __call__(self, environ, start_response):
        body = list(self.app(environ, start_response))
        if self.district.pause_replies and environ["PATH_INFO"] == "/api/v1/messages":
            self.district.release.wait(30)
        return body


def start_district(db_path: Path, port: int, district: District | None = None) -> District:
    from waitress.server import create_server

    from appliance.district.app import create_district_app

    app = create_district_app(db_path, "test-secret")
    district = district or District(f"http://127.0.0.1:{port}", db_path, {}, threading.Event())
    app.wsgi_app = _PauseAfterStoring(app.wsgi_app, district)
    for _attempt in range(50):  # the port a stopped server held is free again within moments
        try:
            server = create_server(app, host="127.0.0.1", port=port, threads=4)
            break
        except OSError:
            time.sleep(0.1)
    else:
        raise RuntimeError(f"port {port} still taken")
    threading.Thread(target=server.run, daemon=True).start()
    district.server = server
    district.app = app
    return district


@pytest.fixture
def district(tmp_path: Path):
    from appliance.accounts import hash_password
    from appliance.district.store import Clinic, Clinician, Coverage, open_district, token_digest

    db_path = tmp_path / "district" / "district.db"
    open_district(db_path)
    tokens = {"test-a": "token-a-" + "x" * 30, "test-b": "token-b-" + "y" * 30}
    for site, token in tokens.items():
        Clinic.create(site_id=site, name=f"CSCom {site}", token_sha256=token_digest(token))
    kone = Clinician.create(username="dr_kone", full_name="Dr Koné", password_hash=hash_password(PASSWORD))
    Coverage.create(clinician=kone, site_id="test-a")
    sidibe = Clinician.create(username="dr_sidibe", full_name="Dr Sidibé", password_hash=hash_password(PASSWORD))
    Coverage.create(clinician=sidibe, site_id="test-b")
    running = start_district(db_path, free_port())
    running.tokens = tokens
    yield running
    running.release.set()
    running.stop()


@pytest.fixture
def linked_cfg(tmp_path: Path, district: District) -> config_module.Config:
    """The box of clinic test-a, pointed at the district with its token."""
    path = tmp_path / "box-test-a.toml"  # beside the plain appliance.toml of the cfg fixture (same data)
    text = config_module.dev_config_text(tmp_path).replace('id = "demo-cscom"', 'id = "test-a"')
    path.write_text(text + f'\n[district]\nurl = "{district.url}"\nconnect_timeout_s = 2\nread_timeout_s = 5\n',
                    encoding="utf-8")
    cfg = config_module.load(path)
    config_module.write_secret(cfg.paths.secrets_dir / "district_token", district.tokens["test-a"])
    return cfg
