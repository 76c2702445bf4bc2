"""Sparkify loader library: the logic behind the Lambda handlers, shipped as a Lambda layer.

Split by concern: ``config`` (typed settings), ``observability`` (logger, metrics, tracer),
``events`` (S3-over-SQS event parsing), ``datasets`` (what lands where), ``sqlfiles`` (the SQL
files and their PostgreSQL rewrite), ``stage`` (landing -> staging logic) and ``warehouse``
(the data-access boundary: Redshift and PostgreSQL engines).
"""
