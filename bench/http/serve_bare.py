"""Serve the bare reference app exactly as ``brevdue serve`` serves a service."""

from __future__ import annotations

import argparse

from brevdue_cli.commands import serve_factory


def main() -> None:
    """``python -m bench.http.serve_bare --port N``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve_factory("bench.http.bare:create_app", args.host, args.port)


if __name__ == "__main__":
    main()
