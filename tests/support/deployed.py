"""The local stack seen as a deployed one: a CloudFormation stack in the home's moto server whose
outputs name the local resources, and the environment a ``sparkify … --stack`` command gets (AWS
credentials and the endpoint of that moto server, as ``AWS_ENDPOINT_URL`` points any SDK).

SQL from such a command goes through the Redshift Data API, which the home's moto server answers
from the home's warehouse (``runtime.moto_process.data_api``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from sparkify_local.home import Home
from sparkify_local.pipeline import LocalPipeline
from tests.support.cli import home_aws

STACK = "sparkify-dev"
REGION = "us-east-1"
# A template needs one resource; this one has no effect (moto parses and skips it).
NO_RESOURCES = {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}


def stack_env(home: Path) -> dict[str, str]:
    """What a user's shell holds for the account the stack is in."""
    port = json.loads((home / "services.json").read_text())["moto"]["port"]
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        # No ~/.aws of the machine's user leaks in.
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }


def local_outputs(home: Path) -> dict[str, str]:
    """The outputs template.yaml gives a deployed stack, for the home's local resources (the
    state machine exists once a merge has run)."""
    sqs, sfn = home_aws(home, "sqs"), home_aws(home, "stepfunctions")
    machines = sfn.list_state_machines()["stateMachines"]
    secret = home_aws(home, "secretsmanager").create_secret(
        Name=f"{STACK}-warehouse", SecretString='{"username": "loader", "password": "unused"}'
    )
    return {
        "Environment": "dev",
        "LandingBucketName": home_aws(home, "s3").list_buckets()["Buckets"][0]["Name"],
        "StageQueueUrl": sqs.get_queue_url(QueueName="sparkify-StageQueue")["QueueUrl"],
        "StageDeadLetterQueueUrl": sqs.get_queue_url(QueueName="sparkify-StageDeadLetterQueue")[
            "QueueUrl"
        ],
        "MergeStateMachineArn": next(
            m["stateMachineArn"] for m in machines if m["name"] == "sparkify-MergeStateMachine"
        ),
        "WarehouseDatabase": "sparkify",
        "WarehouseWorkgroupName": "sparkify-dev",
        "WarehouseSecretArn": secret["ARN"],
    }


def create_stack(home: Path, name: str, outputs: Mapping[str, str]) -> None:
    template = {
        "Resources": NO_RESOURCES,
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    home_aws(home, "cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


@contextmanager
def stage_function(home: Path) -> Iterator[None]:
    """The deployed stack's stage function, for the duration: the real handler drains the stage
    queue as Lambda's event source would (and starts merges on arrival, as deployed)."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        with LocalPipeline.start(Home(home)) as pipeline:
            while not stop.is_set():
                try:
                    pipeline.stage(progress=False, merge_on_arrival=True)
                except BaseException as error:  # reported by the test, not lost in a thread
                    failures.append(error)
                    return
                stop.wait(0.2)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(timeout=120)
    assert not failures, failures
