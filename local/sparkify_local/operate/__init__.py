"""Operating a Sparkify stack: ``backfill`` (announce what the ledger never saw) and
``reconcile`` (prove that every landed file is loaded, in flight or named as unaccounted).

Each command is written once, against ``target.StackTarget``. ``local.LocalTarget`` is the
local stack (moto + the embedded warehouse); a deployed-stack target (resources from the
CloudFormation outputs, SQL through the Redshift Data API) is the other implementation to come.
"""
