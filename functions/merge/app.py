"""Merge function: one Task of the merge state machine (lease, upsert, rematch, quality,
finalize, fail, dry_run), chosen by the Task's payload."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from sparkify_loader.config import merge_settings
from sparkify_loader.merge import run_merge_step
from sparkify_loader.merge_steps import MergeStep
from sparkify_loader.observability import logger, metrics, tracer
from sparkify_loader.warehouse import connect_warehouse

# Cold start: a bad setting fails here, naming the variable; the connection is reused while warm.
SETTINGS = merge_settings()
WAREHOUSE = connect_warehouse(SETTINGS)


# The parser runs innermost: a payload that fits no step fails (pydantic's ValidationError names
# the field) with the invocation's logs and metrics still set up around it.
@logger.inject_lambda_context(correlation_id_path="merge_id")
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
@event_parser(model=MergeStep)
def handler(event: MergeStep, context: LambdaContext) -> dict[str, Any]:
    result = run_merge_step(
        event.root, WAREHOUSE, SETTINGS, metrics.add_metric, metrics.add_dimension
    )
    return result.model_dump(mode="json")
