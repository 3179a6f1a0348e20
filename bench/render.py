"""Per-message cost of making a campaign message: render, links, footer and MIME bytes.

    python -m bench.render [--messages 2000] [--rounds 5]

Makes the delivery benchmark's message (the same templates and ~6 KB of MIME) for N recipients
in a loop, nothing else: no database, no SMTP. Prints µs per message (the best of the rounds,
the least disturbed by other work on the machine) beside a reference measured in the same run:
the same message rendered and built the stdlib way (``EmailMessage``, as the naive loop of
``bench.delivery`` does). The loop itself is ``messages`` below; it only uses names that exist
since the mailer's clean-up and before it, so a copy of this file in an older checkout measures
that code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from bench.delivery import BODY, BODY_TEXT, MAIL_FROM, PUBLIC_URL, SECRET, SUBJECT
from bench.record import describe_run, write_result
from services.mailer import mime
from shared.campaign_templates import compile_template
from shared.settings import Secret
from shared.tokens import Purpose, TokenSigner

LANGUAGES = ("da", "sv", "en")


def messages(count: int) -> Callable[[], None]:
    """A function that makes ``count`` recipients' messages with the mailer's own code."""
    signer = TokenSigner((Secret(SECRET),))
    code: Any
    try:
        code = importlib.import_module("services.mailer.campaign_render")
        types: Any = importlib.import_module("services.mailer.campaign_types")
        compile_campaign = importlib.import_module(
            "services.mailer.campaign_cache"
        ).compile_campaign
        Links = importlib.import_module("services.mailer.recipient_links").Links
        source = types.CampaignSource(
            1, SUBJECT, BODY, BODY_TEXT, None, ("kultur",), None, list_ids=(1,)
        )
    except ImportError:  # the mailer before its clean-up kept all of it in one module
        code = types = importlib.import_module("services.mailer.content")
        compile_campaign, Links = code.compile_campaign, code.Links
        source = types.CampaignSource(1, SUBJECT, BODY, BODY_TEXT, None, ("kultur",), None)
    render_message, Recipient = code.render_message, types.Recipient
    campaign = compile_campaign(source, MAIL_FROM)
    links = Links(PUBLIC_URL, signer)
    recipients = [
        Recipient(
            n + 1,
            n + 1,
            f"{n:032x}",
            f"r{n}@example.org",
            f"Åse Sørensen {n}",
            LANGUAGES[n % 3],
            mime.campaign_message_id(1, n + 1, "kultur.example"),
        )
        for n in range(count)
    ]

    def run() -> None:
        for recipient in recipients:
            render_message(campaign, recipient, links)
            mime.ascii_address(recipient.email)

    return run


def stdlib_messages(count: int) -> Callable[[], None]:
    """The reference: the same message rendered and built with ``EmailMessage``."""
    signer = TokenSigner((Secret(SECRET),))
    subject = compile_template(SUBJECT, field="subject", html=False)
    body = compile_template(BODY, field="body")
    body_text = compile_template(BODY_TEXT, field="body_text", html=False)

    def run() -> None:
        for n in range(count):
            key = f"{n:032x}"
            unsubscribe = f"{PUBLIC_URL}/unsubscribe/{signer.sign(Purpose.UNSUBSCRIBE, [key, 1])}"
            context = {
                "subscriber": {"name": f"Åse Sørensen {n}", "email": f"r{n}@example.org"},
                "campaign": {"id": 1, "subject": SUBJECT},
                "unsubscribe_url": unsubscribe,
                "preferences_url": f"{PUBLIC_URL}/preferences/"
                + signer.sign(Purpose.PREFERENCES, [key]),
            }
            message = EmailMessage()
            message["From"] = MAIL_FROM
            message["To"] = f"Åse Sørensen {n} <r{n}@example.org>"
            message["Subject"] = subject.render(context)
            message["List-Unsubscribe"] = f"<{unsubscribe}>"
            message.set_content(body_text.render(context))
            message.add_alternative(body.render(context), subtype="html")
            message.as_bytes(policy=SMTP)

    return run


def us_per_message(run: Callable[[], None], count: int, rounds: int) -> list[float]:
    """µs of CPU time per message in each of ``rounds`` runs (after one warm-up run)."""
    run()
    figures = []
    for _ in range(rounds):
        started = time.thread_time()
        run()
        figures.append((time.thread_time() - started) / count * 1e6)
    return figures


def main(argv: list[str] | None = None) -> None:
    """Measure both loops, print their figures and write the result file."""
    parser = argparse.ArgumentParser(prog="python -m bench.render", description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    header = describe_run("render", {"messages": args.messages, "rounds": args.rounds})
    ours = us_per_message(messages(args.messages), args.messages, args.rounds)
    reference = us_per_message(stdlib_messages(args.messages), args.messages, args.rounds)
    best, best_reference = min(ours), min(reference)
    print(
        f"brevdue {best:.1f} µs/message | stdlib EmailMessage {best_reference:.1f} µs/message | "
        f"ratio {best_reference / best:.2f}× (CPU time of this thread, best of {args.rounds} "
        f"× {args.messages}; Python {sys.version.split()[0]})"
    )
    write_result(
        header,
        "one campaign message, no database, no SMTP",
        {"us_per_message": ours, "reference_us_per_message": reference},
        {
            "µs/message (best round)": round(best, 1),
            "stdlib µs/message (best round)": round(best_reference, 1),
            "× faster than stdlib": round(best_reference / best, 2),
        },
    )


if __name__ == "__main__":
    main()
