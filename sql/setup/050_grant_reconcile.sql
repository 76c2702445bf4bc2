-- The Reconcile function reads load_ledger (sql/cli/ledger_versions.sql) and nothing else; it
-- announces missing files to the stage queue, whose stage function writes the ledger.
GRANT SELECT ON TABLE load_ledger TO ROLE sparkify_reconcile_role;
