-- How many song rows the merge's loads staged: with none, no earlier play can newly match.
SELECT COUNT(*)
FROM staging_songs AS s
JOIN ({claimed_loads}) AS l ON l.load_id = s.load_id;
