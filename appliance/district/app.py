"""The district service's web: the clinics' API (bearer token per clinic) and the district
clinicians' pages (login, the cases of the clinics each covers, the answer form with CSRF).

Logins go through the EMR's one throttled password check (``accounts.guarded_check``, failures
counted in this service's own database under the same ``[security]`` policy); every login, failure,
case or notification read and answer is a row of the service's audit trail (``district_audit``)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import uuid
import zlib
from functools import wraps
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFProtect

from appliance.accounts import Attempt, guarded_check
from appliance.config import SecuritySettings
from appliance.district.store import (
    ADMINISTRATOR,
    Answer,
    AuditEntry,
    CasePhoto,
    Clinic,
    Clinician,
    Coverage,
    Outgoing,
    Received,
    audit,
    audit_entries,
    district_db,
    has_role,
    open_district,
    token_digest,
)

MESSAGE_KINDS = ("avis", "simr_alert", "read_receipt", "referral")
MAX_PHOTOS = 2
MAX_PHOTO_BYTES = 200 * 1024  # the box shrinks them before queueing; anything bigger is refused
MAX_TEXT = 4000
ANSWER_MAX = 2000
INBOX_PAGE = 50
MAX_JSON_BYTES = 2 * 1024 * 1024
AUDIT_PAGE = 50
LOGIN_POLICY = SecuritySettings()  # the EMR's defaults: 5 failures per name in 15 minutes (×4 per client)

# The trail's actions as the administrator's page says them (the CLI prints the codes).
AUDIT_ACTIONS = {
    "login": "connexion", "login_failed": "échec de connexion (mot de passe)",
    "login_throttled": "identifiant bloqué (trop d'essais)", "login_refused": "connexion refusée (trop d'essais)",
    "logout": "déconnexion", "case_read": "cas lu", "case_answered": "réponse envoyée",
    "notifications_read": "notification lue", "counter_referral": "contre-référence envoyée",
}

api = Blueprint("api", __name__, url_prefix="/api/v1")
pages = Blueprint("pages", __name__)


class MessageError(ValueError):
    """A message refused as a whole (the box keeps it as a dead letter with this French reason)."""


def _problem(status: int, message: str) -> Response:
    response = jsonify({"status": "ERROR", "message": message})
    response.status_code = status
    return response


def _clinic() -> Clinic | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    return Clinic.get_or_none(Clinic.token_sha256 == token_digest(header[len("Bearer "):].strip()))


def _check_message(data: object, site_id: str) -> tuple[str, str, dict, list[bytes]]:
    """(message id, kind, body without photos, photos) or ``MessageError`` in French."""
    if not isinstance(data, dict):
        raise MessageError("message JSON attendu")
    message_id, kind, body = data.get("id"), data.get("kind"), data.get("body")
    if not isinstance(message_id, str) or not 8 <= len(message_id) <= 80:
        raise MessageError("« id » du message manquant ou invalide")
    if kind not in MESSAGE_KINDS:
        raise MessageError(f"type de message inconnu : {kind!r}")
    if data.get("site") != site_id:
        raise MessageError(f"le message dit venir de {data.get('site')!r}, le jeton est celui de {site_id}")
    if not isinstance(body, dict):
        raise MessageError("« body » doit être un objet JSON")
    photos: list[bytes] = []
    if kind == "avis":
        if not isinstance(body.get("question"), str) or not body["question"].strip():
            raise MessageError("la question de la demande d'avis est vide")
        raw_photos = body.pop("photos", []) or []
        if not isinstance(raw_photos, list) or len(raw_photos) > MAX_PHOTOS:
            raise MessageError(f"{MAX_PHOTOS} photos au plus")
        for position, encoded in enumerate(raw_photos, start=1):
            try:
                jpeg = base64.b64decode(encoded, validate=True)
            except (binascii.Error, TypeError) as exc:
                raise MessageError(f"photo {position} illisible (base64)") from exc
            if len(jpeg) > MAX_PHOTO_BYTES or not jpeg.startswith(b"\xff\xd8"):
                raise MessageError(f"photo {position} : JPEG de {MAX_PHOTO_BYTES // 1024} Ko au plus attendu")
            photos.append(jpeg)
    if len(json.dumps(body, ensure_ascii=False)) > 4 * MAX_TEXT:
        raise MessageError("message trop long")
    return message_id, kind, body, photos


def _json_body() -> object:
    """The request's JSON, gunzipped when the box compressed it (bounded: no zip bomb)."""
    raw = request.get_data()
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        try:
            raw = zlib.decompressobj(wbits=31).decompress(raw, MAX_JSON_BYTES + 1)
        except zlib.error:
            return None
        if len(raw) > MAX_JSON_BYTES:
            return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


@api.post("/messages")
def receive_message():
    """Store a clinic's message once: a repeat (the box retried) answers 200 with the same id."""
    clinic = _clinic()
    if clinic is None:
        return _problem(401, "jeton du centre inconnu")
    try:
        message_id, kind, body, photos = _check_message(_json_body(), clinic.site_id)
    except MessageError as error:
        return _problem(422, str(error))
    with district_db.atomic():
        existing = Received.get_or_none((Received.site_id == clinic.site_id) & (Received.message_id == message_id))
        if existing is not None:
            Received.update(deliveries=Received.deliveries + 1).where(Received.id == existing.id).execute()
            return jsonify({"status": "OK", "id": message_id, "repeat": True})
        received = Received.create(site_id=clinic.site_id, message_id=message_id, kind=kind,
                                   body=json.dumps(body, ensure_ascii=False))
        for position, jpeg in enumerate(photos, start=1):
            CasePhoto.create(message=received, position=position, jpeg=jpeg)
    response = jsonify({"status": "OK", "id": message_id, "repeat": False})
    response.status_code = 201
    return response


@api.get("/inbox")
def inbox():
    """The clinic's waiting messages after its cursor, oldest first; the box keeps the cursor."""
    clinic = _clinic()
    if clinic is None:
        return _problem(401, "jeton du centre inconnu")
    after = request.args.get("after", 0, type=int)
    rows = (Outgoing.select().where((Outgoing.site_id == clinic.site_id) & (Outgoing.id > after))
            .order_by(Outgoing.id).limit(INBOX_PAGE))
    return jsonify({"messages": [{"seq": row.id, "kind": row.kind, "body": json.loads(row.body)} for row in rows]})


# --- District clinicians' pages ------------------------------------------------------------------

def _login_required(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        clinician = Clinician.get_or_none((Clinician.id == session.get("clinician_id"))
                                          & (Clinician.active == True))  # noqa: E712
        if clinician is None:
            return redirect(url_for("pages.login"))
        g.clinician = clinician
        g.sites = [row.site_id for row in Coverage.select().where(Coverage.clinician == clinician)]
        g.administrator = has_role(clinician, ADMINISTRATOR)
        return view(*args, **kwargs)

    return guarded


def _administrator_required(view):
    """After ``_login_required``: a clinician without the administrator's role is refused (403)."""
    @wraps(view)
    def guarded(*args, **kwargs):
        if not g.administrator:
            return render_template("district/message.html",
                                   message="Page réservée à l'administrateur du district."), 403
        return view(*args, **kwargs)

    return guarded


@pages.route("/connexion", methods=["GET", "POST"])
def login():
    error, status = None, 200
    if request.method == "POST":
        name = request.form.get("username", "").strip().lower()
        client = request.remote_addr or "?"
        found: list[Clinician] = []

        def stored_hash() -> str | None:
            clinician = Clinician.get_or_none((Clinician.username == name) & (Clinician.active == True))  # noqa: E712
            found.extend([clinician] if clinician else [])
            return clinician.password_hash if clinician else None

        checked = guarded_check(name, stored_hash, request.form.get("password", ""),
                                Attempt.under(LOGIN_POLICY, client), db=district_db)
        if checked.right:
            session.clear()
            session["clinician_id"] = found[0].id
            audit(name, "login", client=client)
            return redirect(url_for("pages.cases"))
        if checked.reservation.refused:
            error, status = ("Trop d'essais pour cet identifiant ou depuis cet ordinateur. Réessayez dans "
                             f"{max(1, round(checked.reservation.retry_after_s / 60))} min."), 429
            audit(name, "login_refused", client=client)
        else:
            error, status = "Identifiant ou mot de passe incorrect.", 401
            with district_db.atomic():
                audit(name, "login_failed", client=client)
                if checked.reservation.newly_blocked:
                    audit(name, "login_throttled", client=client)
    response = Response(render_template("district/login.html", error=error), status=status, mimetype="text/html")
    if status == 429:
        response.headers["Retry-After"] = "60"
    return response


@pages.post("/deconnexion")
def logout():
    clinician = Clinician.get_or_none(Clinician.id == session.get("clinician_id"))
    if clinician is not None:
        audit(clinician.username, "logout", client=request.remote_addr or "")
    session.clear()
    return redirect(url_for("pages.login"))


@pages.route("/")
@_login_required
def cases():
    """The cases of the clinician's clinics, unanswered first."""
    rows = list(Received.select().where((Received.kind == "avis") & Received.site_id.in_(g.sites or [""]))
                .order_by(Received.received_at.desc()))
    answered = {answer.message_id for answer in Answer.select().where(Answer.message.in_([r.id for r in rows]))}
    rows.sort(key=lambda row: row.id in answered)
    names = {clinic.site_id: clinic.name for clinic in Clinic.select()}
    return render_template("district/cases.html", rows=[(row, json.loads(row.body)) for row in rows],
                           answered=answered, names=names)


@pages.route("/notifications")
@_login_required
def notifications():
    """The SIMR immediate notifications of the clinician's clinics, newest first."""
    rows = list(Received.select().where((Received.kind == "simr_alert") & Received.site_id.in_(g.sites or [""]))
                .order_by(Received.received_at.desc()).limit(200))
    _audit_read("notifications_read", rows)
    names = {clinic.site_id: clinic.name for clinic in Clinic.select()}
    return render_template("district/notifications.html", rows=[(row, json.loads(row.body)) for row in rows],
                           names=names)


@pages.route("/journal")
@_login_required
@_administrator_required
def audit_trail():
    """The service's audit trail for its administrator, newest first, a page at a time
    (``?avant=ID``: the rows older than that one, so new rows never shift a page being read)."""
    before = request.args.get("avant", type=int)
    rows = audit_entries(AUDIT_PAGE + 1, before_id=before)
    names = {clinic.site_id: clinic.name for clinic in Clinic.select()}
    return render_template("district/audit.html", rows=rows[:AUDIT_PAGE], names=names, actions=AUDIT_ACTIONS,
                           older=rows[AUDIT_PAGE - 1].id if len(rows) > AUDIT_PAGE else None, first=before is None)


def push_document(site_ids: list[str], title: str, filename: str, mime: str, content: bytes) -> str:
    """Queue a document for each clinic's inbox (fetched at its next window); returns its id."""
    doc_id = str(uuid.uuid4())
    body = json.dumps({"doc_id": doc_id, "title": title, "filename": filename, "mime": mime,
                       "content": base64.b64encode(content).decode("ascii")})
    with district_db.atomic():
        for site in site_ids:
            Outgoing.create(site_id=site, kind="document", body=body)
    return doc_id


@pages.route("/documents")
@_login_required
def documents():
    """Who has read each document, in the clinician's clinics (the read receipts)."""
    receipts = (Received.select().where((Received.kind == "read_receipt") & Received.site_id.in_(g.sites or [""]))
                .order_by(Received.received_at))
    names = {clinic.site_id: clinic.name for clinic in Clinic.select()}
    by_document: dict[str, dict] = {}
    for receipt in receipts:
        body = json.loads(receipt.body)
        entry = by_document.setdefault(body.get("doc_id", ""), {"title": body.get("title", ""), "readers": []})
        entry["readers"].append((names.get(receipt.site_id, receipt.site_id), body.get("reader", ""),
                                 body.get("role", ""), body.get("read_at", "")))
    return render_template("district/documents.html", documents=by_document)


@pages.route("/references", methods=["GET", "POST"])
@_login_required
def referrals():
    """Referrals announced by the clinician's clinics; the counter-referral typed here goes back."""
    error = None
    if request.method == "POST":
        referral = Received.get_or_none((Received.id == request.form.get("received_id", type=int))
                                        & (Received.kind == "referral"))
        if referral is None or referral.site_id not in g.sites:
            abort(404)
        findings = request.form.get("findings", "").strip()
        returned_on = request.form.get("returned_on", "")
        if Answer.get_or_none(Answer.message == referral.id) is not None:
            error = "Cette référence a déjà sa contre-référence : rien n'a été changé."
        elif not findings or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", returned_on):
            error = "Diagnostic et date de retour (AAAA-MM-JJ) sont obligatoires."
        else:
            body = json.loads(referral.body)
            with district_db.atomic():
                Answer.create(message=referral, clinician=g.clinician, text=findings)
                _audit("counter_referral", referral)
                Outgoing.create(site_id=referral.site_id, kind="counter_referral", body=json.dumps({
                    "ref_id": body["ref_id"], "returned_on": returned_on, "findings": findings,
                    "care_given": request.form.get("care_given", "").strip()[:ANSWER_MAX],
                    "by": g.clinician.full_name}, ensure_ascii=False))
            flash("Contre-référence enregistrée : elle partira vers le centre à sa prochaine connexion.")
            return redirect(url_for("pages.referrals"))
    rows = list(Received.select().where((Received.kind == "referral") & Received.site_id.in_(g.sites or [""]))
                .order_by(Received.received_at.desc()).limit(200))
    answered = {a.message_id for a in Answer.select().where(Answer.message.in_([r.id for r in rows]))}
    names = {clinic.site_id: clinic.name for clinic in Clinic.select()}
    return render_template("district/referrals.html", rows=[(row, json.loads(row.body)) for row in rows],
                           answered=answered, names=names, error=error), 422 if error else 200


def _audit(action: str, message: Received) -> None:
    audit(g.clinician.username, action, site_id=message.site_id, message=message.id, client=request.remote_addr or "")


def _audit_read(action: str, rows: list[Received]) -> None:
    """One row per message shown for the first time to this clinician (a list page read again adds nothing)."""
    seen = {entry.message for entry in AuditEntry.select(AuditEntry.message).where(
        (AuditEntry.username == g.clinician.username) & (AuditEntry.action == action)
        & AuditEntry.message.in_([row.id for row in rows]))}
    with district_db.atomic():
        for row in rows:
            if row.id not in seen:
                _audit(action, row)


def _case(case_id: int) -> Received:
    """A case of one of the clinician's clinics; anything else is « introuvable » (no hint it exists)."""
    case = Received.get_or_none((Received.id == case_id) & (Received.kind == "avis"))
    if case is None or case.site_id not in g.sites:
        abort(404)
    return case


@pages.route("/cas/<int:case_id>", methods=["GET", "POST"])
@_login_required
def case(case_id: int):
    case = _case(case_id)
    answer = Answer.get_or_none(Answer.message == case.id)
    error = None
    if request.method == "POST":
        text = request.form.get("answer", "").strip()
        if answer is not None:
            error = "Ce cas a déjà sa réponse : rien n'a été changé."
        elif not text:
            error = "La réponse est vide."
        elif len(text) > ANSWER_MAX:
            error = f"{ANSWER_MAX} caractères au plus."
        else:
            with district_db.atomic():
                answer = Answer.create(message=case, clinician=g.clinician, text=text)
                _audit("case_answered", case)
                Outgoing.create(site_id=case.site_id, kind="avis_answer", body=json.dumps({
                    "avis_id": case.message_id, "answer": text, "answered_by": g.clinician.full_name,
                    "answered_at": answer.answered_at.isoformat(timespec="seconds") + "Z"}, ensure_ascii=False))
            flash("Réponse enregistrée : elle partira vers le centre à sa prochaine connexion.")
            return redirect(url_for("pages.cases"))
    else:
        _audit("case_read", case)
    return render_template("district/case.html", case=case, body=json.loads(case.body), answer=answer,
                           photos=[photo.position for photo in case.photos.order_by(CasePhoto.position)],
                           error=error), 422 if error else 200


@pages.route("/cas/<int:case_id>/photo/<int:position>")
@_login_required
def photo(case_id: int, position: int):
    case = _case(case_id)
    row = CasePhoto.get_or_none((CasePhoto.message == case.id) & (CasePhoto.position == position))
    if row is None:
        abort(404)
    return Response(bytes(row.jpeg), mimetype="image/jpeg", headers={"Cache-Control": "private, no-store"})


def create_district_app(database_path: Path, secret_key: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secret_key or secrets.token_urlsafe(32), SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", MAX_CONTENT_LENGTH=2 * 1024 * 1024, WTF_CSRF_TIME_LIMIT=None)
    open_district(database_path)
    csrf = CSRFProtect(app)
    csrf.exempt(api)  # the clinics authenticate with a bearer token, not a browser cookie
    app.register_blueprint(api)
    app.register_blueprint(pages)

    @app.before_request
    def _connect() -> None:
        district_db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        if not district_db.is_closed():
            district_db.close()

    @app.errorhandler(404)
    def _not_found(_error):
        if request.path.startswith("/api/"):
            return _problem(404, "introuvable")
        return render_template("district/message.html", message="Page ou cas introuvable (ou d'un autre centre)."), 404

    @app.errorhandler(413)
    def _too_large(_error):
        return _problem(413, "message trop gros (2 Mo au plus)")

    return app
