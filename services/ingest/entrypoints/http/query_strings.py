"""One value per query parameter: a parameter given twice on an API path is a 422 naming it, answered before any
handler runs, unless the route takes it repeated (a list: `REPEATABLE`, checked against the OpenAPI document by a
test). FastAPI would keep the last value without a word: `?order_no=A&order_no=B` listed B's order, a second
`format` chose the file, a second `lang` the language."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import parse_qsl

from services.ingest.entrypoints.http.limits import refuse
from services.ingest.errors import ApiProblem

API_PREFIX = "/v1/"
REPEATABLE = frozenset({"status"})  # list parameters (the order list's and its export's `status`)
MAX_NAMES_SHOWN = 5


class SingleQueryValues:
    """ASGI middleware: 422 `repeated_parameter` for a repeated query parameter of an API path."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX) and scope.get("query_string"):
            repeated = repeated_parameters(scope["query_string"].decode("latin-1"))
            if repeated:
                names = ", ".join(map(repr, repeated[:MAX_NAMES_SHOWN]))
                detail = f"the query parameter(s) {names} are given more than once: give each once"
                problem = ApiProblem(422, "Repeated query parameter", detail, "repeated_parameter")
                await refuse(send, problem.problem)
                return
        await self.app(scope, receive, send)


def repeated_parameters(query: str) -> list[str]:
    """The names given more than once in `query` that no route takes repeated, in their order."""
    counts = Counter(name for name, _ in parse_qsl(query, keep_blank_values=True))
    return [name for name, count in counts.items() if count > 1 and name not in REPEATABLE]
