"""`orderinfo import FILE`: upload through the HTTP API, show progress until the import completes, print a summary."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

TERMINAL = {"completed", "completed_with_errors", "failed"}


def upload_and_follow(
    path: str, *, api: str, api_key: str | None, mode: str, timezone: str, dry_run: bool, timeout: float = 600.0
) -> int:
    key = api_key or os.environ.get("ORDERINFO_API_KEY")
    if not key:
        print("an API key is needed: --api-key or $ORDERINFO_API_KEY (see `orderinfo tenant create`)", file=sys.stderr)
        return 2
    file = Path(path)
    if not file.is_file():
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    with httpx.Client(base_url=api, headers={"X-API-Key": key}, timeout=120.0) as client:
        with file.open("rb") as handle:
            form = {"mode": mode, "timezone": timezone, "dry_run": str(dry_run).lower()}
            answer = client.post("/v1/imports", files={"file": (file.name, handle)}, data=form)
        if answer.status_code >= 400:
            body = answer.json() if answer.headers.get("content-type", "").endswith("json") else {}
            print(f"rejected ({answer.status_code}): {body.get('detail') or body.get('title') or answer.text}")
            return 1
        receipt = answer.json()
        if dry_run:
            _print_dry_run(receipt)
            return 0
        print(f"import {receipt['import_id']}: {receipt['rows']} rows, {receipt['valid_rows']} valid, "
              f"{receipt['invalid_rows']} invalid, {receipt['orders']} orders queued")  # fmt: skip
        _print_errors(receipt["first_errors"])
        status = _follow(client, receipt["status_url"], timeout)
    _print_summary(status, api, receipt["result_url"])
    return 0 if status["state"] in {"completed", "completed_with_errors"} else 1


def _follow(client: httpx.Client, url: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = client.get(url).json()
        done = status["orders_processed"] + status["dead_lettered"]
        total = max(status["orders"], 1)
        filled = int(30 * min(done, total) / total)
        print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{status['orders']} orders  {status['state']:<22}",
              end="", flush=True)  # fmt: skip
        if status["state"] in TERMINAL or time.monotonic() > deadline:
            print()
            return status
        time.sleep(0.25)


def _print_errors(errors: list[dict[str, Any]]) -> None:
    for error in errors[:10]:
        print(f"  {error['message']}")


def _print_summary(status: dict[str, Any], api: str, result_url: str) -> None:
    print(f"state: {status['state']}")
    for name in ("created", "updated", "unchanged", "stale_status", "dead_lettered", "orders_held_back"):
        print(f"  {name:<17} {status[name]}")
    if status.get("failure"):
        print(f"  failure: {status['failure']}")
    print(f"result workbook: {api}{result_url}")


def _print_dry_run(report: dict[str, Any]) -> None:
    print(f"dry run: {report['rows']} rows, {report['valid_rows']} valid, {report['invalid_rows']} invalid")
    _print_errors(report["first_errors"])
    for order in report["orders"][:50]:
        who = "a new customer" if order["customer_is_new"] else f"customer {order['customer_id']}"
        print(f"  {order['order_no']}: {order['outcome']} ({order['detail']}) -> {who} by {order['matched_by']}")
