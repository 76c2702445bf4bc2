"""``sparkify bench``, run in the command's process: each figure beside a reference measured in
the same run, each part in its own scratch home with its own services."""

# The parts of a run, in the order they run (`sparkify bench --only PART`).
BENCHES = ("stage", "merge", "e2e", "completeness")
