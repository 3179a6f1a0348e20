"""A small harness for the fault scenarios: real processes up and down, an SMTP sink that counts
by recipient and Message-ID and can refuse or defer, Redis and PostgreSQL under our control.

Everything here drives real programs: ``brevdue serve …`` and ``python -m services.mailer`` as
subprocesses, a Redis server of the scenario's own, an aiosmtpd sink in a thread. Sizes come
from ``FaultSize``: the short one runs inside ``make test``, the issue's sizes in
``make test-faults``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from brevdue_cli.redis_server import LocalRedis, free_port, is_reachable, start_local_redis
from services.mailer.config import MailerOptions
from shared.addresses import address_identity
from shared.db import create_engine
from shared.schema import campaign_runs, deliveries, mailing_lists, subscribers, subscriptions
from tests.conftest import TEST_SECRET
from tests.support.eligibility import recount_confirmed_lists

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
CAMPAIGN_HEADER = re.compile(rb"^X-Brevdue-Campaign:\s*(\d+)", re.IGNORECASE | re.MULTILINE)


# --- sizes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultSize:
    """How big a scenario runs: the issue's figures, or a short version for ``make test``."""

    name: str
    recipients: int
    kills: int
    outage: float  # seconds a relay, Redis or PostgreSQL stays away
    mailers: int = 3
    smtp_delay: float = 0.0  # seconds the sink takes over each DATA


SHORT = FaultSize("short", recipients=500, kills=2, outage=3.0, mailers=2, smtp_delay=0.004)
FULL = FaultSize("full", recipients=20_000, kills=5, outage=30.0, mailers=3)


# --- the SMTP sink -----------------------------------------------------------------------------


@dataclass
class Delivery:
    """One message the sink accepted: when, for whom, with which Message-ID."""

    at: float  # time.monotonic()
    rcpt: str
    message_id: str
    campaign: int | None  # the X-Brevdue-Campaign header's id; None for transactional mail


@dataclass
class SinkHandler:
    """Accepts everything, or answers every command with 421 while ``deferring``."""

    delay: float = 0.0
    deferring: bool = False
    accepted: list[Delivery] = field(default_factory=list)
    deferred: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.deferring:
            with self.lock:
                self.deferred += 1
            return "421 4.3.2 Service not available, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.deferring:
            return "421 4.3.2 Service not available, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.deferring:
            return "421 4.3.2 Service not available, try again later"
        if self.delay:
            await asyncio.sleep(self.delay)
        data = bytes(envelope.original_content or b"")
        found = MESSAGE_ID.search(data)
        campaign = CAMPAIGN_HEADER.search(data)
        now = time.monotonic()
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.accepted.append(
                    Delivery(
                        at=now,
                        rcpt=rcpt.lower(),
                        message_id=found.group(1).decode() if found else "",
                        campaign=int(campaign.group(1)) if campaign else None,
                    )
                )
        return "250 Message accepted"


class Sink:
    """An aiosmtpd server on a fixed port that can stop listening and come back."""

    def __init__(self, delay: float = 0.0) -> None:
        self.port = free_port()
        self.handler = SinkHandler(delay=delay)
        self._controller: Controller | None = None

    def start(self) -> None:
        """Listen (again) on the same port."""
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, decode_data=False
        )
        self._controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until ``start``."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def deliveries(self) -> list[Delivery]:
        """Everything accepted so far."""
        with self.handler.lock:
            return list(self.handler.accepted)

    def of_campaign(self, campaign_id: int) -> list[Delivery]:
        """The messages of one campaign."""
        return [d for d in self.deliveries if d.campaign == campaign_id]

    def transactional(self) -> list[Delivery]:
        """The messages that belong to no campaign (confirmations and the like)."""
        return [d for d in self.deliveries if d.campaign is None]


# --- processes ---------------------------------------------------------------------------------


class Process:
    """One ``brevdue`` process: started, killed, restarted; its output goes to a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start (or start again) the process."""
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the process and its children (the campaigns service's render workers):
        no grace, no clean-up, as a power cut would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: pid is the group
        self.process.wait()

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM and wait, then SIGKILL if it did not go."""
        if not self.alive:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)
        self.kill()  # whatever of its group is left

    def log(self) -> str:
        """What the process printed."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class OwnRedis:
    """A Redis server of the scenario's own, persisted with AOF as ``deploy/`` runs it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.server: LocalRedis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.server = start_local_redis(self.data_dir, self.port, own_process_group=True)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM: Redis writes its AOF and exits)."""
        if self.server is not None:
            self.server.stop()
            self.server = None

    def restart(self, down_for: float) -> None:
        """Stop, stay away ``down_for`` seconds, start on the same port and data."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def flushall(self) -> None:
        """Every key gone, as an operator's mistake or a failover to an empty replica."""
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "FLUSHALL"],
            check=True,
            capture_output=True,
        )


def postgres_binaries() -> Path | None:
    """The directory of this machine's newest PostgreSQL server binaries, if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return found[-1].parent if found else None


class OwnPostgres:
    """A PostgreSQL cluster of the scenario's own (initdb in a temp dir, its own port)."""

    def __init__(self) -> None:
        binaries = postgres_binaries()
        assert binaries is not None
        self.bin = binaries
        # A directory of its own under the system's temp dir: the server's user (postgres, when
        # we run as root) must reach it, which a test's private tmp_path does not allow.
        self.base = Path(tempfile.mkdtemp(prefix="brevdue-faults-pg-"))
        self.data = self.base / "pgdata"
        self.port = free_port()
        # initdb refuses to run as root: the cluster then belongs to the postgres user.
        self.user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/brevdue"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.user, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if self.user:
            shutil.chown(self.base, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")
        self.start()
        self._run(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "brevdue",
        )  # fmt: skip

    def start(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.base / "pg.log"),
            "-o", f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", mode, "stop")

    def remove(self) -> None:
        """Stop the server if it runs and delete the cluster."""
        subprocess.run(
            [*self.user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.base, ignore_errors=True)


# --- the suite of processes --------------------------------------------------------------------


class Stack:
    """Both web services and N mailer processes on one database, one Redis, one sink."""

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        sink: Sink,
        log_dir: Path,
        mailers: int,
        **overrides: str,
    ) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.sink = sink
        self.log_dir = log_dir
        self.subscriptions_port = free_port()
        self.campaigns_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BREVDUE_")}
        env.update(
            PYTHONUNBUFFERED="1",
            BREVDUE_DATABASE_URL=database_url,
            BREVDUE_REDIS_URL=redis_url,
            BREVDUE_SMTP_URL=f"smtp://127.0.0.1:{sink.port}?starttls=off",
            BREVDUE_SECRET_KEYS=TEST_SECRET.reveal(),
            BREVDUE_MAIL_FROM="KulturMetropolØresund <nyhedsbrev@kultur.test>",
            BREVDUE_SUBSCRIPTIONS_PUBLIC_URL=f"http://127.0.0.1:{self.subscriptions_port}",
            BREVDUE_CAMPAIGNS_PUBLIC_URL=f"http://127.0.0.1:{self.campaigns_port}",
            BREVDUE_LOG_LEVEL="WARNING",
            BREVDUE_LOG_FORMAT="console",
            BREVDUE_SIGNUP_MIN_DURATION="0",
            BREVDUE_SIGNUP_LIMIT_PER_IP="100000",
            BREVDUE_SCHEDULE_POLL_INTERVAL="1",
            # Recovery in seconds, not minutes: a dead worker's job re-runs after the job
            # timeout + 10 s, and the reconciler looks every few seconds.
            BREVDUE_MAILER_JOB_TIMEOUT="10",
            BREVDUE_MAILER_RECONCILE_EVERY_SECONDS="5",
            BREVDUE_MAILER_RECONCILE_GRACE="2",
            BREVDUE_MAILER_RETRY_BASE="1",
            BREVDUE_MAILER_RETRY_CAP="4",
            BREVDUE_MAILER_MAX_ATTEMPTS="30",
            BREVDUE_MAILER_RELAY_COOLDOWN="1",
            BREVDUE_MAILER_BATCH_SIZE="100",
            BREVDUE_MAILER_CHUNK_SIZE="25",
            # As when docs/reliability.md's figures were taken (the bound on open claims).
            BREVDUE_MAILER_BULK_MAX_JOBS="4",
            BREVDUE_MAILER_SMTP_CONNECTIONS="4",
            BREVDUE_MAILER_POLL_DELAY="0.1",
            BREVDUE_MAILER_SHUTDOWN_GRACE="5",
            # A relay that defers everything is not "this campaign's mail is bad".
            BREVDUE_MAILER_PAUSE_FAILURE_RATE="0",
        )
        env.update({f"BREVDUE_{key.upper()}": value for key, value in overrides.items()})
        self.env = env
        self.subscriptions = Process(
            "subscriptions",
            ["-m", "brevdue_cli", "serve", "subscriptions", "--port", str(self.subscriptions_port)],
            env,
            log_dir,
        )
        self.campaigns = Process(
            "campaigns",
            ["-m", "brevdue_cli", "serve", "campaigns", "--port", str(self.campaigns_port)],
            env,
            log_dir,
        )
        # Its outbox sweep replays a confirmation mail Redis lost.
        self.worker = Process(
            "subscriptions-worker", ["-m", "services.subscriptions.worker"], env, log_dir
        )
        self.mailers = [
            Process(f"mailer{n}", ["-m", "services.mailer"], env, log_dir) for n in range(mailers)
        ]

    @property
    def subscriptions_url(self) -> str:
        return f"http://127.0.0.1:{self.subscriptions_port}"

    @property
    def campaigns_url(self) -> str:
        return f"http://127.0.0.1:{self.campaigns_port}"

    @property
    def processes(self) -> list[Process]:
        return [self.subscriptions, self.campaigns, self.worker, *self.mailers]

    def start_web(self) -> None:
        self.subscriptions.start()
        self.campaigns.start()
        self.worker.start()
        wait_for_http(self.subscriptions_url + "/health/live", self.subscriptions)
        wait_for_http(self.campaigns_url + "/health/live", self.campaigns)

    def start_mailers(self) -> None:
        for mailer in self.mailers:
            mailer.start()

    def stop_all(self) -> None:
        for process in self.processes:
            process.kill()

    def logs(self) -> str:
        """Every process's log, for a failing assertion's message."""
        return "\n".join(f"=== {p.name}\n{p.log()[-4000:]}" for p in self.processes)


def wait_for_http(url: str, process: Process, timeout: float = 30) -> None:
    """Until ``url`` answers 200; fail with the process's log when it died or never did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive:
            raise AssertionError(f"{process.name} exited:\n{process.log()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s:\n{process.log()}")


def redis_up(url: str) -> bool:
    return is_reachable(url)


# --- the audience and the ledger ---------------------------------------------------------------


def address(number: int) -> str:
    return f"r{number:06d}@example.dk"


async def seed_audience(database_url: str, count: int, slug: str = "kultur") -> dict[str, str]:
    """One list and ``count`` confirmed subscribers, inserted in pages; keys by address."""
    engine = create_engine(database_url)
    keys: dict[str, str] = {}
    async with engine.begin() as conn:
        list_id = (
            await conn.execute(
                sa.insert(mailing_lists)
                .values(slug=slug, name_da=slug, name_sv=slug, name_en=slug, created_at=NOW)
                .returning(mailing_lists.c.id)
            )
        ).scalar_one()
        page = 2000
        for start in range(0, count, page):
            numbers = range(start, min(count, start + page))
            rows = [
                {
                    "key": f"faultkey{n:06d}",
                    "email": address(n),
                    "email_key": address_identity(address(n)),
                    "name": f"Læser {n}",
                    "language": "da",
                    "status": "active",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n in numbers
            ]
            ids = (
                await conn.execute(
                    sa.insert(subscribers).returning(subscribers.c.id, subscribers.c.email), rows
                )
            ).all()
            await conn.execute(
                sa.insert(subscriptions),
                [
                    {
                        "subscriber_id": subscriber_id,
                        "list_id": list_id,
                        "status": "confirmed",
                        "requested_at": NOW,
                        "confirmed_at": NOW,
                    }
                    for subscriber_id, _ in ids
                ],
            )
            await conn.execute(recount_confirmed_lists())
            keys.update({email: f"faultkey{int(email[1:7]):06d}" for _, email in ids})
    await engine.dispose()
    return keys


async def ledger_counts(database_url: str, campaign_id: int) -> Counter[str]:
    """The campaign's deliveries rows by status."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(deliveries.c.status, sa.func.count())
                .where(deliveries.c.campaign_id == campaign_id)
                .group_by(deliveries.c.status)
            )
            return Counter({status: count for status, count in rows.all()})
    finally:
        await engine.dispose()


async def run_state(database_url: str, campaign_id: int) -> str | None:
    """The campaign run's state (``None`` before fan-out started)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            state = await conn.scalar(
                sa.select(campaign_runs.c.state).where(campaign_runs.c.campaign_id == campaign_id)
            )
            return None if state is None else str(state)
    finally:
        await engine.dispose()


async def wait_until_done(
    database_url: str, campaign_id: int, recipients: int, within: float, stack: Stack
) -> float:
    """Seconds until every row of the campaign is settled and its run is done."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        try:
            counts = await ledger_counts(database_url, campaign_id)
            state = await run_state(database_url, campaign_id)
        except (OSError, sa.exc.DBAPIError):
            counts, state = Counter(), None
        if state == "done" and sum(counts.values()) == recipients:
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    counts = await ledger_counts(database_url, campaign_id)
    raise AssertionError(
        f"campaign {campaign_id} not done after {within} s: {dict(counts)}, "
        f"run {await run_state(database_url, campaign_id)}\n{stack.logs()}"
    )


def by_recipient(found: Iterable[Delivery]) -> Counter[str]:
    """Messages per recipient."""
    return Counter(d.rcpt for d in found)


def by_message_id(found: Iterable[Delivery]) -> Counter[str]:
    """Messages per Message-ID."""
    return Counter(d.message_id for d in found)


def duplicates(counts: Counter[str]) -> int:
    """Messages beyond the first per key."""
    return sum(count - 1 for count in counts.values() if count > 1)


def missing(expected: Iterable[str], counts: Counter[str]) -> set[str]:
    """Expected keys that never arrived."""
    return {key for key in expected if counts[key] == 0}


# --- the staff side: a token, a campaign, send -------------------------------------------------


async def editor_token(database_url: str) -> str:
    """An editor's API token, created as ``brevdue token create editor`` would."""
    from services.campaigns.admin import create_token
    from shared.settings import Settings

    settings = Settings(database_url=database_url, secret_keys=(TEST_SECRET,))
    return await create_token(settings, "editor", "fault scenarios")


class StaffApi:
    """The campaigns API as staff use it, over real HTTP."""

    def __init__(self, stack: Stack, token: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=stack.campaigns_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    async def create_campaign(self, subject: str, lists: list[str]) -> int:
        response = await self.client.post(
            "/api/campaigns",
            json={
                "subject": subject,
                "body": (
                    '<p>Hej {{ subscriber.name }}</p><a href="{{ unsubscribe_url }}">Afmeld</a>'
                ),
                "body_text": "Hej {{ subscriber.name }}\nAfmeld: {{ unsubscribe_url }}",
                "lists": lists,
            },
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    async def send(self, campaign_id: int) -> None:
        response = await self.client.post(f"/api/campaigns/{campaign_id}/send")
        assert response.status_code == 202, response.text

    async def schedule(self, campaign_id: int, at: datetime) -> None:
        response = await self.client.post(
            f"/api/campaigns/{campaign_id}/schedule", json={"at": at.isoformat()}
        )
        assert response.status_code == 200, response.text

    async def aclose(self) -> None:
        await self.client.aclose()


async def settled_count(database_url: str, campaign_id: int) -> int:
    """Rows of the campaign that are no longer queued or sending."""
    counts = await ledger_counts(database_url, campaign_id)
    return sum(n for status, n in counts.items() if status not in ("queued", "sending"))


async def wait_for_progress(database_url: str, campaign_id: int, rows: float) -> None:
    """Until at least ``rows`` rows of the campaign are settled (polling the ledger)."""
    while await settled_count(database_url, campaign_id) < rows:  # noqa: ASYNC110 - a DB poll
        await asyncio.sleep(0.02)


async def sign_up(client: httpx.AsyncClient, email: str) -> httpx.Response:
    """A resident's JSON sign-up to the ``kultur`` list, as the widget sends it."""
    return await client.post(
        "/subscribe",
        json={"email": email, "lists": ["kultur"], "language": "da", "consent": True},
    )


def first_arrival(found: Iterable[Delivery], rcpt: str) -> float | None:
    """When the first message for ``rcpt`` arrived (monotonic), if one did."""
    times = [d.at for d in found if d.rcpt == rcpt]
    return min(times) if times else None


class Supervisor:
    """Restarts whichever process exits, as ``restart: unless-stopped`` in deploy/ does;
    counts the restarts, since a process that dies on a fault is a finding too."""

    def __init__(self, processes: list[Process]) -> None:
        self.processes = processes
        self.restarts: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while True:
            for process in self.processes:
                if process.process is not None and not process.alive:
                    self.restarts[process.name] += 1
                    process.start()
            await asyncio.sleep(0.5)

    def __enter__(self) -> Supervisor:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


@dataclass
class SignUps:
    """Sign-ups made during a fault: answers by status, and which addresses got a 2xx."""

    statuses: Counter[int] = field(default_factory=Counter)
    accepted: list[str] = field(default_factory=list)
    without_retry_after: int = 0  # 503 answers that did not say when to come back

    async def attempt(self, client: httpx.AsyncClient, email: str) -> None:
        try:
            response = await sign_up(client, email)
        except httpx.HTTPError:
            self.statuses[0] += 1  # no answer at all
            return
        self.statuses[response.status_code] += 1
        if 200 <= response.status_code < 300:
            self.accepted.append(email)
        if response.status_code == 503 and "retry-after" not in response.headers:
            self.without_retry_after += 1


def open_claims_at_most(stack: Stack, size: FaultSize) -> int:
    """The most ledger rows the mailers can hold claimed ('sending') at one moment."""
    env = stack.env
    per_process = int(env.get("BREVDUE_MAILER_BULK_MAX_JOBS", MailerOptions().bulk_max_jobs)) * int(
        env["BREVDUE_MAILER_CHUNK_SIZE"]
    )
    return size.mailers * per_process
