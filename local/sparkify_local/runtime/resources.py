"""The pipeline's AWS resources on moto, wired as template.yaml wires them in AWS.

Bucket -> queue notifications (prefix/suffix filters), the queue's DLQ redrive and the stage
function's environment are all read from the template, so local and deployed cannot drift.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from botocore.config import Config
from botocore.exceptions import ClientError

from sparkify_loader.warehouse.s3 import s3_client
from sparkify_local.operate.merges import StateMachine
from sparkify_local.runtime.clients import (
    ACCOUNT_ID,
    FAKE_CLIENT_CREDENTIALS,
    FAKE_CREDENTIALS,
    REGION,
    local_client,
)
from sparkify_local.runtime.processes import Endpoints
from sparkify_local.sam.intrinsics import evaluate_conditions, resolve_environment
from sparkify_local.sam.loading import load_template
from sparkify_local.sam.template import (
    FunctionWiring,
    bucket_notifications,
    function_wiring,
    queue_wiring,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import EventType
    from mypy_boto3_s3.type_defs import QueueConfigurationTypeDef
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_stepfunctions import SFNClient

PROJECT_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"
# The local stack's name: its resources' names start with it, as a stack's do on AWS.
STACK_NAME = "sparkify"
LANDING_BUCKET = "sparkify-landing"
STAGE_FUNCTION = "StageFunction"
STAGE_QUEUE = "StageQueue"
BUCKET_RESOURCE = "LandingBucket"
STATE_MACHINE = "MergeStateMachine"
MAX_POOL_CONNECTIONS = 32


@dataclass
class LocalResources:
    """The local stack's AWS resources, through clients of moto made with explicit endpoint,
    region and fake credentials (this process's environment plays no part)."""

    endpoints: Endpoints

    @cached_property
    def template(self) -> dict[str, Any]:
        return load_template(TEMPLATE_PATH)

    def _client(self, service: str, config: Config | None = None) -> Any:
        return local_client(service, self.endpoints.aws_url, config)

    @cached_property
    def s3(self) -> S3Client:
        # Uploads run in parallel threads; one pooled connection per thread.
        return self._client("s3", Config(max_pool_connections=MAX_POOL_CONNECTIONS))

    @cached_property
    def warehouse_s3(self) -> S3Client:
        """The client the local warehouse's COPY emulation reads the landing bucket with,
        configured as the engines configure theirs (warehouse.s3)."""
        return s3_client(
            endpoint_url=self.endpoints.aws_url, region_name=REGION, **FAKE_CLIENT_CREDENTIALS
        )

    @cached_property
    def sqs(self) -> SQSClient:
        return self._client("sqs")

    @property
    def bucket(self) -> str:
        return LANDING_BUCKET

    def physical_name(self, logical_id: str) -> str:
        """The local name of a named resource of the template (queue, log group, alarm)."""
        return f"{STACK_NAME}-{logical_id}"

    def queue_name(self, logical_id: str) -> str:
        return self.physical_name(logical_id)

    def queue_url(self, logical_id: str) -> str:
        return self.sqs.get_queue_url(QueueName=self.queue_name(logical_id))["QueueUrl"]

    def queue_depth(self, logical_id: str) -> QueueDepth:
        return queue_depth(self.sqs, self.queue_url(logical_id))

    def queue_arn(self, logical_id: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{self.queue_name(logical_id)}"

    @cached_property
    def sfn(self) -> SFNClient:
        return self._client("stepfunctions")

    @cached_property
    def cloudwatch(self) -> Any:
        return self._client("cloudwatch")

    @cached_property
    def logs(self) -> Any:
        return self._client("logs")

    def close(self) -> None:
        """Close the connection pools of the clients made so far."""
        for name in ("s3", "warehouse_s3", "sqs", "sfn", "cloudwatch", "logs"):
            client = self.__dict__.pop(name, None)
            if client is not None:
                client.close()

    def log_group_name(self, function_logical_id: str) -> str:
        """The function's log group: the template's ``LoggingConfig.LogGroup`` resource, named
        locally as the queues are, else the group Lambda creates by default."""
        properties = self.template["Resources"][function_logical_id]["Properties"]
        group = properties.get("LoggingConfig", {}).get("LogGroup")
        if isinstance(group, dict) and set(group) == {"Ref"}:
            return self.physical_name(group["Ref"])
        return f"/aws/lambda/{function_logical_id}"

    def function_arn(self, logical_id: str) -> str:
        # The logical id is the local function name; the dispatcher maps it back.
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{logical_id}"

    def state_machine_definition(self) -> str:
        """The ASL file with its DefinitionSubstitutions resolved for the local stack."""
        properties = self.template["Resources"][STATE_MACHINE]["Properties"]
        definition = (TEMPLATE_PATH.parent / properties["DefinitionUri"]).read_text()
        for name, value in properties.get("DefinitionSubstitutions", {}).items():
            if not (isinstance(value, dict) and "Fn::GetAtt" in value):
                raise ValueError(f"local runtime cannot resolve substitution {name}: {value!r}")
            resource, attribute = value["Fn::GetAtt"]
            if attribute != "Arn":
                raise ValueError(f"local runtime resolves only Arn attributes, not {attribute}")
            definition = definition.replace("${" + name + "}", self.function_arn(resource))
        return definition

    @property
    def state_machine_arn(self) -> str:
        """The merge state machine's ARN as moto gives it (``ensure_state_machine``)."""
        name = self.physical_name(STATE_MACHINE)
        return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"

    def ensure_state_machine(self) -> str:
        """Create the merge state machine, or bring its definition up to date; return its ARN."""
        name = self.physical_name(STATE_MACHINE)
        definition = self.state_machine_definition()
        for machine in self.sfn.list_state_machines()["stateMachines"]:
            if machine["name"] == name:
                self.sfn.update_state_machine(
                    stateMachineArn=machine["stateMachineArn"], definition=definition
                )
                return machine["stateMachineArn"]
        return self.sfn.create_state_machine(
            name=name,
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/sparkify-merge-state-machine",
        )["stateMachineArn"]

    def state_machine(self) -> StateMachine:
        """The merge state machine, created or brought up to date."""
        return StateMachine(self.sfn, self.ensure_state_machine(), self.state_machine_definition())

    def ensure_resources(self) -> None:
        """Create bucket, queues and notifications if missing (idempotent, cheap)."""
        queue = queue_wiring(self.template, STAGE_QUEUE)
        attributes: dict[QueueAttributeNameType, str] = {
            "VisibilityTimeout": str(queue.visibility_timeout_seconds)
        }
        if queue.dead_letter_logical_id:
            self.sqs.create_queue(QueueName=self.queue_name(queue.dead_letter_logical_id))
            dlq_arn = self.sqs.get_queue_attributes(
                QueueUrl=self.queue_url(queue.dead_letter_logical_id), AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
            )
        self.sqs.create_queue(QueueName=self.queue_name(STAGE_QUEUE), Attributes=attributes)
        try:
            self.s3.create_bucket(Bucket=self.bucket)
        except ClientError as error:
            if error.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise
        configured = self.s3.get_bucket_notification_configuration(Bucket=self.bucket)
        if configured.get("QueueConfigurations"):
            return
        rules = bucket_notifications(self.template, BUCKET_RESOURCE)
        configurations: list[QueueConfigurationTypeDef] = [
            {
                "QueueArn": self.sqs.get_queue_attributes(
                    QueueUrl=self.queue_url(rule.queue_logical_id),
                    AttributeNames=["QueueArn"],
                )["Attributes"]["QueueArn"],
                # Event names as the template spells them (cfn-lint checks them there).
                "Events": cast("list[EventType]", list(rule.events)),
                "Filter": {
                    "Key": {
                        "FilterRules": [
                            {"Name": "prefix", "Value": rule.prefix},
                            {"Name": "suffix", "Value": rule.suffix},
                        ]
                    }
                },
            }
            for rule in rules
        ]
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"QueueConfigurations": configurations}
        )

    @contextmanager
    def notifications_suspended(self) -> Iterator[None]:
        """The bucket announces nothing while this lasts: its notification configuration is
        removed, then put back from the template.

        This is how files come to be in a bucket without events on AWS too (written before the
        notifications were configured, or while they were misconfigured), so ``sparkify load
        --without-events`` needs no patch of moto's S3 and the files land under the keys ``load``
        uses. Putting the configuration back makes S3 (and moto) send an ``s3:TestEvent``, which
        the stage function ignores. A command killed in between leaves the bucket silent until
        the next command starts the stack: ``ensure_resources`` puts the rules back.
        """
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={}
        )
        try:
            yield
        finally:
            self.ensure_resources()

    def function(self, logical_id: str) -> FunctionWiring:
        return function_wiring(self.template, logical_id)

    def function_environment(
        self, wiring: FunctionWiring, parameters: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The function's template environment, resolved for the local stack.

        Template parameters take their defaults unless ``parameters`` overrides them, as
        ``sam deploy --parameter-overrides`` would (conditions keep the defaults: the stack's
        own landing bucket, an existing warehouse); the landing bucket, the merge state machine
        and the stage queue are the local ones; the warehouse is the embedded PostgreSQL, not
        Redshift.
        """
        substitutions = {
            name: str(spec.get("Default", ""))
            for name, spec in self.template.get("Parameters", {}).items()
        }
        substitutions.update(parameters or {})
        substitutions[BUCKET_RESOURCE] = self.bucket
        referenced = json.dumps(wiring.environment)
        if STATE_MACHINE in referenced:  # only the stage function's
            substitutions[STATE_MACHINE] = self.ensure_state_machine()
        if STAGE_QUEUE in referenced:  # the Reconcile function announces to it (!Ref: its URL)
            substitutions[STAGE_QUEUE] = self.queue_url(STAGE_QUEUE)
        environment = resolve_environment(
            wiring.environment, substitutions, evaluate_conditions(self.template)
        )
        environment.update(FAKE_CREDENTIALS)
        environment.update(
            WAREHOUSE_ENGINE="postgres",
            WAREHOUSE_URL=self.endpoints.warehouse_url,
            AWS_ENDPOINT_URL=self.endpoints.aws_url,
            # X-Ray has no local daemon; metrics still go to the function's log as EMF.
            POWERTOOLS_TRACE_DISABLED="true",
        )
        return environment


@dataclass(frozen=True)
class QueueDepth:
    """SQS's approximate counts: messages that can be received, and received but not deleted
    (held by a consumer, or waiting out a retry delay)."""

    waiting: int
    in_flight: int

    @property
    def empty(self) -> bool:
        return self.waiting == 0 and self.in_flight == 0


def queue_depth(sqs: SQSClient, queue_url: str) -> QueueDepth:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return QueueDepth(
        waiting=int(attributes["ApproximateNumberOfMessages"]),
        in_flight=int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )
