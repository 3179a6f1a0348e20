"""Serve the bare reference app exactly as ``brevdue serve`` serves a service, in as many
processes."""

from __future__ import annotations

import argparse
import os

from brevdue_cli.commands import serve_factory, web_workers


def main() -> None:
    """``python -m bench.http.serve_bare --port N``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # As many processes as brevdue serve would start (BREVDUE_WEB_WORKERS, else usable CPUs).
    serve_factory("bench.http.bare:create_app", args.host, args.port, web_workers(os.environ))


if __name__ == "__main__":
    main()
