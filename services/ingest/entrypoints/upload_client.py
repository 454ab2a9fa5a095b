"""`orderinfo import FILE`: upload through the HTTP API, follow the import to its end, print a summary.

Made for scripts as much as for people: the exit code says how it went (`ExitCode`), `--json` prints one JSON
document instead of the progress bar, `--output` saves the result workbook. A service that cannot be reached is a
one-line message and exit code 3, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, TextIO

import httpx

from services.ingest.domain.progress import ImportState

TERMINAL = {s.value for s in ImportState if s.terminal}


class ExitCode(IntEnum):
    """What `orderinfo import` tells a script."""

    OK = 0  # every row imported (or, for a dry run, every row valid)
    ROWS_FAILED = 1  # the import ran, but rows were invalid, held back or dead-lettered
    REFUSED = 2  # the file or the request was refused (or the import failed as a whole)
    UNREACHABLE = 3  # the service could not be reached or answered with a server error


class ClientError(Exception):
    """A whole-request failure, already worded for the user, with the exit code it means."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class UploadRequest:
    path: str
    api: str
    api_key: str | None
    mode: str = "partial"
    timezone: str = "Asia/Shanghai"
    dry_run: bool = False
    sheet: str | None = None
    output: str | None = None
    as_json: bool = False
    timeout: float = 600.0
    lang: str = "zh"  # messages, outcome labels and the result workbook: zh (zh-CN) or en


def exit_code_of(final: dict[str, Any], *, dry_run: bool) -> ExitCode:
    """The exit code for a final import status (or a dry-run report); pure."""
    if dry_run:
        return ExitCode.ROWS_FAILED if final.get("invalid_rows") or final.get("orders_held_back") else ExitCode.OK
    if final.get("state") == "failed":
        return ExitCode.REFUSED
    if final.get("state") not in {"completed", "completed_with_errors"}:
        return ExitCode.UNREACHABLE  # still running when the deadline passed
    failed = sum(final.get(name) or 0 for name in ("invalid_rows", "dead_lettered", "orders_held_back", "rejected"))
    return ExitCode.ROWS_FAILED if failed or final["state"] == "completed_with_errors" else ExitCode.OK


def upload_and_follow(
    request: UploadRequest,
    *,
    transport: httpx.BaseTransport | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Upload, follow and report; returns the process exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        return int(_run(request, transport, out, sleep))
    except ClientError as exc:
        print(f"orderinfo import: {exc}", file=err)
        return int(exc.code)


def _run(request: UploadRequest, transport: httpx.BaseTransport | None, out: TextIO, sleep: Any) -> ExitCode:
    key = (request.api_key or os.environ.get("ORDERINFO_API_KEY") or "").strip()  # as pasted, with its line end
    if not key:
        raise ClientError(
            "an API key is needed: --api-key or $ORDERINFO_API_KEY (see `orderinfo tenant create`)", ExitCode.REFUSED
        )
    if not (key.isascii() and key.isprintable()):
        raise ClientError(
            "the API key holds a character no key has (keys are printable ASCII, oik_...): copy it again",
            ExitCode.REFUSED,
        )
    _check_address(request.api)
    file = Path(request.path)
    if not file.is_file():
        raise ClientError(f"{request.path}: no such file", ExitCode.REFUSED)
    if request.output and not request.dry_run:
        _check_writable(Path(request.output))
    headers = {"X-API-Key": key, "Accept-Language": "zh-CN" if request.lang == "zh" else "en"}
    with httpx.Client(base_url=request.api, headers=headers, timeout=120.0, transport=transport) as client:
        receipt = _upload(client, request, file)
        if request.dry_run:
            _report(out, request, receipt, None)
            return exit_code_of(receipt, dry_run=True)
        if not request.as_json:
            _print_receipt(out, receipt)
        final = _follow(client, receipt["status_url"], request, out, sleep)
        if request.output:
            _download(client, receipt["result_url"], request.output)
    _report(out, request, receipt, final)
    return exit_code_of(final, dry_run=False)


def _call(send: Callable[[], httpx.Response], api: str) -> httpx.Response:
    try:
        answer = send()
    except httpx.TransportError as exc:
        raise ClientError(f"cannot reach the API at {api} ({type(exc).__name__}: {exc})", ExitCode.UNREACHABLE) from exc
    if answer.status_code >= 500:
        raise ClientError(f"the API answered {answer.status_code}: {_problem_text(answer)}", ExitCode.UNREACHABLE)
    if answer.status_code >= 400:
        raise ClientError(f"refused ({answer.status_code}): {_problem_text(answer)}", ExitCode.REFUSED)
    return answer


def _problem_text(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:300] or answer.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:300]
    text = str(body.get("detail") or body.get("title") or body)
    errors = body.get("errors") or body.get("first_errors") or []
    lines = [text] + [f"  {e.get('message', e)}" for e in errors[:10] if isinstance(e, dict)]
    return "\n".join(lines)


def _upload(client: httpx.Client, request: UploadRequest, file: Path) -> dict[str, Any]:
    form = {"mode": request.mode, "timezone": request.timezone, "dry_run": str(request.dry_run).lower()}
    if request.sheet:
        form["sheet"] = request.sheet
    with file.open("rb") as handle:
        answer = _call(lambda: client.post("/v1/imports", files={"file": (file.name, handle)}, data=form), request.api)
    receipt: dict[str, Any] = answer.json()
    return receipt


def _follow(client: httpx.Client, url: str, request: UploadRequest, out: TextIO, sleep: Any) -> dict[str, Any]:
    deadline = time.monotonic() + request.timeout
    while True:
        status: dict[str, Any] = _call(lambda: client.get(url), request.api).json()
        if not request.as_json:
            _print_progress(out, status)
        if status["state"] in TERMINAL or time.monotonic() > deadline:
            if not request.as_json:
                print(file=out)
            return status
        sleep(0.25)


def _check_address(api: str) -> None:
    """Refuse an `--api` that is no web address (a usage error, exit 2: not the service down, exit 3)."""
    try:
        url = httpx.URL(api)
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ClientError(
            f"--api {api}: not an http:// or https:// address (e.g. http://127.0.0.1:8080)", ExitCode.REFUSED
        )


def _check_writable(output: Path) -> None:
    """Refuse an `--output` that cannot be written before anything is uploaded (after the upload, the import is
    done: failing then reads as a failed import); a file the check creates is removed again."""
    existed = output.exists()
    try:
        output.open("ab").close()
    except OSError as exc:
        problem = exc.strerror or type(exc).__name__
        message = f"--output {output}: cannot be written ({problem}); nothing was uploaded"
        raise ClientError(message, ExitCode.REFUSED) from None
    if not existed:
        output.unlink()


def _download(client: httpx.Client, url: str, output: str) -> None:
    answer = _call(lambda: client.get(url), str(client.base_url))
    Path(output).write_bytes(answer.content)


def _print_receipt(out: TextIO, receipt: dict[str, Any]) -> None:
    print(
        f"import {receipt['import_id']}: {receipt['rows']} rows, {receipt['valid_rows']} valid, "
        f"{receipt['invalid_rows']} invalid, {receipt['orders']} orders queued",
        file=out,
    )
    _print_errors(out, receipt.get("first_errors", []))


def _print_progress(out: TextIO, status: dict[str, Any]) -> None:
    done = status["orders_processed"] + status["dead_lettered"]
    total = max(status["orders"], 1)
    filled = int(30 * min(done, total) / total)
    bar = f"[{'#' * filled}{'.' * (30 - filled)}]"
    print(f"\r{bar} {done}/{status['orders']} orders  {status['state']:<22}", end="", file=out, flush=True)


def _print_errors(out: TextIO, errors: list[dict[str, Any]]) -> None:
    for error in errors[:10]:
        print(f"  {error['message']}", file=out)


def _report(out: TextIO, request: UploadRequest, receipt: dict[str, Any], final: dict[str, Any] | None) -> None:
    if request.as_json:
        document: dict[str, Any] = {"receipt": receipt} if final is None else {"receipt": receipt, "status": final}
        if request.output and final is not None:
            document["result_file"] = request.output
        print(json.dumps(document, ensure_ascii=False, indent=2), file=out)
    elif final is None:
        _print_dry_run(out, receipt)
    else:
        _print_summary(out, final, request, receipt)


def _print_summary(out: TextIO, status: dict[str, Any], request: UploadRequest, receipt: dict[str, Any]) -> None:
    state_label = f" ({status['state_label']})" if status.get("state_label") else ""
    print(f"state: {status['state']}{state_label}", file=out)
    labels = {o["code"]: o["label"] for o in status.get("outcomes") or [] if isinstance(o, dict)}
    labels["orders_held_back"] = labels.get("held_back", "")
    for name in ("created", "updated", "unchanged", "stale_status", "rejected", "dead_lettered", "orders_held_back"):
        print(f"  {name:<17} {status.get(name, 0):<6} {labels.get(name, '')}".rstrip(), file=out)
    if status.get("failure"):
        print(f"  failure: {status['failure']}", file=out)
    if request.output:
        print(f"result workbook saved to {request.output}", file=out)
    else:
        print(f"result workbook: {request.api}{receipt['result_url']}", file=out)


def _print_dry_run(out: TextIO, report: dict[str, Any]) -> None:
    print(f"dry run: {report['rows']} rows, {report['valid_rows']} valid, {report['invalid_rows']} invalid", file=out)
    _print_errors(out, report.get("first_errors", []))
    for order in report.get("orders", [])[:50]:
        who = "a new customer" if order["customer_is_new"] else f"customer {order['customer_id']}"
        line = f"  {order['order_no']}: {order['outcome']} ({order['detail']}) -> {who} by {order['matched_by']}"
        print(line, file=out)
