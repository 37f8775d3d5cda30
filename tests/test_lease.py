"""The lease that lets one replica of a role run what must run once (the MQTT publisher): on SQLite and
on the PostgreSQL server at 127.0.0.1:5432, handed over when its holder releases it or dies."""

from __future__ import annotations

import time

from sqlalchemy import create_engine, text

from services.common.catalog import Catalog
from services.common.lease import Lease


def test_one_process_holds_a_sqlite_lease_until_it_lets_go(tmp_path):
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    a, b = Lease(create_engine(url), "mqtt-publisher"), Lease(create_engine(url), "mqtt-publisher")
    assert a.held() and a.held() and not b.held()  # held again by its holder, refused to the other
    assert Lease(create_engine(url), "another-job").held()  # leases of other names are independent
    a.release()
    assert b.held() and not a.held()
    b.release()


def test_a_postgres_lease_passes_to_another_replica_when_its_holder_dies(postgres_url):
    a, b = Catalog(postgres_url), Catalog(postgres_url)  # two replicas sharing one catalog
    first, second = Lease(a.engine, "mqtt-publisher"), Lease(b.engine, "mqtt-publisher")
    try:
        assert first.held() and not second.held()
        first.release()
        assert second.held() and not first.held()
        with b.engine.connect() as conn:  # the holder's session dies (a crashed replica, a dropped connection)
            pid = second._conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + 30  # the backend exits (and the lock goes with it) a moment after the signal
        while not first.held() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.held() and not second.held()  # the lock went with the session
    finally:
        for lease in (first, second):
            lease.release()
        a.engine.dispose()
        b.engine.dispose()
