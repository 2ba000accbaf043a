"""The bus on Redis pub/sub (AUTOCONF_REDIS_URL): for deployments that run Redis anyway, or
whose database pooler (PgBouncer in transaction mode) does not pass LISTEN through."""

import redis

from autoconf.bus import Bus, decode, encode

WAIT_SECONDS = 0.5


class RedisBus(Bus):
    pushes = True

    def __init__(self, url: str, channel: str) -> None:
        super().__init__()
        self.client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        self.channel = channel

    def _send(self, topic: str, message: str) -> None:
        self.client.publish(self.channel, encode(self.origin, topic, message))

    def _wake(self) -> None:
        self.client.publish(self.channel, "")  # every listener wakes; it decodes to nothing

    def _listen(self) -> None:
        subscription = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            subscription.subscribe(self.channel)
            self._heard()
            while not self._stop.is_set():
                item = subscription.get_message(timeout=WAIT_SECONDS)
                if item is not None and item.get("type") == "message":
                    data = item["data"]
                    found = decode(data.decode() if isinstance(data, bytes) else str(data))
                    if found is not None:
                        self._received(*found)
        finally:
            subscription.close()
