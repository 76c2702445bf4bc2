"""Stage function: SQS batch of S3 ObjectCreated notifications -> Redshift staging tables."""

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from sparkify_loader.config import stage_settings
from sparkify_loader.observability import logger, metrics, tracer
from sparkify_loader.stage import stage_sqs_event
from sparkify_loader.warehouse import connect_warehouse

# Cold start: a bad setting fails here, naming the variable; the connection is reused while warm.
SETTINGS = stage_settings()
WAREHOUSE = connect_warehouse(SETTINGS)


# Correlate log lines with the first SQS message of the batch.
@logger.inject_lambda_context(correlation_id_path="Records[0].messageId")
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return stage_sqs_event(event, WAREHOUSE, SETTINGS, context)
