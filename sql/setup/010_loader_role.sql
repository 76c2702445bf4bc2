-- The database role both functions act through (one statement per file: run once, as an admin,
-- after sql/schema/). Serverless IAM maps IAMR:<role> users to it by the RedshiftDbRoles tag.
CREATE ROLE sparkify_loader_role;
