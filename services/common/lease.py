"""One holder among the replicas of a role, for work that must run once per fleet (the MQTT publisher).

On PostgreSQL (a fleet's catalog) the lease is a session advisory lock on a connection of its own: it
is held while that connection lives, so a replica that dies or loses the database hands it over by
itself, with no expiry to tune. On SQLite (one host) it is an exclusive flock on a file beside the
database, held by the process until it releases it or exits.
"""

from __future__ import annotations

import fcntl
import logging
import os
import zlib
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)


class Lease:
    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.key = zlib.crc32(name.encode())  # the advisory lock's key: stable across replicas and releases
        self._conn: Connection | None = None
        self._fd: int | None = None

    def held(self) -> bool:
        """Whether this process holds the lease now, taking it when it is free."""
        if self.engine.dialect.name == "postgresql":
            return self._held_postgres()
        database = self.engine.url.database
        if not database or database == ":memory:":  # a catalog no other process can open
            return True
        return self._held_file(Path(f"{database}.{self.name}.lease"))

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            except DBAPIError:
                pass  # the connection is gone, and the lock with it
            self._close()
        if self._fd is not None:
            os.close(self._fd)  # the flock goes with the descriptor
            self._fd = None

    def _held_postgres(self) -> bool:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                return True
            except DBAPIError:
                log.warning("lease lost with its database connection", extra={"lease": self.name})
                self._close()
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            taken = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar_one()
        except DBAPIError:
            conn.invalidate()
            conn.close()
            raise
        if not taken:
            conn.close()
            return False
        self._conn = conn
        log.info("lease taken", extra={"lease": self.name})
        return True

    def _close(self) -> None:
        """Close the lease's connection for good (never back to the pool, where it would keep the lock)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.invalidate()
            conn.close()

    def _held_file(self, path: Path) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        log.info("lease taken", extra={"lease": self.name})
        return True
