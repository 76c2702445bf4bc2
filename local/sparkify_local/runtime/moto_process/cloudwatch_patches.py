"""A fix for moto's CloudWatch, applied inside our moto server process only.

moto 5.2.5 matches a GetMetricData query to stored data by comparing the two dimension lists
sorted, but its ``Dimension.__lt__`` compares a value with a name (``self.value < other.name``),
so ``sorted`` leaves some lists in their given order: a query whose dimensions are listed in
another order than the data's (the dashboard's ``service, Step, Table`` against Powertools'
``Step, Table, service``) found nothing. CloudWatch identifies a metric by its dimension *set*;
ordering by (name, value) restores that.
"""

from __future__ import annotations

from moto.cloudwatch import models as cloudwatch_models


def _less_than(self: cloudwatch_models.Dimension, other: cloudwatch_models.Dimension) -> bool:
    return (self.name or "", self.value or "") < (other.name or "", other.value or "")


def apply() -> None:
    cloudwatch_models.Dimension.__lt__ = _less_than  # type: ignore[method-assign]
