-- The database role both functions act through (run once, as an admin, after sql/schema/):
-- Serverless maps each function's IAMR:<role> user to it (RedshiftDbRoles tag), others grant it.
CREATE ROLE sparkify_loader;
