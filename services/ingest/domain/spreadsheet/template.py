"""The import template: the single source of truth for columns, header aliases, value aliases and the rules text.

The template workbook, the header matching of the parser and the Markdown documentation are all generated from
`COLUMNS`, `SOURCE_LABELS`/`SOURCE_ALIASES`, `STATUS_LABELS`/`STATUS_ALIASES` and `RULES`; nothing else lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from services.core import bounds
from services.core.order import OrderSource, OrderStatus
from services.ingest.domain.spreadsheet.platform_statuses import PLATFORM_STATUSES, comma_folded

E = TypeVar("E", bound=StrEnum)


class Kind(StrEnum):
    """How a column's cells are read and checked."""

    ID = "id"  # text; a number cell becomes its integer text (12345.0 -> "12345")
    TEXT = "text"
    SOURCE = "source"
    STATUS = "status"
    TIME = "time"
    QUANTITY = "quantity"
    MONEY = "money"
    MOBILE = "mobile"  # buyer mobile: normalised, invalid = error
    RECEIVER_MOBILE = "receiver_mobile"  # normalised when valid, invalid = warning, kept as text


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    english: str
    chinese: str
    required: bool
    kind: Kind
    max_length: int | None
    hint: str
    example: str

    @property
    def header(self) -> str:
        """The template header: the English name, with `*` when required."""
        return f"{self.english}*" if self.required else self.english


_TIME_HINT = "Text YYYY-MM-DD HH:MM:SS (or YYYY/MM/DD HH:MM:SS) or a date-time cell, in the import's time zone."
_MONEY_HINT = "Number >= 0 with at most 2 decimals; ¥ and thousands separators are allowed."
_MOBILE_HINT = "Mainland mobile (11 digits starting 13-19); spaces, dashes and +86 are removed."

COLUMNS: tuple[Column, ...] = (
    Column(
        "order_no",
        "Order No.",
        "订单编号",
        True,
        Kind.ID,
        64,
        "Rows with the same Order No. form one order.",
        "E20220914001",
    ),
    Column("source", "Order Source", "订单来源", True, Kind.SOURCE, None, "One of the listed platforms.", "Youzan"),
    Column(
        "status",
        "Order Status",
        "订单状态",
        True,
        Kind.STATUS,
        64,
        "One of the listed statuses, or the platform's own (see the rules).",
        "Paid",
    ),
    Column("order_time", "Order Time", "下单时间", True, Kind.TIME, None, _TIME_HINT, "2022-09-14 11:03:23"),
    Column("payment_time", "Payment Time", "付款时间", False, Kind.TIME, None, _TIME_HINT, "2022-09-14 11:05:00"),
    Column("store_no", "Store No.", "店铺编号", False, Kind.ID, 64, "Store No. or Store ID is required.", "S001"),
    Column("store_id", "Store ID", "店铺ID", False, Kind.ID, 64, "Store No. or Store ID is required.", ""),
    Column("store_name", "Store Name", "店铺名称", False, Kind.TEXT, 255, "Shown in reports.", "Flagship Store"),
    Column("product_id", "Product ID", "商品ID", True, Kind.ID, 64, "Platform product ID.", "P1001"),
    Column("sku", "Product SKU", "商品SKU", False, Kind.ID, 64, "One line per Product ID + SKU.", "P1001-RED-M"),
    Column("product_name", "Product Name", "商品名称", False, Kind.TEXT, 255, "Shown in reports.", "T-shirt"),
    Column("quantity", "Quantity", "数量", True, Kind.QUANTITY, None, "Whole number from 1 to 1,000,000.", "2"),
    Column("unit_price", "Unit Price", "单价", True, Kind.MONEY, None, _MONEY_HINT, "59.90"),
    Column("line_amount", "Line Amount", "商品金额", False, Kind.MONEY, None, _MONEY_HINT, "119.80"),
    Column("order_amount", "Order Amount", "订单金额", False, Kind.MONEY, None, _MONEY_HINT, "119.80"),
    Column("paid_amount", "Paid Amount", "实付金额", False, Kind.MONEY, None, _MONEY_HINT, "109.80"),
    Column("buyer_sobot_id", "Buyer Sobot Customer ID", "买家客户ID", False, Kind.ID, 64, "Buyer ID in Sobot.", ""),
    Column("buyer_mobile", "Buyer Mobile", "买家手机号", False, Kind.MOBILE, None, _MOBILE_HINT, "13912345678"),
    Column("buyer_unionid", "Buyer WeChat UnionID", "买家微信UnionID", False, Kind.ID, 64, "WeChat unionid.", ""),
    Column("buyer_nickname", "Buyer Nickname", "买家昵称", False, Kind.TEXT, 255, "Buyer's platform nickname.", "Lily"),
    Column("receiver_name", "Receiver Name", "收货人", False, Kind.TEXT, 255, "", "Li Li"),
    Column(
        "receiver_mobile",
        "Receiver Mobile",
        "收货人手机号",
        False,
        Kind.RECEIVER_MOBILE,
        64,
        "Normalised like Buyer Mobile; an invalid one is kept as text with a warning.",
        "13912345678",
    ),
    Column("receiver_address", "Receiver Address", "收货地址", False, Kind.TEXT, 500, "", "1 Nanjing Rd, Shanghai"),
    Column("remark", "Remark", "备注", False, Kind.TEXT, 1000, "", ""),
)
COLUMNS_BY_KEY: dict[str, Column] = {column.key: column for column in COLUMNS}
REQUIRED_KEYS: tuple[str, ...] = tuple(column.key for column in COLUMNS if column.required)
BUYER_KEYS = ("buyer_sobot_id", "buyer_mobile", "buyer_unionid", "buyer_nickname")
STORE_KEYS = ("store_no", "store_id")

# Columns the result workbook adds; recognised on re-upload and ignored without a warning.
RESULT_HEADER = "Result"
ERRORS_HEADER = "Errors"
WARNINGS_HEADER = "Warnings"

SOURCE_LABELS: dict[OrderSource, str] = {
    OrderSource.YOUZAN: "Youzan",
    OrderSource.WEIMOB: "Weimob",
    OrderSource.DOUYIN: "Douyin",
    OrderSource.KUAISHOU: "Kuaishou",
    OrderSource.JINGDONG: "Jingdong",
    OrderSource.TAOBAO: "Taobao",
    OrderSource.VIPSHOP: "Vipshop",
    OrderSource.XIAOE_TECH: "Xiao E Tech",
    OrderSource.MOGU: "Mogu",
    OrderSource.XIAOHONGSHU: "Xiaohongshu",
    OrderSource.BRAND_MALL: "Self-developed mall of brand",
}
# The first alias is the Chinese label; the others are how merchants and the platforms' exports name them (Chinese,
# English or pinyin). The template has no Tmall: Tmall shops sell on Taobao's platform and export through the same
# seller centre (千牛) in the same format, so 天猫/Tmall is read as Taobao.
SOURCE_ALIASES: dict[OrderSource, tuple[str, ...]] = {
    OrderSource.YOUZAN: ("有赞", "有赞商城"),
    OrderSource.WEIMOB: ("微盟", "微盟商城", "Weimeng"),
    OrderSource.DOUYIN: ("抖音", "抖店", "抖音小店", "抖音电商", "Doudian"),
    OrderSource.KUAISHOU: ("快手", "快手小店"),
    OrderSource.JINGDONG: ("京东", "JD", "京东商城", "JD.com"),
    OrderSource.TAOBAO: ("淘宝", "淘宝网", "天猫", "天猫商城", "Tmall", "Tianmao"),
    OrderSource.VIPSHOP: ("唯品会", "Weipinhui", "VIP.com"),
    OrderSource.XIAOE_TECH: ("小鹅通", "Xiaoetong"),
    OrderSource.MOGU: ("蘑菇街", "Mogujie"),
    OrderSource.XIAOHONGSHU: ("小红书", "RED", "XHS"),
    OrderSource.BRAND_MALL: ("品牌自营商城", "自营商城"),
}
STATUS_LABELS: dict[OrderStatus, str] = {
    OrderStatus.OTHER: "Other",
    OrderStatus.TO_BE_PAID: "To Be Paid",
    OrderStatus.PAID: "Paid",
    OrderStatus.SHIPPED: "Shipped",
    OrderStatus.SIGNED_FOR: "Signed for",
    OrderStatus.DEALED: "Dealed",
    OrderStatus.DEAL_CLOSED: "Deal Closed",
}
STATUS_ALIASES: dict[OrderStatus, tuple[str, ...]] = {
    OrderStatus.OTHER: ("其他",),
    OrderStatus.TO_BE_PAID: ("待付款",),
    OrderStatus.PAID: ("已付款",),
    OrderStatus.SHIPPED: ("已发货",),
    OrderStatus.SIGNED_FOR: ("已签收",),
    OrderStatus.DEALED: ("交易成功", "已成交"),
    OrderStatus.DEAL_CLOSED: ("交易关闭",),
}

_LABEL_NOISE = re.compile(r"[\s_\-\u3000]+")
_HEADER_NOISE = re.compile(r"[\s\u3000.]+")


def label_key(text: str) -> str:
    """The form value aliases are compared in: case, spaces, `-` and `_` ignored ("Xiao E Tech" == "xiaoe_tech")."""
    return _LABEL_NOISE.sub("", text).casefold()


def header_key(text: str) -> str:
    """The form headers are compared in: case, spaces (also full-width), dots and a trailing `*`/`＊` ignored."""
    return _HEADER_NOISE.sub("", text).rstrip("*＊").casefold()


def _value_index(labels: dict[E, str], aliases: dict[E, tuple[str, ...]]) -> dict[str, E]:
    index: dict[str, E] = {}
    for member, label in labels.items():
        for name in (label, member.value, *aliases[member]):
            index[label_key(name)] = member
    return index


def status_key(text: str) -> str:
    """The form statuses are compared in: `label_key`, with full-width and half-width commas folded."""
    return label_key(comma_folded(text))


SOURCE_INDEX: dict[str, OrderSource] = _value_index(SOURCE_LABELS, SOURCE_ALIASES)
# The platforms' phrases first, so that a label or alias of the template always wins (a test checks they agree).
STATUS_INDEX: dict[str, OrderStatus] = {
    **{status_key(entry.phrase): entry.status for entry in PLATFORM_STATUSES},
    **{status_key(name): status for name, status in _value_index(STATUS_LABELS, STATUS_ALIASES).items()},
}
HEADER_INDEX: dict[str, str] = {
    header_key(name): column.key for column in COLUMNS for name in (column.english, column.chinese, column.key)
}
IGNORED_HEADERS = frozenset(
    header_key(name) for name in (RESULT_HEADER, ERRORS_HEADER, WARNINGS_HEADER, "导入结果", "错误信息", "警告信息")
)

RULES: tuple[str, ...] = (
    "The first visible sheet whose header names the Order No. is read, else the first visible sheet with data "
    "(hidden and very hidden sheets are skipped), or the sheet named at upload (even a hidden one); the first "
    "non-blank row is the header. A CSV file has no sheets: naming one is an error.",
    "Headers may be English or Chinese, in any order; case, spaces and a trailing * are ignored. "
    "Unknown columns are ignored with one warning.",
    "Columns marked * are required and their cells must not be blank.",
    "At most 5,000 data rows per import (configurable); fully blank rows are skipped.",
    "Rows with the same Order No. form one order; they must agree on source, status, order and payment time, "
    "store no./ID, buyer identifiers, order amount and paid amount (the order's first row is the reference). "
    "Give them once if you like: a blank cell takes the value of the order's other rows (as exports that give "
    "them on the first line only).",
    f"An order has at most {bounds.MAX_LINES_PER_ORDER} lines in a file; a larger order is an error on every one "
    "of its rows.",
    "The same Order No. + Product ID + SKU twice in one file is an error on the second row.",
    "Store No. and Store ID must not both be blank.",
    "Buyer Sobot Customer ID, Buyer Mobile, Buyer WeChat UnionID and Buyer Nickname must not all be blank. "
    "Placeholder mobiles (all zeros, 13800000000, 12345678901) count as blank, with a warning.",
    "Times are read in the import's time zone (default Asia/Shanghai) and must lie "
    f"{bounds.TIME_RANGE_TEXT} (UTC) as instants. A payment time before the order time is a warning. "
    "Accepted, and only these (the year always first): 2026-11-30 14:00:00 or 2026/11/30 14:00:00; no seconds "
    "(2026/11/30 14:00); fractions of a second (2026-11-30 14:00:00.000); a 12-hour clock (2026/11/30 下午 2:00, "
    "2026-11-30 2:00 PM); "
    "one-digit month, day or hour (2026/11/3 9:05:00); a date alone (2026-11-30, read as "
    "00:00); ISO 8601 (2026-11-30T14:00:00+08:00: its offset wins over the import's time zone, with a warning "
    "when they differ); 2026年11月30日 14:00; Excel or WPS date and date-time cells. A date with the year last "
    "(30/11/2026, 11/03/2026) is an error: its day and month order cannot be told.",
    "Money: more than 2 decimals is an error unless it is floating-point noise (within 1e-9, or 1e-14 of the "
    "value, of a whole cent), which is rounded. A Line Amount other than Quantity x Unit Price is a warning. "
    f"Every amount, Quantity x Unit Price and the sum of an order's lines are at most {bounds.MAX_MONEY:,}.",
    "A number cell in an ID column (Order No., Store No./ID, Product ID, SKU, Sobot ID, UnionID) is accepted only "
    "when it is a whole number of at most 15 digits (12345.0 -> 12345): a number cell keeps 15 significant "
    "digits, so a longer ID (18-19-digit Taobao or JD order numbers) or one with decimals is an error. Format ID "
    "columns as text. An ID typed in scientific notation (1.23E+11) is an error because its digits are lost. An ID "
    "holding an invisible character (a zero-width space, a direction mark, a BOM: copied along from a web page or a "
    "chat) is an error naming it, since it would not match the same ID typed without it.",
    "No cell may hold NUL, a control character other than tab and line breaks, or U+FFFE/U+FFFF (also when "
    "written as an _x0000_ escape or in a UTF-16 CSV): the row is an error, and the result workbook shows the "
    "character as U+FFFD. A header cell holding one rejects the file.",
    "Merged cells are filled down with their top-left value.",
    "Partial mode imports the valid orders and holds back every order with an invalid row; strict mode imports "
    "nothing if any row is invalid: the refusal lists the first 200 errors and counts them all, and the import is "
    "recorded as failed with its result workbook (every error) and failed-rows workbook.",
    "Order Status also takes the statuses as the platforms' own exports write them (commas full-width or not): "
    + "; ".join(
        f"{entry.phrase} = {STATUS_LABELS[entry.status]} ({', '.join(SOURCE_LABELS[p] for p in entry.platforms)})"
        for entry in PLATFORM_STATUSES
    )
    + ".",
    "Workbooks may be .xlsx, .xlsm or legacy .xls (Excel 97-2003); CSV files are read too. The template's example "
    "row (every column holding its example, Order No. E20220914001), if left in, is skipped with a warning.",
)


def _allowed_values(column: Column) -> str:
    if column.kind is Kind.SOURCE:
        return "; ".join(f"{SOURCE_LABELS[s]} ({', '.join(SOURCE_ALIASES[s])})" for s in OrderSource)
    if column.kind is Kind.STATUS:
        return "; ".join(f"{STATUS_LABELS[s]} ({', '.join(STATUS_ALIASES[s])})" for s in OrderStatus)
    return ""


def column_rule(column: Column) -> str:
    """The human rule of one column: hint, length limit and allowed values."""
    parts = [column.hint] if column.hint else []
    if column.max_length is not None:
        parts.append(f"At most {column.max_length} characters.")
    allowed = _allowed_values(column)
    if allowed:
        parts.append(f"Allowed: {allowed}.")
    return " ".join(parts)


def render_markdown() -> str:
    """The columns and rules as Markdown (for README/docs); generated, so it never drifts from the parser."""
    lines = [
        "| Column | Chinese | Required | Rule | Example |",
        "|---|---|---|---|---|",
        *(
            f"| {c.english} | {c.chinese} | {'yes' if c.required else ''} | {column_rule(c)} | {c.example} |"
            for c in COLUMNS
        ),
        "",
        "Rules:",
        "",
        *(f"- {rule}" for rule in RULES),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # `python -m services.ingest.domain.spreadsheet.template > docs/import-template.md`
    print(render_markdown())
