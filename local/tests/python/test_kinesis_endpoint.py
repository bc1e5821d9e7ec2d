"""`pipeline up --kinesis-listen` with the clients Kinesis producers use: boto3 for single,
batched and KPL-aggregated records (aggregated with aws-kinesis-agg, the Python aggregator of
awslabs/kinesis-aggregation), read back through the query API; and the Kinesis-shaped errors,
with nothing stored, for a wrong X-Amz-Target, another stream, and bodies over the limits.

The `pipeline` binary is $PIPELINE_BIN, else $CARGO_TARGET_DIR/debug/pipeline, else
target/debug/pipeline (scripts/test.sh builds it first). Run: python3 -m pytest local/tests/python
"""

import base64
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import boto3
import botocore.config
import pytest
from aws_kinesis_agg.aggregator import RecordAggregator
from botocore.exceptions import ClientError

KEY, READ_KEY = "k", "r"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def binary():
    if os.environ.get("PIPELINE_BIN"):
        return os.environ["PIPELINE_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "debug", "pipeline")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pipeline:
    def __init__(self, shards=4, extra=()):
        self.dir = tempfile.TemporaryDirectory()
        self.http, self.kinesis_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.http}"
        self.endpoint = f"http://127.0.0.1:{self.kinesis_port}"
        self.process = subprocess.Popen(
            [binary(), "up", "--data-dir", self.dir.name, "--listen", f"127.0.0.1:{self.http}", "--shards", str(shards),
             "--api-key", KEY, "--read-key", READ_KEY, "--progress", "0", "--kinesis-listen", f"127.0.0.1:{self.kinesis_port}", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(self.base + "/health", timeout=1)
                socket.create_connection(("127.0.0.1", self.kinesis_port), 1).close()
                break
            except OSError:
                assert self.process.poll() is None, "pipeline up exited"
                assert time.time() < deadline, "pipeline up did not start"
                time.sleep(0.1)
        self.client = boto3.client(
            "kinesis", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="test",
            aws_secret_access_key="test", config=botocore.config.Config(retries={"max_attempts": 1}))

    def stop(self):
        self.process.terminate()
        self.process.wait(30)
        self.dir.cleanup()

    def get(self, path, key=READ_KEY):
        request = urllib.request.Request(self.base + path, headers={"x-api-key": key})
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.loads(r.read())

    def drained(self):
        deadline = time.time() + 60
        while self.get("/health")["lag"] != 0:
            assert time.time() < deadline, "the stream did not drain"
            time.sleep(0.1)

    def events(self, user):
        return self.get(f"/v1/users/{user}/events?limit=1000")["events"]

    def metric(self, name):
        text = urllib.request.urlopen(self.base + "/metrics", timeout=5).read().decode()
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


@pytest.fixture(scope="module")
def pipeline():
    p = Pipeline()
    yield p
    p.stop()


def event(user, n, **properties):
    return json.dumps({"event_type": "pageview", "user_id": user, "properties": {"n": n, **properties}}).encode()


def test_single_batched_and_aggregated_records_are_stored_once(pipeline):
    run = uuid.uuid4().hex[:8]
    single, batched, packed = f"single-{run}", f"batched-{run}", f"agg-{run}"
    k = pipeline.client
    out = k.put_record(StreamName="events", Data=event(single, 0), PartitionKey=single)
    assert out["ShardId"].startswith("shardId-") and out["SequenceNumber"]

    out = k.put_records(StreamName="events", Records=[{"Data": event(batched, i), "PartitionKey": batched} for i in range(50)])
    assert out["FailedRecordCount"] == 0 and len(out["Records"]) == 50
    sequences = [r["SequenceNumber"] for r in out["Records"]]
    assert len(set(sequences)) == 50

    # KPL aggregated records, from the reference Python aggregator; one user, so one shard.
    aggregator, aggregates = RecordAggregator(), []
    for i in range(300):
        done = aggregator.add_user_record(packed, event(packed, i, padding="x" * 200))
        if done:
            aggregates.append(done)
    aggregates.append(aggregator.clear_and_get())
    entries = []
    for a in aggregates:
        key, hash_key, data = a.get_contents()
        entry = {"Data": data, "PartitionKey": key}
        if hash_key:
            entry["ExplicitHashKey"] = hash_key
        entries.append(entry)
    assert all(e["Data"][:4] == b"\xf3\x89\x9a\xc2" for e in entries), "the aggregator made KPL records"
    out = k.put_records(StreamName="events", Records=entries)
    assert out["FailedRecordCount"] == 0

    pipeline.drained()
    assert len(pipeline.events(single)) == 1
    got = pipeline.events(batched)
    assert sorted(e["properties"]["n"] for e in got) == list(range(50))
    got = pipeline.events(packed)
    assert sorted(e["properties"]["n"] for e in got) == list(range(300)), "every user record once"
    assert len({e["event_id"] for e in got}) == 300
    subs = {(e["_pipeline"]["sequence_number"], e["_pipeline"]["sub_sequence_number"]) for e in got}
    assert len(subs) == 300 and all(isinstance(s, int) for _, s in subs)


def test_shards_follow_the_md5_rule_and_the_listed_hash_ranges(pipeline):
    k = pipeline.client
    shards = k.list_shards(StreamName="events")["Shards"]
    assert len(shards) == 4
    ranges = [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]), s["ShardId"]) for s in shards]
    assert ranges[0][0] == 0 and ranges[-1][1] == 2**128 - 1
    assert all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:]))
    described = k.describe_stream(StreamName="events")["StreamDescription"]
    assert described["StreamStatus"] == "ACTIVE" and [s["ShardId"] for s in described["Shards"]] == [r[2] for r in ranges]
    summary = k.describe_stream_summary(StreamName="events")["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4 and summary["StreamARN"].endswith(":stream/events")
    import hashlib
    for i in range(40):
        key = f"user-{i}"
        h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
        expected = next(sid for start, end, sid in ranges if start <= h <= end)
        assert k.put_record(StreamName="events", Data=event(key, i), PartitionKey=key)["ShardId"] == expected
    for start, end, sid in ranges:
        for hash_key in (start, end):
            got = k.put_record(StreamName="events", Data=event("ehk", 0), PartitionKey="same-key", ExplicitHashKey=str(hash_key))
            assert got["ShardId"] == sid, "ExplicitHashKey decides the shard"


def test_a_corrupt_aggregate_is_accepted_and_becomes_one_malformed_bad_row(pipeline):
    aggregator = RecordAggregator()
    for i in range(5):
        aggregator.add_user_record("corrupt", event("corrupt", i))
    _, _, data = aggregator.clear_and_get().get_contents()
    broken = data[:-7]
    before = pipeline.metric('pipeline_bad_rows_total{type="malformed"}')
    out = pipeline.client.put_record(StreamName="events", Data=broken, PartitionKey="corrupt")
    assert out["SequenceNumber"], "Kinesis accepts any data"
    pipeline.drained()
    rows = pipeline.get("/v1/bad-rows?type=malformed&limit=1000")["bad_rows"]
    mine = [r for r in rows if r["sequence_number"] == out["SequenceNumber"] and r["shard_id"] == out["ShardId"]]
    assert len(mine) == 1, rows
    assert mine[0]["sub_sequence_number"] == 0 and mine[0]["partition_key"] == "corrupt"
    assert base64.b64decode(mine[0]["payload_base64"]) == broken, "the whole record is kept"
    assert pipeline.metric('pipeline_bad_rows_total{type="malformed"}') == before + 1
    assert pipeline.events("corrupt") == []


def raw(pipeline, target, body, content_type="application/x-amz-json-1.1"):
    headers = {"Content-Type": content_type}
    if target is not None:
        headers["X-Amz-Target"] = target
    request = urllib.request.Request(pipeline.endpoint + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_bad_requests_get_kinesis_errors_and_store_nothing(pipeline):
    k = pipeline.client
    pipeline.drained()
    accepted = pipeline.metric("pipeline_kinesis_records_accepted_total")
    processed = pipeline.metric("pipeline_records_processed_total")

    def error_of(call):
        with pytest.raises(ClientError) as e:
            call()
        return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]

    assert error_of(lambda: k.put_record(StreamName="other", Data=b"{}", PartitionKey="a")) == ("ResourceNotFoundException", 400)
    assert error_of(lambda: k.describe_stream_summary(StreamName="other")) == ("ResourceNotFoundException", 400)
    assert error_of(lambda: k.put_records(StreamName="other", Records=[{"Data": b"{}", "PartitionKey": "a"}])) == ("ResourceNotFoundException", 400)
    mib = 1024 * 1024
    # 1 MiB counts data plus partition key.
    assert error_of(lambda: k.put_record(StreamName="events", Data=b"x" * mib, PartitionKey="a")) == ("ValidationException", 400)
    assert error_of(lambda: k.put_records(StreamName="events", Records=[{"Data": b"x" * (mib - 1), "PartitionKey": "ab"}])) == ("ValidationException", 400)
    assert error_of(lambda: k.put_records(StreamName="events", Records=[{"Data": b"x" * (mib - 10), "PartitionKey": "a"}] * 6)) == ("InvalidArgumentException", 400)
    assert error_of(lambda: k.put_records(StreamName="events", Records=[{"Data": b"{}", "PartitionKey": "a"}] * 501)) == ("ValidationException", 400)
    assert error_of(lambda: k.put_record(StreamName="events", Data=b"{}", PartitionKey="a", ExplicitHashKey=str(2**128))) == ("InvalidArgumentException", 400)

    status, body = raw(pipeline, "Kinesis_20131202.Nonsense", b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException") and body["message"]
    status, body = raw(pipeline, "DynamoDB_20120810.PutItem", b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body = raw(pipeline, None, b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body = raw(pipeline, "Kinesis_20131202.PutRecords", b"{not json")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body = raw(pipeline, "Kinesis_20131202.PutRecord", json.dumps({"StreamName": "events", "PartitionKey": "a", "Data": "%%%"}).encode())
    assert (status, body["__type"]) == (400, "SerializationException")
    # A body larger than any valid request is refused before it is held.
    status, body = raw(pipeline, "Kinesis_20131202.PutRecords", b" " * (11 * mib))
    assert (status, body["__type"]) == (400, "InvalidArgumentException")
    status, body = raw(pipeline, "Kinesis_20131202.PutRecord", b"\xbf", "application/x-amz-cbor-1.1")
    assert status == 400 and "CBOR" in body["message"]

    time.sleep(0.5)
    assert pipeline.metric("pipeline_kinesis_records_accepted_total") == accepted, "nothing was stored"
    assert pipeline.metric("pipeline_records_processed_total") == processed
    assert pipeline.get("/health")["lag"] == 0


def test_stream_name_names_the_one_stream_served():
    p = Pipeline(shards=1, extra=["--stream-name", "clicks"])
    try:
        out = p.client.put_record(StreamName="clicks", Data=event("named", 0), PartitionKey="named")
        assert out["ShardId"] == "shardId-000000000000"
        with pytest.raises(ClientError) as e:
            p.client.put_record(StreamName="events", Data=event("named", 1), PartitionKey="named")
        assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert p.client.list_streams()["StreamNames"] == ["clicks"]
        p.drained()
        assert len(p.events("named")) == 1
    finally:
        p.stop()
