"""Every console text exists in both languages, and every key a template asks for exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.core.order import OrderSource, OrderStatus
from services.ingest.entrypoints.console import messages

TEMPLATES = Path(messages.__file__).parent / "templates"
# literal keys: t('orders.title'); prefixed keys: t('state.' ~ x) name a family, checked below by its members
LITERAL_KEY = re.compile(r"""\bt\(\s*'([a-z_.]+)'\s*\)""")
FAMILIES = {
    "state.": ("queued", "processing", "completed", "completed_with_errors", "failed"),
    "outcome.": ("created", "updated", "unchanged", "stale_status", "dead_lettered"),
    "id.": ("mobile", "unionid", "sobot_customer_id", "nickname", "new"),
    "stage.": ("prospect", "new", "repeat", "dormant"),
}


def test_every_text_has_chinese_and_english() -> None:
    for key, (zh, en) in messages.TEXTS.items():
        assert zh.strip() and en.strip(), key
        assert re.search(r"[\u4e00-\u9fff]", zh) or zh == en or key == "nav.switch", f"{key}: not Chinese: {zh}"


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.html")), ids=lambda p: p.name)
def test_every_key_a_template_names_exists(template: Path) -> None:
    missing = [k for k in LITERAL_KEY.findall(template.read_text()) if k not in messages.TEXTS]
    assert missing == []


def test_every_member_of_a_key_family_exists() -> None:
    missing = [prefix + m for prefix, members in FAMILIES.items() for m in members if prefix + m not in messages.TEXTS]
    assert missing == []


def test_statuses_and_sources_are_named_in_both_languages() -> None:
    for member in (*OrderStatus, *OrderSource):
        zh, en = messages.label(member, "zh"), messages.label(member, "en")
        assert re.search(r"[\u4e00-\u9fff]", zh) and en and zh != en, member
    assert messages.value_label(OrderStatus, "no_such_status", "zh") == "no_such_status"


def test_the_language_is_the_query_then_the_cookie_then_chinese() -> None:
    assert messages.choose_language("en", "zh") == "en"
    assert messages.choose_language(None, "en") == "en"
    assert messages.choose_language("fr", None) == "zh"
    assert messages.text("app", "xx") == messages.TEXTS["app"][0]
