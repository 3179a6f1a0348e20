"""``brevdue mailer --check``: is a mailer worker alive? Reads arq's health-check records."""

from __future__ import annotations

from collections.abc import Sequence

from shared.queues import (
    HEALTH_CHECK_KEY_BULK,
    HEALTH_CHECK_KEY_SUBSCRIPTIONS,
    HEALTH_CHECK_KEY_TRANSACTIONAL,
)

# arq workers rewrite these keys every health-check interval with a short expiry, so a key that
# exists means a worker of that queue was running moments ago (the same test as ``arq --check``).
HEALTH_KEYS = {
    "transactional": HEALTH_CHECK_KEY_TRANSACTIONAL,
    "bulk": HEALTH_CHECK_KEY_BULK,
    "subscriptions": HEALTH_CHECK_KEY_SUBSCRIPTIONS,
}
# The queues each worker process serves.
MAILER_QUEUES = ("bulk", "transactional")
SUBSCRIPTIONS_QUEUES = ("subscriptions",)


def worker_health(redis_url: str, queues: Sequence[str]) -> tuple[bool, list[str]]:
    """(healthy, one report line per queue); healthy when every queue has a fresh record."""
    # Imported here: the command line imports this module for its queue names.
    from redis import Redis
    from redis.exceptions import RedisError

    client: Redis = Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=3)
    lines: list[str] = []
    healthy = True
    try:
        for queue in queues:
            value = client.get(HEALTH_KEYS[queue])
            if value is None:
                healthy = False
                lines.append(f"{queue}: no health-check record (no worker running)")
            else:
                text = value.decode() if isinstance(value, bytes) else str(value)
                lines.append(f"{queue}: {text}")
    except (RedisError, OSError) as exc:
        return False, [f"Redis does not answer: {type(exc).__name__}"]
    finally:
        client.close()
    return healthy, lines
