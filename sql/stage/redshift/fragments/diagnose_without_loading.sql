-- COPY that only checks every file, loading nothing, past Redshift's largest MAXERROR of bad
-- rows: its load errors then name every bad file of the batch, not just the first.
MAXERROR 100000
NOLOAD
