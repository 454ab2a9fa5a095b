"""`orderinfo`: the one command an operator uses. Each subcommand delegates to the package that owns the work."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _stack(args: argparse.Namespace) -> int:
    from services.platform.stack import stack
    from services.platform.stack.process import StackError
    from services.platform.stack.settings import StackSettings

    action = {"up": stack.up, "down": stack.down, "status": stack.status}[args.action]
    try:
        for line in action(StackSettings()):
            print(line, flush=True)
    except StackError as exc:
        print(f"orderinfo stack {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orderinfo", description="Order Info operator commands")
    sub = parser.add_subparsers(dest="command", required=True)
    stack = sub.add_parser("stack", help="the local Kafka broker and PostgreSQL (no Docker needed)")
    stack.add_argument("action", choices=["up", "down", "status"])
    stack.set_defaults(handler=_stack)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
