"""Discord's published OpenAPI description of API v10, as a checker of the requests the bot sends.

``../shared/discord/openapi.json`` (discord/discord-api-spec, MIT) lists every route, its path and
query parameters and the JSON schema of its request body. :meth:`DiscordSchema.check` finds the
operation a request calls and returns every way the request breaks the spec: an unknown method or
path, a path or query parameter that does not match its schema, a missing or invalid body (for a
multipart request, its ``payload_json`` part). ``$ref``s are resolved against the spec's components
by ``jsonschema``/``referencing``. Limits the schema cannot express (embed totals, empty fields)
stay in the fake Discord's own checks.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[2] / "shared" / "discord" / "openapi.json"
_BASE = "urn:discord-openapi"
_METHODS = ("get", "put", "post", "patch", "delete")


@dataclass(frozen=True)
class Violation:
    """One way a request breaks Discord's schema: where (a JSON path) and which rule."""

    request: str  # "POST /channels/{channel_id}/messages"
    where: str  # "$.embeds[0].url", "path.channel_id", "query.limit"
    rule: str  # the schema keyword that failed and its message

    def __str__(self) -> str:
        return f"{self.request}: {self.where}: {self.rule}"


@dataclass(frozen=True)
class _Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    literal: int  # characters outside {parameters}: the most specific template wins
    # (in, name) -> (schema, required)
    parameters: dict[tuple[str, str], tuple[dict[str, Any], bool]]
    body: dict[str, Any] | None  # content type -> schema
    body_required: bool


class DiscordSchema:
    """The spec's operations, and a validator for each request against them."""

    def __init__(self, spec: dict[str, Any]) -> None:
        # The one leniency: a snowflake may be a JSON integer as well as a string. discord.py
        # sends some ids as integers (message_reference), and Discord's API takes both; the
        # spec writes the string form only.
        spec = {**spec, "components": {**spec["components"]}}
        schemas = spec["components"]["schemas"] = {**spec["components"]["schemas"]}
        integer = {"type": "integer", "minimum": 0, "maximum": 2**64 - 1}
        schemas["SnowflakeType"] = {"anyOf": [schemas["SnowflakeType"], integer]}
        self._spec = spec
        self._registry: Registry[Any] = Registry().with_resource(
            _BASE, Resource.from_contents(spec, default_specification=DRAFT202012)
        )
        self._operations: list[_Operation] = []
        for template, item in spec["paths"].items():
            shared = item.get("parameters", [])
            for method in _METHODS:
                if method in item:
                    self._operations.append(self._operation(method, template, shared, item[method]))
        self._validators: dict[int, Draft202012Validator] = {}  # by id() of a spec schema
        self.seen: Counter[str] = Counter()
        """How many requests of each kind ("POST /channels/{channel_id}/messages") were checked."""

    @classmethod
    @functools.cache
    def load(cls, path: Path = SPEC_PATH) -> DiscordSchema | None:
        """The spec at ``path``, or None when ``../shared`` is absent (validation is skipped)."""
        if not path.is_file():
            return None
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def check(
        self, method: str, path: str, query: dict[str, str], body: Any, *, multipart: bool = False
    ) -> list[Violation]:
        """Everything wrong with one request (``path`` is relative to ``/api/v10``)."""
        operation = self._find(method, path)
        if operation is None:
            return [Violation(f"{method} {path}", "path", "no such operation in Discord's API")]
        name = f"{method} {operation.template}"
        self.seen[name] += 1
        problems: list[Violation] = []
        match = operation.pattern.match(path)
        assert match is not None
        for key, value in match.groupdict().items():
            schema, _ = operation.parameters.get(("path", key), ({}, True))
            problems += self._errors(name, f"path.{key}", schema, value)
        for key, value in query.items():
            if ("query", key) not in operation.parameters:
                problems.append(Violation(name, f"query.{key}", "not a parameter of this route"))
                continue
            schema, _ = operation.parameters["query", key]
            problems += self._errors(name, f"query.{key}", schema, _coerce(schema, value))
        for (where, key), (_, required) in operation.parameters.items():
            if where == "query" and required and key not in query:
                problems.append(Violation(name, f"query.{key}", "required: missing"))
        problems += self._check_body(name, operation, body, multipart)
        return problems

    # -- internals --------------------------------------------------------------------------

    def _operation(
        self, method: str, template: str, shared: list[dict[str, Any]], op: dict[str, Any]
    ) -> _Operation:
        parameters = {
            (p["in"], p["name"]): (p.get("schema", {}), bool(p.get("required")))
            for p in [*shared, *op.get("parameters", [])]
        }
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        request_body = op.get("requestBody")
        body = None
        if request_body is not None:
            body = {kind: c.get("schema", {}) for kind, c in request_body["content"].items()}
        return _Operation(
            method=method.upper(),
            template=template,
            pattern=re.compile(regex + "$"),
            literal=len(re.sub(r"\{\w+\}", "", template)),
            parameters=parameters,
            body=body,
            body_required=bool(request_body and request_body.get("required")),
        )

    def _find(self, method: str, path: str) -> _Operation | None:
        matching = [o for o in self._operations if o.method == method and o.pattern.match(path)]
        return max(matching, key=lambda o: o.literal, default=None)

    def _check_body(
        self, name: str, operation: _Operation, body: Any, multipart: bool
    ) -> list[Violation]:
        if operation.body is None:
            if body is None:
                return []
            return [Violation(name, "$", "this route takes no request body")]
        if body is None:
            if operation.body_required:
                return [Violation(name, "$", "required: the request body is missing")]
            return []
        kind = "multipart/form-data" if multipart else "application/json"
        if kind not in operation.body:
            return [Violation(name, "$", f"this route does not take {kind}")]
        return self._errors(name, "$", operation.body[kind], body)

    def _errors(self, name: str, where: str, schema: dict[str, Any], value: Any) -> list[Violation]:
        validator = self._validators.get(id(schema))
        if validator is None:
            validator = Draft202012Validator(
                _rebased(schema),
                registry=self._registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER,  # "uri" with rfc3986-validator
            )
            self._validators[id(schema)] = validator
        error = best_match(validator.iter_errors(value))
        if error is None:
            return []
        error = _deepest(error)
        message = error.message if len(error.message) <= 300 else error.message[:299] + "…"
        return [Violation(name, _json_path(where, error), f"{error.validator}: {message}")]


def _rebased(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``#/components/...`` references pointing into the spec."""
    text = json.dumps(schema).replace('"#/components/', f'"{_BASE}#/components/')
    rebased: dict[str, Any] = json.loads(text)
    return rebased


def _coerce(schema: dict[str, Any], value: str) -> Any:
    """A query string value as the JSON type its schema asks for (when it reads as one)."""
    kind = schema.get("type")
    if kind == "boolean" and value.lower() in ("true", "false", "1", "0"):
        # Discord's reference, "Boolean Query Strings": true, True or 1; false, False or 0
        return value.lower() in ("true", "1")
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def _json_path(where: str, error: ValidationError) -> str:
    if where != "$":
        return where
    path = error.json_path
    return path if len(path) > 1 else "$"


def _deepest(error: ValidationError) -> ValidationError:
    """Inside an ``anyOf``/``oneOf``, the error of the branch that matched furthest.

    A message is valid as one of several payload shapes; the branch that got deepest into the
    request (``$.data.embeds[0].url`` rather than ``$.type``) is the shape that was meant.
    """
    while error.context:
        error = max(error.context, key=_depth)
    return error


def _depth(error: ValidationError) -> int:
    return max([len(error.absolute_path), *(_depth(e) for e in error.context)])
