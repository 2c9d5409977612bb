"""Real concurrency on PostgreSQL for the tests: threads, each with its own connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def run_concurrently(
    work: Callable[[int], Any], n: int, *, timeout: float = 120
) -> tuple[list[Any], list[BaseException]]:
    """Run ``work(i)`` in ``n`` threads that start together; each uses and closes its own
    database connection. Returns the results and the exceptions raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def target(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            result = work(i)
            with lock:
                results.append(result)
        except BaseException as exc:  # collected and asserted on by the test
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (deadlock?)"
    return results, errors
