"""``sparkify bench``, run in the command's process: each figure beside a reference measured in
the same run, each part in its own scratch home with its own services."""
