"""The ``brevdue`` command: argument parsing and one-line error reporting."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from brevdue_cli import commands, importing
from brevdue_cli.config import var_dir
from brevdue_cli.errors import CliError, MissingServiceError
from brevdue_cli.worker_health import MAILER_QUEUES
from shared.errors import BrevdueError, SettingsError
from shared.settings import PREFIX

ROLES = ("admin", "editor", "viewer")
# Ports of ``brevdue run``: flag, environment variable, default.
RUN_PORTS = {
    "subscriptions_port": ("RUN_SUBSCRIPTIONS_PORT", 8001),
    "campaigns_port": ("RUN_CAMPAIGNS_PORT", 8002),
    "smtp_port": ("RUN_SMTP_PORT", 1025),
    "inbox_port": ("RUN_INBOX_PORT", 8025),
    "redis_port": ("RUN_REDIS_PORT", 6380),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named on the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except SettingsError as exc:
        return _fail(str(exc), 2)
    except (CliError, BrevdueError) as exc:
        # Also refused input (an address already taken, an unknown user): the reason, one line.
        return _fail(str(exc), 1)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("services."):
            return _fail(str(MissingServiceError(exc.name)), 1)
        raise
    except Exception as exc:
        if not _cannot_connect(exc):
            raise
        # Unreachable database or Redis: the cause in one line, no traceback.
        return _fail(f"cannot connect: {str(exc).splitlines()[0]}", 1)
    except KeyboardInterrupt:
        return 130


def _cannot_connect(exc: Exception) -> bool:
    """True for a connection refused by the database or by Redis."""
    if isinstance(exc, ConnectionError):
        return True
    # SQLAlchemy is imported only by the commands that use a database (it costs a command
    # that does not, such as --help or a settings error, a large share of its start-up), so
    # an exception of its own can only come when it is loaded.
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    return sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.OperationalError)


def _fail(message: str, status: int) -> int:
    print(f"brevdue: {message}", file=sys.stderr)
    return status


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="brevdue", description="Brevdue: newsletters for KulturMetropolØresund."
    )
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=Path("var"),
        help="local state: SQLite database, Redis files, dev secret key (default: ./var)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run_parser = sub.add_parser("run", help="run the whole suite on this machine")
    for dest, (variable, default) in RUN_PORTS.items():
        run_parser.add_argument(
            "--" + dest.replace("_", "-"),
            type=int,
            default=None,
            help=f"default: ${PREFIX}{variable} or {default}",
        )
    run_parser.add_argument("--ready-timeout", type=float, default=60.0, help="seconds")
    run_parser.set_defaults(handler=_run)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(
        handler=lambda a: commands.migrate(var_dir(a.var_dir))
    )
    sub.add_parser("seed", help="create demo lists, site, admin user and residents").set_defaults(
        handler=lambda a: commands.seed(var_dir(a.var_dir))
    )

    token = sub.add_parser("token", help="staff API tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION"
    )
    create = token.add_parser("create", help="create a token; printed on the last line")
    create.add_argument("--role", choices=ROLES, required=True)
    create.add_argument("--label", default="")
    create.set_defaults(
        handler=lambda a: commands.create_token(var_dir(a.var_dir), a.role, a.label)
    )

    user = sub.add_parser("user", help="staff users of the staff app").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    user_create = user.add_parser(
        "create", help="create a staff user; its one-time password is printed on the last line"
    )
    user_create.add_argument("--email", required=True)
    user_create.add_argument("--role", choices=ROLES, required=True)
    user_create.add_argument("--name", default="")
    user_create.set_defaults(
        handler=lambda a: commands.create_user(var_dir(a.var_dir), a.email, a.role, a.name)
    )
    user_reset = user.add_parser(
        "reset-password", help="give a staff user a new one-time password, printed last"
    )
    user_reset.add_argument("email")
    user_reset.set_defaults(handler=lambda a: commands.reset_password(var_dir(a.var_dir), a.email))

    catcher = sub.add_parser("catcher", help="local SMTP catcher with an inbox web page")
    catcher.add_argument("--host", default="127.0.0.1")
    catcher.add_argument("--smtp-port", type=int, default=1025)
    catcher.add_argument("--http-port", type=int, default=8025)
    catcher.add_argument("--store", type=Path, default=None, help="also keep .eml files here")
    catcher.set_defaults(
        handler=lambda a: commands.catcher(a.host, a.smtp_port, a.http_port, a.store)
    )

    mailer = sub.add_parser("mailer", help="run the mailer worker")
    mailer.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    mailer.add_argument("--check", action="store_true", help="exit 0 if a worker is alive, else 1")
    mailer.add_argument(
        "--queue",
        choices=MAILER_QUEUES,
        action="append",
        help="with --check: only this queue (repeatable; default: all)",
    )
    mailer.set_defaults(
        handler=lambda a: commands.mailer(
            var_dir(a.var_dir), burst=a.burst, check=a.check, queues=a.queue or list(MAILER_QUEUES)
        )
    )

    subscriptions_worker = sub.add_parser(
        "subscriptions-worker", help="run the subscriptions worker (purges, staff GDPR jobs)"
    )
    subscriptions_worker.add_argument(
        "--burst", action="store_true", help="exit when the queue is empty"
    )
    subscriptions_worker.add_argument(
        "--check", action="store_true", help="exit 0 if a worker is alive, else 1"
    )
    subscriptions_worker.set_defaults(
        handler=lambda a: commands.subscriptions_worker(
            var_dir(a.var_dir), burst=a.burst, check=a.check
        )
    )

    sub.add_parser(
        "bounces",
        help="receive bounces and complaints (SMTP listener and provider webhooks)",
        description="Ports and credentials: BREVDUE_MAILER_BOUNCE_* and BREVDUE_MAILER_WEBHOOK_*.",
    ).set_defaults(handler=lambda a: commands.bounces(var_dir(a.var_dir)))

    _add_import(sub)
    _add_export(sub)

    serve = sub.add_parser(
        "serve",
        help="serve one HTTP service",
        description=(
            "Serve one HTTP service with uvicorn. Worker processes: --workers, else "
            "BREVDUE_WEB_WORKERS (a number, or auto: one per CPU this process may use, its "
            "affinity capped by a container's CPU quota), else 1. A process computes on one "
            "core; more help only where the service has cores of its own, not where the "
            "database shares them. deploy/k8s runs 1 per pod and scales pods."
        ),
    )
    serve.add_argument("service", choices=sorted(commands.DEFAULT_PORTS))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: 8001 / 8002")
    serve.add_argument(
        "--workers",
        type=_at_least_one,
        default=None,
        help="worker processes (default: BREVDUE_WEB_WORKERS, a number or auto, else 1)",
    )
    serve.set_defaults(
        handler=lambda a: commands.serve(
            var_dir(a.var_dir), a.service, a.host, a.port, workers=a.workers
        )
    )
    return parser


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _add_import(sub: Any) -> None:
    parser = sub.add_parser(
        "import",
        help="import subscribers from a CSV file into a list",
        description=(
            "Either attest how consent was collected (--basis, --collected, --method, "
            "--attested-by) or send every new address a confirmation mail (--confirm). "
            "Rejected lines are written with their line numbers to FILE.rejected.csv."
        ),
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--list", dest="list_slug", required=True, help="the list's slug")
    parser.add_argument("--confirm", action="store_true", help="double opt-in mail to each")
    parser.add_argument("--basis", help="legal basis of the consent")
    parser.add_argument("--collected", help="when consent was collected")
    parser.add_argument("--method", help="how consent was collected")
    parser.add_argument("--attested-by", help="who attests it")
    parser.add_argument(
        "--update-existing", action="store_true", help="also update known subscribers' details"
    )
    parser.add_argument("--language", default="da", help="for rows without one (default da)")
    parser.add_argument(
        "--map", action="append", default=[], metavar="FIELD=HEADER", help="column mapping"
    )
    parser.add_argument("--key", help="continue the interrupted import with this key")
    parser.add_argument("--rejects", type=Path, help="where to write the rejected lines")
    parser.set_defaults(
        handler=lambda a: importing.import_csv(
            var_dir(a.var_dir),
            a.file,
            list_slug=a.list_slug,
            attestation={
                "basis": a.basis,
                "collected": a.collected,
                "method": a.method,
                "attested_by": a.attested_by,
            },
            confirm=a.confirm,
            update_existing=a.update_existing,
            language=a.language,
            columns=importing.parse_columns(a.map),
            key=a.key,
            rejects=a.rejects,
        )
    )


def _add_export(sub: Any) -> None:
    parser = sub.add_parser("export", help="write a list's subscribers as CSV")
    parser.add_argument("--list", dest="list_slug", required=True, help="the list's slug")
    parser.add_argument(
        "--status",
        action="append",
        default=[],
        choices=("confirmed", "pending", "unsubscribed"),
        help="subscription states to include (repeatable; default: confirmed)",
    )
    parser.add_argument("--output", "-o", type=Path, help="default: standard output")
    parser.set_defaults(
        handler=lambda a: importing.export_csv(
            var_dir(a.var_dir), list_slug=a.list_slug, statuses=a.status, output=a.output
        )
    )


def _run(args: argparse.Namespace) -> int:
    ports = {
        dest: run_port(getattr(args, dest), variable, default, os.environ)
        for dest, (variable, default) in RUN_PORTS.items()
    }
    from brevdue_cli.devrun import RunOptions, run

    options = RunOptions(var=var_dir(args.var_dir), ready_timeout=args.ready_timeout, **ports)
    return run(options)


def run_port(flag: int | None, variable: str, default: int, env: Mapping[str, str]) -> int:
    """A port of ``brevdue run``: the flag, else ``BREVDUE_<variable>``, else the default."""
    if flag is not None:
        value: str | int = flag
    else:
        value = env.get(PREFIX + variable, "").strip() or default
    try:
        port = int(value)
    except ValueError as exc:
        raise SettingsError(variable, "must be a port number") from exc
    if not 0 < port < 65536:
        raise SettingsError(variable, "must be a port number from 1 to 65535")
    return port
