"""The embedded development broker: kombu's SQLAlchemy transport (``sqla+sqlite:///...``), tuned for latency.

A session goes through six chained tasks, each queued by the one before, so the time a queued message
waits for the worker adds up six times per session. Measured round trip of one task through a
prefork worker (concurrency 1) on the embedded broker (`ping` sent, result awaited, six times):

* platform settings as for Redis/RabbitMQ (acks_late, prefetch multiplier 1), kombu's 1 s poll: 2.02 s;
* prefetch multiplier 4: 1.01 s; with this module's 0.1 s poll as well: 0.51 s (the rest is the
  client's result-backend polling, not part of a chain).

With acks_late and a prefetch of one, the worker may not take the next message before the last one is
acknowledged, and its synchronous consumer loop (used for transports without an event loop, like this
one) gets back to that only at its 2 s drain timeout. the settings therefore raise the prefetch
multiplier to 4 for this broker only (``gaitsite.settings``) (a development worker; messages stay unacknowledged until done,
so they are redelivered if the worker is lost), and ``celery_app`` selects this subclass for ``sqla+`` URLs: kombu's
virtual transports poll an empty queue once per ``polling_interval`` (1 s by default), and the
SQLAlchemy transport hands every transport option to ``create_engine`` (which rejects
``polling_interval``), so the interval is set here.
"""

from __future__ import annotations

from kombu.transport import sqlalchemy

POLLING_INTERVAL_S = 0.1


class Transport(sqlalchemy.Transport):
    polling_interval = POLLING_INTERVAL_S
