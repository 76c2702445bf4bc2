"""A deployed Sparkify loader stack as a ``StackTarget``, seen from an operator's laptop.

Its resources come from the CloudFormation stack's outputs (template.yaml's ``Outputs``), the
calls use the caller's AWS credentials (``--profile``, ``--region`` or the usual environment), and
SQL goes through the Redshift Data API (``data_api``), which needs no route into the warehouse's
VPC. Every way this can go wrong before the first command runs ends in one ``StackError`` line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound
from tqdm import tqdm

from sparkify_loader.completeness.landing import Version
from sparkify_loader.completeness.ledger import ledger_versions
from sparkify_local.operate.data_api import (
    DEFAULT_STATEMENT_TIMEOUT_S,
    DataApi,
    WarehouseAddress,
)
from sparkify_local.operate.errors import StackError
from sparkify_local.operate.loads import ledger_rows, skip_reason
from sparkify_local.operate.merges import StateMachine
from sparkify_local.operate.target import QueryResult
from sparkify_local.runtime.event_source import DrainStats
from sparkify_local.runtime.resources import QueueDepth, queue_depth

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

# The outputs every command reads (template.yaml declares them); a stack without them is not a
# Sparkify loader, or one deployed from a template older than the CLI.
REQUIRED_OUTPUTS = (
    "Environment",
    "LandingBucketName",
    "StageQueueUrl",
    "StageDeadLetterQueueUrl",
    "MergeStateMachineArn",
    "WarehouseDatabase",
)
# Stack states whose resources exist and work (an update in progress keeps them working).
CREATING = ("CREATE_IN_PROGRESS", "REVIEW_IN_PROGRESS")
GONE_OR_BROKEN = (
    "CREATE_FAILED",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_FAILED",
    "ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS",
    "DELETE_FAILED",
    "DELETE_COMPLETE",
)
# The Data API addresses a warehouse by cluster or workgroup; a stack connected to an existing
# one by host name only still names it there: <cluster>.<id>.<region>.redshift.amazonaws.com,
# <workgroup>.<account>.<region>.redshift-serverless.amazonaws.com.
_CLUSTER_HOST = re.compile(
    r"^(?P<name>[a-z][a-z0-9-]*)\.[a-z0-9]+\.[a-z0-9-]+\.redshift\.amazonaws\.com$"
)
_WORKGROUP_HOST = re.compile(
    r"^(?P<name>[a-z0-9-]+)\.\d{12}\.[a-z0-9-]+\.redshift-serverless\.amazonaws\.com$"
)
DEFAULT_SETTLE_TIMEOUT_S = 900.0
SETTLE_POLL_S = 2.0


def stack_outputs(cloudformation: CloudFormationClient, name: str, region: str) -> dict[str, str]:
    """The outputs of a working stack; a StackError saying why not otherwise."""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except NoCredentialsError:
        raise StackError(
            "no AWS credentials found: run `aws configure` (or `aws sso login`), set "
            "AWS_PROFILE, or pass --profile"
        ) from None
    except ClientError as error:
        details = error.response.get("Error", {})
        message = str(details.get("Message", ""))
        if details.get("Code") == "ValidationError" and "does not exist" in message:
            raise StackError(f"no stack named {name!r} in {region}") from None
        raise StackError(f"CloudFormation: {details.get('Code')}: {message}") from None
    except BotoCoreError as error:
        raise StackError(f"CloudFormation: {error}") from None
    stack = stacks[0]
    status = stack["StackStatus"]
    if status in CREATING:
        raise StackError(
            f"stack {name!r} is still being created ({status}); wait for it: "
            f"`aws cloudformation wait stack-create-complete --stack-name {name}`"
        )
    if status in GONE_OR_BROKEN:
        raise StackError(f"stack {name!r} is {status}: it has no working resources")
    outputs = {
        output["OutputKey"]: output.get("OutputValue", "") for output in stack.get("Outputs", [])
    }
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        raise StackError(
            f"stack {name!r} is not a Sparkify loader stack (or predates this CLI: redeploy "
            f"template.yaml): its outputs lack {', '.join(missing)}"
        )
    return outputs


def warehouse_address(outputs: Mapping[str, str], name: str) -> WarehouseAddress:
    """How the Data API reaches the stack's warehouse, from its outputs."""
    workgroup = outputs.get("WarehouseWorkgroupName") or None
    cluster = outputs.get("WarehouseClusterIdentifier") or None
    if not (workgroup or cluster):
        host = outputs.get("WarehouseHost", "").lower()
        if match := _WORKGROUP_HOST.match(host):
            workgroup = match["name"]
        elif match := _CLUSTER_HOST.match(host):
            cluster = match["name"]
        else:
            raise StackError(
                f"stack {name!r} names no Redshift cluster or workgroup, and its host "
                f"{host or '(none)'!r} is not an AWS Redshift endpoint: the Data API needs one "
                "(deploy with RedshiftClusterIdentifier or RedshiftWorkgroupName)"
            )
    return WarehouseAddress(
        database=outputs["WarehouseDatabase"],
        workgroup_name=workgroup,
        cluster_identifier=cluster,
        secret_arn=outputs.get("WarehouseSecretArn") or None,
    )


@dataclass
class DeployedTarget:
    name: str
    session: boto3.Session
    outputs: dict[str, str]
    data_api: DataApi
    settle_timeout_s: float = DEFAULT_SETTLE_TIMEOUT_S

    @classmethod
    def resolve(
        cls,
        name: str,
        region: str | None = None,
        profile: str | None = None,
        statement_timeout_s: float | None = None,
    ) -> DeployedTarget:
        try:
            session = boto3.Session(profile_name=profile, region_name=region)
        except ProfileNotFound:
            raise StackError(
                f"no AWS profile named {profile!r} (see `aws configure list-profiles`)"
            ) from None
        if not session.region_name:
            raise StackError(
                "no AWS region: pass --region, or set AWS_DEFAULT_REGION or a profile's region"
            )
        outputs = stack_outputs(session.client("cloudformation"), name, session.region_name)
        data_api = DataApi(
            session.client("redshift-data"),
            warehouse_address(outputs, name),
            statement_timeout_s or DEFAULT_STATEMENT_TIMEOUT_S,
        )
        return cls(name, session, outputs, data_api)

    @property
    def description(self) -> str:
        return f"stack {self.name} ({self.session.region_name})"

    @property
    def environment(self) -> str:
        return self.outputs["Environment"]

    @cached_property
    def s3(self) -> S3Client:
        return self.session.client("s3")

    @property
    def bucket(self) -> str:
        return self.outputs["LandingBucketName"]

    @cached_property
    def sqs(self) -> SQSClient:
        return self.session.client("sqs")

    @property
    def stage_queue_url(self) -> str:
        return self.outputs["StageQueueUrl"]

    def ledger_versions(self, versions: Sequence[Version]) -> dict[Version, str]:
        return ledger_versions(self.rows, self.bucket, versions)

    @cached_property
    def _sfn(self) -> SFNClient:
        return self.session.client("stepfunctions")

    def state_machine(self) -> StateMachine:
        arn = self.outputs["MergeStateMachineArn"]
        definition = self._sfn.describe_state_machine(stateMachineArn=arn)["definition"]
        return StateMachine(self._sfn, arn, definition)

    def rows(self, statement: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        return self.data_api.rows(statement, params)

    def execute(self, statement: str, params: Mapping[str, Any] | None = None) -> int:
        return self.data_api.execute(statement, params)

    def query(self, statement: str) -> QueryResult:
        return self.data_api.query(statement)

    def stage_queue_depth(self) -> QueueDepth:
        return queue_depth(self.sqs, self.stage_queue_url)

    def dead_letter_depth(self) -> int:
        return queue_depth(self.sqs, self.outputs["StageDeadLetterQueueUrl"]).waiting

    def settle(
        self, versions: Mapping[str, str], progress: bool, merge_on_arrival: bool
    ) -> DrainStats | None:
        """Wait until the stack's stage function has put every version in the ledger (the
        stack's own MergeOnArrival applies), or the timeout: the summary then names the files
        still without a ledger row."""
        expected = {(key, etag) for key, etag in versions.items() if skip_reason(key) is None}
        deadline = time.monotonic() + self.settle_timeout_s
        with tqdm(total=len(expected), desc="staged", unit="file", disable=not progress) as bar:
            while True:
                done = expected & set(ledger_rows(self, versions))
                bar.update(len(done) - bar.n)
                if len(done) == len(expected) or time.monotonic() >= deadline:
                    return None
                time.sleep(SETTLE_POLL_S)
