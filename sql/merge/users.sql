-- Upsert users by user_id from the de-duplicated batch (users_batch.sql decided which level
-- wins, so a plain update is right here).
MERGE INTO users
USING users_batch AS b
ON users.user_id = b.user_id
WHEN MATCHED THEN UPDATE SET
    first_name = b.first_name, last_name = b.last_name, gender = b.gender,
    level = b.level, level_ts = b.level_ts
WHEN NOT MATCHED THEN INSERT (user_id, first_name, last_name, gender, level, level_ts)
    VALUES (b.user_id, b.first_name, b.last_name, b.gender, b.level, b.level_ts);
