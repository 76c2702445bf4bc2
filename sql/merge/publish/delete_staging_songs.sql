-- Remove the merged loads' song rows from staging.
DELETE FROM staging_songs
WHERE load_id IN (SELECT load_id FROM ({claimed_loads}) AS l);
