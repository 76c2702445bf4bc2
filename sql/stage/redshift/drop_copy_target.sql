-- Drop the batch's copy target: the session outlives the batch in a warm Lambda, and the next
-- batch creates it again (create_copy_target.sql).
DROP TABLE {copy_target};
