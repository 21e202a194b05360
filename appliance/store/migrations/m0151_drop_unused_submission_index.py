VERSION = 151
DESCRIPTION = "web: drop the form-token index no query reads (a token is found by its key, old ones by date)"

# EXPLAIN QUERY PLAN of the two queries on form_submission (appliance/store/submissions.py): the
# lookup uses the primary key, the clean-up form_submission_created_at. The index on (user_id,
# path, created_at) only cost every form save a write. Dropping an index is safe for a version
# rolled back to: its queries stay correct, they never used it.
STATEMENTS = ['DROP INDEX IF EXISTS "form_submission_user_id_path_created_at"']


def apply(db) -> None:
    for statement in STATEMENTS:
        db.execute_sql(statement)
