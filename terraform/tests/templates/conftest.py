"""Fixtures of the mapping-template tests: the templates as Terraform renders them, and a
Kinesis API (moto_server: AWS_ENDPOINT_URL when scripts/test.sh started one, else one of
our own on a free port)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import apigateway_vtl

TEMPLATES = Path(__file__).resolve().parents[2] / "modules" / "api" / "templates"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    given = os.environ.get("AWS_ENDPOINT_URL")
    if given:
        yield given
        return
    port = free_port()
    server = subprocess.Popen(
        ["moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


@dataclass
class Kinesis:
    """A stream on moto and the Kinesis JSON API as API Gateway's integration calls it."""

    endpoint: str
    stream: str

    @property
    def client(self):
        return boto3.client(
            "kinesis", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
        )

    def call(self, action: str, body: str) -> tuple[int, str]:
        """POSTs a rendered request body as the AWS integration does (SigV4, JSON 1.1)."""
        headers = {"X-Amz-Target": f"Kinesis_20131202.{action}", "Content-Type": "application/x-amz-json-1.1"}
        request = AWSRequest(method="POST", url=self.endpoint + "/", data=body.encode("utf-8"), headers=headers)
        SigV4Auth(Credentials("test", "test"), "kinesis", REGION).add_auth(request)
        prepared = urllib.request.Request(
            self.endpoint + "/", data=body.encode("utf-8"), headers=dict(request.headers.items()), method="POST"
        )
        try:
            with urllib.request.urlopen(prepared, timeout=30) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8")

    def records(self) -> dict[tuple[str, str], dict]:
        """Every record of the stream by (shard, sequence number): data, partition key.
        (moto numbers each shard's records from 1, so the shard is part of the key.)"""
        found: dict[tuple[str, str], dict] = {}
        for shard in self.client.list_shards(StreamName=self.stream)["Shards"]:
            iterator = self.client.get_shard_iterator(
                StreamName=self.stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                page = self.client.get_records(ShardIterator=iterator, Limit=10_000)
                for record in page["Records"]:
                    found[(shard["ShardId"], record["SequenceNumber"])] = {
                        "data": record["Data"],
                        "partition_key": record["PartitionKey"],
                    }
                if not page["Records"]:
                    break
                iterator = page.get("NextShardIterator")
        return found


@pytest.fixture
def kinesis(endpoint: str) -> Iterator[Kinesis]:
    stream = f"events-{uuid.uuid4().hex[:12]}"
    kinesis = Kinesis(endpoint, stream)
    kinesis.client.create_stream(StreamName=stream, ShardCount=4)
    kinesis.client.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    yield kinesis
    kinesis.client.delete_stream(StreamName=stream)


@pytest.fixture(scope="session")
def template():
    """``template(name, **vars)``: a template file as Terraform's templatefile renders it."""
    cache: dict[tuple, str] = {}

    def load(name: str, **variables: str) -> str:
        key = (name, tuple(sorted(variables.items())))
        if key not in cache:
            cache[key] = apigateway_vtl.templatefile(TEMPLATES / name, variables)
        return cache[key]

    return load


def as_json(text: str):
    return json.loads(text)
