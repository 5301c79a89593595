"""`python -m devhost [--port N] [--functions a b]`: run function_app.py like `func start`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from devhost.config import ConfigError
from devhost.functions import configure_logging
from devhost.workers import IndexingError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    parser.add_argument("--port", "-p", type=int, help="HTTP port (default: Host.LocalHttpPort or 7071)")
    parser.add_argument("--functions", nargs="+", help="load only these functions")
    parser.add_argument("--script-root", default=".", help="the folder holding function_app.py and host.json")
    args = parser.parse_args(argv)
    configure_logging()

    async def run() -> None:
        from devhost.host import Host

        host = Host(Path(args.script_root), args.port, args.functions)
        await host.serve()

    try:
        asyncio.run(run())
    except (ConfigError, IndexingError) as error:
        logging.getLogger("devhost").error("%s", error)
        return 1
    except OSError as error:
        logging.getLogger("devhost").error("Cannot start: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
