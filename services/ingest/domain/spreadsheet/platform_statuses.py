"""The order statuses as the platforms write them in their own exports, mapped to the template's statuses. Pure.

A merchant uploads the platform's export as it is: `买家已付款，等待卖家发货` (Taobao/Tmall), `待发货` (Douyin,
Youzan...), `等待出库` (JD) all read as the template's Paid. This table is the only place that knows those phrases:
the status index of the template (`template.STATUS_INDEX`), its rules and the docs are built from it. Phrases are
compared like every label (case, spaces, `-`, `_` ignored) with full-width and half-width commas folded.
A phrase that means something else on two platforms cannot be listed: none of these does.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.core.order import OrderSource, OrderStatus

_TAOBAO = (OrderSource.TAOBAO,)  # Tmall shops export through the same seller centre (千牛) as Taobao
_MOST = (OrderSource.DOUYIN, OrderSource.YOUZAN, OrderSource.WEIMOB, OrderSource.KUAISHOU, OrderSource.XIAOHONGSHU)


@dataclass(frozen=True, slots=True)
class PlatformStatus:
    """One phrase of the platforms' exports (as written there) and the template status it reads as."""

    phrase: str
    status: OrderStatus
    platforms: tuple[OrderSource, ...]


PLATFORM_STATUSES: tuple[PlatformStatus, ...] = (
    # Taobao / Tmall: the 订单状态 of the seller centre's export, then the open platform's codes (ERP exports).
    PlatformStatus("等待买家付款", OrderStatus.TO_BE_PAID, _TAOBAO),
    PlatformStatus("买家已付款，等待卖家发货", OrderStatus.PAID, _TAOBAO),
    PlatformStatus("卖家已发货，等待买家确认", OrderStatus.SHIPPED, _TAOBAO),
    PlatformStatus("交易成功", OrderStatus.DEALED, (*_TAOBAO, OrderSource.KUAISHOU)),
    PlatformStatus("交易关闭", OrderStatus.DEAL_CLOSED, (*_TAOBAO, OrderSource.KUAISHOU)),
    PlatformStatus("WAIT_BUYER_PAY", OrderStatus.TO_BE_PAID, _TAOBAO),
    PlatformStatus("WAIT_SELLER_SEND_GOODS", OrderStatus.PAID, _TAOBAO),
    PlatformStatus("WAIT_BUYER_CONFIRM_GOODS", OrderStatus.SHIPPED, _TAOBAO),
    PlatformStatus("TRADE_BUYER_SIGNED", OrderStatus.SIGNED_FOR, _TAOBAO),
    PlatformStatus("TRADE_FINISHED", OrderStatus.DEALED, _TAOBAO),
    PlatformStatus("TRADE_CLOSED", OrderStatus.DEAL_CLOSED, _TAOBAO),
    PlatformStatus("TRADE_CLOSED_BY_TAOBAO", OrderStatus.DEAL_CLOSED, _TAOBAO),
    # Douyin (抖店), Youzan, Weimob, Kuaishou, Xiaohongshu.
    PlatformStatus("待付款", OrderStatus.TO_BE_PAID, _MOST),
    PlatformStatus("待支付", OrderStatus.TO_BE_PAID, (OrderSource.DOUYIN,)),
    PlatformStatus("待发货", OrderStatus.PAID, _MOST),
    PlatformStatus("已发货", OrderStatus.SHIPPED, _MOST),
    PlatformStatus("已完成", OrderStatus.DEALED, _MOST),
    PlatformStatus("已关闭", OrderStatus.DEAL_CLOSED, _MOST),
    PlatformStatus(
        "已取消", OrderStatus.DEAL_CLOSED, (OrderSource.WEIMOB, OrderSource.XIAOHONGSHU, OrderSource.JINGDONG)
    ),
    # JD (京东).
    PlatformStatus("等待付款", OrderStatus.TO_BE_PAID, (OrderSource.JINGDONG,)),
    PlatformStatus("等待出库", OrderStatus.PAID, (OrderSource.JINGDONG,)),
    PlatformStatus("等待确认收货", OrderStatus.SHIPPED, (OrderSource.JINGDONG,)),
    PlatformStatus("完成", OrderStatus.DEALED, (OrderSource.JINGDONG,)),
)
# A few phrases for messages: the ones a refused status most likely looked like.
EXAMPLE_PHRASES: tuple[str, ...] = ("买家已付款，等待卖家发货", "待发货", "等待出库", "交易成功")


def comma_folded(text: str) -> str:
    """`text` with full-width and half-width commas as one (the exports write both: `买家已付款,等待卖家发货`)."""
    return text.replace("，", ",").replace("﹐", ",")
