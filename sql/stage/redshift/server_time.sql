-- The warehouse's clock at the start of this transaction (UTC, microseconds; GETDATE() has
-- whole seconds and would admit an earlier COPY of the session): load-view rows start after it.
SELECT SYSDATE;
