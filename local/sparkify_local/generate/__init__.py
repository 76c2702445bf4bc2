"""The data generator, run in the ``sparkify`` command's process (``sparkify generate``, the
benchmarks): realistic song and log files in the real formats, deterministic per seed."""
