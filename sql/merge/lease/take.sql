-- Take the merge lease. Serializable isolation makes two concurrent takers conflict: one wins.
INSERT INTO merge_lease (name, merge_id, started_at, expires_at)
VALUES ('merge', %(merge_id)s, %(now)s, %(expires_at)s);
