"""Reconcile function: on a schedule, every object under the dataset prefixes is proven in the
ledger, in flight or unaccounted; the unaccounted ones are announced to the stage queue again."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from sparkify_loader.completeness.scheduled import (
    ReconcileRequest,
    StackLanding,
    reconcile_landing,
)
from sparkify_loader.config import reconcile_settings
from sparkify_loader.observability import logger, metrics, tracer
from sparkify_loader.warehouse import connect_warehouse

# Cold start: a bad setting fails here, naming the variable; the connection is reused while warm.
SETTINGS = reconcile_settings()
WAREHOUSE = connect_warehouse(SETTINGS)
LANDING = StackLanding(SETTINGS.landing_bucket, SETTINGS.stage_queue_url, WAREHOUSE)


# Correlate log lines with the schedule's invocation (EventBridge Scheduler's execution id).
@logger.inject_lambda_context(correlation_id_path="execution_id")
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=ReconcileRequest)
def handler(event: ReconcileRequest, context: LambdaContext) -> dict[str, Any]:
    result = reconcile_landing(LANDING, SETTINGS.reconcile_grace_seconds, metrics.add_metric)
    return result.model_dump(mode="json")
