-- The warehouse's clock at the start of this transaction (UTC, to the microsecond), read right
-- before a COPY: the load views' rows of that COPY start at or after it. GETDATE() would do to
-- the second only, and admit an earlier COPY of the same session within that second.
SELECT SYSDATE;
