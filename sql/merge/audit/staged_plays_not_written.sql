-- Audit: staged plays minus the events the written plays stand for (must be 0): a plain count
-- of staging, so the plays are not de-duplicated a second time to prove none was lost.
SELECT ABS(
    (SELECT COUNT(*)
     FROM staging_events AS e
     JOIN ({claimed_loads}) AS l ON l.load_id = e.load_id
     WHERE {is_play}
       AND NOT EXISTS (
           SELECT 1 FROM ({replaced_files}) AS r
           WHERE r.load_id = e.load_id AND r.file_no = e.file_no
             AND r.dataset = 'events'
       ))
    - (SELECT COALESCE(SUM(events), 0) FROM work_songplays
        WHERE merge_id = CAST(%(merge_id)s AS VARCHAR(32)))
);
