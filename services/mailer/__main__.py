"""``python -m services.mailer``."""

from services.mailer.worker import main

main()
