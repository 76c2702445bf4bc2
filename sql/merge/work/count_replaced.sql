-- How many older versions of this merge's keys there are: with none, nothing is retracted and
-- the retraction steps (which scan the published tables) are skipped.
SELECT COUNT(*) FROM ({replaced_files}) AS r;
