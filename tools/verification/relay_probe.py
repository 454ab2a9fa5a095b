"""`python -m tools.verification.relay_probe`: the real relay process (`orderinfo relay`), made to stop dead
between publishing a batch and marking it sent, so a scenario can SIGKILL it exactly there.

After `ORDERINFO_VERIFY_HOLD_AFTER_BATCHES` batches were published (default 1), it writes
`ORDERINFO_VERIFY_HOLD_FILE` and waits forever in the relay's `after_publish` hook: those rows are on the
topic but not marked sent. The hook is a constructor argument of `Relay`: nothing is patched.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from services.rules_bridge import main as relay_process
from services.rules_bridge.adapters.outbox_store import PendingRow
from services.rules_bridge.relay import Relay, RelayMetrics
from services.rules_bridge.settings import RelaySettings


def held_relay(marker: Path, after_batches: int) -> Callable[[RelaySettings, RelayMetrics], Relay]:
    """Relay sessions that hold forever after the `after_batches`-th published batch (counted across sessions)."""
    published = 0

    async def hold(rows: Sequence[PendingRow]) -> None:
        nonlocal published
        published += 1
        if published >= after_batches:
            await asyncio.to_thread(marker.write_text, f"{len(rows)}\n")
            await asyncio.Event().wait()  # until SIGKILL

    return lambda settings, metrics: Relay(settings, metrics, after_publish=hold)


def main() -> int:
    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # as `orderinfo relay`
    after = int(os.environ.get("ORDERINFO_VERIFY_HOLD_AFTER_BATCHES", "1"))
    relay_process.main(session=held_relay(Path(os.environ["ORDERINFO_VERIFY_HOLD_FILE"]), after))
    return 0


if __name__ == "__main__":
    sys.exit(main())
