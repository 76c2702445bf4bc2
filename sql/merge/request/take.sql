-- Record that this stage batch starts a merge execution (a stale request is removed first).
INSERT INTO merge_requests (name, requested_at, execution)
VALUES ('merge', %(now)s, %(execution)s);
