"""The embedded development broker: kombu's SQLAlchemy transport (``sqla+sqlite:///...``), polled faster.

kombu's virtual transports poll an empty queue once per ``polling_interval`` (1 s by default). A session
goes through six chained tasks, each queued by the one before, so with the default the worker idled about
a second between every two steps: the demo's 33 sessions spent minutes waiting on the poll, not working.
The SQLAlchemy transport hands every transport option to ``create_engine`` (which rejects
``polling_interval``), so the interval is set on this subclass instead; ``celery_app`` selects it for
``sqla+`` broker URLs. An idle worker then runs a few cheap SQLite queries per poll (measured: under 1 %
of a core).
"""

from __future__ import annotations

from kombu.transport import sqlalchemy

POLLING_INTERVAL_S = 0.1


class Transport(sqlalchemy.Transport):
    polling_interval = POLLING_INTERVAL_S
