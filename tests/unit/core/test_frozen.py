"""`quick_init` builds what the dataclass's own `__init__` builds, for every class of the hot path that uses it."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from services.core import changes, status
from services.core.frozen import quick_init
from services.ingest.domain import identity, persona, persona_deltas, planning
from services.rules_bridge.domain import events

QUICK = [
    cls
    for module in (changes, status, identity, persona, persona_deltas, planning, events)
    for cls in vars(module).values()
    if isinstance(cls, type) and cls.__module__ == module.__name__ and "_dataclass_init" in vars(cls)
]


def built(cls: type, init: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    instance = cls.__new__(cls)
    init(instance, *args, **kwargs)
    return dict(vars(instance))


def test_the_hot_records_use_it() -> None:
    names = {cls.__name__ for cls in QUICK}
    hot = {"OrderRow", "LineRow", "Outcome", "OrderSnapshot", "Contribution", "OutboxRecord", "OrderAggregates"}
    assert hot <= names


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


def parameters(init: Any) -> list[tuple[str, Any, bool]]:
    """Names, kinds and whether a default is given, of `init`'s parameters after the instance."""
    listed = list(inspect.signature(init).parameters.values())[1:]
    return [(p.name, p.kind, p.default is not inspect.Parameter.empty) for p in listed]


@pytest.mark.parametrize("cls", QUICK, ids=lambda cls: cls.__name__)
def test_the_same_signature(cls: type) -> None:
    assert parameters(cls.__init__) == parameters(cls._dataclass_init)  # type: ignore[attr-defined]


def test_keyword_only_fields_and_awkward_names_as_the_dataclass() -> None:
    @quick_init
    @dataclasses.dataclass(frozen=True)
    class Mixed:
        a: int = 0
        b: int = dataclasses.field(kw_only=True)  # a required keyword after a default: legal in a dataclass
        self: int = 1
        _set: list[int] = dataclasses.field(default_factory=list)

    @quick_init
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Keywords:
        x: int
        y: int = 2

    assert parameters(Mixed.__init__) == parameters(Mixed._dataclass_init)  # type: ignore[attr-defined]
    assert parameters(Keywords.__init__) == parameters(Keywords._dataclass_init)  # type: ignore[attr-defined]
    assert vars(Mixed(5, 6, b=7)) == {"a": 5, "b": 7, "self": 6, "_set": []}
    with pytest.raises(TypeError):
        Keywords(1)  # type: ignore[misc]
    assert vars(Keywords(x=1)) == {"x": 1, "y": 2}
    first, second = Mixed(b=1), Mixed(b=1)
    assert first._set == [] and first._set is not second._set  # a fresh value of the factory per instance
