"""Checks every HTTP response a functional test receives against the service's own OpenAPI
document: the document cannot lie about what the service answers.

For a response to METHOD PATH the check finds the operation whose path template matches
(trailing slash optional, HEAD documented by GET) and fails the test when
  - the status is not declared for that operation (there is no "default" to hide behind);
  - the Content-Type is not one the document declares for that status;
  - a JSON body does not validate against the declared schema (JSON Schema 2020-12, with
    `$ref`s into the document's components; `format: uuid` and `format: date-time` are
    checked, the latter in the contract's form: RFC 3339 UTC with microseconds);
  - a declared response header is present but breaks its schema (ETag, Retry-After, ...);
  - a status that declares no body comes with one.
A request to a path no operation has must get 404, and a known path with another method
must get 405 with `Allow`, both with the error body.

Use:

    import openapi_check
    checker = openapi_check.Checker.from_binary(path)       # `orders-service openapi`
    checker = openapi_check.Checker.from_server(base_url)   # or GET /openapi.json
    checker.install(session)          # every response of this requests.Session
    undo = checker.install_everywhere()   # every requests.Session, requests.get() included

after which each response is checked as it arrives; a violation raises
openapi_check.Violation (an AssertionError) from the request call inside the test.
tests/functional/conftest.py installs it everywhere for the whole run.
"""

import json
import re
import subprocess
from datetime import datetime
from urllib.parse import unquote, urlsplit

import jsonschema
import requests

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class Violation(AssertionError):
    """A response the OpenAPI document does not allow."""


def _format_checker():
    checker = jsonschema.FormatChecker(formats=("uuid",))

    @checker.checks("date-time", raises=ValueError)
    def _contract_date_time(value):
        if not isinstance(value, str):
            return True  # format applies to strings only
        if not _DATE_TIME.match(value):
            raise ValueError(f"{value!r} is not RFC 3339 UTC with microseconds")
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")  # a real date and time
        return True

    return checker


class Checker:
    def __init__(self, document):
        if not str(document.get("openapi", "")).startswith("3.1"):
            raise ValueError("not an OpenAPI 3.1 document")
        self.document = document
        self._resolver = jsonschema.RefResolver.from_schema(document)
        self._formats = _format_checker()
        # (segments, template, path item), literal paths before templated ones.
        self._paths = sorted(
            ((self._segments(t), t, item) for t, item in document["paths"].items()),
            key=lambda entry: sum(s.startswith("{") for s in entry[0]),
        )
        self.checked = 0  # responses checked, for the suite's own sanity test

    @classmethod
    def from_server(cls, base_url, timeout=10):
        response = requests.get(base_url.rstrip("/") + "/openapi.json", timeout=timeout)
        response.raise_for_status()
        return cls(response.json())

    @classmethod
    def from_binary(cls, binary, timeout=30):
        """The document `orders-service openapi` prints: the one every server of it serves."""
        result = subprocess.run([str(binary), "openapi"], capture_output=True, timeout=timeout, check=True)
        return cls(json.loads(result.stdout))

    def install(self, session):
        """Checks every response of the requests.Session `session` as it arrives (once per
        session, however often it is installed)."""
        if getattr(session, "_openapi_checker", None) is not None:
            return
        session._openapi_checker = self

        def hook(response, *args, **kwargs):
            self.check_response(response)
            return response

        session.hooks.setdefault("response", []).append(hook)

    def install_everywhere(self):
        """Checks the responses of every requests.Session created from now on, including the
        one inside requests.get() and friends. Returns a function that undoes it."""
        original_init = requests.Session.__init__
        checker = self

        def checked_init(session, *args, **kwargs):
            original_init(session, *args, **kwargs)
            checker.install(session)

        requests.Session.__init__ = checked_init

        def undo():
            requests.Session.__init__ = original_init

        return undo

    # ------------------------------------------------------------------ checking

    def check_response(self, response):
        request = response.request
        self.check(
            request.method,
            unquote(urlsplit(request.url).path),  # the server matches the decoded path
            response.status_code,
            response.headers,
            response.content,
        )

    def check(self, method, path, status, headers, body):
        """Raises Violation when the document does not allow this response."""
        method = method.upper()
        where = f"{method} {path} → {status}"
        self.checked += 1
        found = self._find_path(path)
        if found is None:
            if status != 404:
                raise Violation(f"{where}: no documented path matches, so only 404 is allowed")
            self._check_problem(where, headers, body)
            return
        template, item = found
        operation = item.get("get" if method == "HEAD" else method.lower())
        if operation is None:
            if status != 405:
                raise Violation(f"{where}: {template} documents no {method}, so only 405 is allowed")
            if "Allow" not in headers:
                raise Violation(f"{where}: 405 without an Allow header")
            self._check_problem(where, headers, body)
            return

        where = f"{method} {template} → {status}"
        responses = operation["responses"]
        if str(status) not in responses:
            declared = ", ".join(responses)
            raise Violation(f"{where}: status not declared for operation {operation['operationId']} ({declared})")
        declared = self._resolve(responses[str(status)])
        self._check_headers(where, declared.get("headers", {}), headers)
        content = declared.get("content")
        if method == "HEAD" or status == 304:
            return  # no body by definition
        if not content:
            if body:
                raise Violation(f"{where}: the document declares no body, got {len(body)} bytes")
            return
        media_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type not in content:
            raise Violation(f"{where}: Content-Type {media_type!r} not declared ({', '.join(content)})")
        schema = content[media_type].get("schema")
        if schema is not None and (media_type == "application/json" or media_type.endswith("+json")):
            self._validate_json(where, schema, body)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _segments(path):
        path = path.rstrip("/") or "/"
        return [s for s in path.split("/") if s] or [""]

    def _find_path(self, path):
        segments = self._segments(path)
        for template_segments, template, item in self._paths:
            if len(template_segments) != len(segments):
                continue
            if all(t.startswith("{") and s or t == s for t, s in zip(template_segments, segments)):
                return template, item
        return None

    def _resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            _, node = self._resolver.resolve(node["$ref"])
        return node

    def _validator(self, schema):
        return jsonschema.Draft202012Validator(schema, resolver=self._resolver, format_checker=self._formats)

    def _validate_json(self, where, schema, body):
        try:
            value = json.loads(body)
        except ValueError as e:
            raise Violation(f"{where}: the body is not JSON ({e})") from None
        errors = sorted(self._validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [f"  at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:10]]
            raise Violation(f"{where}: body breaks the documented schema\n" + "\n".join(lines) + f"\n  body: {body[:500]!r}")

    def _check_problem(self, where, headers, body):
        media_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            raise Violation(f"{where}: an error must be application/json, got {media_type!r}")
        self._validate_json(where, {"$ref": "#/components/schemas/Problem"}, body)

    def _check_headers(self, where, declared, headers):
        for name, spec in declared.items():
            spec = self._resolve(spec)
            if name not in headers:
                if spec.get("required"):
                    raise Violation(f"{where}: required header {name} missing")
                continue
            schema = self._resolve(spec.get("schema", {}))
            value = headers[name]
            if schema.get("type") == "integer":
                if not re.fullmatch(r"[0-9]+", value):
                    raise Violation(f"{where}: header {name}: {value!r} is not an integer")
                value = int(value)
            errors = list(self._validator(schema).iter_errors(value))
            if errors:
                raise Violation(f"{where}: header {name}: {errors[0].message}")
