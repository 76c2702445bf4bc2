-- The warehouse's clock at the start of this statement (UTC), taken right before a COPY: the
-- load views' rows of that COPY start at or after it, older rows of the same session before it.
SELECT GETDATE();
