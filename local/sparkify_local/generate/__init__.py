"""The data generator: realistic song and log files in the real formats, deterministic per seed."""
