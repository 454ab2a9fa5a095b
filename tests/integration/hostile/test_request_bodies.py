"""Request bodies a client breaks off or sends in a form the API does not read: each a specific 4xx, never a 500."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from tests.integration.hostile.conftest import Api

pytestmark = pytest.mark.integration

Message = dict[str, Any]


async def _call(api: Api, method: str, path: str, headers: dict[str, str], chunks: list[Message]) -> list[Message]:
    """The app called as a server would: `chunks` are what `receive` hands out, then the client is gone."""
    sent: list[Message] = []
    pending = list(chunks)

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("orderinfo.test", 80),
        "state": {},
        "app": api.app,
    }
    await api.app(scope, receive, send)
    return sent


def _status(sent: list[Message]) -> tuple[int, bytes]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.mark.parametrize(
    ("path", "content_type", "first"),
    [
        ("/v1/orders:batch", "application/json", b'{"orders": [{"order_no": "A'),
        ("/v1/imports", "multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="file"'),
        ("/v1/keys", "application/json", b'{"name": "ab'),
    ],
    ids=["push", "upload", "keys"],
)
async def test_a_client_gone_in_the_middle_of_its_body_is_answered_400_incomplete_body(
    api: Api, path: str, content_type: str, first: bytes
) -> None:
    headers = api.headers() | {"content-type": content_type, "content-length": "100000"}
    sent = await _call(api, "POST", path, headers, [{"type": "http.request", "body": first, "more_body": True}])
    status, body = _status(sent)
    assert status == 400, body
    assert b'"incomplete_body"' in body


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate, gzip", "x-made-up"])
@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/v1/orders:batch", "application/json"), ("/v1/imports", "text/csv"), ("/v1/keys", "application/json")],
    ids=["push", "upload", "keys"],
)
async def test_an_encoded_request_body_is_refused_415_naming_the_encoding(
    api: Api, path: str, content_type: str, encoding: str
) -> None:
    body = gzip.compress(b'{"orders": [{"order_no": "A1"}]}')
    headers = api.headers() | {"Content-Encoding": encoding}
    if path == "/v1/imports":
        answer = await api.client.post(path, files={"file": ("o.csv", body, content_type)}, headers=headers)
    else:
        answer = await api.client.post(path, content=body, headers=headers | {"Content-Type": content_type})
    assert answer.status_code == 415, answer.text
    assert answer.json()["code"] == "unsupported_content_encoding"
    assert encoding in answer.json()["detail"]


async def test_an_identity_content_encoding_is_read_as_it_is(api: Api) -> None:
    headers = api.headers() | {"Content-Encoding": "identity", "Content-Type": "application/json"}
    answer = await api.client.post("/v1/orders:batch", content=b'{"orders": []}', headers=headers)
    assert answer.status_code == 422 and answer.json()["code"] != "unsupported_content_encoding", answer.text


PUSH_BODY = b'{"orders": [{"order_no": "DUP-1"}]}'


async def test_two_idempotency_keys_are_a_422_saying_so(api: Api) -> None:
    headers = [("X-API-Key", api.key_a), ("Idempotency-Key", "k-1"), ("Idempotency-Key", "k-2")]
    answer = await api.client.post("/v1/orders:batch", content=PUSH_BODY, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_idempotency_key" and "one Idempotency-Key" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/orders"), ("POST", "/v1/imports"), ("POST", "/v1/orders:batch")]
)
async def test_two_api_keys_are_a_401_even_when_both_are_valid(api: Api, method: str, path: str) -> None:
    for keys in ([api.key_a, api.key_b], [api.key_a, api.key_a], [api.key_a, "oik_wrong"], ["oik_wrong", api.key_a]):
        headers = [("X-API-Key", key) for key in keys]
        answer = await api.client.request(method, path, headers=headers, content=PUSH_BODY)
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "unauthorized" and "one X-API-Key" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("files", "form", "field"),
    [
        ([("file", ("a.csv", b"a")), ("file", ("b.csv", b"b"))], {}, "file"),
        ([("file", ("a.csv", b"a"))], {"dry_run": ["true", "false"]}, "dry_run"),
        ([("file", ("a.csv", b"a"))], {"timezone": ["Asia/Shanghai", "UTC"]}, "timezone"),
    ],
    ids=["two-files", "two-dry-runs", "two-zones"],
)
async def test_an_upload_field_given_twice_is_a_422_naming_it(
    api: Api, files: list[tuple[str, tuple[str, bytes]]], form: Any, field: str
) -> None:
    answer = await api.client.post("/v1/imports", files=files, data=form, headers=api.headers())
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "repeated_field" and repr(field) in answer.json()["detail"]


@pytest.mark.parametrize("field", ["dryrun", "dry-run", "time_zone", "sheet_name", "lang"])
async def test_an_upload_field_the_route_does_not_take_is_a_422_naming_it(api: Api, field: str) -> None:
    """A misspelt `dry_run` was ignored, so the file was imported for real; a misspelt zone or sheet read the
    file in the default zone or from the first sheet."""
    files = [("file", ("a.csv", b"a"))]
    answer = await api.client.post("/v1/imports", files=files, data={field: "true"}, headers=api.headers())
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "unknown_field" and repr(field) in answer.json()["detail"]
    assert ("?lang=en" in answer.json()["detail"]) == (field == "lang")  # ignored, it answered in Chinese


async def test_dry_run_given_in_the_query_string_is_not_ignored(api: Api) -> None:
    """`POST /v1/imports?dry_run=true` (the form field put in the address) imported the file for real."""
    files = [("file", ("a.csv", b"a"))]
    answer = await api.client.post("/v1/imports?dry_run=true", files=files, headers=api.headers())
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "unknown_parameter" and "'dry_run'" in answer.json()["detail"]
