"""Continuing-education documents from the district: stored once when fetched (``inbox``), read
on the box, and a read receipt queued for the district the first time each person opens one."""

from __future__ import annotations

import base64
import binascii
import json
import uuid

from appliance.link.models import DistrictDocument, DocumentRead
from appliance.outbox import enqueue
from appliance.store.audit import Actor
from appliance.store.db import database

RECEIPT_KIND = "district.read_receipt"
MIMES = ("application/pdf", "text/plain")
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024


def apply_document(body: dict) -> bool:
    """Store a pushed document, once; a malformed one is skipped (False)."""
    doc_id, title, mime = str(body.get("doc_id", "")), str(body.get("title", "")).strip(), body.get("mime")
    try:
        content = base64.b64decode(str(body.get("content", "")), validate=True)
    except binascii.Error:
        return False
    if not doc_id or not title or mime not in MIMES or not content or len(content) > MAX_DOCUMENT_BYTES:
        return False
    if DistrictDocument.select().where(DistrictDocument.doc_id == doc_id).exists():
        return False
    DistrictDocument.create(doc_id=doc_id, title=title[:200], filename=str(body.get("filename", "document"))[:100],
                            mime=mime, content=content)
    return True


def mark_read(actor: Actor, full_name: str, document: DistrictDocument) -> bool:
    """Record the first reading by this person and queue its receipt, together; False when already read."""
    with database.atomic():
        if DocumentRead.select().where((DocumentRead.document == document.id)
                                       & (DocumentRead.user == actor.user_id)).exists():
            return False
        read = DocumentRead.create(document=document.id, user=actor.user_id)
        envelope = {"id": f"read-{uuid.uuid4()}", "kind": "read_receipt", "body": {
            "doc_id": document.doc_id, "title": document.title, "reader": full_name, "role": actor.role,
            "read_at": read.read_at.isoformat(timespec="seconds") + "Z"}}
        enqueue(RECEIPT_KIND, json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                ref=f"document:{document.id}")
    return True


def unread_count(user_id: int) -> int:
    read = DocumentRead.select(DocumentRead.document).where(DocumentRead.user == user_id)
    return DistrictDocument.select().where(DistrictDocument.id.not_in(read)).count()
