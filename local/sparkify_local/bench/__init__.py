"""``sparkify bench``: each figure beside a reference measured in the same run, in scratch homes."""
