-- Audit: staged plays minus the events the written plays stand for (must be 0): a plain count
-- of staging, so the plays are not de-duplicated a second time to prove none was lost.
SELECT ABS(
    (SELECT COUNT(*) FROM ({staged_plays}) AS e)
    - (SELECT COALESCE(SUM(events), 0) FROM work_songplays
       WHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32)))
);
