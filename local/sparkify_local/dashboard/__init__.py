"""``sparkify dashboard``: the template's CloudWatch dashboard as one self-contained HTML page."""
