-- COPY that loads: the first bad row fails it, so no file is ever half loaded and the load
-- errors name the bad file.
MAXERROR 0
