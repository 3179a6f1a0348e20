"""A newcomer's first morning in the staff app, driven in Debian's Chromium.

``python -m tools.staff_tour`` starts ``brevdue run`` in a temporary directory (its own Redis,
SMTP catcher and demo data, on free ports), reads the printed staff URL and one-time password,
and does what the README promises a newcomer can do without reading any API documentation: log
in, choose a password, write a campaign for the demo list ``kultur``, preview it, send or
schedule it, and watch it reach 100 %. Then it opens every page of the app.

``--screenshots DIR`` saves a PNG of each page (``make screenshots`` refreshes
``docs/screenshots/``); ``--schedule`` schedules the campaign for the next minute instead of
sending it at once, and waits for the scheduler to start it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, Page, async_playwright

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = ["--no-sandbox", "--disable-dev-shm-usage"]
READY: Final = "Press Ctrl-C to stop."
NEW_PASSWORD: Final = "a newcomer's own long password"  # noqa: S105 - a throwaway demo
VIEWPORT: Final = {"width": 1280, "height": 900}
# A tablet held upright (iPad Air): the app must fit its width without sideways scrolling.
TABLET: Final = {"width": 820, "height": 1180}
BODY: Final = (
    "<h1>Kultur i december</h1>\n"
    "<p>Hej {{ subscriber.name or 'ven' }}!</p>\n"
    "<p>Julekoncerter, udstillinger og værksteder for børn på begge sider af Øresund.</p>\n"
)


@dataclass(frozen=True)
class RunningSuite:
    """What ``brevdue run`` printed: the staff app's address and the demo admin's login."""

    staff_url: str
    email: str
    password: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def brevdue_run(directory: Path, timeout: float = 120) -> Iterator[RunningSuite]:
    """``brevdue run`` in ``directory`` on free ports until the block ends (then Ctrl-C)."""
    args = [sys.executable, "-m", "brevdue_cli", "run", "--ready-timeout", "90"]
    for name in ("subscriptions", "campaigns", "smtp", "inbox", "redis"):
        args += [f"--{name}-port", str(_free_port())]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BREVDUE_")}
    env["PYTHONUNBUFFERED"] = "1"
    log = directory / "brevdue-run.log"
    with log.open("w+") as output:
        process = subprocess.Popen(
            args, cwd=directory, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + timeout
            text = ""
            while READY not in text:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"brevdue run did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.25)
                text = log.read_text()
            yield _printed(text)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _printed(text: str) -> RunningSuite:
    staff = re.search(r"(http://127\.0\.0\.1:\d+/app/)", text)
    login = re.search(r"Staff app login[^\n]*\n\s*(\S+) / (\S+)", text)
    if staff is None or login is None:
        raise RuntimeError(f"brevdue run printed no staff URL or login:\n{text[-3000:]}")
    return RunningSuite(staff.group(1).rstrip("/"), login.group(1), login.group(2))


class Tour:
    """The walk through the app; each step leaves the page where a newcomer would see it."""

    def __init__(self, page: Page, base: str, screenshots: Path | None) -> None:
        self.page = page
        self.base = base.removesuffix("/app")
        self.screenshots = screenshots
        self.visited: list[str] = []

    async def shoot(self, name: str) -> None:
        """Remember the page; save its picture when screenshots are asked for."""
        self.visited.append(self.page.url)
        if self.screenshots is not None:
            await self.page.screenshot(path=str(self.screenshots / f"{name}.png"), full_page=True)

    async def open(self, path: str, name: str) -> None:
        """Open an app page; it must answer 200."""
        response = await self.page.goto(self.base + path)
        if response is None or response.status != 200:
            status = response.status if response else "no answer"
            raise AssertionError(f"{path}: {status}")
        await self.shoot(name)

    async def log_in(self, email: str, one_time: str) -> None:
        """The printed login, then the forced password change."""
        await self.page.goto(self.base + "/app/login")
        await self.shoot("login")
        await self.page.locator("#email").fill(email)
        await self.page.locator("#password").fill(one_time)
        await self.page.locator("main form button[type=submit]").click()
        await self.page.wait_for_url("**/app/password")
        await self.page.locator("#password").fill(NEW_PASSWORD)
        await self.page.locator("#repeat").fill(NEW_PASSWORD)
        await self.page.locator("main form button[type=submit]").click()
        await self.page.wait_for_url("**/app/")

    async def write_campaign(self) -> str:
        """A new campaign for ``kultur``; returns the editor's URL."""
        await self.open("/app/campaigns/new", "campaign-new")
        await self.page.locator("#subject").fill("Kultur i december")
        await self.page.locator("#list-kultur").check()
        await self.page.locator("#body").fill(BODY)
        await self.page.locator("form.editor button[type=submit]").click()
        await self.page.wait_for_url(re.compile(r".*/app/campaigns/\d+/edit.*"))
        # The preview as the sample reader gets it, in its sandboxed frame.
        await self.page.frame_locator("iframe").first.locator("h1").wait_for()
        await self.shoot("campaign-editor")
        return self.page.url

    async def send(self, editor_url: str, *, schedule: bool) -> None:
        """Send the campaign at once, or schedule it for the next minute; wait for 100 %."""
        campaign_id = re.search(r"/campaigns/(\d+)/", editor_url)
        assert campaign_id is not None
        await self.open(f"/app/campaigns/{campaign_id.group(1)}", "campaign-draft")
        if schedule:
            zone = ZoneInfo("Europe/Copenhagen")
            at = datetime.now(zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
            await self.page.locator("#schedule-date").fill(at.date().isoformat())
            await self.page.locator("#schedule-time").fill(at.strftime("%H:%M"))
            await self.page.locator("#schedule-zone").select_option("Europe/Copenhagen")
            await self.page.locator("form[action$='/schedule'] button").click()
            await self.page.wait_for_load_state()
            await self.shoot("campaign-scheduled")
        else:
            await self.page.locator("form[action$='/send'] button").first.click()
            await self.page.locator("form[action$='/send'] input[name=confirm]").wait_for(
                state="attached"
            )
            await self.page.locator("form[action$='/send'] button").first.click()
            await self.page.wait_for_load_state()
        # The page polls its progress fragment; wait until the bar is full (up to three minutes:
        # a scheduled start waits for its minute and the scheduler's next look).
        await self.page.wait_for_function(
            "() => { const bar = document.querySelector('#progress-bar');"
            " return bar && Number(bar.value) >= 100; }",
            timeout=180_000,
            polling=1000,
        )
        # Opened afresh rather than reloaded: the page shown is the answer to a form's POST.
        await self.open(f"/app/campaigns/{campaign_id.group(1)}", "campaign-sent")

    async def too_wide_on_a_tablet(self) -> list[str]:
        """The pages seen so far that scroll sideways at a tablet's width."""
        await self.page.set_viewport_size(TABLET)  # type: ignore[arg-type]
        wide = []
        for url in dict.fromkeys(self.visited):
            await self.page.goto(url)
            overflow = await self.page.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth"
            )
            if overflow > 1:
                wide.append(f"{url} ({overflow}px)")
        await self.page.set_viewport_size(VIEWPORT)  # type: ignore[arg-type]
        return wide

    async def every_page(self) -> None:
        """The other sections, as the navigation lists them."""
        await self.open("/app/", "overview")
        await self.open("/app/campaigns", "campaigns")
        await self.open("/app/lists", "lists")
        await self.open("/app/lists/kultur", "list")
        await self.open("/app/subscribers?q=freja", "subscribers")
        first = self.page.locator("main table a[href^='/app/subscribers/']").first
        await self.open(str(await first.get_attribute("href")), "subscriber")
        await self.open("/app/sites", "sites")
        await self.open("/app/sites/demo-site", "site")
        await self.open("/app/fields", "fields")
        await self.open("/app/users", "users")
        await self.open("/app/audit", "audit")
        await self.open("/app/account", "account")


async def take_tour(
    browser: Browser, suite: RunningSuite, *, screenshots: Path | None, schedule: bool
) -> list[str]:
    """The whole walk in English; returns the addresses of the pages it saw."""
    context = await browser.new_context(locale="en", viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    tour = Tour(page, suite.staff_url, screenshots)
    try:
        await tour.log_in(suite.email, suite.password)
        editor = await tour.write_campaign()
        await tour.send(editor, schedule=schedule)
        await tour.every_page()
        wide = await tour.too_wide_on_a_tablet()
        if wide:
            raise AssertionError(f"pages wider than a tablet: {wide}")
    finally:
        await context.close()
    return tour.visited


async def _tour(suite: RunningSuite, screenshots: Path | None, schedule: bool) -> list[str]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            return await take_tour(browser, suite, screenshots=screenshots, schedule=schedule)
        finally:
            await browser.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.staff_tour [--screenshots DIR] [--schedule]``."""
    parser = argparse.ArgumentParser(prog="python -m tools.staff_tour", description=__doc__)
    parser.add_argument("--screenshots", type=Path, default=None, help="save PNGs here")
    parser.add_argument("--schedule", action="store_true", help="schedule instead of send")
    options = parser.parse_args(argv)
    if options.screenshots is not None:
        options.screenshots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory, brevdue_run(Path(directory)) as suite:
        visited = asyncio.run(_tour(suite, options.screenshots, options.schedule))
    print(f"staff tour: {len(visited)} pages", file=sys.stderr)
    for url in visited:
        print(f"  {url}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
