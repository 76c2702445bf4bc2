"""Local development tooling for the Sparkify loader, never shipped in the Lambda layer.

Where each part runs:

- ``cli``, ``home``, ``pipeline``: the ``sparkify`` command's own process.
- ``sam/``: reads ``template.yaml`` (loading, intrinsics, wiring); used by every process.
- ``runtime/``: the local stand-ins for AWS, driven from the command's process: the service
  processes of a home, the AWS resources on moto, the SQS event source, the function pool whose
  worker processes run the real handlers, fault injection and the merge runner.
- ``runtime/moto_process/``: code that runs *inside* the moto server process only (the server,
  its patches, the Lambda dispatcher, the S3 outage switch).
- ``generate/``: the data generator. ``bench/``: the benchmarks, each in a scratch home.
"""
