"""Runs inside the moto server process only: nothing here is imported by the CLI's process.

``server`` is the process's entry point; it applies ``sqs_patches``, installs
``lambda_dispatch`` and serves moto behind the ``s3_outage`` switch.
"""
