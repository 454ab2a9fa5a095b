"""`orderinfo customers erase|mask-mobiles`: erasure on request (PIPL) and masked mobiles for a tenant's callers.

Exit codes: 0 done; 1 no such customer (or tenant); 2 an id could not be read.
"""

from __future__ import annotations

import argparse
import getpass
from typing import Any
from uuid import UUID

from services.ingest.adapters import erasure_store
from services.ingest.application import erasure


async def run_customers(pool: Any, args: argparse.Namespace, tombstone: erasure.Tombstone) -> int:
    try:
        tenant_id = UUID(args.tenant)
        customer_id = UUID(args.customer_id) if args.customers_command == "erase" else None
    except ValueError:
        print(f"orderinfo customers {args.customers_command}: the tenant and customer ids are UUIDs")
        return 2
    async with pool.acquire() as conn:
        if customer_id is None:
            if not await erasure_store.set_mask_mobiles(conn, tenant_id, args.state == "on"):
                print(f"orderinfo customers mask-mobiles: no tenant {tenant_id}")
                return 1
            print(f"tenant {tenant_id}: API callers receive {'masked' if args.state == 'on' else 'full'} mobiles")
            return 0
    by = args.by or f"cli:{getpass.getuser()}"
    done = await erasure.erase_customer(pool, tenant_id, customer_id, by=by, tombstone=tombstone)
    if done is None:
        print(f"orderinfo customers erase: tenant {tenant_id} has no customer {customer_id}")
        return 1
    kinds = ", ".join(done.identifiers) or "no identifiers"
    print(f"customer {customer_id} erased at {done.erased_at.isoformat()} by {by}: {kinds}; {done.orders} orders")
    return 0
