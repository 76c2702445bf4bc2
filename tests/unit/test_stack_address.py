"""How ``--stack`` addresses a deployed stack's warehouse through the Data API, from its outputs:
a created or named cluster or workgroup, else the AWS endpoint host it connects to."""

from __future__ import annotations

import pytest

from sparkify_local.operate.data_api import WarehouseAddress
from sparkify_local.operate.deployed import warehouse_address
from sparkify_local.operate.errors import StackError

SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sparkify-AbCdEf"


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        (
            {"WarehouseWorkgroupName": "sparkify-loader", "WarehouseSecretArn": SECRET},
            {"Database": "dev", "WorkgroupName": "sparkify-loader", "SecretArn": SECRET},
        ),
        (
            {"WarehouseClusterIdentifier": "sparkify-loader"},
            {"Database": "dev", "ClusterIdentifier": "sparkify-loader"},
        ),
        (
            {"WarehouseHost": "analytics.123456789012.eu-west-1.redshift-serverless.amazonaws.com"},
            {"Database": "dev", "WorkgroupName": "analytics"},
        ),
        (
            {"WarehouseHost": "prod-dw.c1x2y3z4.eu-west-1.redshift.amazonaws.com"},
            {"Database": "dev", "ClusterIdentifier": "prod-dw"},
        ),
    ],
    ids=["workgroup-with-secret", "cluster-iam", "serverless-host", "cluster-host"],
)
def test_the_data_api_request_names_the_warehouse(
    outputs: dict[str, str], expected: dict[str, str]
) -> None:
    address = warehouse_address({"WarehouseDatabase": "dev", **outputs}, "sparkify-dev")
    assert isinstance(address, WarehouseAddress)
    assert address.request() == expected


def test_a_stack_naming_no_aws_warehouse_gets_one_line() -> None:
    outputs = {"WarehouseDatabase": "dev", "WarehouseHost": "dw.internal.example.com"}
    with pytest.raises(StackError, match="names no Redshift cluster or workgroup"):
        warehouse_address(outputs, "sparkify-dev")
