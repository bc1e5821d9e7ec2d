"""API Gateway's mapping templates, rendered as API Gateway renders them, for the tests.

Two steps, as in a deployment:

1. Terraform's ``templatefile``: the stack reads the ``.vtl`` files through it, so
   ``${name}`` is filled in and ``$${`` is one literal ``${``. :func:`templatefile` runs
   the real Terraform when it is installed (``terraform output`` of a throw-away root
   module: no provider, no network) and otherwise a Python rendering of the same rules;
   the tests check that the two agree where both exist.
2. Velocity: airspeed-ext (the engine LocalStack uses to emulate API Gateway), given the
   variables of AWS's "API Gateway mapping template and access logging variable
   reference": ``$input`` (``body``, ``json(x)``, ``path(x)``, ``params()``), ``$util``
   (``escapeJavaScript``, ``parseJson``, ``urlEncode``, ``urlDecode``, ``base64Encode``,
   ``base64Decode``) and ``$context`` (request ids, identity, stage, and the
   ``requestOverride`` / ``responseOverride`` maps a template may set).

Values ``$input.path`` returns behave as API Gateway's Java objects do where our
templates can tell: a JSON object is a map whose text is ``{key=value, ...}``, a list's
is ``[a, b]``, booleans read ``true``/``false``, null is absent (so ``$!x`` is empty).
``$util.escapeJavaScript`` follows Apache Commons Lang's ``escapeJavaScript``, which API
Gateway documents it as: ``'`` becomes ``\\'`` (not valid in JSON, hence the templates'
``.replaceAll("\\\\'", "'")``), ``"``, ``\\`` and ``/`` are escaped, control characters
become ``\\b \\t \\n \\f \\r`` or ``\\u00XX``, and every UTF-16 code unit above 0x7f
becomes ``\\uXXXX``.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import airspeed
import airspeed.operators
from jsonpath_ng import parse as parse_jsonpath

# ---------------------------------------------------------------------------------------
# Terraform's templatefile
# ---------------------------------------------------------------------------------------


class TemplateFileError(ValueError):
    """What Terraform's templatefile would refuse (an unknown name, a directive)."""


_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\}")


def templatefile_python(text: str, variables: dict[str, str]) -> str:
    """Terraform's template rules for what our templates use: ``${name}``, ``$${``, ``%%{``."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            out.append("${")
            i += 3
        elif text.startswith("%%{", i):
            out.append("%{")
            i += 3
        elif text.startswith("${", i):
            match = _NAME.match(text, i + 2)
            if not match:
                raise TemplateFileError(f"an interpolation that is not a plain name at offset {i}: {text[i:i + 40]!r}")
            name = match.group(1)
            if name not in variables:
                raise TemplateFileError(f"vars map does not contain key {name!r} (offset {i})")
            out.append(str(variables[name]))
            i = match.end()
        elif text.startswith("%{", i):
            raise TemplateFileError(f"a template directive at offset {i}: {text[i:i + 40]!r} (write %%{{ for a literal %{{)")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _hcl_string(value: str) -> str:
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


def templatefile_terraform(path: Path, variables: dict[str, str]) -> str | None:
    """The real ``templatefile`` (None when terraform is not installed)."""
    terraform = shutil.which("terraform")
    if terraform is None:
        return None
    values = ", ".join(f"{name} = {_hcl_string(value)}" for name, value in variables.items())
    with tempfile.TemporaryDirectory() as root:
        Path(root, "main.tf").write_text(
            f'output "rendered" {{\n  value = templatefile({_hcl_string(str(path))}, {{ {values} }})\n}}\n'
        )
        env = {"TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": "/dev/null", "PATH": "/usr/bin:/bin"}
        for args in (["init", "-input=false", "-backend=false"], ["apply", "-auto-approve", "-input=false"]):
            done = subprocess.run([terraform, f"-chdir={root}", *args], capture_output=True, text=True, env=env)
            if done.returncode != 0:
                raise TemplateFileError(f"terraform {args[0]} failed:\n{done.stderr}")
        done = subprocess.run(
            [terraform, f"-chdir={root}", "output", "-json", "rendered"], capture_output=True, text=True, env=env
        )
        if done.returncode != 0:
            raise TemplateFileError(f"terraform output failed:\n{done.stderr}")
        return json.loads(done.stdout)


def templatefile(path: Path, variables: dict[str, str]) -> str:
    """``templatefile(path, variables)`` as Terraform renders it."""
    rendered = templatefile_terraform(path, variables)
    return rendered if rendered is not None else templatefile_python(path.read_text(), variables)


# ---------------------------------------------------------------------------------------
# Java-like values of $input.path
# ---------------------------------------------------------------------------------------


def java_text(value: Any) -> str:
    """How a value reads when Velocity puts it into text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, JavaMap | JavaList | JavaBoolean):
        return str(value)
    if isinstance(value, dict):
        return str(JavaMap(value))
    if isinstance(value, list):
        return str(JavaList(value))
    return str(value)


class JavaBoolean:
    """A JSON boolean as Velocity sees it: truthy or not, printed ``true``/``false``."""

    def __init__(self, value: bool):
        self.value = value

    def __bool__(self) -> bool:
        return self.value

    def __eq__(self, other: object) -> bool:
        return bool(other) == self.value if isinstance(other, bool | JavaBoolean) else False

    def __hash__(self) -> int:
        return hash(self.value)

    def __str__(self) -> str:
        return "true" if self.value else "false"


class JavaMap(dict):
    """A JSON object: a map (``$event.user_id`` reads a key), printed as ``{k=v, ...}``."""

    def __str__(self) -> str:
        return "{" + ", ".join(f"{k}={java_text(v)}" for k, v in self.items()) + "}"


class JavaList(list):
    """A JSON array, printed as ``[a, b]``."""

    def __str__(self) -> str:
        return "[" + ", ".join(java_text(v) for v in self) + "]"


def java_value(value: Any) -> Any:
    if isinstance(value, dict):
        return JavaMap({k: java_value(v) for k, v in value.items()})
    if isinstance(value, list):
        return JavaList(java_value(v) for v in value)
    if isinstance(value, bool):
        return JavaBoolean(value)
    return value


# airspeed looks methods up by exact type: give the Java-like types their base's methods.
airspeed.operators.__additional_methods__[JavaMap] = airspeed.operators.__additional_methods__[dict]
airspeed.operators.__additional_methods__[JavaList] = airspeed.operators.__additional_methods__[list]


# ---------------------------------------------------------------------------------------
# $input, $util, $context
# ---------------------------------------------------------------------------------------


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Input:
    """``$input``: the request (or integration response) payload and parameters."""

    def __init__(self, body: str, params: dict[str, dict[str, str]] | None = None):
        self._body = body
        self._params = {"path": {}, "querystring": {}, "header": {}, **(params or {})}

    @property
    def body(self) -> str:
        return self._body

    def _find(self, path: str) -> list[Any]:
        if not self._body.strip():
            return []
        document = json.loads(self._body)
        return [match.value for match in parse_jsonpath(path).find(document)]

    def json(self, path: str) -> str:
        found = self._find(path)
        return _json_text(found[0] if len(found) == 1 else found) if found else ""

    def path(self, path: str) -> Any:
        found = self._find(path)
        if not found:
            return None
        return java_value(found[0] if len(found) == 1 else found)

    def params(self, name: str | None = None) -> Any:
        if name is None:
            return JavaMap(self._params)
        for kind in ("path", "querystring", "header"):
            if name in self._params[kind]:
                return self._params[kind][name]
        return ""


def escape_javascript(value: Any) -> str:
    """Commons Lang ``StringEscapeUtils.escapeJavaScript`` over the value's text."""
    text = java_text(value)
    units = text.encode("utf-16-be")
    out: list[str] = []
    for i in range(0, len(units), 2):
        unit = int.from_bytes(units[i : i + 2], "big")
        ch = chr(unit) if unit < 0xD800 or unit > 0xDFFF else None
        if unit > 0x7F:
            out.append(f"\\u{unit:04X}")
        elif unit < 32:
            named = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}
            out.append(named.get(unit, f"\\u{unit:04X}"))
        elif ch == "'":
            out.append("\\'")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "/":
            out.append("\\/")
        else:
            out.append(ch or "")
    return "".join(out)


class Util:
    """``$util``: the six functions API Gateway documents."""

    def escapeJavaScript(self, value: Any) -> str:  # noqa: N802 (Velocity's names)
        return escape_javascript(value)

    def parseJson(self, text: str) -> Any:  # noqa: N802
        return java_value(json.loads(text))

    def urlEncode(self, text: str) -> str:  # noqa: N802
        return urllib.parse.quote_plus(java_text(text))

    def urlDecode(self, text: str) -> str:  # noqa: N802
        return urllib.parse.unquote_plus(java_text(text))

    def base64Encode(self, text: str) -> str:  # noqa: N802
        return base64.b64encode(java_text(text).encode("utf-8")).decode("ascii")

    def base64Decode(self, text: str) -> str:  # noqa: N802
        return base64.b64decode(java_text(text)).decode("utf-8")


def context(request_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """``$context`` of a REST API request: the variables a template may read and the
    override maps it may set."""
    request_id = request_id or str(uuid.uuid4())
    values: dict[str, Any] = {
        "requestId": request_id,
        "extendedRequestId": request_id[:8] + "=",
        "accountId": "123456789012",
        "apiId": "a1b2c3d4e5",
        "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
        "httpMethod": "POST",
        "path": "/live/v1/events",
        "protocol": "HTTP/1.1",
        "requestTime": "27/Nov/2026:12:00:00 +0000",
        "requestTimeEpoch": 1795780800000,
        "resourceId": "abc123",
        "resourcePath": "/v1/events",
        "stage": "live",
        "identity": {"sourceIp": "203.0.113.7", "userAgent": "test", "apiKey": "key", "apiKeyId": "keyid"},
        "requestOverride": {"header": {}, "path": {}, "querystring": {}},
        "responseOverride": {"header": {}},
    }
    values.update(extra)
    return values


@dataclass
class Rendered:
    """A template's output and what it set in ``$context``'s override maps."""

    text: str
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def status_override(self) -> int | None:
        status = self.context["responseOverride"].get("status")
        return int(status) if status is not None else None

    @property
    def header_overrides(self) -> dict[str, str]:
        return dict(self.context["responseOverride"]["header"])

    def json(self) -> Any:
        return json.loads(self.text)


def render(template: str, body: str, ctx: dict[str, Any] | None = None) -> Rendered:
    """Velocity over ``template`` with ``$input`` reading ``body``."""
    ctx = ctx if ctx is not None else context()
    namespace = {"input": Input(body), "util": Util(), "context": ctx, "stageVariables": {}}
    return Rendered(airspeed.Template(template).merge(namespace), ctx)
