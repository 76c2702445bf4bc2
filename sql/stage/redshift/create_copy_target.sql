-- A session-private table shaped like the staging table: COPY cannot tag rows with the load,
-- so rows land here first and are moved with their load_id by insert_from_copy_target.sql.
CREATE TEMP TABLE {copy_target} (LIKE {staging_table});
