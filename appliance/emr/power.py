"""The Battery page for the administrator: the battery now, its last 7 days, data used this month
and the last upload windows. Everything comes from what the agent wrote in SQLite; the page works
(and says so) when the agent is stopped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, render_template
from markupsafe import Markup

from appliance.emr.battery_chart import battery_history_svg
from appliance.emr.home import Tile
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.security import requires
from appliance.store.device import last_days, latest_reading, month_usage_bytes, recent_windows
from appliance.store.readonly import read_only_state
from appliance.store.utc import aware_utc

# The battery's chemistry as staff say it, not its configuration code ("lead_acid").
CHEMISTRY_LABELS = {"lead_acid": _l("plomb-acide"), "lifepo4": _l("lithium fer phosphate (LiFePO4)")}

bp = Blueprint("power", __name__, url_prefix="/admin/batterie")
TILES = (
    Tile(_l("Batterie et envois"), "power.battery", "power.read", order=85),
)  # on the home page (composed in create_app)

STALE_AFTER = timedelta(minutes=30)


@bp.route("/")
@requires("power.read")
def battery():
    cfg = current_app.config["APPLIANCE"]
    zone = cfg.uploads.zone()
    now = datetime.now(UTC)
    readings = last_days(7, now=now)
    latest = readings[-1] if readings else latest_reading()
    curve = cfg.power.curve
    month = now.astimezone(zone).strftime("%Y-%m")
    used = month_usage_bytes(month)
    return render_template(
        "power/battery.html",
        chart=Markup(battery_history_svg(readings, now=now, low_v=curve.low_v, critical_v=curve.critical_v, tz=zone)),
        latest=latest,
        latest_local=aware_utc(latest.at).astimezone(zone) if latest else None,
        stale=latest is None or now - aware_utc(latest.at) > STALE_AFTER,
        curve=curve,
        chemistry=str(CHEMISTRY_LABELS.get(cfg.power.chemistry, cfg.power.chemistry)),
        used_mb=used / 1_000_000,
        budget_mb=cfg.modem.monthly_budget_mb,
        used_pct=round(100 * used / cfg.modem.monthly_budget_bytes),
        windows=[(row, aware_utc(row.scheduled_at).astimezone(zone)) for row in recent_windows(5)],
        planned=", ".join(cfg.uploads.windows),
        read_only=read_only_state(cfg.paths.data_dir),
    )
