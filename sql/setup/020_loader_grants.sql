-- What the loader role may do: read and write every table of sql/schema/, and ANALYZE (the
-- merge analyzes the staging tables it does not own). Temp tables need TEMP, which PUBLIC has.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE staging_events, staging_songs, load_ledger,
    songplays, users, songs, artists, time, merge_lease, merge_runs TO ROLE sparkify_loader;
-- ANALYZE is a system permission, granted to roles only (AWS-DG r_GRANT).
GRANT ANALYZE TO ROLE sparkify_loader;
