"""The batch flow's work in Python, the stack a Python Lambda would use, for comparison.

For each NDJSON line: parse; refuse non-objects, records over 1 MiB and invalid UTF-8;
pick the schema by event_type / schema_version; validate with formats asserted; enrich
(event_id as UUIDv5 of shard/sequence when absent, timestamp when absent, a `_pipeline`
object with dt/hr and the parsed user agent, cached as the Rust core caches it); serialise.

  --stack stdlib : json + fastjsonschema
  --stack fast   : orjson + jsonschema-rs (the Rust validator behind a Python binding)

Prints one JSON line like the Rust `flow_throughput` binary.
"""

import argparse
import datetime as dt
import json
import pathlib
import time
import uuid

import woothee

NAMESPACE = uuid.UUID(int=0x5F0C2B8E93A14D679E2B8C1D4A7F3E60)
MAX_RECORD_BYTES = 1024 * 1024
SHARD = "shardId-000000000000"
# fastjsonschema has no `uuid` format; this is RFC 4122's text form.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def load_schemas(root):
    schemas = {}
    for path in sorted(pathlib.Path(root).glob("*/*.json")):
        schema = json.loads(path.read_text())
        schemas.setdefault(path.parent.name, {})[path.stem] = schema
    return schemas


def make_validators(stack, schemas):
    compiled = {}
    for event_type, versions in schemas.items():
        for version, schema in versions.items():
            if stack == "stdlib":
                import fastjsonschema

                s = dict(schema)
                s.pop("$schema", None)  # fastjsonschema knows drafts up to 7; the keywords used are common
                validate = fastjsonschema.compile(s, formats={"uuid": UUID_PATTERN})

                def check(event, validate=validate):
                    try:
                        validate(event)
                        return None
                    except fastjsonschema.JsonSchemaValueException as e:
                        return [{"path": e.name, "message": e.message}]
            else:
                import jsonschema_rs

                validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)

                def check(event, validator=validator):
                    if validator.is_valid(event):
                        return None
                    return [{"path": "/" + "/".join(map(str, e.instance_path)), "message": e.message} for e in validator.iter_errors(event)]

            compiled.setdefault(event_type, {})[version] = check
    newest = {t: max(v, key=lambda s: tuple(int(p) for p in s.split("-"))) for t, v in compiled.items()}
    return compiled, newest


UA_CACHE = {}


def ua(user_agent):
    hit = UA_CACHE.get(user_agent)
    if hit is None:
        r = woothee.parse(user_agent)
        hit = {"browser": r["name"], "browser_version": r["version"], "os": r["os"], "device": r["category"]}
        UA_CACHE[user_agent] = hit
    return hit


def millis(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def process(line, seq, loads, dumps, compiled, newest, arrival, processed):
    if len(line) > MAX_RECORD_BYTES:
        return None
    try:
        event = loads(line)
    except Exception:
        return None
    if not isinstance(event, dict):
        return None
    event_type = event.get("event_type")
    versions = compiled.get(event_type)
    if versions is None:
        return None
    check = versions.get(event.get("schema_version", newest[event_type]))
    if check is None or check(event) is not None:
        return None
    ts = event.get("timestamp")
    if ts is None:
        when = arrival
        event["timestamp"] = millis(arrival)
    else:
        when = dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    if "event_id" not in event:
        event["event_id"] = str(uuid.uuid5(NAMESPACE, f"{SHARD}/{seq}"))
    pipeline = {
        "schema": f"{event_type}/{event.get('schema_version', newest[event_type])}",
        "ingested_at": millis(arrival),
        "processed_at": processed,
        "shard_id": SHARD,
        "sequence_number": seq,
        "dt": when.strftime("%Y-%m-%d"),
        "hr": when.strftime("%H"),
    }
    agent = (event.get("device") or {}).get("user_agent")
    if agent is not None:
        pipeline["ua"] = ua(agent)
    event["_pipeline"] = pipeline
    return dumps(event)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--stack", choices=["stdlib", "fast"], required=True)
    parser.add_argument("--schemas", default=str(pathlib.Path(__file__).resolve().parents[2] / "schemas"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    if args.stack == "stdlib":
        loads, dumps = json.loads, lambda v: json.dumps(v, separators=(",", ":")).encode()
    else:
        import orjson

        loads, dumps = orjson.loads, orjson.dumps
    compiled, newest = make_validators(args.stack, load_schemas(args.schemas))
    lines = [l for l in pathlib.Path(args.file).read_bytes().split(b"\n") if l]
    best, valid = float("inf"), 0
    for _ in range(max(args.rounds, 1)):
        arrival = dt.datetime.now(dt.timezone.utc)
        processed = millis(arrival)
        start = time.perf_counter()
        valid = 0
        for i, line in enumerate(lines):
            if process(line, f"{i:056d}", loads, dumps, compiled, newest, arrival, processed) is not None:
                valid += 1
        best = min(best, time.perf_counter() - start)
    name = "python json + fastjsonschema" if args.stack == "stdlib" else "python orjson + jsonschema-rs"
    print(json.dumps({"stack": name, "events": len(lines), "valid": valid, "invalid": len(lines) - valid,
                      "seconds": best, "events_per_s": len(lines) / best}))


if __name__ == "__main__":
    main()
