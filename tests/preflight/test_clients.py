"""Every client the preflight makes refuses an operation that could change the account."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from hitl.preflight.clients import SessionClients, WriteRefused, is_read_only


@pytest.mark.parametrize(
    ("operation", "read_only"),
    [
        ("GetCallerIdentity", True),
        ("DescribeEndpoint", True),
        ("ListServiceQuotas", True),
        ("HeadObject", True),
        ("CreateBucket", False),
        ("PutParameter", False),
        ("StartProjectVersion", False),
        ("UpdateUserPoolClient", False),
        ("RequestServiceQuotaIncrease", False),
    ],
)
def test_only_describe_get_list_and_head_are_read_only(operation, read_only):
    assert is_read_only(operation) is read_only


def test_a_write_is_refused_before_it_is_sent(clients):
    with pytest.raises(WriteRefused, match="CreateBucket"):
        clients("s3").create_bucket(Bucket="never-made")
    assert boto3.client("s3").list_buckets()["Buckets"] == []
    assert clients.operations == ["CreateBucket"]  # what the read-only assertions of test_runner see


def test_a_write_is_refused_even_when_a_stubber_has_its_answer(clients):
    stubber = Stubber(clients("sagemaker"))
    stubber.add_response("create_workforce", {"WorkforceArn": "arn:aws:sagemaker:us-east-1:1:workforce/w"})
    with stubber, pytest.raises(WriteRefused, match="CreateWorkforce"):
        clients("sagemaker").create_workforce(WorkforceName="w")


def test_session_clients_make_one_guarded_client_per_service():
    with mock_aws():
        clients = SessionClients(boto3.Session(region_name="eu-west-1"))
        s3 = clients("s3")
        assert clients("s3") is s3
        assert s3.meta.region_name == "eu-west-1"
        assert s3.list_buckets()["Buckets"] == []
        with pytest.raises(WriteRefused):
            s3.put_object(Bucket="b", Key="k", Body=b"")


def test_session_clients_name_another_region_when_asked():
    with mock_aws():
        clients = SessionClients(boto3.Session(region_name="eu-west-1"))
        assert clients("ses", "eu-west-1") is clients("ses")
        assert clients("ses", "us-east-2").meta.region_name == "us-east-2"
