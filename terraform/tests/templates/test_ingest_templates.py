"""The ingest API's mapping templates (terraform/modules/api/templates), rendered as API
Gateway renders them and run against Kinesis (moto_server): what a producer sends to
POST /v1/events and /v1/event, what Kinesis stores, and what the producer gets back
(DESIGN.md section 4: the PutRecords shape, one entry per event, in request order;
throttling as 429 with Retry-After, other refusals as 400 without it).

    python3 -m pytest terraform/tests/templates      # scripts/test.sh runs it
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

import apigateway_vtl
from apigateway_vtl import TemplateFileError, context, escape_javascript, render, templatefile_python
from conftest import TEMPLATES

# Events of every shape a producer can send that the API's shape check lets through
# (DESIGN section 4: any JSON object); the schema is checked downstream.
ODD_EVENTS = [
    {"event_type": "pageview", "user_id": 123},
    {"event_type": "pageview", "user_id": 0},
    {"event_type": "pageview", "user_id": "u-1"},
    {"event_type": "pageview"},
    {"event_type": "pageview", "user_id": None},
    {"event_type": "pageview", "user_id": ""},
    {"event_type": "pageview", "user_id": " "},
    {"event_type": "click", "user_id": 'quo"te\'s and \\back\\slashes'},
    {"event_type": "click", "user_id": "ünïcödé-用户-😀"},
    {"event_type": "click", "user_id": "line\nbreak\ttab\u0001ctl"},
    {"event_type": "click", "user_id": "</script>/&<>"},
    {"event_type": "click", "user_id": "x" * 300},
    {"event_type": "click", "user_id": 12345678901234567890},
    {"event_type": "click", "user_id": -5},
    {"event_type": "click", "user_id": True},
    {"we\"ird": 1, "back\\slash": 2, "ключ": "значение", "emoji😀": "😀", "event_type": "pageview", "user_id": 7},
    {"event_type": "purchase", "user_id": 9, "amount": 12.5, "items": [{"sku": "a", "quantity": 1, "price": 0.1}]},
    {"event_type": "pageview", "user_id": 8, "properties": {"nested": {"deep": [1, "two", None, False, {"x": []}]}}},
    {"event_type": "pageview", "user_id": 10, "context": {"quote": "'", "slash": "/", "nul": "\u0000"}},
    {},
]


def expected_partition_key(event: dict, request_id: str, index: int | None) -> str:
    """DESIGN section 4: user_id as a string (Kinesis: at most 256 characters), else a key
    unique to the request and the event."""
    text = apigateway_vtl.java_text(event.get("user_id"))
    if text:
        return text[:256]
    return request_id if index is None else f"{request_id}-{index}"


def decode(data: str | bytes) -> object:
    raw = base64.b64decode(data) if isinstance(data, str) else data
    return json.loads(raw.decode("utf-8"))


# ---------------------------------------------------------------------------------------
# templatefile
# ---------------------------------------------------------------------------------------


def test_templatefile_rules_match_terraform(tmp_path: Path):
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed: only the Python rendering of templatefile is checked")
    sample = tmp_path / "sample.vtl"
    sample.write_text('"${stream_name}" $${context.requestId}-$i %%{literal} $$plain ${ stream_name }\n')
    files = sorted(TEMPLATES.glob("*.vtl")) + [sample]
    for path in files:
        variables = {"stream_name": 'str"eam\\n'}
        assert templatefile_python(path.read_text(), variables) == apigateway_vtl.templatefile_terraform(
            path, variables
        ), path.name


def test_templatefile_refuses_what_terraform_refuses():
    with pytest.raises(TemplateFileError, match="does not contain key 'requestId'"):
        templatefile_python('"${requestId}-$i"', {"stream_name": "s"})
    with pytest.raises(TemplateFileError, match="not a plain name"):
        templatefile_python("${context.requestId}", {"stream_name": "s"})
    with pytest.raises(TemplateFileError, match="directive"):
        templatefile_python("%{ if x }", {})


def test_every_template_renders_through_templatefile(template):
    for path in TEMPLATES.glob("*.vtl"):
        text = template(path.name, stream_name="events")
        assert "${stream_name}" not in text and "$${" not in text, path.name


# ---------------------------------------------------------------------------------------
# $util.escapeJavaScript (Commons Lang escapeJavaScript)
# ---------------------------------------------------------------------------------------


def test_escape_javascript_follows_commons_lang():
    assert escape_javascript('He didn\'t say, "Stop!"') == 'He didn\\\'t say, \\"Stop!\\"'
    assert escape_javascript("a/b\\c") == "a\\/b\\\\c"
    assert escape_javascript("\b\t\n\f\r\u0001\u001f") == "\\b\\t\\n\\f\\r\\u0001\\u001F"
    assert escape_javascript("é用😀") == "\\u00E9\\u7528\\uD83D\\uDE00"
    assert escape_javascript(None) == ""
    assert escape_javascript(12) == "12"


# ---------------------------------------------------------------------------------------
# POST /v1/events -> PutRecords -> the response
# ---------------------------------------------------------------------------------------


def put_records(kinesis, template, events: list, request_id: str | None = None):
    """Renders the request, sends it to Kinesis, renders the answer: (request, status, response)."""
    ctx = context(request_id)
    request = render(template("put_records_request.vtl", stream_name=kinesis.stream), json.dumps(events), ctx)
    status, answer = kinesis.call("PutRecords", request.text)
    response = render(template("put_records_response.vtl"), answer) if status == 200 else None
    return request, ctx["requestId"], status, answer, response


def test_put_records_request_is_the_kinesis_request_for_every_event_shape(kinesis, template):
    request, request_id, status, answer, response = put_records(kinesis, template, ODD_EVENTS)
    body = request.json()  # valid JSON whatever the events hold
    assert body["StreamName"] == kinesis.stream
    assert len(body["Records"]) == len(ODD_EVENTS)
    for i, (record, event) in enumerate(zip(body["Records"], ODD_EVENTS)):
        assert set(record) == {"Data", "PartitionKey"}
        assert decode(record["Data"]) == event, f"event {i}: the data is the event's JSON"
        assert record["PartitionKey"] == expected_partition_key(event, request_id, i), f"event {i}"
        assert 1 <= len(record["PartitionKey"]) <= 256
    assert status == 200, answer


def test_put_records_answer_lists_every_event_in_request_order(kinesis, template):
    _, request_id, status, answer, response = put_records(kinesis, template, ODD_EVENTS)
    assert status == 200, answer
    body = response.json()
    assert body["FailedRecordCount"] == 0
    assert len(body["Records"]) == len(ODD_EVENTS)
    stored = kinesis.records()
    for i, (entry, event) in enumerate(zip(body["Records"], ODD_EVENTS)):
        assert set(entry) == {"SequenceNumber", "ShardId"}, entry
        record = stored[(entry["ShardId"], entry["SequenceNumber"])]
        assert decode(record["data"]) == event, f"entry {i} answers event {i}"
        assert record["partition_key"] == expected_partition_key(event, request_id, i)
    assert response.status_override is None and response.header_overrides == {}


def test_500_events_without_user_id_get_distinct_keys_and_spread_over_the_shards(kinesis, template):
    events = [{"event_type": "pageview", "n": n} for n in range(500)]
    first, first_id, status, answer, response = put_records(kinesis, template, events)
    assert status == 200, answer
    second, second_id, status, answer, _ = put_records(kinesis, template, events)
    assert status == 200, answer
    keys = [r["PartitionKey"] for r in first.json()["Records"]] + [r["PartitionKey"] for r in second.json()["Records"]]
    assert len(set(keys)) == 1_000, "every event of every request has its own key"
    assert all(k.startswith(first_id) for k in keys[:500]) and all(k.startswith(second_id) for k in keys[500:])
    body = response.json()
    assert body["FailedRecordCount"] == 0 and len(body["Records"]) == 500
    shards = {entry["ShardId"] for entry in body["Records"]}
    assert len(shards) == 4, f"500 distinct keys hash onto every shard, got {shards}"
    stored = kinesis.records()
    order = [decode(stored[(e["ShardId"], e["SequenceNumber"])]["data"])["n"] for e in body["Records"]]
    assert order == list(range(500)), "entries in request order"


def test_user_ids_keep_their_key_and_their_shard(kinesis, template):
    events = [{"event_type": "pageview", "user_id": u} for u in [42, "42", 42, "alice", "alice"]]
    _, _, status, answer, response = put_records(kinesis, template, events)
    assert status == 200, answer
    shards = [e["ShardId"] for e in response.json()["Records"]]
    assert shards[0] == shards[1] == shards[2], "user_id 42 and \"42\" are one partition key"
    assert shards[3] == shards[4]


def test_the_response_template_passes_per_record_throttling_through():
    # Kinesis's PutRecords answer with a throttled entry (API reference, PutRecords):
    # moto never throttles, so this is the documented shape.
    answer = {
        "FailedRecordCount": 1,
        "Records": [
            {"SequenceNumber": "49543463076548007577105092703039560359975228518395012686", "ShardId": "shardId-000000000000"},
            {
                "ErrorCode": "ProvisionedThroughputExceededException",
                "ErrorMessage": "Rate exceeded for shard shardId-000000000001 in stream events under account 111111111111.",
            },
        ],
        "EncryptionType": "KMS",
    }
    template = apigateway_vtl.templatefile(TEMPLATES / "put_records_response.vtl", {})
    body = render(template, json.dumps(answer)).json()
    assert body == {"FailedRecordCount": 1, "Records": answer["Records"]}


# ---------------------------------------------------------------------------------------
# POST /v1/event -> PutRecord
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("event", ODD_EVENTS, ids=range(len(ODD_EVENTS)))
def test_put_record_stores_the_event_and_answers_its_sequence_number(kinesis, template, event):
    ctx = context()
    request = render(template("put_record_request.vtl", stream_name=kinesis.stream), json.dumps(event), ctx)
    body = request.json()
    assert body["StreamName"] == kinesis.stream
    assert decode(body["Data"]) == event
    assert body["PartitionKey"] == expected_partition_key(event, ctx["requestId"], None)
    status, answer = kinesis.call("PutRecord", request.text)
    assert status == 200, answer
    response = render(template("put_record_response.vtl"), answer).json()
    assert set(response) == {"SequenceNumber", "ShardId"}
    stored = kinesis.records()[(response["ShardId"], response["SequenceNumber"])]
    assert decode(stored["data"]) == event


# ---------------------------------------------------------------------------------------
# Kinesis errors: the 4xx and 5xx templates
# ---------------------------------------------------------------------------------------

THROTTLING = [
    ("ProvisionedThroughputExceededException", "Rate exceeded for stream events under account 111111111111."),
    ("LimitExceededException", "Rate exceeded for stream events."),
    ("KMSThrottlingException", "Rate exceeded for KMS key arn:aws:kms:us-east-1:111111111111:key/abc."),
]

REFUSALS = [
    (
        "ValidationException",
        "1 validation error detected: Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
    ),
    ("AccessDeniedException", 'User: arn:aws:sts::1:assumed-role/x/y is not authorized to perform: kinesis:PutRecords "\\ \n'),
    ("KMSAccessDeniedException", "The ciphertext refers to a customer master key that does not exist / ü"),
]


@pytest.mark.parametrize("error_type,message", THROTTLING)
def test_throttling_is_429_with_retry_after(template, error_type, message):
    answer = json.dumps({"__type": error_type, "message": message})
    rendered = render(template("kinesis_client_error.vtl"), answer)
    assert rendered.status_override == 429
    assert rendered.header_overrides == {"Retry-After": "1"}
    assert rendered.json() == {"message": message}


@pytest.mark.parametrize("error_type,message", REFUSALS)
def test_other_refusals_stay_400_without_retry_after(template, error_type, message):
    for key in ("message", "Message"):  # Kinesis writes message; some services Message
        rendered = render(template("kinesis_client_error.vtl"), json.dumps({"__type": error_type, key: message}))
        assert rendered.status_override is None, "the 4xx integration response's 400 stands"
        assert rendered.header_overrides == {}, "no Retry-After: a retry cannot succeed"
        assert rendered.json() == {"message": message}


def test_kinesis_validation_errors_from_moto_stay_400(kinesis, template):
    too_long = json.dumps({"StreamName": kinesis.stream, "Records": [{"Data": "e30=", "PartitionKey": "x" * 257}]})
    missing = json.dumps({"StreamName": kinesis.stream + "-missing", "Records": [{"Data": "e30=", "PartitionKey": "1"}]})
    for body in (too_long, missing):
        status, answer = kinesis.call("PutRecords", body)
        assert 400 <= status < 500, answer
        rendered = render(template("kinesis_client_error.vtl"), answer)
        assert rendered.status_override is None and rendered.header_overrides == {}
        assert rendered.json() == {"message": json.loads(answer)["message"]}


def test_an_error_without_a_message_still_answers_json(template):
    rendered = render(template("kinesis_client_error.vtl"), json.dumps({"__type": "InternalFailure"}))
    assert rendered.json() == {"message": "Kinesis refused the request (InternalFailure)"}
    rendered = render(template("kinesis_client_error.vtl"), "")
    assert "message" in rendered.json()


def test_server_errors_answer_json(template):
    for answer in ('{"__type": "InternalFailure", "message": "x"}', "<html>oops</html>", ""):
        assert render(template("kinesis_server_error.vtl"), answer).json() == {"message": "Service unavailable, retry later"}
