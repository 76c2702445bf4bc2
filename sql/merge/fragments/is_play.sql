-- Fragment: a staged event (alias e) that is a play the fact can hold: a NextSong with the
-- natural key complete. One definition for the plays and for the audit that counts them.
e.page = 'NextSong'
AND e.ts IS NOT NULL
AND e.session_id IS NOT NULL
AND e.item_in_session IS NOT NULL
