"""A second-opinion request and its answer; the district inbox's cursor. Created by the frozen
migration m0131 (keep both in step)."""

from __future__ import annotations

import peewee

from appliance.patients.models import Patient
from appliance.store.db import BaseModel
from appliance.store.models import User, utcnow


class AvisRequest(BaseModel):
    """« Demander un avis »: the question sent to a district clinician, then his answer."""

    message_id = peewee.TextField(unique=True)  # the envelope's id: the district stores it once
    patient = peewee.ForeignKeyField(Patient, lazy_load=False)
    question = peewee.TextField()
    summary = peewee.TextField(default="[]")  # JSON list of lines sent with the question
    photo_count = peewee.IntegerField(default=0)
    photo_bytes = peewee.IntegerField(default=0)  # the shrunk JPEGs, as queued
    asked_by = peewee.ForeignKeyField(User, null=True, lazy_load=False, index=False)
    asked_role = peewee.TextField(default="")
    asked_at = peewee.DateTimeField(default=utcnow)
    answer = peewee.TextField(default="")
    answered_by = peewee.TextField(default="")  # the district clinician's name, as he signed
    answered_at = peewee.DateTimeField(null=True)  # at the district
    received_at = peewee.DateTimeField(null=True)  # on the box
    seen_at = peewee.DateTimeField(null=True)  # the asker opened the answer

    class Meta:
        table_name = "avis_request"
        indexes = ((("asked_by", "seen_at"), False),)


class LinkCursor(BaseModel):
    """The last district inbox message applied (the district's sequence): fetched after it next time."""

    name = peewee.TextField(primary_key=True)
    last_seq = peewee.IntegerField(default=0)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "link_cursor"


class DistrictDocument(BaseModel):
    """A continuing-education document the district pushed (a protocol, a note), kept on the box so
    the phones read it without any link."""

    doc_id = peewee.TextField(unique=True)  # the district's id: a document fetched twice is stored once
    title = peewee.TextField()
    filename = peewee.TextField()
    mime = peewee.TextField()  # application/pdf, text/plain
    content = peewee.BlobField()
    received_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "district_document"


class DocumentRead(BaseModel):
    """Who opened a document, once per person: the read receipt the district sees."""

    document = peewee.ForeignKeyField(DistrictDocument, lazy_load=False)
    user = peewee.ForeignKeyField(User, lazy_load=False, index=False)
    read_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "document_read"
        indexes = ((("document", "user"), True),)
