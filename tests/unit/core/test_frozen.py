"""`quick_init` builds what the dataclass's own `__init__` builds, for every class of the hot path that uses it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from services.core import changes, status
from services.core.frozen import quick_init
from services.ingest.domain import identity, persona_deltas, planning
from services.rules_bridge.domain import events

QUICK = [
    cls
    for module in (changes, status, identity, persona_deltas, planning, events)
    for cls in vars(module).values()
    if isinstance(cls, type) and cls.__module__ == module.__name__ and "_dataclass_init" in vars(cls)
]


def built(cls: type, init: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    instance = cls.__new__(cls)
    init(instance, *args, **kwargs)
    return dict(vars(instance))


def test_the_hot_records_use_it() -> None:
    names = {cls.__name__ for cls in QUICK}
    assert {"OrderRow", "LineRow", "Outcome", "OrderSnapshot", "Contribution", "OutboxRecord"} <= names


@pytest.mark.parametrize("cls", QUICK, ids=lambda cls: cls.__name__)
def test_same_fields_as_the_dataclass_init(cls: type) -> None:
    fields = dataclasses.fields(cls)
    required = [f for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    values = [object() for _ in fields]
    quick, original = cls.__init__, cls._dataclass_init  # type: ignore[attr-defined]
    assert built(cls, quick, *values) == built(cls, original, *values)
    assert list(built(cls, quick, *values)) == [f.name for f in fields]
    keywords = {f.name: v for f, v in zip(fields, values, strict=True)}
    assert built(cls, quick, **keywords) == built(cls, original, **keywords)
    minimal = {f.name: object() for f in required}
    assert built(cls, quick, **minimal) == built(cls, original, **minimal)  # defaults and fresh factory values
    instance = cls(*values)
    with pytest.raises(dataclasses.FrozenInstanceError):
        instance.__setattr__(fields[0].name, None)
    assert dataclasses.replace(instance) == instance


def test_refuses_what_it_does_not_handle() -> None:
    @dataclasses.dataclass(frozen=True)
    class Later:
        a: int

        def __post_init__(self) -> None:
            pass

    with pytest.raises(TypeError):
        quick_init(Later)
