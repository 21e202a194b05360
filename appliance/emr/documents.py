"""« Documents du district »: protocols and notes the district pushed, read on the phones without
any link; the first opening by each person sends the district a read receipt."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from flask_login import current_user

from appliance.emr.home import Tile
from appliance.emr.i18n import gettext as _
from appliance.emr.i18n import lazy_gettext as _l
from appliance.emr.security import requires
from appliance.link.documents import mark_read, unread_count
from appliance.link.models import DistrictDocument, DocumentRead

bp = Blueprint("documents", __name__, url_prefix="/documents")


def _unread_badge() -> str | None:
    count = unread_count(current_user.id)
    return _("%(n)d non lu(s)", n=count) if count else None


TILES = (Tile(_l("Documents du district"), "documents.index", "documents.read", order=25, badge=_unread_badge),)


@bp.route("/")
@requires("documents.read")
def index():
    documents = list(DistrictDocument.select(DistrictDocument.id, DistrictDocument.title, DistrictDocument.filename,
                                             DistrictDocument.received_at)
                     .order_by(DistrictDocument.received_at.desc()))
    read = {row.document_id for row in DocumentRead.select().where(DocumentRead.user == current_user.id)}
    return render_template("documents/index.html", documents=documents, read=read)


@bp.route("/<int:document_id>")
@requires("documents.read")
def show(document_id: int):
    document = DistrictDocument.get_or_none(DistrictDocument.id == document_id)
    if document is None:
        abort(404)
    mark_read(current_user.actor, current_user.full_name, document)
    if document.mime == "text/plain":
        return render_template("documents/show.html", document=document,
                               text=bytes(document.content).decode("utf-8", "replace"))
    return Response(bytes(document.content), mimetype=document.mime,
                    headers={"Content-Disposition": f'inline; filename="{document.filename}"'})
