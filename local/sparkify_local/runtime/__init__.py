"""The local stand-ins for AWS, driven from the ``sparkify`` command's process.

Function handlers run in worker processes (``function_pool``); what runs inside the moto server
process lives in ``moto_process``.
"""
