"""Operating a Sparkify stack from the CLI: the local stack (``local.LocalTarget``) and a deployed
one (``deployed``) behind one interface, so each command is written once. The completeness work
itself (backfill, reconcile) lives in the layer (``sparkify_loader.completeness``), which the
scheduled Reconcile function shares.
"""
