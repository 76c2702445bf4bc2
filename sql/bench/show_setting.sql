-- One server setting, reported beside the figures.
-- Local benchmark only (PostgreSQL).
SHOW {setting};
