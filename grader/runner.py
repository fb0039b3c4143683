"""Start a learner's app in its own process, talk to it over HTTP, and always end it.

Learner code never runs inside the grader: it runs as ``uvicorn app.main:app`` in a child
process (its own session, so the whole process group can be ended), with stdout and stderr
captured to a file we can show when something goes wrong.

On Linux the app runs under ``grader/reaper.py`` (see there): a subreaper with a parent-death
signal, so that nothing the app starts, detached or not, outlives grading or the grader, and
the app gets resource limits and a capped log. Elsewhere (macOS) the app runs directly in its
own session and only its process group is ended.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

# How long an app may take to start listening *without using the CPU* (a hang); an app still
# importing (LiteLLM takes seconds, many times that on a busy 2-core machine or a cold disk) is
# given up to START_MAX_S, so a slow start is not mistaken for a broken one.
START_TIMEOUT_S = float(os.environ.get("GRADER_START_TIMEOUT_S", "20"))
START_MAX_S = float(os.environ.get("GRADER_START_MAX_S", "90"))
CPU_PROGRESS_S = 0.05  # CPU seconds in one sample (about 1 s) that count as still starting
REQUEST_TIMEOUT_S = float(os.environ.get("GRADER_REQUEST_TIMEOUT_S", "10"))
# Limits for a learner's processes (Linux). Memory is RLIMIT_DATA, the heap and anonymous maps
# (not address space, which threads and arenas inflate): a LiteLLM app peaks near 250 MB.
MEMORY_MB = int(os.environ.get("GRADER_APP_MEMORY_MB", "2048"))
FILE_MB = int(os.environ.get("GRADER_APP_FILE_MB", "512"))  # the largest file the app may write
EXTRA_PROCESSES = int(os.environ.get("GRADER_APP_PROCESSES", "512"))  # tasks over the user's current count
LOG_MAX_BYTES = int(os.environ.get("GRADER_APP_LOG_MAX_BYTES", str(4 * 1024 * 1024)))
LINE_MAX_CHARS = 300  # of one app log line, wherever the grader shows one
TAIL_MAX_CHARS = 4000

REAPER = Path(__file__).with_name("reaper.py")
MARKER_ENV = "GRADER_APP_MARK"
LINUX = sys.platform.startswith("linux") and os.path.isdir("/proc/self")

_live: weakref.WeakSet[RunningApp] = weakref.WeakSet()
_marks: set[str] = set()


class AppStartError(Exception):
    """The app did not come up; the message says why, with its last log lines."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(text: str, lines: int = 12) -> str:
    """The last lines of an app's log, each line and the whole cut to a size one can read."""
    last = text.rstrip().rsplit("\n", lines)[-lines:]  # rsplit: no list of every line of a big log
    shown = [line if len(line) <= LINE_MAX_CHARS else line[:LINE_MAX_CHARS] + f" … ({len(line)} characters)"
             for line in (x.rstrip("\r") for x in last)]
    return "\n".join(shown)[-TAIL_MAX_CHARS:]


def _user_tasks() -> int:
    """Processes and threads of this user now: RLIMIT_NPROC counts them all, not only the app's."""
    uid, count = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if int(fields.get("Uid", "-1").split()[0]) == uid:
                count += int(fields.get("Threads", "1"))
    return count


def wrapped(argv: list[str], log_max: int = 0, limits: bool = False) -> list[str]:
    """``argv`` run under the reaper (Linux), which ends its whole tree when told or when we die."""
    if not LINUX:
        return argv
    opts = [f"--parent={os.getpid()}", f"--logmax={log_max}"]
    if limits:
        opts += [f"--mem={MEMORY_MB * 1024 * 1024}", f"--fsize={FILE_MB * 1024 * 1024}"]
        if os.getuid() != 0:  # root is exempt from RLIMIT_NPROC anyway
            opts.append(f"--nproc={_user_tasks() + EXTRA_PROCESSES}")
    return [sys.executable, "-I", "-S", str(REAPER), *opts, "--", *argv]


# Linux sends a child its parent-death signal when the *thread* that forked it ends, not the
# process: criteria start apps from short-lived worker threads, so every app and service is
# forked by this one thread, which lives as long as the grader.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grader-spawn")


def spawn(*args, **kwargs) -> subprocess.Popen:
    """subprocess.Popen, forked from the grader's long-lived spawning thread."""
    return _SPAWNER.submit(subprocess.Popen, *args, **kwargs).result()


def sweep(marks: set[str] | None = None) -> int:
    """SIGKILL any process that still carries one of our apps' marks in its environment (Linux):
    the last resort for a process that escaped its reaper. Returns how many were found."""
    if not LINUX:
        return 0
    needles = [f"{MARKER_ENV}={m}".encode() for m in (_marks if marks is None else marks)]
    if not needles:
        return 0
    found = 0
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if any(n + b"\0" in environ + b"\0" for n in needles):
            found += 1
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry), signal.SIGKILL)
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(int(entry), os.WNOHANG)  # an orphan we adopted as a subreaper
    return found


def explain_exit(returncode: int | None, logs: str) -> str:
    """Why an app that died may have died, when one of the grader's limits is the likely cause."""
    recent = logs[-20000:]
    if returncode == -signal.SIGXFSZ or "File too large" in recent:
        return f" (it hit the grader's file size limit of {FILE_MB} MB, GRADER_APP_FILE_MB)"
    if "MemoryError" in recent or "Cannot allocate memory" in recent or "bad_alloc" in recent:
        return f" (it ran out of the {MEMORY_MB} MB of memory the grader allows, GRADER_APP_MEMORY_MB)"
    if "can't start new thread" in recent or ("Resource temporarily unavailable" in recent and "fork" in recent):
        return (" (it could not start another process or thread: the grader allows "
                f"{EXTRA_PROCESSES} more, GRADER_APP_PROCESSES)")
    return ""


class _CpuProgress:
    """Whether a process tree (the reaper and the app below it) used the CPU since the last look,
    sampled about once a second from /proc (Linux; elsewhere never busy: the plain timeout)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.last_cpu, self.last_look = self._cpu(), time.monotonic()

    def _cpu(self) -> float:
        if not LINUX:
            return 0.0
        from grader.reaper import descendants  # the standard library only

        ticks = 0
        for pid in (self.root, *descendants(self.root)):
            try:
                stat = Path(f"/proc/{pid}/stat").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2 :].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / (os.sysconf("SC_CLK_TCK") or 100)

    def busy(self) -> bool:
        if not LINUX or time.monotonic() - self.last_look < 1.0:
            return False
        cpu = self._cpu()
        used, self.last_cpu, self.last_look = cpu - self.last_cpu, cpu, time.monotonic()
        return used >= CPU_PROGRESS_S


class RunningApp:
    """One learner app process and an HTTP client pointed at it."""

    def __init__(
        self,
        cwd: Path,
        argv: list[str] | None = None,
        env: dict[str, str] | None = None,
        secrets: list[str] | None = None,
        name: str = "app",
        ready_path: str | None = None,
    ) -> None:
        self.cwd = Path(cwd)
        self.name = name
        self.port = free_port()
        self.host = "127.0.0.1"
        self.url = f"http://{self.host}:{self.port}"
        argv = argv or [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "{host}", "--port", "{port}"]
        self.argv = [a.replace("{port}", str(self.port)).replace("{host}", self.host) for a in argv]
        self.env = dict(env or {})
        self.secrets = [s for s in (secrets or []) if s]
        self.ready_path = ready_path
        # the log outlives this call on purpose: close() removes it
        self._log = tempfile.NamedTemporaryFile(prefix=f"grader-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc: subprocess.Popen | None = None
        # every response passes the leak watch (grader.leaks), however a check reads it
        self.watch = None
        self.client = httpx.Client(base_url=self.url, timeout=REQUEST_TIMEOUT_S,
                                   event_hooks={"response": [self._watch_response]})
        self.mark = uuid.uuid4().hex
        self.current: tuple[str, float] | None = None  # the request waiting for an answer, and since when

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT_S) -> RunningApp:
        env = {**os.environ, **self.env}
        env.setdefault("PYTHONUNBUFFERED", "1")
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave no __pycache__ in a learner's folder
        env[MARKER_ENV] = self.mark
        _marks.add(self.mark)
        if self.argv[0] == sys.executable:
            # the project folder first on the path, as `uvicorn app.main:app` run there would
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.cwd), env.get("PYTHONPATH")]))
        try:
            self.proc = spawn(
                wrapped(self.argv, log_max=LOG_MAX_BYTES, limits=True),
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise AppStartError(f"could not run {' '.join(self.argv)}: {exc}") from None
        _live.add(self)
        started = time.monotonic()
        hard_deadline = started + max(timeout, START_MAX_S)
        deadline = started + timeout  # moved on while the app keeps using the CPU
        progress = _CpuProgress(self.proc.pid)
        listening = False
        while time.monotonic() < min(deadline, hard_deadline):
            if self.proc.poll() is not None:
                logs = self.logs()
                raise AppStartError(
                    f"the app exited during start-up (exit code {self.proc.returncode})"
                    f"{explain_exit(self.proc.returncode, logs)}:\n" + tail(logs)
                )
            listening = listening or self._accepting()
            if listening and (self.ready_path is None or self._answers(self.ready_path, min(deadline, hard_deadline))):
                return self
            if progress.busy():
                deadline = time.monotonic() + timeout
            time.sleep(0.05)
        waited = time.monotonic() - started
        self.stop()
        if deadline > hard_deadline:
            why = f"{waited:.0f} s, busy all along (GRADER_START_MAX_S)"
        elif waited > timeout + 1:
            why = f"{waited:.0f} s, the last {timeout:.0f} s of it without using the CPU"
        else:
            why = f"{waited:.0f} s"
        if listening:  # slow, not dead: say what it did not answer
            raise AppStartError(
                f"the app listens on port {self.port} but did not answer GET {self.ready_path} within "
                f"{why}:\n" + tail(self.logs())
            )
        raise AppStartError(
            f"the app did not start listening on port {self.port} within {why}:\n"
            + tail(self.logs())
        )

    def _accepting(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def _answers(self, path: str, deadline: float) -> bool:
        # wait as long as start-up may still take: a slow page is slow, not missing
        wait = max(0.5, min(REQUEST_TIMEOUT_S, deadline - time.monotonic()))
        try:
            return self.client.get(path, timeout=wait).status_code < 500
        except httpx.HTTPError:
            return False

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 3.0) -> None:
        """End the whole process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
                try:
                    os.killpg(proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    break
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if proc is not None:
            # children that outlived their parent (a learner's app may spawn some)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            sweep({self.mark})  # and any that left the group and escaped the reaper
        self.client.close()
        _live.discard(self)

    def _watch_response(self, response: httpx.Response) -> None:
        if self.watch is not None:
            self.watch.response(response)

    def close(self) -> None:
        self.stop()
        if self.watch is not None:  # the whole log, once the app can write no more
            self.watch.log(self._log.name, self.name)
        with contextlib.suppress(OSError):
            os.unlink(self._log.name)

    def __enter__(self) -> RunningApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- observing ---------------------------------------------------------------------------
    def logs(self) -> str:
        self._log.flush()
        try:
            return Path(self._log.name).read_text(errors="replace")
        except OSError:
            return ""

    def exit_detail(self) -> str:
        """' (the app process has exited with code N, and why if a limit is the likely cause)', or ''."""
        if self.alive or self.proc is None:
            return ""
        return f" (the app process has exited with code {self.proc.returncode})" + explain_exit(
            self.proc.returncode, self.logs())

    def waiting_for(self) -> str:
        """'GET /x, waiting 8.9 s' for the request in flight, or ''."""
        if self.current is None:
            return ""
        what, since = self.current
        return f"{what}, waiting {time.monotonic() - since:.1f} s"

    # -- HTTP ----------------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        timeout = kwargs.pop("timeout", REQUEST_TIMEOUT_S)
        self.current = (f"{method} {path}", time.monotonic())
        try:
            response = self.client.request(method, path, timeout=timeout, **kwargs)
        except httpx.TimeoutException:
            self.current = None
            raise AssertionError(
                f"the app did not answer {method} {path} within {timeout:g} s"
            ) from None
        except httpx.TransportError as exc:
            self.current = None
            try:  # a dropped connection often means the process is on its way out
                if self.proc is not None:
                    self.proc.wait(1)
            except subprocess.TimeoutExpired:
                pass
            raise AssertionError(f"{method} {path} failed: {exc.__class__.__name__}{self.exit_detail()}") from None
        except Exception:
            self.current = None
            raise
        # (a grader time limit stops a request with a BaseException: self.current then says what was slow)
        self.current = None
        return response

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    @contextlib.contextmanager
    def stream(self, method: str, path: str, **kwargs):
        """httpx streaming context manager (``with app.stream("POST", ...) as r:``)."""
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)
        self.current = (f"{method} {path}", time.monotonic())
        try:
            with self.client.stream(method, path, **kwargs) as response:
                yield response
        except Exception:
            self.current = None
            raise
        self.current = None


def stop_all() -> None:
    for app in list(_live):
        app.stop(grace=1.0)
    sweep()


atexit.register(stop_all)
