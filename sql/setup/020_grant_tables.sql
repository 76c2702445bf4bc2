-- The loader role reads and writes every table of sql/schema/ (the functions own none of them:
-- an admin created them). Temp tables need TEMP on the database, which PUBLIC has.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE staging_events, staging_songs, load_ledger,
    songplays, users, songs, artists, time, merge_lease, merge_runs, work_users, work_songs,
    work_artists, work_time, work_songplays, work_rematch, work_retract_songs,
    work_retract_plays, merge_requests TO ROLE sparkify_loader_role;
