"""Serving the operations endpoints in tests: a free port, and waiting until the server answers."""

from __future__ import annotations

import socket

import httpx

from tests.support.waiting import eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until_serving(client: httpx.AsyncClient, within: float = 10) -> None:
    """Wait until `client`'s server answers `/healthz` with 200."""

    async def healthz() -> int:
        try:
            return (await client.get("/healthz")).status_code
        except httpx.TransportError:
            return 0

    await eventually(healthz, lambda status: status == 200, within=within)
