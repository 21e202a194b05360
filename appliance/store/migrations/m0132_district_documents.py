VERSION = 132
DESCRIPTION = "link to the district: continuing-education documents and their read receipts"

# Frozen copy of appliance/link/models.py (DistrictDocument, DocumentRead) at this version.
STATEMENTS = [
    'CREATE TABLE "district_document" ("id" INTEGER NOT NULL PRIMARY KEY, "doc_id" TEXT NOT NULL, '
    '"title" TEXT NOT NULL, "filename" TEXT NOT NULL, "mime" TEXT NOT NULL, "content" BLOB NOT NULL, '
    '"received_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "district_document_doc_id" ON "district_document" ("doc_id")',
    'CREATE TABLE "document_read" ("id" INTEGER NOT NULL PRIMARY KEY, "document_id" INTEGER NOT NULL, '
    '"user_id" INTEGER NOT NULL, "read_at" DATETIME NOT NULL, '
    'FOREIGN KEY ("document_id") REFERENCES "district_document" ("id"), '
    'FOREIGN KEY ("user_id") REFERENCES "user" ("id"))',
    'CREATE INDEX "document_read_document_id" ON "document_read" ("document_id")',
    'CREATE UNIQUE INDEX "document_read_document_id_user_id" ON "document_read" ("document_id", "user_id")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
