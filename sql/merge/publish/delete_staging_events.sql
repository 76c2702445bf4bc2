-- Remove the merged loads' event rows from staging.
DELETE FROM staging_events
WHERE load_id IN (SELECT load_id FROM ({claimed_loads}) AS l);
