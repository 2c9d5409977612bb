"""Launch the real stack as subprocesses, for benchmarks and reliability harnesses.

What it starts, each as its own process group with its output in a log file:

- a dedicated PostgreSQL database (dropped and created again, migrated) and one shop
  made with ``manage.py shop create``;
- gunicorn serving ``loyalty_app.wsgi`` on a free loopback port;
- any number of ``celery worker`` processes (prefork by default) on a dedicated Redis
  database number, flushed at start;
- optionally ``celery beat`` (the sweeper's schedule);
- optionally a private ``redis-server`` on a free port, so that a harness can kill and
  restart the broker without touching the machine's shared Redis.

Every process has a handle (:class:`Proc`) that can be stopped, killed (any signal, the
whole process group or the main process only) and started again; the stack is a
context manager whose exit always kills everything it started, and an ``atexit`` hook
does the same if the caller forgets. Children also get ``PR_SET_PDEATHSIG`` so they die
with the harness even when the harness itself is SIGKILLed (they are all spawned from one
thread that the stack keeps alive until ``close()``, so any thread of the harness may start
or restart processes).

Usage::

    from bench.stack import Stack, StackConfig

    with Stack(StackConfig(db_name="loyalty_bench", celery_workers=2)) as stack:
        stack.start()
        print(stack.base_url, stack.shop_domain, stack.api_token)
        stack.kill_worker(0)          # SIGKILL the first worker's whole process group
        stack.restart_worker(0)       # and start it again (waits until it answers a ping)

The stack never imports Django: it talks to PostgreSQL with psycopg and to Redis with
redis-py, and runs the app only in its subprocesses.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEV_SECRET = "dev-api-secret"  # noqa: S105 - settings.py's documented DEBUG default

# Databases the stack must never drop, whatever it is asked.
PROTECTED_DATABASES = frozenset({"postgres", "template0", "template1", "loyalty", "test_loyalty"})


class StackError(RuntimeError):
    """The stack could not be started (a process died, or did not become ready)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def bench_database_setup(
    db_name: str, *, eager: bool = True, keep_redis: bool = False, fresh: bool = True
) -> None:
    """A fresh PostgreSQL database ``db_name`` on the server of ``$DATABASE_URL`` (dropped
    and created again), and Django set up on it, for the in-process benchmarks.

    ``eager``: Celery tasks run in-process. ``keep_redis``: keep ``$REDIS_URL`` (a bench
    that measures something Redis-backed); otherwise tasks never reach a broker.
    ``fresh=False``: use the database as it is (a seeded one, timed again); it must exist.
    Refuses the protected databases and any name that is not plain.
    """
    if db_name in PROTECTED_DATABASES or not db_name.replace("_", "").isalnum():
        raise SystemExit(f"refusing to use database {db_name!r}")
    base = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not base.startswith(("postgres://", "postgresql://")):
        raise SystemExit(f"the benchmark needs PostgreSQL, got {base!r}")
    import psycopg

    with psycopg.connect(_with_path(base, "/postgres"), autocommit=True) as admin:
        if fresh:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{db_name}"')
        elif not admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db_name]
        ).fetchone():
            raise SystemExit(f"database {db_name!r} does not exist: seed it first")
    os.environ["DATABASE_URL"] = _with_path(base, f"/{db_name}")
    if not keep_redis:
        os.environ.pop("REDIS_URL", None)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true" if eager else "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_app.settings")
    import django

    django.setup()


def _set_pdeathsig() -> None:
    """In the child, before exec: die with SIGKILL when the harness dies (Linux only)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Proc:
    """One managed subprocess (in its own process group), restartable."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_dir: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    log_path: Path | None = None
    #: Where ``Popen`` runs: PR_SET_PDEATHSIG fires when the *thread* that forked the child
    #: ends, so the stack spawns every process from one thread that lives as long as it does.
    spawner: concurrent.futures.Executor | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        if self.alive:
            raise StackError(f"{self.name} is already running (pid {self.pid})")
        self._close_log()
        self.starts += 1
        suffix = "" if self.starts == 1 else f".{self.starts}"
        self.log_path = self.log_dir / f"{self.name}{suffix}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open while the process runs
        if self.spawner is not None:
            self.popen = self.spawner.submit(self._popen).result()
        else:
            self.popen = self._popen()

    def _popen(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv,
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg reaches its children
            preexec_fn=_set_pdeathsig,  # noqa: PLW1509
        )

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def send_signal(self, sig: int, *, group: bool = True) -> None:
        """Signal the main process, or (``group``) it and every child it forked."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(self.popen.pid, sig)
            else:
                self.popen.send_signal(sig)

    def kill(self, *, group: bool = True, sig: int = signal.SIGKILL) -> None:
        """Kill now (SIGKILL by default) and reap the main process. ``group=False`` kills
        the main process only, as an OOM killer would: its children are left to notice."""
        if self.popen is None:
            return
        self.send_signal(sig, group=group)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        """Graceful stop (SIGTERM to the main process), then SIGKILL to the whole group."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.send_signal(signal.SIGTERM, group=False)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in the group (a hung main process, orphaned pool children).
        self.send_signal(signal.SIGKILL, group=True)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        self._close_log()

    def restart(self, timeout: float = 15.0) -> None:
        self.stop(timeout=timeout)
        self.start()

    def tail(self, lines: int = 30) -> str:
        return _tail(self.log_path, lines) if self.log_path else ""

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class StackConfig:
    db_name: str = "loyalty_bench"
    #: Base URLs: only their server part is used; the database name and the Redis db
    #: number come from ``db_name`` and ``redis_db``. Default: $DATABASE_URL / $REDIS_URL.
    database_url: str | None = None
    redis_url: str | None = None
    redis_db: int = 11
    #: Start a private redis-server on a free port instead of using the shared one
    #: (needed to kill or restart the broker).
    own_redis: bool = False
    own_redis_appendonly: bool = False
    web_workers: int = 2
    web_worker_class: str = "sync"  # or "gthread" (keep-alive, --threads)
    web_threads: int = 1
    web_backlog: int = 2048
    celery_workers: int = 1
    celery_concurrency: int = 2
    celery_pool: str = "prefork"
    celery_prefetch_multiplier: int | None = None
    celery_extra_args: list[str] = field(
        default_factory=lambda: ["--without-gossip", "--without-mingle"]
    )
    beat: bool = False
    shop_domain: str = "bench-store.myshopify.com"
    secret: str = field(default_factory=lambda: os.environ.get("SHOPIFY_API_SECRET") or DEV_SECRET)
    #: Extra environment for every app process (e.g. WEBHOOK_SWEEP_INTERVAL_SECONDS).
    extra_env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    #: Drop the database again when the stack closes.
    drop_db_on_close: bool = False
    ready_timeout: float = 60.0


class Stack:
    """The running stack. Use as a context manager; ``start()`` brings everything up."""

    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        cfg = self.config
        if cfg.db_name in PROTECTED_DATABASES or not cfg.db_name.replace("_", "").isalnum():
            raise StackError(f"refusing to use database {cfg.db_name!r}")
        base_db = cfg.database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        if not base_db.startswith(("postgres://", "postgresql://")):
            raise StackError(f"the stack needs PostgreSQL, got {base_db!r}")
        self.database_url = _with_path(base_db, f"/{cfg.db_name}")
        self.maintenance_url = _with_path(base_db, "/postgres")
        self.log_dir = cfg.log_dir or Path(tempfile.mkdtemp(prefix=f"{cfg.db_name}-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._spawner = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="stack-spawn")
        self.redis: Proc | None = None
        if cfg.own_redis:
            self.redis_port = free_port()
            self.redis_url = f"redis://127.0.0.1:{self.redis_port}/{cfg.redis_db}"
            argv = [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "yes" if cfg.own_redis_appendonly else "no",
                "--dir",
                str(self.log_dir),
            ]
            self.redis = Proc("redis", argv, dict(os.environ), self.log_dir, spawner=self._spawner)
        else:
            base_redis = cfg.redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
            self.redis_url = _with_path(base_redis, f"/{cfg.redis_db}")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = self._app_env()
        self.web = Proc("web", self._web_argv(), self.env, self.log_dir, spawner=self._spawner)
        self.workers = [
            Proc(f"worker{i}", self._worker_argv(i), self.env, self.log_dir, spawner=self._spawner)
            for i in range(cfg.celery_workers)
        ]
        self.beat: Proc | None = (
            Proc("beat", self._beat_argv(), self.env, self.log_dir, spawner=self._spawner)
            if cfg.beat
            else None
        )
        self.shop: dict[str, Any] = {}
        self._celery_app: Any = None
        self._closed = False
        atexit.register(self.close)

    # --- configuration ----------------------------------------------------------------

    def _app_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("DJANGO_SETTINGS_MODULE", "PORT", "WEB_CONCURRENCY"):
            env.pop(name, None)
        env.update(
            {
                "DEBUG": "true",
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "LOG_LEVEL": "WARNING",
                "CELERY_TASK_ALWAYS_EAGER": "false",
                "SHOPIFY_API_SECRET": self.config.secret,
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(REPO),
            }
        )
        if self.config.celery_prefetch_multiplier is not None:
            env["CELERY_WORKER_PREFETCH_MULTIPLIER"] = str(self.config.celery_prefetch_multiplier)
        env.update(self.config.extra_env)
        return env

    def _web_argv(self) -> list[str]:
        cfg = self.config
        return [
            PYTHON,
            "-m",
            "gunicorn",
            "loyalty_app.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(cfg.web_workers),
            "--worker-class",
            cfg.web_worker_class,
            "--threads",
            str(cfg.web_threads),
            "--backlog",
            str(cfg.web_backlog),
            "--keep-alive",
            "30",
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
            "--log-level",
            "info",  # the "Booting worker" lines tell when every worker is up
        ]

    def worker_name(self, index: int) -> str:
        return f"bench{index}@{socket.gethostname()}"

    def _worker_argv(self, index: int) -> list[str]:
        cfg = self.config
        return [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "loyalty_app",
            "worker",
            "--pool",
            cfg.celery_pool,
            "--concurrency",
            str(cfg.celery_concurrency),
            "-n",
            self.worker_name(index),
            "-Q",
            "celery",
            "--loglevel",
            "WARNING",
            *cfg.celery_extra_args,
        ]

    def _beat_argv(self) -> list[str]:
        return [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "loyalty_app",
            "beat",
            "--schedule",
            str(self.log_dir / "celerybeat-schedule"),
            "--loglevel",
            "WARNING",
        ]

    # --- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Stack:
        """Database, migrations, shop, broker, web, workers, beat; returns when all are ready."""
        try:
            if self.redis is not None:
                self.start_redis()
            self.flush_redis()
            self.create_database()
            self.migrate()
            self.create_shop()
            self.web.start()
            for worker in self.workers:
                worker.start()
            if self.beat is not None:
                self.beat.start()
            self.wait_web_ready()
            self.wait_workers_ready()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop everything this stack started. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        procs = [p for p in [self.beat, *self.workers, self.web] if p is not None]
        for proc in procs:  # ask all first, so they shut down in parallel
            if proc.alive:
                proc.send_signal(signal.SIGTERM, group=False)
        deadline = time.monotonic() + 10
        for proc in procs:
            if proc.popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in procs:
            proc.stop(timeout=0.1)
        if self.redis is not None:
            self.redis.stop(timeout=5)
        self._reset_celery_app()
        self._spawner.shutdown(wait=False)
        if self.config.drop_db_on_close:
            with contextlib.suppress(Exception):
                self.drop_database()
        atexit.unregister(self.close)

    # --- database -------------------------------------------------------------------

    def _admin_connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.maintenance_url, autocommit=True)

    def drop_database(self) -> None:
        with self._admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.config.db_name}" WITH (FORCE)')

    def create_database(self) -> None:
        with self._admin_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.config.db_name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.config.db_name}"')

    def connect(self) -> Any:
        """A psycopg connection to the stack's database (autocommit)."""
        import psycopg

        return psycopg.connect(self.database_url, autocommit=True)

    def manage(self, *args: str, timeout: float = 300) -> str:
        """Run ``manage.py`` with the stack's environment; returns its stdout."""
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(
                f"manage.py {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
            )
        return result.stdout

    def migrate(self) -> None:
        self.manage("migrate", "--noinput", "-v0")

    def create_shop(self) -> dict[str, Any]:
        out = self.manage("shop", "create", "--domain", self.config.shop_domain)
        lines = [line for line in out.splitlines() if line.strip().startswith("{")]
        if not lines:
            raise StackError(f"`shop create` printed no JSON: {out!r}")
        self.shop = json.loads(lines[-1])
        return self.shop

    @property
    def shop_domain(self) -> str:
        return str(self.shop.get("shop") or self.config.shop_domain)

    @property
    def shop_id(self) -> int:
        return int(self.shop["shop_id"])

    @property
    def api_token(self) -> str:
        return str(self.shop["api_token"])

    # --- redis ------------------------------------------------------------------

    def redis_client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.redis_url, socket_timeout=5, socket_connect_timeout=5)

    def flush_redis(self) -> None:
        """FLUSHDB on the stack's own Redis database number only."""
        client = self.redis_client()
        try:
            client.flushdb()
        finally:
            client.close()

    def start_redis(self) -> None:
        if self.redis is None:
            raise StackError("this stack uses the shared Redis; set own_redis=True to manage it")
        self.redis.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if not self.redis.alive:
                raise StackError(f"redis-server exited:\n{self.redis.tail()}")
            with contextlib.suppress(Exception):
                client = self.redis_client()
                try:
                    if client.ping():
                        return
                finally:
                    client.close()
            time.sleep(0.05)
        raise StackError("redis-server did not answer within 15 s")

    def kill_redis(self, sig: int = signal.SIGKILL) -> None:
        if self.redis is None:
            raise StackError("this stack uses the shared Redis; set own_redis=True to manage it")
        self.redis.kill(sig=sig)

    def restart_redis(self, *, kill: bool = True) -> None:
        """Kill (or stop) the private redis-server and start it again on the same port."""
        if self.redis is None:
            raise StackError("this stack uses the shared Redis; set own_redis=True to manage it")
        if kill:
            self.redis.kill()
        else:
            self.redis.stop()
        self.start_redis()

    def queue_length(self, queue: str = "celery") -> int:
        client = self.redis_client()
        try:
            return int(client.llen(queue))
        finally:
            client.close()

    # --- web ------------------------------------------------------------------

    def wait_web_ready(self, timeout: float | None = None) -> None:
        """Until gunicorn answers HTTP and every worker it was asked for has booted."""
        deadline = time.monotonic() + (timeout or self.config.ready_timeout)
        want = self.config.web_workers
        while time.monotonic() < deadline:
            if not self.web.alive:
                raise StackError(f"gunicorn exited with {self.web.returncode}:\n{self.web.tail()}")
            log = self.web.log_path.read_text(errors="replace") if self.web.log_path else ""
            if log.count("Booting worker with pid") >= want and self._http_up():
                return
            time.sleep(0.1)
        raise StackError(f"gunicorn was not ready within the timeout:\n{self.web.tail()}")

    def _http_up(self) -> bool:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/shopify/webhooks")  # POST only: 405 means Django answered
            return conn.getresponse().status < 500
        except OSError:
            return False
        finally:
            conn.close()

    def restart_web(self) -> None:
        self.web.restart()
        self.wait_web_ready()

    # --- workers --------------------------------------------------------------

    def celery_app(self) -> Any:
        """A bare Celery app on the stack's broker (for control commands; no Django)."""
        if self._celery_app is None:
            from celery import Celery

            self._celery_app = Celery("bench-control", broker=self.redis_url)
        return self._celery_app

    def _reset_celery_app(self) -> None:
        if self._celery_app is not None:
            with contextlib.suppress(Exception):
                self._celery_app.close()
            self._celery_app = None

    def ping_workers(self, names: list[str] | None = None, timeout: float = 1.0) -> set[str]:
        """Names of the workers that answered a ping (empty if the broker is unreachable)."""
        for attempt in range(2):
            try:
                replies = self.celery_app().control.ping(destination=names, timeout=timeout) or []
                return {name for reply in replies for name in reply}
            except Exception:
                # A broker restart leaves the pooled control connection dead: start afresh.
                self._reset_celery_app()
                if attempt:
                    return set()
        return set()

    def task_counts(self, timeout: float = 2.0) -> dict[str, int]:
        """Tasks run per task name, summed over the workers that answered (since each one's
        last start)."""
        try:
            replies = self.celery_app().control.inspect(timeout=timeout).stats() or {}
        except Exception:
            self._reset_celery_app()
            raise
        counts: dict[str, int] = {}
        for stats in replies.values():
            for name, count in (stats.get("total") or {}).items():
                counts[name] = counts.get(name, 0) + int(count)
        return counts

    def wait_workers_ready(
        self, indexes: list[int] | None = None, timeout: float | None = None
    ) -> None:
        indexes = list(range(len(self.workers))) if indexes is None else indexes
        if not indexes:
            return
        waiting = {self.worker_name(i): i for i in indexes}
        deadline = time.monotonic() + (timeout or self.config.ready_timeout)
        while time.monotonic() < deadline:
            for i in waiting.values():
                if not self.workers[i].alive:
                    raise StackError(
                        f"celery worker {i} exited with {self.workers[i].returncode}:\n"
                        f"{self.workers[i].tail()}"
                    )
            for name in self.ping_workers(list(waiting), timeout=0.5):
                waiting.pop(name, None)
            if not waiting:
                return
            time.sleep(0.1)
        raise StackError(f"celery workers {sorted(waiting)} did not answer a ping in time")

    def stop_worker(self, index: int, timeout: float = 15.0) -> None:
        """Warm shutdown (SIGTERM: finish the running tasks), then SIGKILL what is left."""
        self.workers[index].stop(timeout=timeout)

    def kill_worker(self, index: int, *, group: bool = True, sig: int = signal.SIGKILL) -> None:
        """SIGKILL a worker now. ``group=False`` kills the main process only."""
        self.workers[index].kill(group=group, sig=sig)

    def start_worker(self, index: int, *, wait: bool = True) -> None:
        self.workers[index].start()
        if wait:
            self.wait_workers_ready([index])

    def restart_worker(self, index: int, *, kill: bool = True, wait: bool = True) -> None:
        if kill:
            self.workers[index].kill()
            self.workers[index].stop(timeout=0.1)  # reap whatever the group left behind
        else:
            self.workers[index].stop()
        self.start_worker(index, wait=wait)

    def add_worker(self, *, wait: bool = True) -> int:
        index = len(self.workers)
        self.workers.append(
            Proc(
                f"worker{index}",
                self._worker_argv(index),
                self.env,
                self.log_dir,
                spawner=self._spawner,
            )
        )
        self.start_worker(index, wait=wait)
        return index

    def processes(self) -> Iterator[Proc]:
        yield from (p for p in [self.redis, self.web, *self.workers, self.beat] if p is not None)

    def child_pids(self) -> dict[str, list[int]]:
        """Every live pid (zombies excluded) of each managed process group."""
        result: dict[str, list[int]] = {}
        for proc in self.processes():
            if proc.pid is None:
                continue
            pids = []
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                with contextlib.suppress(OSError, ValueError, IndexError):
                    stat = (entry / "stat").read_text()
                    fields = stat[stat.rindex(")") + 2 :].split()
                    if fields[0] != "Z" and int(fields[2]) == proc.pid:
                        pids.append(int(entry.name))
            result[proc.name] = sorted(pids)
        return result

    def describe(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "database": cfg.db_name,
            "redis": self.redis_url,
            "base_url": self.base_url,
            "web_workers": cfg.web_workers,
            "web_worker_class": cfg.web_worker_class,
            "web_threads": cfg.web_threads,
            "celery_workers": len(self.workers),
            "celery_concurrency": cfg.celery_concurrency,
            "celery_pool": cfg.celery_pool,
            "beat": cfg.beat,
            "log_dir": str(self.log_dir),
        }
