VERSION = 110
DESCRIPTION = "web: one row per form submission that wrote, so a replayed form is recognised"

# Frozen copy of appliance/store/submissions.py at this version.
STATEMENTS = [
    'CREATE TABLE "form_submission" ("token" TEXT NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, '
    '"path" TEXT NOT NULL, "location" TEXT NOT NULL, "created_at" DATETIME NOT NULL)',
    'CREATE INDEX "form_submission_user_id_path_created_at" ON "form_submission" ("user_id", "path", "created_at")',
    'CREATE INDEX "form_submission_created_at" ON "form_submission" ("created_at")',
]


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
