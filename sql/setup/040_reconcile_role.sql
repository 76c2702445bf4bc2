-- The database role the scheduled Reconcile function acts through: it only reads the ledger.
-- Serverless IAM maps its IAMR:<role> user to it by the function's RedshiftDbRoles tag.
CREATE ROLE sparkify_reconcile_role;
