"""One value per query parameter, and only the parameters the route takes.

A parameter given twice on an API path is a 422 naming it, answered before any handler runs, unless the route takes
it repeated (a list: `REPEATABLE`, checked against the OpenAPI document by a test). FastAPI would keep the last
value without a word: `?order_no=A&order_no=B` listed B's order, a second `format` chose the file, a second `lang`
the language.

A parameter the route does not take is a 422 naming it (`refuse_unknown_parameters`, a dependency of every API
route): FastAPI ignores it, so a misspelt filter (`?statuss=paid`, `?state=failed` on the import list) answered
every order or import as if filtered, and an export held every order. `lang` is taken everywhere."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from services.ingest.entrypoints.http.limits import refuse
from services.ingest.errors import ApiProblem

API_PREFIX = "/v1/"
REPEATABLE = frozenset({"status"})  # list parameters (the order list's and its export's `status`)
EVERYWHERE = frozenset({"lang"})  # the answer's language: taken by every route, whether or not it has words
MAX_NAMES_SHOWN = 5
# A time whose offset lost its `+` on the way: `?since=2026-12-01T00:00:00+08:00` typed as is (in a query string a
# `+` is a space), which the time parser called "unexpected extra characters at the end of the input".
_PLUS_AS_SPACE = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)? (\d\d(?::?\d\d)?)")


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


def refuse_unknown_parameters(request: Request) -> None:
    """422 `unknown_parameter` for a query parameter the matched API route does not take (see the module)."""
    route = request.scope.get("route")
    if route is None or not request.url.path.startswith(API_PREFIX):
        return
    taken = route_parameters(route)
    unknown = [name for name in request.query_params if name not in taken]
    if unknown:
        names = ", ".join(map(repr, unknown[:MAX_NAMES_SHOWN]))
        listed = ", ".join(sorted(taken - EVERYWHERE)) or "none but lang"
        detail = f"the query parameter(s) {names} are not taken here (misspelt?); this address takes: {listed}"
        raise ApiProblem(422, "Unknown query parameter", detail, "unknown_parameter")


def route_parameters(route: Any) -> frozenset[str]:
    """The query parameters `route` takes (its own and its dependencies'), by the names clients send, and
    `EVERYWHERE` (a walk of a few dependants, per request)."""
    names, dependants = set(EVERYWHERE), [route.dependant]
    while dependants:
        dependant = dependants.pop()
        names.update(p.alias for p in dependant.query_params)
        dependants.extend(dependant.dependencies)
    return frozenset(names)


def offset_sign_kept(value: object) -> object:
    """A query time as given; one whose offset's `+` arrived as a space is refused saying so and how to send it."""
    if isinstance(value, str) and (found := _PLUS_AS_SPACE.fullmatch(value)) is not None:
        sent = f"{value[: found.start(1) - 1]}%2B{found.group(1)}"
        raise ValueError(
            f"{value!r}: the '+' of the UTC offset arrived as a space (in a query string '+' means a space): "
            f"send it as %2B, e.g. {sent}"
        )
    return value
