-- Publish users by user_id from the audited work rows (work/users.sql decided which level wins,
-- so a plain update is right here). The work table holds this merge's rows only (audited).
MERGE INTO users
USING work_users AS b
ON users.user_id = b.user_id
WHEN MATCHED THEN UPDATE SET
    first_name = b.first_name, last_name = b.last_name, gender = b.gender,
    level = b.level, level_ts = b.level_ts
WHEN NOT MATCHED THEN INSERT (user_id, first_name, last_name, gender, level, level_ts)
    VALUES (b.user_id, b.first_name, b.last_name, b.gender, b.level, b.level_ts);
