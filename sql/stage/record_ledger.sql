-- Ledger rows for every object version of the batch, in the stage transaction that wrote their
-- staging rows. {rows} expands to one bound-parameter tuple per object.
INSERT INTO load_ledger (
    bucket, key, etag, version_id, dataset, size, status, rows, error, load_id, file_no, event_time,
    staged_at
)
VALUES {rows};
