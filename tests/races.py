"""Races for the concurrency tests: work run in threads released together, each thread with its
own database connection, as web workers are."""

import threading
import time
from contextlib import contextmanager

from django.db import connection, transaction


def race(count: int, work, *, timeout: float = 120) -> list:
    """Run `work(i)` in `count` threads released together; each outcome or exception (every
    outcome, refusal or crash, is for the test to inspect).

    Returns once the threads' connections are gone from the server too: a closed connection's
    server process takes a moment to exit and holds one of PostgreSQL's connection slots (100
    by default) until it has, so races in a row would otherwise be refused connections ("too
    many clients") that no single race needs."""
    barrier = threading.Barrier(count)
    outcomes: list = [None] * count

    def run(i):
        try:
            barrier.wait(timeout=30)
            outcomes[i] = work(i)
        except Exception as exc:
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads)
    _wait_for_closed_connections()
    return outcomes


def _wait_for_closed_connections(limit: float = 10) -> None:
    """Until no other connection to this test database remains (each test process has its own
    database), or `limit` seconds."""
    deadline = time.monotonic() + limit
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND pid <> pg_backend_pid()")
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.02)


@contextmanager
def locked_elsewhere(queryset, *, no_key: bool = False):
    """The rows of `queryset` locked by another connection (a thread's, in a transaction of its
    own) for the length of the `with` block: `FOR UPDATE`, or with `no_key` what an UPDATE of
    them takes (`FOR NO KEY UPDATE`)."""
    held, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                list(queryset.select_for_update(no_key=no_key))
                held.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(timeout=30), "the other connection did not get the lock"
        yield
    finally:
        release.set()
        holder.join(timeout=30)
