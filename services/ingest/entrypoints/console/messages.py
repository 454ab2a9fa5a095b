"""Every text of the console, in Chinese (the default) and English, in one place. Templates call `t(key)`.

Order statuses and sources take their labels from the import template's vocabulary (`domain.spreadsheet.template`),
so the console names them exactly as the files and filters do.
"""

from __future__ import annotations

from enum import StrEnum

from services.core.order import OrderSource, OrderStatus
from services.ingest.domain import language
from services.ingest.domain.language import Lang

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

TEXTS: dict[str, tuple[str, str]] = {
    "app": ("订单信息 控制台", "Order Info console"),
    "nav.orders": ("订单", "Orders"),
    "nav.imports": ("导入", "Imports"),
    "nav.customers": ("客户", "Customers"),
    "nav.pipeline": ("数据管道", "Pipeline"),
    "nav.docs": ("API 文档", "API docs"),
    "nav.signout": ("退出登录", "Sign out"),
    "nav.switch": ("English", "中文"),
    "nav.tenant": ("租户", "Tenant"),
    "nav.skip": ("跳到正文", "Skip to content"),
    "signin.title": ("登录", "Sign in"),
    "signin.key": ("租户 API 密钥", "Tenant API key"),
    "signin.hint": (
        "密钥以 oik_ 开头，创建租户时显示一次。",
        "The key starts with oik_ and is shown once when the tenant is created.",
    ),
    "signin.submit": ("登录", "Sign in"),
    "signin.ended": (
        "登录已结束（超过 8 小时、已在别处退出，或密钥已被撤销），请重新登录。",
        "Your session has ended (8 hours passed, you signed out elsewhere, or the key was revoked): sign in again.",
    ),
    "signin.wrong": ("API 密钥无效。", "This API key is not valid."),
    "signin.no_read": (
        "此 API 密钥有效，但没有读取权限（read 范围），不能登录控制台：请用有读取权限的密钥，或请管理员创建一个。",
        "This API key works but may not read (it lacks the read scope), which the console needs: use a key with "
        "the read scope, or ask an admin to create one.",
    ),
    "error.csrf": ("表单已过期，请重试。", "The form has expired; please try again."),
    "error.not_found": ("未找到", "Not found"),
    "error.not_found.detail": (
        "没有这个记录，或它不属于当前租户。",
        "There is no such record, or it belongs to another tenant.",
    ),
    "error.method": (
        "此地址不接受这种请求方式：请使用页面上的按钮或链接。",
        "This address does not take this kind of request: use the page's buttons and links.",
    ),
    "error.bad_request": (
        "无法读取提交的内容：请返回页面重新提交表单。",
        "What was sent could not be read: go back to the page and submit the form again.",
    ),
    "error.unexpected": (
        "出错了：页面未能完成，已记录到服务器日志。请稍后重试；若一再出现，请联系管理员。",
        "Something went wrong: the page could not be completed and the server log has the details. Try again "
        "later; if it keeps happening, tell your administrator.",
    ),
    "error.back": ("返回", "Back"),
    "orders.title": ("订单列表", "Orders"),
    "orders.order_no": ("订单号", "Order no."),
    "orders.prefix": ("订单号前缀", "Order no. prefix"),
    "orders.status": ("订单状态", "Status"),
    "orders.any": ("全部", "Any"),
    "orders.from": ("下单时间 从", "Ordered from"),
    "orders.to": ("下单时间 至（不含）", "Ordered before"),
    "orders.store": ("店铺编号或店铺 ID", "Store no. or ID"),
    "orders.source": ("订单来源", "Source"),
    "orders.customer": ("客户 ID", "Customer ID"),
    "orders.search": ("搜索", "Search"),
    "orders.reset": ("清除条件", "Clear"),
    "orders.bad.order_no": (
        "订单号最多 64 个字符，且不能含控制字符。",
        "An order no. has at most 64 characters and no control character.",
    ),
    "orders.bad.prefix": (
        "订单号前缀最多 64 个字符，且不能含控制字符。",
        "An order no. prefix has at most 64 characters and no control character.",
    ),
    "orders.bad.store": (
        "店铺编号或店铺 ID 最多 64 个字符，且不能含控制字符。",
        "A store no. or ID has at most 64 characters and no control character.",
    ),
    "orders.bad.status": ("订单状态无效。", "The status is not one of the list."),
    "orders.bad.source": ("订单来源无效。", "The source is not one of the list."),
    "orders.bad.from": (
        "“下单时间 从”不是有效的日期时间（例如 2026-11-30T14:00）。",
        "'Ordered from' is not a date and time (e.g. 2026-11-30T14:00).",
    ),
    "orders.bad.to": (
        "“下单时间 至”不是有效的日期时间（例如 2026-11-30T14:00）。",
        "'Ordered before' is not a date and time (e.g. 2026-11-30T14:00).",
    ),
    "orders.bad.range": (
        "“下单时间 至”早于“下单时间 从”：请交换两个时间。",
        "'Ordered before' is earlier than 'Ordered from': swap the two times.",
    ),
    "orders.bad.cursor": (
        "翻页链接已失效，请从第一页重新查看。",
        "This page link is no longer valid: start again from the first page.",
    ),
    "orders.bad.customer": (
        "客户 ID 应为 UUID，可从客户页面复制。",
        "The customer ID must be a UUID, as shown on the customer's page.",
    ),
    "orders.next": ("下一页", "Next page"),
    "orders.first": ("第一页", "First page"),
    "orders.none": ("没有符合条件的订单。", "No orders match."),
    "orders.shown": ("本页订单数", "Orders on this page"),
    "orders.count": ("符合条件的订单", "Matching orders"),
    "orders.count_capped": ("最多数到 10,000 条", "counted up to 10,000"),
    "orders.time": ("下单时间", "Order time"),
    "orders.paid_time": ("付款时间", "Payment time"),
    "orders.total": ("订单金额", "Total"),
    "orders.paid": ("实付金额", "Paid"),
    "orders.lines": ("商品行", "Lines"),
    "orders.zone": ("时间按北京时间（UTC+8）显示和输入。", "Times are shown and entered in China time (UTC+8)."),
    "order.title": ("订单", "Order"),
    "order.summary": ("概要", "Summary"),
    "order.amount": ("订单金额（文件给出）", "Order amount (as given)"),
    "order.remark": ("备注", "Remark"),
    "order.version": ("版本", "Version"),
    "order.product_id": ("商品 ID", "Product ID"),
    "order.sku": ("SKU", "SKU"),
    "order.product": ("商品名称", "Product"),
    "order.quantity": ("数量", "Quantity"),
    "order.unit_price": ("单价", "Unit price"),
    "order.line_amount": ("小计", "Line amount"),
    "order.customer": ("客户", "Customer"),
    "order.matched_by": ("匹配依据", "Matched by"),
    "order.timeline": ("状态时间线", "Status timeline"),
    "order.events": ("已产生的事件", "Events emitted"),
    "order.events_older": ("更早的事件（未显示，只显示最近 100 个）", "Older events (not shown: the latest 100 are)"),
    "order.event_type": ("事件类型", "Event type"),
    "order.created": ("产生时间", "Created"),
    "order.sent": ("发送时间", "Sent"),
    "order.unsent": ("待发送", "not sent yet"),
    "order.receiver": ("收货人", "Receiver"),
    "order.buyer": ("买家（文件给出）", "Buyer (as given)"),
    "customers.title": ("客户查询", "Customer lookup"),
    "customers.by": ("查询方式", "Look up by"),
    "customers.value": ("值", "Value"),
    "customers.find": ("查询", "Look up"),
    "customers.live": ("输入时即查询（停顿片刻后）。", "Results follow as you type (after a short pause)."),
    "customers.none": ("没有这个客户。", "No such customer."),
    "customers.bad.mobile": (
        "手机号无效：应为中国大陆手机号（13-19 开头的 11 位数字，如 13912345678）。",
        "The mobile is not a mainland mobile number: expected 11 digits like 13912345678.",
    ),
    "customers.bad.unionid": (
        "微信 UnionID 最多 64 个字符，且不能含控制字符。",
        "A WeChat UnionID has at most 64 characters and no control character.",
    ),
    "customers.bad.sobot_customer_id": (
        "智齿客户 ID 最多 64 个字符，且不能含控制字符。",
        "A Sobot customer ID has at most 64 characters and no control character.",
    ),
    "customer.title": ("客户", "Customer"),
    "customer.identifiers": ("标识", "Identifiers"),
    "customer.persona": ("消费画像", "Persona"),
    "customer.by_status": ("各状态订单数", "Orders by status"),
    "customer.top_products": ("常购商品", "Top products"),
    "customer.recent": ("最近订单", "Recent orders"),
    "customer.all_orders": ("该客户的全部订单", "All orders of this customer"),
    "customer.stage": ("生命周期阶段", "Lifecycle stage"),
    "customer.order_count": ("订单数", "Orders"),
    "customer.paid_count": ("已付款订单数", "Paid orders"),
    "customer.total_paid": ("累计实付", "Total paid"),
    "customer.aov": ("客单价", "Average order value"),
    "customer.last_order": ("最近下单", "Last order"),
    "customer.favourite_store": ("最常光顾店铺", "Favourite store"),
    "imports.title": ("订单导入", "Order imports"),
    "imports.template": ("下载导入模板", "Download the template"),
    "imports.template.zh": ("中文模板", "Chinese template (中文)"),
    "imports.template.en": ("英文模板（English）", "English template"),
    "imports.file": (
        "导入文件（.xlsx、.xls、.csv 或 Unicode 文本 .txt）",
        "Import file (.xlsx, .xls, .csv or Unicode text .txt)",
    ),
    "imports.timezone": ("文件中时间的时区", "Time zone of the file's times"),
    "imports.mode": ("导入模式", "Mode"),
    "imports.mode.partial": ("部分导入：跳过有错误的订单", "Partial: skip orders with errors"),
    "imports.mode.strict": ("严格：有任何错误则整体拒绝", "Strict: refuse the file on any error"),
    "imports.preview": ("预检（不写入）", "Preview (dry run)"),
    "imports.list": ("导入记录", "Imports"),
    "imports.none": ("还没有导入。", "No imports yet."),
    "imports.filter": ("筛选", "Filter"),
    "imports.no_file": ("请选择要导入的文件（.xlsx 或 .csv）。", "Choose the file to import (.xlsx or .csv)."),
    "imports.bad_state": (
        "状态筛选无效：请从列表中选择一个状态。下面显示全部导入。",
        "The state filter is not an import state: choose one from the list. All imports are shown below.",
    ),
    "imports.bad_cursor": ("分页链接无效，已显示第一页。", "That page link is not valid: showing the first page."),
    "imports.no_scope": (
        "此 API 密钥没有导入权限（import 范围）：可以查看导入记录，上传文件请用有导入权限的密钥登录。",
        "This API key may not import (it lacks the import scope): you can follow imports; to upload a file, "
        "sign in with a key that has the import scope.",
    ),
    "imports.busy.tenant": (
        "本租户同时处理的上传已达上限（例如重复点击或多个标签页），请稍后重试。",
        "This tenant already has as many uploads in flight as it may (a double click, two tabs): "
        "try again in a few seconds.",
    ),
    "imports.busy.server": (
        "服务器正在处理的上传已达上限，请稍后重试。",
        "The server is handling as many uploads as it can: try again in a few seconds.",
    ),
    "imports.quota": (
        "本租户近一小时导入的行数已达配额：请稍后再导入（配额按滚动的一小时计算）。",
        "This tenant imported as many rows in the last hour as its quota allows: import again later (the quota "
        "counts a rolling hour).",
    ),
    "imports.publishing_failed": (
        "订单未能全部发送到消息队列，这次导入已记为失败：已发送的订单照常保存（见结果工作簿）。"
        "请稍后重新上传同一文件，已保存的订单不会重复写入。",
        "Not every order could be sent to the message broker, so this import is recorded as failed: the orders "
        "sent are stored as usual (see the result workbook). Upload the same file again later; orders already "
        "stored come out unchanged.",
    ),
    "imports.file_name": ("文件名", "File"),
    "imports.state": ("状态", "State"),
    "imports.created_at": ("上传时间", "Uploaded"),
    "imports.rejected": ("文件被拒绝", "File refused"),
    "preview.title": ("导入预检", "Import preview"),
    "preview.rows": ("数据行", "Rows"),
    "preview.valid": ("有效行", "Valid rows"),
    "preview.invalid": ("错误行", "Invalid rows"),
    "preview.held_back": ("暂缓订单（含错误行）", "Orders held back (invalid rows)"),
    "preview.outcomes": ("订单预计结果", "Orders by expected outcome"),
    "preview.buyers": ("买家匹配", "How buyers resolve"),
    "preview.errors": ("错误（按行和列）", "Errors by row and column"),
    "preview.more_errors": (
        "共 {total} 个错误，此处列出前 {shown} 个。请修正文件后重新预检，"
        "或以“部分导入”模式预检，只导入没有错误的订单。",
        "{total} errors in all; the first {shown} are listed. Fix the file and preview it again, or preview it in"
        " partial mode to import only the orders without errors.",
    ),
    "preview.row": ("行", "Row"),
    "preview.column": ("列", "Column"),
    "preview.value": ("值", "Value"),
    "preview.message": ("说明", "Message"),
    "preview.confirm": ("确认导入", "Confirm the import"),
    "preview.cancel": ("取消", "Cancel"),
    "preview.expired": ("预检已过期，请重新上传。", "The preview has expired; please upload the file again."),
    "preview.nothing": ("没有可导入的订单。", "There is no order to import."),
    "import.title": ("导入进度", "Import progress"),
    "import.published": ("已发送订单", "Orders published"),
    "import.processed": ("已处理订单", "Orders processed"),
    "import.orders": ("订单", "Orders"),
    "import.result": ("下载结果工作簿", "Download the result workbook"),
    "import.failed_rows": ("下载待修正的行（修改后重新导入）", "Download the rows to fix (then upload it again)"),
    "import.warnings": ("警告", "Warnings"),
    "import.failure": ("失败原因", "Failure"),
    "pipeline.title": ("数据管道", "Pipeline"),
    "pipeline.outbox": ("待发送事件（outbox）", "Events waiting in the outbox"),
    "pipeline.oldest": ("最早未发送事件的等待时间", "Age of the oldest unsent event"),
    "pipeline.seconds": ("秒", "s"),
    "pipeline.imports": ("各状态导入数", "Imports by state"),
    "pipeline.dead": ("死信（最近）", "Dead letters (latest)"),
    "pipeline.dead_none": ("没有死信。", "No dead letters."),
    "pipeline.reasons": ("近 30 天死信原因", "Dead letters by reason, last 30 days"),
    "pipeline.count": ("数量", "Count"),
    "pipeline.latest": ("最近一次", "Latest"),
    "pipeline.detail": ("原因", "Reason"),
    "pipeline.at": ("时间", "When"),
    "pipeline.import": ("导入", "Import"),
    "pipeline.scope": ("仅显示当前租户的数据。", "Only this tenant's data is shown."),
    "pipeline.lag": ("消费者组积压（按分区）", "Consumer group lag per partition"),
    "pipeline.lag_hint": (
        "Kafka 看到的：分区末尾减去消费者组已提交的位置；所有租户共用。",
        "As the broker sees it: the partition's end minus the group's committed offset; shared by every tenant.",
    ),
    "pipeline.lag_none": ("订单主题尚未创建。", "The orders topic does not exist yet."),
    "pipeline.partition": ("分区", "Partition"),
    "pipeline.behind": ("积压消息数", "Records behind"),
    "pipeline.broker_silent": ("Kafka 暂时没有响应，请稍后刷新。", "The broker did not answer in time; reload later."),
    "pipeline.daily": ("近 14 天死信（按原因、按天）", "Dead letters by reason and day, last 14 days"),
    "pipeline.daily_partial": (
        "只统计了每个分区最新的 1000 条死信。",
        "Counted among the latest 1,000 dead letters of each partition only.",
    ),
}


# Outcome, state, lifecycle-stage and identifier words come from the one catalog the API and workbooks use.
for _prefix, _table in (
    ("outcome", language.OUTCOMES),
    ("state", language.STATES),
    ("stage", language.STAGES),
    ("id", language.MATCHED_BY),
):
    TEXTS.update({f"{_prefix}.{code}": pair for code, pair in _table.items()})


def text(key: str, lang: str) -> str:
    """The text of `key` in `lang` (zh or en); the key itself when it has none (a visible, greppable slip)."""
    pair = TEXTS.get(key)
    if pair is None:
        return key
    return pair[LANGUAGES.index(lang)] if lang in LANGUAGES else pair[0]


def label(member: StrEnum, lang: str) -> str:
    """An order status or source as the import template names it in `lang`."""
    if isinstance(member, OrderStatus):
        return language.status_label(member, Lang(lang))
    if isinstance(member, OrderSource):
        return language.source_label(member, Lang(lang))
    return str(member)


def value_label(enum: type[OrderStatus] | type[OrderSource], value: str, lang: str) -> str:
    """The label of a stored status or source value; the value itself if it is not (or no longer) a member."""
    return language.value_label(enum, value, Lang(lang))


def choose_language(query: str | None, cookie: str | None) -> str:
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE
