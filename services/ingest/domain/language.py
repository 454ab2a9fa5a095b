"""The languages users read Order Info in: zh-CN first (the default), English on request. Pure.

One catalog for every word a user sees about imports and orders: status and source labels (taken from the import
template's vocabulary), column headers, outcome and state words, and the row and file messages. The template,
the result workbook, the HTTP answers, the CLI and the console all take their words from here.

Messages are produced in English by the parser, with a stable code (`domain.issues`); they are translated at the
edge (`issue_message`, `file_message`) from the code, the row, the column and the value, plus the figures the
English text holds. A code without a Chinese entry keeps its English text (a test lists every code).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import StrEnum

from services.core import bounds
from services.core.order import OrderSource, OrderStatus
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.platform_statuses import EXAMPLE_PHRASES, PLATFORM_STATUSES
from services.ingest.domain.spreadsheet.template import (
    COLUMNS_BY_KEY,
    ERRORS_HEADER,
    HEADER_INDEX,
    RESULT_HEADER,
    RULES,
    SOURCE_ALIASES,
    SOURCE_LABELS,
    STATUS_ALIASES,
    STATUS_LABELS,
    WARNINGS_HEADER,
    Column,
    header_key,
)


class Lang(StrEnum):
    ZH = "zh"
    EN = "en"


DEFAULT_LANG = Lang.ZH
_ACCEPT_ITEM = re.compile(r"\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*")


def accepted_lang(header: str | None) -> Lang | None:
    """The preferred supported language of an `Accept-Language` header (`en-US,en;q=0.9`), or None."""
    best: tuple[float, Lang] | None = None
    for position, item in enumerate((header or "")[:512].split(",")):
        match = _ACCEPT_ITEM.fullmatch(item)
        if match is None:
            continue
        try:
            weight = float(match[2]) if match[2] else 1.0
        except ValueError:
            continue
        lang = {"zh": Lang.ZH, "en": Lang.EN}.get(match[1].lower())
        if lang is not None and weight > 0 and (best is None or weight > best[0]):
            best = (weight - position * 1e-6, lang)
    return best[1] if best else None


def choose_lang(query: str | None, accept_language: str | None) -> Lang:
    """`?lang=` wins, then `Accept-Language`, then zh-CN. `query` must already be a valid code (or None)."""
    if query is not None:
        return Lang(query)
    return accepted_lang(accept_language) or DEFAULT_LANG


# --- vocabulary ---------------------------------------------------------------------------------------------------


def status_label(status: OrderStatus, lang: Lang) -> str:
    """An order status as the template's drop-down names it in `lang` (`已付款` / `Paid`)."""
    return STATUS_ALIASES[status][0] if lang is Lang.ZH else STATUS_LABELS[status]


def source_label(source: OrderSource, lang: Lang) -> str:
    return SOURCE_ALIASES[source][0] if lang is Lang.ZH else SOURCE_LABELS[source]


def value_label(enum: type[OrderStatus] | type[OrderSource], value: str, lang: Lang) -> str:
    """The label of a stored status or source value; the value itself if it is not (or no longer) a member."""
    try:
        member = enum(value)
    except ValueError:
        return value
    return status_label(member, lang) if isinstance(member, OrderStatus) else source_label(member, lang)


def column_name(column: Column, lang: Lang) -> str:
    return column.chinese if lang is Lang.ZH else column.english


def column_header(column: Column, lang: Lang) -> str:
    """The template's header cell: the name in `lang`, `*` when required. Both languages parse on upload."""
    name = column_name(column, lang)
    return f"{name}*" if column.required else name


def result_headers(lang: Lang) -> tuple[str, str, str]:
    """The columns the result workbook adds (recognised and ignored on re-upload, in either language)."""
    return ("导入结果", "错误信息", "警告信息") if lang is Lang.ZH else (RESULT_HEADER, ERRORS_HEADER, WARNINGS_HEADER)


# Outcome words: of a row (invalid, held_back, queued, not_published), of an order (created ... dead_lettered).
OUTCOMES: dict[str, tuple[str, str]] = {
    "invalid": ("有错误", "invalid"),
    "held_back": ("暂缓（同一订单有错误行）", "held back (another row of its order is invalid)"),
    "queued": ("已排队", "queued"),
    "not_published": ("未发送", "not published"),
    "created": ("新建", "created"),
    "updated": ("已更新", "updated"),
    "unchanged": ("无变化", "unchanged"),
    "stale_status": ("状态过旧（未采用）", "stale status (not applied)"),
    "rejected": ("已拒绝（未采用）", "rejected (not applied)"),
    "dead_lettered": ("进入死信", "dead-lettered"),
}
STATES: dict[str, tuple[str, str]] = {
    "queued": ("排队中", "queued"),
    "processing": ("处理中", "processing"),
    "completed": ("已完成", "completed"),
    "completed_with_errors": ("已完成（有错误）", "completed with errors"),
    "failed": ("失败", "failed"),
}
STAGES: dict[str, tuple[str, str]] = {
    "prospect": ("潜在客户（未付款）", "prospect (nothing paid yet)"),
    "new": ("新客户", "new"),
    "repeat": ("复购客户", "repeat"),
    "dormant": ("沉睡客户", "dormant"),
}
MATCHED_BY: dict[str, tuple[str, str]] = {
    "sobot_customer_id": ("智齿客户 ID", "Sobot customer ID"),
    "mobile": ("手机号", "Mobile"),
    "unionid": ("微信 UnionID", "WeChat UnionID"),
    "nickname": ("昵称", "Nickname"),
    "new": ("新建客户", "new customer"),
}


def _pick(table: Mapping[str, tuple[str, str]], code: str, lang: Lang) -> str:
    pair = table.get(code)
    return code if pair is None else pair[0 if lang is Lang.ZH else 1]


def outcome_label(code: str, lang: Lang) -> str:
    return _pick(OUTCOMES, code, lang)


def state_label(code: str, lang: Lang) -> str:
    return _pick(STATES, code, lang)


def stage_label(code: str, lang: Lang) -> str:
    return _pick(STAGES, code, lang)


def matched_by_label(code: str, lang: Lang) -> str:
    return _pick(MATCHED_BY, code, lang)


# --- the template's own words -------------------------------------------------------------------------------------

TEMPLATE_TEXTS: dict[str, tuple[str, str]] = {
    "sheet.orders": ("订单", "Orders"),
    "sheet.instructions": ("填写说明", "Instructions"),
    "intro": (
        "订单导入模板：每个商品一行。请填写“订单”工作表（本工作表不会被读取）。第 2 行是示例，导入前请删除。",
        "Order import template: one row per product line. Fill in the Orders sheet (this sheet is not read). "
        "Row 2 is an example: delete it before importing.",
    ),
    "table.column": ("列", "Column"),
    "table.other": ("英文表头", "Chinese header"),
    "table.required": ("必填", "Required"),
    "table.rule": ("规则", "Rule"),
    "table.example": ("示例", "Example"),
    "yes": ("是", "yes"),
    "required": ("必填。", "Required. "),
    "example": ("示例：", "Example: "),
    "rules": ("规则", "Rules"),
    "pick": (
        "请从列表中选择（中文、英文和别名都可以）。",
        "Pick a value from the list (Chinese aliases are accepted too).",
    ),
    "cut": ("…（已截断，原有 {count:,} 个字符）", "… (cut: {count:,} characters)"),  # a cell past a workbook cell
}


def template_text(key: str, lang: Lang) -> str:
    return _pick(TEMPLATE_TEXTS, key, lang)


_TIME_HINT_ZH = "文本 YYYY-MM-DD HH:MM:SS（或 YYYY/MM/DD HH:MM:SS）或日期时间单元格，按导入的时区理解。"
_MONEY_HINT_ZH = "不小于 0 的数字，最多 2 位小数；可带 ¥ 和千位分隔符。"
_MOBILE_HINT_ZH = "中国大陆手机号（13-19 开头的 11 位数字）；空格、短横线和 +86 会被去掉。"
HINTS_ZH: dict[str, str] = {
    "order_no": "订单编号相同的行组成一个订单。",
    "source": "列表中的平台之一。",
    "status": "列表中的状态之一，或各平台导出文件中的订单状态原文（见说明）。",
    "order_time": _TIME_HINT_ZH,
    "payment_time": _TIME_HINT_ZH,
    "store_no": "店铺编号和店铺ID至少填写一项。",
    "store_id": "店铺编号和店铺ID至少填写一项。",
    "store_name": "用于报表显示。",
    "product_id": "平台商品ID。",
    "sku": "每个商品ID + SKU 一行。",
    "product_name": "用于报表显示。",
    "quantity": "1 到 1,000,000 的整数。",
    "unit_price": _MONEY_HINT_ZH,
    "line_amount": _MONEY_HINT_ZH,
    "order_amount": _MONEY_HINT_ZH,
    "paid_amount": _MONEY_HINT_ZH,
    "buyer_sobot_id": "买家在智齿的客户ID。",
    "buyer_mobile": _MOBILE_HINT_ZH,
    "buyer_unionid": "微信 unionid。",
    "buyer_nickname": "买家在平台上的昵称。",
    "receiver_name": "",
    "receiver_mobile": "规则同买家手机号；无效的号码按文本保留并给出警告。",
    "receiver_address": "",
    "remark": "",
}
# The example row in Chinese; the other columns keep the template's example (identifiers, numbers, times).
EXAMPLES_ZH: dict[str, str] = {
    "store_name": "旗舰店",
    "product_name": "T恤",
    "buyer_nickname": "莉莉",
    "receiver_name": "李丽",
    "receiver_address": "上海市南京路1号",
}
RULES_ZH: tuple[str, ...] = (
    "读取第一个表头含“订单编号”的可见工作表，没有则读取第一个有数据的可见工作表（隐藏和深度隐藏的工作表会被跳过），"
    "或上传时指定的工作表（隐藏的也可以）；第一个非空行是表头。"
    "CSV 文件没有工作表：指定工作表会报错。",
    "表头可以是中文或英文，顺序不限；忽略大小写、空格和末尾的 *。未知的列会被忽略，并给出一条警告。",
    "标有 * 的列必填，单元格不能为空。",
    "每次导入最多 5,000 行数据（可配置）；完全空白的行会被跳过。",
    "订单编号相同的行组成一个订单；它们的订单来源、订单状态、下单和付款时间、店铺编号/ID、买家标识、订单金额和"
    "实付金额必须一致"
    "（以该订单的第一行为准）。这些字段也可以只填一次：留空的单元格取该订单其他行的值（如只在订单第一行填写的导出文件）。",
    f"一个订单在一个文件中最多 {bounds.MAX_LINES_PER_ORDER} 行；超过时该订单的每一行都报错。",
    "同一文件中相同的 订单编号 + 商品ID + SKU 出现两次时，第二行报错。",
    "店铺编号和店铺ID不能都为空。",
    "买家客户ID、买家手机号、买家微信UnionID 和买家昵称不能全部为空。占位手机号（全 0、13800000000、12345678901"
    "）视为空，并给出警告。",
    "时间按导入的时区理解（默认 Asia/Shanghai），作为时刻必须在 2000-01-01 到 2099-12-31（UTC）之间。付款时间早"
    "于下单时间时给出警告。只接受以下格式（年份总在前）：2026-11-30 14:00:00 或 2026/11/30 14:00:00；不带秒"
    "（2026/11/30 14:00）；带小数秒（2026-11-30 14:00:00.000）；12 小时制（2026/11/30 下午 2:00、2026-11-30 2:00 PM）；"
    "一位数的月、日或小时（2026/11/3 9:05:00）；只有日期（2026-11-30，按 00:00）；ISO 8601"
    "（2026-11-30T14:00:00+08:00：其偏移优先于导入的时区，二者不同时给出警告）；2026年11月30日 14:00；Excel 或"
    " WPS 的日期和日期时间单元格。年份在最后的日期（30/11/2026、11/03/2026）会报错：无法分辨日和月。",
    "金额：超过 2 位小数会报错，除非是浮点误差（与整分相差在 1e-9 或数值的 1e-14 以内），此时四舍五入。商品金额"
    "不等于 数量 x 单价 时给出警告。"
    f"每个金额、数量 x 单价以及一个订单所有行的合计都不超过 {bounds.MAX_MONEY:,}。",
    "编号列（订单编号、店铺编号/ID、商品ID、SKU、买家客户ID、UnionID）中的数字单元格，只有在是最多 15 位的整数"
    "时才接受（12345.0 -> 12345）："
    "数字单元格只保留 15 位有效数字，因此更长的编号（18-19 位的淘宝或京东订单号）或带小数的会报错。请把编号列设"
    "为文本格式。"
    "用科学计数法（1.23E+11）输入的编号会报错，因为数字已经丢失。"
    "编号含有不可见字符（零宽空格、方向标记、BOM 等，多为从网页或聊天中复制带入）时会报错并指出该字符，因为它与"
    "不含该字符的同一编号无法匹配。",
    "单元格不能含有 NUL、除制表符和换行以外的控制字符，或 U+FFFE/U+FFFF（包括写成 _x0000_ 转义或在 UTF-16 CSV "
    "中）：该行报错，"
    "结果工作簿中这些字符显示为 U+FFFD。表头单元格含有这些字符时整个文件被拒绝。",
    "合并单元格按其左上角的值向下填充。",
    "部分导入模式导入有效的订单，暂缓每个含错误行的订单；严格模式下只要有一行错误就什么都不导入：拒绝信息列出"
    "前 200 个错误并给出错误总数，该导入记录为失败，并可下载结果工作簿（含全部错误）和待修正行工作簿。",
    "订单状态也可以直接使用各平台导出文件中的写法（逗号全角半角均可）："
    + "；".join(
        f"{entry.phrase} = {STATUS_ALIASES[entry.status][0]}"
        f"（{'、'.join(SOURCE_ALIASES[platform][0] for platform in entry.platforms)}）"
        for entry in PLATFORM_STATUSES
    )
    + "。",
    "工作簿可以是 .xlsx、.xlsm 或旧版 .xls（Excel 97-2003）；也可以读取 CSV 文件。模板的示例行（每一列都是示例值，"
    "订单编号 E20220914001）如果没有删除，会被跳过并给出警告。",
)


def column_hint(column: Column, lang: Lang) -> str:
    return HINTS_ZH.get(column.key, column.hint) if lang is Lang.ZH else column.hint


def column_example(column: Column, lang: Lang) -> str:
    """The example row's cell in `lang` (statuses and sources as that language's drop-down names them)."""
    if lang is Lang.EN:
        return column.example
    if column.key == "source":
        return source_label(OrderSource(_index_of(column.example, SOURCE_LABELS)), lang)
    if column.key == "status":
        return status_label(OrderStatus(_index_of(column.example, STATUS_LABELS)), lang)
    return EXAMPLES_ZH.get(column.key, column.example)


def _index_of(label: str, labels: Mapping[OrderSource, str] | Mapping[OrderStatus, str]) -> str:
    return next(member.value for member, text in labels.items() if text == label)


def _allowed_values(column: Column, lang: Lang) -> str:
    if column.kind.value == "source":
        return "、".join(source_label(s, lang) for s in OrderSource) if lang is Lang.ZH else ""
    if column.kind.value == "status":
        return "、".join(status_label(s, lang) for s in OrderStatus) if lang is Lang.ZH else ""
    return ""


def column_rule_zh(column: Column) -> str:
    """The Chinese rule of one column: hint, length limit and allowed values."""
    parts = [column_hint(column, Lang.ZH)] if column_hint(column, Lang.ZH) else []
    if column.max_length is not None:
        parts.append(f"最多 {column.max_length} 个字符。")
    allowed = _allowed_values(column, Lang.ZH)
    if allowed:
        parts.append(f"可选值：{allowed}（英文名称和别名也可以）。")
    return "".join(parts)


def rules(lang: Lang) -> tuple[str, ...]:
    return RULES_ZH if lang is Lang.ZH else RULES


# --- messages -----------------------------------------------------------------------------------------------------

# A cell problem in Chinese: (problem, expected), by code. `{n}`/`{m}` are figures taken from the English text.
_CELL_ZH: dict[str, tuple[str, str]] = {
    issues.TOO_LONG: ("长度为 {n} 个字符", "最多 {m} 个字符"),
    issues.SCIENTIFIC_NOTATION: ("是科学计数法，数字已经丢失", "完整的编号（先把该列设为文本格式，再输入或粘贴）"),
    issues.ERROR_CELL: ("是表格的错误值（公式无法计算）", "值本身（修正公式，或只粘贴数值）"),
    issues.INEXACT_NUMBER: (
        "是数字单元格，而数字单元格只能精确保存最多 15 位的整数编号",
        "文本形式的编号（把该列设为文本格式，然后重新输入或粘贴编号）",
    ),
    issues.INVALID_CHARACTER: ("含有控制字符或无效字符", "不含控制字符的文本（删除这些字符或重新输入该单元格）"),
    issues.DOT_SEGMENT: ("是“.”或“..”，任何网址都无法表示它", "含有其他字符的订单编号"),
    issues.INVISIBLE_CHARACTER: (
        "在第 {n} 个字符处含有不可见字符 {char}（多为从网页或聊天中复制带入），与不含它的同一编号无法匹配",
        "不含该字符的编号（删除该字符，或重新输入编号）",
    ),
    issues.INVALID_SOURCE: (
        "不是支持的订单来源",
        "以下之一：" + "、".join(SOURCE_ALIASES[s][0] for s in OrderSource) + "（不支持其他来源）",
    ),
    issues.INVALID_STATUS: (
        "不是已知的订单状态",
        "以下之一："
        + "、".join(STATUS_ALIASES[s][0] for s in OrderStatus)
        + "；也可以使用各平台导出的状态原文，如 "
        + "、".join(EXAMPLE_PHRASES),
    ),
    issues.INVALID_TIME: ("不是有效的日期时间", "日期时间，如 2022-09-14 11:03:23（格式见模板说明），或日期时间单元格"),
    issues.TIME_OUT_OF_RANGE: ("超出支持的范围", "导入时区内 2000-01-01 至 2099-12-31 之间的时间"),
    issues.INVALID_NUMBER: ("不是数字", "{number}"),
    issues.NEGATIVE_AMOUNT: ("是负数", "{number}"),
    issues.TOO_MANY_DECIMALS: ("小数超过 2 位", "{number}"),
    issues.TOO_LARGE: ("太大", "{number}"),
    issues.NOT_INTEGER: ("不是整数", "{number}"),
    issues.NOT_POSITIVE: ("不是正数", "{number}"),
    issues.INVALID_MOBILE: ("不是有效的中国大陆手机号", "11 位数字，如 13912345678"),
    issues.AMBIGUOUS_DATE: (
        "把年份写在最后，无法分辨日和月（03/11 可能是 11 月 3 日或 3 月 11 日）",
        "年份在前，如 2022-09-14 11:03:23",
    ),
}
_QUANTITY_ZH = "1 到 1,000,000 之间的整数"
_MONEY_ZH = f"不小于 0、最多 2 位小数、不超过 {bounds.MAX_MONEY:,} 的金额，如 1299.00 或 ¥1,299.00"
_CELL_EN = re.compile(r'Row (?P<row>\d+), column "(?P<column>.*?)": "(?P<value>.*)" (?P<problem>.*?); expected ', re.S)
_FIGURES = re.compile(r"\d[\d,.]*")


def _figures(text: str) -> list[str]:
    return [f.rstrip(".,") for f in _FIGURES.findall(text)]


def _two(text: str) -> list[str]:
    """The first two figures of `text` ("?" for a missing one)."""
    return [*_figures(text), "?", "?"][:2]


def _cell_zh(code: str, row: int | None, column: str | None, value: str | None, message: str) -> str:
    problem, expected = _CELL_ZH[code]
    if code == issues.TOO_LONG:
        n, m = _match(r"is ([\d,]+) characters long; expected at most ([\d,]+) characters", message) or ("?", "?")
        problem, expected = problem.format(n=n), expected.format(m=m)
    if code == issues.INVISIBLE_CHARACTER:
        char, n = _match(r"invisible character (U\+[0-9A-F]+) at position (\d+)", message) or ("?", "?")
        problem = problem.format(n=n, char=char)
    if expected == "{number}":
        expected = _QUANTITY_ZH if "whole number" in message.rsplit("expected", 1)[-1] else _MONEY_ZH
    shown = value if value is not None and len(value) <= 60 else (value or "")[:60] + "…"
    text = f"“{shown}”{problem}；应为{expected}。"
    if message.endswith("it is kept as text."):
        text = text[:-1] + "；按文本保留。"
    return f"第 {row} 行，“{column}”列：{text}" if row is not None else f"“{column}”列：{text}"


def _match(pattern: str, message: str) -> tuple[str, ...]:
    found = re.search(pattern, message, re.S)
    return found.groups() if found else ()


def _listed(columns: str | None) -> str:
    return (columns or "").replace(", ", "、")


def _row_prefix(row: int | None) -> str:
    return f"第 {row} 行" if row is not None else "文件"


def _payment_before_order(row: int | None, column: str | None, value: str | None, message: str) -> str:
    times = [*re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", message), "?", "?"]
    return f"{_row_prefix(row)}：付款时间 {times[0]} 早于下单时间 {times[1]}。"


def _line_amount(row: int | None, column: str | None, value: str | None, message: str) -> str:
    total = (_match(r"Unit Price = (\S+?);", message) or ("?",))[0]
    return f"{_row_prefix(row)}，“{column}”列：“{value}”与 数量 x 单价 = {total} 不一致；按填写的金额保留。"


def _inconsistent(row: int | None, column: str | None, value: str | None, message: str) -> str:
    found = _match(r'differs from "(.*)" on row (\d+), the first row of order "(.*)"; all rows', message)
    if not found:
        return f"{_row_prefix(row)}，“{column}”列：“{value}”与该订单第一行的值不同；同一订单的所有行必须一致。"
    expected, first, order_no = found
    return (
        f"{_row_prefix(row)}，“{column}”列：“{value}”与订单“{order_no}”的第一行（第 {first} 行）的“{expected}”不同；"
        "同一订单的所有行必须一致。"
    )


def _duplicate_line(row: int | None, column: str | None, value: str | None, message: str) -> str:
    found = _match(r'SKU "(.*)" of order "(.*)" is already on row (\d+);', message)
    sku, order_no, seen = found or ("?", "?", "?")
    return (
        f"{_row_prefix(row)}，“{column}”列：订单“{order_no}”的商品“{value}” SKU “{sku}”已在第 {seen} 行出现；"
        "每个订单中 商品ID + SKU 只能出现一次。"
    )


def _too_many_lines(row: int | None, column: str | None, value: str | None, message: str) -> str:
    count = (_match(r"has ([\d,]+) lines", message) or ("?",))[0]
    return (
        f"{_row_prefix(row)}：订单“{value}”在此文件中有 {count} 行；每个订单最多 {bounds.MAX_LINES_PER_ORDER} 行"
        "（一个订单作为一条消息发送）。"
    )


_ROW_ZH: dict[str, Callable[[int | None, str | None, str | None, str], str]] = {
    issues.BLANK_REQUIRED: lambda r, c, v, m: f"{_row_prefix(r)}，“{c}”列：单元格为空；此列必填。",
    issues.PLACEHOLDER_MOBILE: lambda r, c, v, m: f"{_row_prefix(r)}，“{c}”列：“{v}”是占位手机号，已忽略。",
    issues.MASKED_MOBILE: lambda r, c, v, m: (
        f"{_row_prefix(r)}，“{c}”列：“{v}”是平台隐藏了部分数字的手机号，无法识别买家，已忽略。"
    ),
    issues.STORE_MISSING: lambda r, c, v, m: f"{_row_prefix(r)}：{_listed(c)} 都为空；至少填写其中一项。",
    issues.BUYER_MISSING: lambda r, c, v, m: (
        f"{_row_prefix(r)}：{_listed(c)} 全部为空（占位手机号视为空）；至少填写其中一项。"
    ),
    issues.TOTAL_TOO_LARGE: lambda r, c, v, m: (
        f"{_row_prefix(r)}：数量 x 单价 = {v} 太大；每行合计最多 {bounds.MAX_MONEY:,}。"
    ),
    issues.UNKNOWN_COLUMN: lambda r, c, v, m: f"“{c}”列不是模板中的列，已忽略。",
    issues.TIME_OFFSET_USED: lambda r, c, v, m: (
        f"{_row_prefix(r)}，“{c}”列：{v} 带有自己的 UTC 偏移，按该偏移读取，而不是按导入的时区。"
    ),
    issues.EXAMPLE_ROW: lambda r, c, v, m: f"{_row_prefix(r)}是模板的示例行（订单编号“{v}”），已跳过，未导入。",
    issues.REPEATED_HEADER: lambda r, c, v, m: f"{_row_prefix(r)}重复了表头（几个文件拼接在一起？），已跳过，未导入。",
    issues.TOTAL_ROW: lambda r, c, v, m: f"{_row_prefix(r)}是合计行（“{v}”），已跳过，未导入。",
    issues.HIDDEN_SHEET_SKIPPED: lambda r, c, v, m: f"工作表“{v}”是隐藏的，已跳过；上传时指定该工作表名称即可导入它。",
    issues.PAYMENT_BEFORE_ORDER: _payment_before_order,
    issues.LINE_AMOUNT_MISMATCH: _line_amount,
    issues.INCONSISTENT_ORDER: _inconsistent,
    issues.DUPLICATE_LINE: _duplicate_line,
    issues.TOO_MANY_LINES: _too_many_lines,
    issues.TOO_MANY_CELLS: lambda r, c, v, m: (
        "{}：有 {} 个单元格，比表头多：“{}”在最后一列之后。含有分隔符（逗号）的单元格必须加引号，否则它会被拆开，"
        "其后的每个单元格都右移一列；请给它加上引号，或在 Excel / WPS 中重新另存为 CSV。".format(
            _row_prefix(r), *_match(r"has (\d+) cells", m) or ("?",), v
        )
    ),
}
TRANSLATED_ISSUE_CODES = frozenset(_CELL_ZH) | frozenset(_ROW_ZH) | {issues.INVALID_RECEIVER_MOBILE}


def issue_message(code: str, row: int | None, column: str | None, value: str | None, message: str, lang: Lang) -> str:
    """A row issue's message in `lang`: the parser's English text, or its Chinese from the code and the figures."""
    if lang is Lang.EN or code not in TRANSLATED_ISSUE_CODES:
        return message
    if code in _ROW_ZH:
        return _ROW_ZH[code](row, column, value, message)
    if code == issues.INVALID_RECEIVER_MOBILE:
        return _cell_zh(issues.INVALID_MOBILE, row, column, value, message)
    cell = _CELL_EN.fullmatch(message)
    if cell is not None and value is None:
        value = cell["value"]
    return _cell_zh(code, row, column, value, message)


def issue_out(issue: Mapping[str, object], lang: Lang) -> dict[str, object]:
    """A stored issue (`row`, `column`, `code`, `message`, `value`) with its message in `lang`."""
    row, column, value = issue.get("row"), issue.get("column"), issue.get("value")
    message = issue_message(
        str(issue.get("code")),
        row if isinstance(row, int) else None,
        None if column is None else str(column),
        None if value is None else str(value),
        str(issue.get("message", "")),
        lang,
    )
    return {**issue, "message": message}


def _zh_columns(names: str) -> str:
    """English column names (as the parser lists them) in Chinese."""
    found = [COLUMNS_BY_KEY.get(HEADER_INDEX.get(header_key(n), ""), None) for n in names.split(", ")]
    if not all(found):
        return names
    return "、".join(c.chinese for c in found if c is not None)


_KINDS_ZH = {
    "an Excel binary workbook (.xlsb)": "Excel 二进制工作簿（.xlsb）",
    "an OpenDocument spreadsheet (.ods)": "OpenDocument 电子表格（.ods）",
    "a zip archive, not an Excel workbook": "zip 压缩包，不是 Excel 工作簿",
    "a web page (HTML) with an Excel file name": "网页（HTML），只是文件名像 Excel 文件（网页后台“导出 Excel”常见）",
    "an XML Spreadsheet 2003 with an Excel file name": "XML 电子表格 2003，只是文件名像 Excel 文件",
}
# Each refusal of `unsupported_format` as the reader words it (the row it names kept): the one Chinese sentence
# for all of them dropped the row of an unclosed quote and told a binary file to pair its quotes.
_UNSUPPORTED_ZH: tuple[tuple[str, Callable[[tuple[str, ...]], str]], ...] = (
    (
        r"^Row ([\d,]+): a quote \(\"\) opens a cell that is never closed",
        lambda g: (
            f'第 {g[0]} 行：引号（"）开始的单元格没有闭合，其下的每一行都会被读成这一个单元格。请补上闭合的'
            '引号；单元格内的引号请写成两个引号（""）。'
        ),
    ),
    (
        r"^Row ([\d,]+): a quoted cell goes on after its closing quote",
        lambda g: (
            f'第 {g[0]} 行：带引号的单元格在闭合引号之后还有内容；单元格内的引号请写成两个引号（""），'
            "然后重新另存为 CSV。"
        ),
    ),
    (
        r"^The CSV file has a cell longer than ([\d,]+) characters",
        lambda g: f"CSV 文件中有超过 {g[0]} 个字符的单元格；没有哪一列接受这么长的内容。",
    ),
    (r"^The file is binary", lambda g: "文件是二进制文件，不是 CSV 文本：请上传 .xlsx 工作簿或 CSV 文件。"),
    (
        r"^The file is (.+); save it as \.xlsx or CSV\.$",
        lambda g: f"文件是{_KINDS_ZH.get(g[0], g[0])}：请另存为 .xlsx 或 CSV。",
    ),
    (r"^(.*) is not a spreadsheet;", lambda g: f"{g[0]} 不是电子表格：请上传 .xlsx 工作簿或 CSV 文件。"),
)


def _unsupported_zh(message: str) -> str:
    for pattern, zh in _UNSUPPORTED_ZH:
        found = re.search(pattern, message, re.S)
        if found is not None:
            return zh(found.groups())
    return "无法读取该文件：请上传 .xlsx 工作簿或 CSV 文件（CSV 的引号须成对）。"


_FAR_COLUMN = r'^Sheet "(.*)" uses column ([A-Z]+) \(column ([\d,]+)\); at most ([\d,]+) columns \(A to ([A-Z]+)\)'
_WIDE_HEADER = (
    r'^(?:Sheet "(.*)": the header|The header) has ([\d,]+) columns \(A to ([A-Z]+)\); '
    r"at most ([\d,]+) columns \(A to ([A-Z]+)\)"
)


def _too_many_columns_zh(message: str) -> str:
    far = _match(_FAR_COLUMN, message)
    if far:
        return "工作表“{}”用到 {} 列（第 {} 列）；最多接受 {} 列（A 到 {} 列）。".format(*far)
    wide = _match(_WIDE_HEADER, message)
    if wide:
        sheet, *figures = wide
        where = f"工作表“{sheet}”的表头" if sheet is not None else "表头"
        return where + "有 {} 列（A 到 {} 列）；最多接受 {} 列（A 到 {} 列）。请删除不需要的列。".format(*figures)
    return "表头有 {} 列；最多接受 {} 列。".format(*_two(message))


_INVALID_HEADER = (
    r'^The header cell of column (\d+) \(row (\d+)\), "(.*)", contains the control or invalid character '
    r"(U\+[0-9A-F]+) at position (\d+); retype the header\.$"
)


_TOO_COMPLEX_ZH = (
    (r"not read within ([\d.]+) seconds", "{} 秒内未能读完"),
    (r"more than ([\d,]+) MB of memory", "读取需要超过 {} MB 内存"),
    (r"the reader stopped", "读取程序在该文件上中止"),
    (
        r'sheet "(.*)" repeats its shared texts into ([\d,]+) bytes, more than ([\d,]+)',
        "工作表“{}”的共享文本复制到各单元格后共 {} 字节，超过上限 {} 字节（一段长文本被复制到很多单元格）",
    ),
)


def _too_complex_zh(message: str) -> str:
    cause = next((zh.format(*found.groups()) for en, zh in _TOO_COMPLEX_ZH if (found := re.search(en, message))), None)
    why = f"（{cause}）" if cause else ""
    return f"文件过于复杂或已损坏，无法读取{why}：请在 Excel 或 WPS 中打开，另存为 .xlsx 或导出为 CSV 后再上传。"


_WITHOUT_ROWS_ZH = (("is a chart sheet", "是图表工作表"), ("is empty", "是空的"), ("is no worksheet", "不是工作表"))


def _sheets_without_rows_zh(listed: str) -> str:
    """`"Sheet1" is empty, "图表1" is a chart sheet` (the reader's list of sheets without rows) in Chinese."""
    found = re.findall(r'"(.*?)" (is a chart sheet|is empty|is no worksheet)(?:, |$)', listed)
    words = dict(_WITHOUT_ROWS_ZH)
    return "，".join(f"“{name}”{words[why]}" for name, why in found) or listed


_FILE_ZH: dict[str, Callable[[str], str]] = {
    issues.FILE_TOO_LARGE: lambda m: (
        "文件大小为 {} MB；每次最多接受 {} MB。请拆分文件后分别上传。".format(*sizes)
        if (sizes := _match(r"^The file is ([\d.]+) MB; at most ([\d.]+) MB", m))
        else "文件超过 {} MB（每次上传的上限）：请拆分文件后分别上传。".format(*_two(m))
    ),
    issues.EMPTY_FILE: lambda m: "文件是空的（或只有空行）。",
    issues.UNSUPPORTED_FORMAT: lambda m: _unsupported_zh(m),
    issues.ENCRYPTED_OR_LEGACY: lambda m: "工作簿有密码保护，或是无法读取的旧版 .xls：请去掉密码，或另存为 .xlsx。",
    issues.CORRUPT_WORKBOOK: lambda m: "工作簿已损坏或无法读取：请在 Excel 中打开并另存为 .xlsx 后再上传。",
    issues.ARCHIVE_TOO_LARGE: lambda m: "工作簿被拒绝：解压后过大（可能是压缩炸弹）。",
    issues.UNSAFE_XML: lambda m: "工作簿含有不接受的 XML 内容：请在 Excel 中另存为 .xlsx 后再上传。",
    issues.UNDECODABLE_TEXT: lambda m: "文件既不是 UTF-8 也不是 GB18030 文本：请另存为“CSV UTF-8”。",
    issues.SHEET_NOT_FOUND: lambda m: (
        "没有工作表“{}”；现有的工作表：{}。".format(*_match(r'no sheet "(.*)"; the sheets are (.*)\.$', m))
        if _match(r'no sheet "(.*)"; the sheets are (.*)\.$', m)
        else "找不到指定的工作表（CSV 文件没有工作表：请把工作表一栏留空）。"
    ),
    issues.EMPTY_WORKBOOK: lambda m: (
        f"工作簿中没有含数据行的工作表：{_sheets_without_rows_zh(listed[0])}。"
        if (listed := _match(r"^The workbook has no sheet with rows: (.*)\.$", m))
        else "工作簿中没有含数据的可见工作表（隐藏的工作表会被跳过：请取消隐藏，或在上传时指定工作表）。"
    ),
    issues.MISSING_COLUMNS: lambda m: (
        f"表头（第 {m1[0]} 行）缺少必填列：{_zh_columns(m1[1])}。"
        if (m1 := _match(r"\(row (\d+)\): (.*)\.$", m))
        else "表头缺少必填列。"
    ),
    issues.DUPLICATE_COLUMNS: lambda m: "表头中有重复的列：{}。".format(m.split(": ", 1)[-1].rstrip(".")),
    issues.TOO_MANY_COLUMNS: lambda m: _too_many_columns_zh(m),
    issues.TOO_MANY_ROWS: lambda m: (
        "{}延伸到第 {} 行；每次导入最多 {} 行数据（请删除数据下方的行和格式）。".format(
            "文件" if far[0] is None else f"工作表“{far[0]}”", *far[1:]
        )
        if (far := _match(r'^(?:Sheet "(.*)"|The file) reaches row ([\d,]+); at most ([\d,]+)', m))
        else "文件有 {} 行数据；每次导入最多 {} 行。请拆分文件。".format(*_two(m))
    ),
    issues.NO_DATA_ROWS: lambda m: (
        f"工作表{_sheets_without_rows_zh(sheet[0])}，没有任何行：请指定存放订单的工作表，或把工作表一栏留空。"
        if (sheet := _match(r"^Sheet (.*): it has no rows\.", m))
        else "文件（或工作表）只有表头，没有数据行。"
    ),
    issues.UNKNOWN_TIMEZONE: lambda m: "时区无效：应为 IANA 时区名称，如 Asia/Shanghai。",
    issues.STRICT_MODE_REJECTED: lambda m: "严格模式：{} 行共有 {} 个错误；未导入任何内容。".format(*_two(m)),
    issues.INVALID_HEADER: lambda m: (
        "表头（第 {1} 行）第 {0} 列的单元格“{2}”含有控制字符或无效字符 {3}（第 {4} 个字符）：请重新输入表头。".format(
            *cell
        )
        if (cell := _match(_INVALID_HEADER, m))
        else "表头单元格含有控制字符或无效字符：请重新输入表头。"
    ),
    issues.WORKBOOK_TOO_COMPLEX: lambda m: _too_complex_zh(m),
    issues.ORDER_TOO_LARGE: lambda m: f"有订单生成的消息过大：请拆分该订单或缩短其文字。未导入任何内容。（{m}）",
}
TRANSLATED_FILE_CODES = frozenset(_FILE_ZH)


def file_message(code: str, message: str, lang: Lang) -> str:
    """A whole-file refusal in `lang` (the English text as the parser wrote it, or its Chinese by code)."""
    if lang is Lang.EN or code not in _FILE_ZH:
        return message
    return _FILE_ZH[code](message)


_DETAIL_ZH: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"(\d+) line\(s\) added, (\d+) updated"), lambda m: f"新增 {m[1]} 行，更新 {m[2]} 行"),
    (re.compile(r"(\d+) line\(s\)"), lambda m: f"{m[1]} 个商品行"),
    (
        re.compile(r"status (\w+) is older than the stored (\w+): not applied"),
        lambda m: (
            f"状态“{value_label(OrderStatus, m[1], Lang.ZH)}”比已存储的"
            f"“{value_label(OrderStatus, m[2], Lang.ZH)}”旧：未采用"
        ),
    ),
    (re.compile(r"ambiguous_sku: (.*)", re.S), lambda m: f"未采用：无 SKU 的商品行对应多个已存储的 SKU（{m[1]}）"),
    (
        re.compile(r"too_many_lines: (.*)", re.S),
        lambda m: f"未采用：合并后商品行超过 {bounds.MAX_LINES_PER_ORDER} 行（{m[1]}）",
    ),
    (re.compile(r"total_too_large: (.*)", re.S), lambda m: f"未采用：合并后金额超过上限（{m[1]}）"),
    (re.compile(r"(\w+): (.*)", re.S), lambda m: f"原因 {m[1]}：{m[2]}"),
)


def outcome_detail(detail: str, lang: Lang) -> str:
    """The detail of an order's outcome (from the consumer) in `lang`; unknown forms stay as written."""
    if lang is Lang.EN or not detail:
        return detail
    for pattern, zh in _DETAIL_ZH:
        found = pattern.fullmatch(detail)
        if found is not None:
            return zh(found)
    return detail


def render_vocabulary_markdown() -> str:
    """The words of both languages as Markdown tables (docs/importing.md embeds them; a test fails on drift)."""
    rows = [
        "| Status code | 中文 | English | Also accepted |",
        "|---|---|---|---|",
        *(
            f"| `{s.value}` | {status_label(s, Lang.ZH)} | {status_label(s, Lang.EN)} | "
            f"{', '.join(STATUS_ALIASES[s][1:]) or ''} |"
            for s in OrderStatus
        ),
        "",
        "| Platform status (as exported) | Reads as | 中文 | English | Platforms |",
        "|---|---|---|---|---|",
        *(
            f"| {entry.phrase} | `{entry.status.value}` | {status_label(entry.status, Lang.ZH)} | "
            f"{status_label(entry.status, Lang.EN)} | {', '.join(source_label(p, Lang.EN) for p in entry.platforms)} |"
            for entry in PLATFORM_STATUSES
        ),
        "",
        "| Source code | 中文 | English | Also accepted |",
        "|---|---|---|---|",
        *(
            f"| `{s.value}` | {source_label(s, Lang.ZH)} | {source_label(s, Lang.EN)} | "
            f"{', '.join(SOURCE_ALIASES[s][1:]) or ''} |"
            for s in OrderSource
        ),
        "",
        "| Outcome code | 中文 | English |",
        "|---|---|---|",
        *(f"| `{code}` | {zh} | {en} |" for code, (zh, en) in OUTCOMES.items()),
        "",
        "| Import state | 中文 | English |",
        "|---|---|---|",
        *(f"| `{code}` | {zh} | {en} |" for code, (zh, en) in STATES.items()),
    ]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # the block between the markers of docs/importing.md
    print(render_vocabulary_markdown(), end="")


# A whole request refused because too many reads of the dead-letter topic are running (the admin API's).
_LETTER_READS_BUSY = {
    "too_many_tenant_dead_letter_reads": (
        "本租户已有 {n} 个死信查询或重放正在进行：请在 {s} 秒后重试。",
        "this tenant already has {n} dead-letter listings or replays running: try again in {s} s",
    ),
    "too_many_dead_letter_reads": (
        "服务器已有 {n} 个死信查询或重放正在进行：请在 {s} 秒后重试。",
        "{n} dead-letter listings or replays are running on this server: try again in {s} s",
    ),
}


def letter_reads_busy(code: str, running: int, retry_after_s: int, lang: Lang) -> str:
    """Why a dead-letter listing or replay was refused (`code`: a `_LETTER_READS_BUSY` key), in `lang`."""
    return _pick(_LETTER_READS_BUSY, code, lang).format(n=running, s=retry_after_s)
