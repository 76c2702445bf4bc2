-- The merge ANALYZEs the staging tables, which it does not own: ANALYZE is a system permission,
-- granted to roles only (AWS-DG r_GRANT, r_ANALYZE).
GRANT ANALYZE TO ROLE sparkify_loader_role;
