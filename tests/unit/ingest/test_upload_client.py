"""`orderinfo import` against a fake API that records what it was asked (httpx's MockTransport): exit codes,
--json, --output, and a one-line message when the service is down."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.ingest.entrypoints.upload_client import ExitCode, UploadRequest, exit_code_of, upload_and_follow

RECEIPT = {
    "import_id": "7d2c7c4e-0000-0000-0000-000000000001",
    "state": "processing",
    "rows": 3,
    "valid_rows": 3,
    "invalid_rows": 0,
    "orders": 2,
    "orders_held_back": 0,
    "warnings": 0,
    "first_errors": [],
    "status_url": "/v1/imports/7d2c",
    "result_url": "/v1/imports/7d2c/result.xlsx",
}
DONE = {
    "state": "completed",
    "orders": 2,
    "orders_processed": 2,
    "dead_lettered": 0,
    "created": 2,
    "updated": 0,
    "unchanged": 0,
    "stale_status": 0,
    "orders_held_back": 0,
    "invalid_rows": 0,
    "failure": None,
}


class FakeApi:
    """Answers the upload, then the given statuses in turn; records every request."""

    def __init__(self, upload: httpx.Response, statuses: list[dict[str, Any]]) -> None:
        self.upload, self.statuses = upload, statuses
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "POST":
            return self.upload
        if request.url.path.endswith("result.xlsx"):
            return httpx.Response(200, content=b"PK-result")
        return httpx.Response(200, json=self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0])


@pytest.fixture
def upload_file(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text("订单号\nA1\n", encoding="utf-8")
    return path


def run(api: FakeApi | None, request: UploadRequest) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    transport = None if api is None else httpx.MockTransport(api)
    code = upload_and_follow(request, transport=transport, out=out, err=err, sleep=lambda _: None)
    return code, out.getvalue(), err.getvalue()


def request_for(path: Path, **changes: Any) -> UploadRequest:
    return UploadRequest(**{"path": str(path), "api": "http://api", "api_key": "oik_test", **changes})


def test_all_rows_imported_exits_0_and_saves_the_result(upload_file: Path, tmp_path: Path) -> None:
    api = FakeApi(httpx.Response(202, json=RECEIPT), [{**DONE, "state": "processing"}, DONE])
    output = tmp_path / "result.xlsx"
    code, out, _ = run(api, request_for(upload_file, output=str(output), sheet="订单"))
    assert code == ExitCode.OK
    assert output.read_bytes() == b"PK-result"
    assert b'name="sheet"' in api.requests[0].content and "订单".encode() in api.requests[0].content
    assert "state: completed" in out


def test_rows_failed_exits_1(upload_file: Path) -> None:
    receipt = {**RECEIPT, "invalid_rows": 1, "first_errors": [{"message": "row 3, Quantity: is not positive"}]}
    api = FakeApi(httpx.Response(202, json=receipt), [{**DONE, "state": "completed_with_errors", "invalid_rows": 1}])
    code, out, _ = run(api, request_for(upload_file))
    assert code == ExitCode.ROWS_FAILED
    assert "row 3, Quantity: is not positive" in out


def test_refused_file_exits_2_with_the_problem(upload_file: Path) -> None:
    problem = {"title": "Unprocessable", "detail": "the file has no header row", "status": 422}
    code, out, err = run(FakeApi(httpx.Response(422, json=problem), [DONE]), request_for(upload_file))
    assert code == ExitCode.REFUSED
    assert "refused (422): the file has no header row" in err and out == ""


def test_server_error_and_unreachable_exit_3_without_traceback(upload_file: Path) -> None:
    code, _, err = run(FakeApi(httpx.Response(500, text="boom"), [DONE]), request_for(upload_file))
    assert code == ExitCode.UNREACHABLE and "answered 500" in err
    with socket.socket() as probe:  # a port nobody listens on: a real connection refusal
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, _, err = run(None, request_for(upload_file, api=f"http://127.0.0.1:{port}"))
    assert code == ExitCode.UNREACHABLE
    assert err.startswith("orderinfo import: cannot reach the API") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_json_prints_one_document(upload_file: Path) -> None:
    api = FakeApi(httpx.Response(202, json=RECEIPT), [DONE])
    code, out, _ = run(api, request_for(upload_file, as_json=True))
    document = json.loads(out)
    assert code == ExitCode.OK
    assert document["receipt"]["import_id"] == RECEIPT["import_id"] and document["status"]["state"] == "completed"


def test_missing_key_or_file_is_refused(upload_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORDERINFO_API_KEY", raising=False)
    assert run(None, request_for(upload_file, api_key=None))[0] == ExitCode.REFUSED
    assert run(None, request_for(upload_file.with_name("missing.csv")))[0] == ExitCode.REFUSED


CASES: list[tuple[dict[str, Any], bool, ExitCode]] = [
    ({"state": "completed"}, False, ExitCode.OK),
    ({"state": "completed", "dead_lettered": 1}, False, ExitCode.ROWS_FAILED),
    ({"state": "completed", "orders_held_back": 2}, False, ExitCode.ROWS_FAILED),
    ({"state": "completed", "rejected": 1}, False, ExitCode.ROWS_FAILED),
    ({"state": "completed_with_errors"}, False, ExitCode.ROWS_FAILED),
    ({"state": "failed"}, False, ExitCode.REFUSED),
    ({"state": "processing"}, False, ExitCode.UNREACHABLE),
    ({"invalid_rows": 0, "orders_held_back": 0}, True, ExitCode.OK),
    ({"invalid_rows": 2}, True, ExitCode.ROWS_FAILED),
]


@pytest.mark.parametrize(("final", "dry_run", "expected"), CASES)
def test_exit_code_of(final: dict[str, Any], dry_run: bool, expected: ExitCode) -> None:
    assert exit_code_of(final, dry_run=dry_run) == expected


@pytest.mark.parametrize(("lang", "sent"), [("zh", "zh-CN"), ("en", "en")])
def test_lang_asks_every_answer_and_the_result_workbook_in_that_language(
    upload_file: Path, tmp_path: Path, lang: str, sent: str
) -> None:
    api = FakeApi(httpx.Response(202, json=RECEIPT), [DONE])
    code, _, _ = run(api, request_for(upload_file, lang=lang, output=str(tmp_path / "r.xlsx")))
    assert code == ExitCode.OK
    assert {r.headers["accept-language"] for r in api.requests} == {sent}


def test_the_cli_takes_lang_with_chinese_by_default() -> None:
    from services.cli import _parser

    assert _parser().parse_args(["import", "f.xlsx"]).lang == "zh"
    assert _parser().parse_args(["import", "f.xlsx", "--lang", "en"]).lang == "en"
    with pytest.raises(SystemExit):
        _parser().parse_args(["import", "f.xlsx", "--lang", "fr"])


def test_the_summary_shows_each_outcome_code_with_its_label_in_the_requested_language(upload_file: Path) -> None:
    labelled = {
        **DONE,
        "state_label": "已完成",
        "outcomes": [
            {"code": "created", "label": "新建", "count": 2},
            {"code": "held_back", "label": "暂缓", "count": 0},
        ],
    }
    code, out, _ = run(FakeApi(httpx.Response(202, json=RECEIPT), [labelled]), request_for(upload_file))
    assert code == ExitCode.OK
    assert "state: completed (已完成)" in out and "  created           2      新建" in out and "暂缓" in out


def test_an_output_that_cannot_be_written_is_refused_before_the_upload(upload_file: Path, tmp_path: Path) -> None:
    """`--output` into a folder that does not exist: the file was imported, then the command ended in a traceback
    (FileNotFoundError) as if it had failed, inviting a second upload; now nothing is sent and one line says why."""
    api = FakeApi(httpx.Response(202, json=RECEIPT), [DONE])
    output = tmp_path / "no such folder" / "result.xlsx"
    code, out, err = run(api, request_for(upload_file, output=str(output)))
    assert code == ExitCode.REFUSED and api.requests == [] and out == ""
    assert err.startswith(f"orderinfo import: --output {output}: cannot be written (No such file or directory)")
    assert "nothing was uploaded" in err
    writable = tmp_path / "result.xlsx"
    api = FakeApi(httpx.Response(202, json=RECEIPT), [DONE])
    assert run(api, request_for(upload_file, output=str(writable)))[0] == ExitCode.OK
    assert writable.read_bytes() == b"PK-result"


def test_a_key_pasted_with_its_line_end_is_used_and_a_garbled_one_is_refused(upload_file: Path) -> None:
    """A key with the newline or space it was copied with ($(cat key.txt), a paste) was 'cannot reach the API'
    (exit 3, the API was there), and one with a non-ASCII character ended in a UnicodeEncodeError traceback."""
    api = FakeApi(httpx.Response(202, json=RECEIPT), [DONE])
    assert run(api, request_for(upload_file, api_key=" oik_test\n"))[0] == ExitCode.OK
    assert api.requests[0].headers["x-api-key"] == "oik_test"
    for garbled in ("oik_tést", "oik_\x07test"):
        api = FakeApi(httpx.Response(202, json=RECEIPT), [DONE])
        code, _, err = run(api, request_for(upload_file, api_key=garbled))
        assert code == ExitCode.REFUSED and api.requests == [], err
        assert "the API key holds a character no key has" in err and "Traceback" not in err


@pytest.mark.parametrize("api", ["127.0.0.1:8080", "ftp://api", "http://[::1", "http://"])
def test_an_api_address_that_is_no_http_address_is_refused(upload_file: Path, api: str) -> None:
    """`--api 127.0.0.1:8080` (no scheme) was 'cannot reach the API' (exit 3: the service down, as scripts read
    it), and `--api http://[::1` ended in an InvalidURL traceback."""
    code, _, err = run(None, request_for(upload_file, api=api))
    assert code == ExitCode.REFUSED and "Traceback" not in err
    assert err.startswith(f"orderinfo import: --api {api}: not an http:// or https:// address"), err
