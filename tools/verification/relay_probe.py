"""`python -m tools.verification.relay_probe`: the real relay process (`orderinfo relay`), made to stop dead
between publishing a batch and marking it sent, so a scenario can SIGKILL it exactly there.

After `ORDERINFO_VERIFY_HOLD_AFTER_BATCHES` batches were published (default 1), it writes
`ORDERINFO_VERIFY_HOLD_FILE` and waits forever inside the relay's `_after_publish` seam: those rows are on the
topic but not marked sent.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from services.rules_bridge.adapters.outbox_store import PendingRow
from services.rules_bridge.relay import Relay


def install_hold(marker: Path, after_batches: int) -> None:
    published = 0

    async def hold(self: Relay, rows: Sequence[PendingRow]) -> None:
        nonlocal published
        published += 1
        if published >= after_batches:
            await asyncio.to_thread(marker.write_text, f"{len(rows)}\n")
            await asyncio.Event().wait()  # until SIGKILL

    Relay._after_publish = hold  # type: ignore[method-assign]


def main() -> int:
    from services import cli

    after = int(os.environ.get("ORDERINFO_VERIFY_HOLD_AFTER_BATCHES", "1"))
    install_hold(Path(os.environ["ORDERINFO_VERIFY_HOLD_FILE"]), after)
    return cli.main(["relay"])


if __name__ == "__main__":
    sys.exit(main())
