"""A small process between the grader and a learner's app (Linux): ``python -I reaper.py ...``.

Why a process of its own: a learner's app may start children that detach (``setsid``, double
fork) and so leave the app's process group, and the grader may itself be killed (SIGKILL, a
closed terminal). This process

* is a *child subreaper* (prctl PR_SET_CHILD_SUBREAPER): every orphan below it is re-parented to
  it, not to init, so it can find and end all of them;
* has a *parent-death signal* (PR_SET_PDEATHSIG): when the grader dies, for any reason, it gets
  SIGTERM and ends the app and everything the app started;
* gives the app its resource limits (memory, processes, file size) and a parent-death signal;
* copies the app's output to its own stdout (the grader's log file), at most ``--log-max``
  bytes: past that it keeps the newest half, so a flood cannot fill the disk or the grader;
* ignores signals sent by the app and its children (``os.kill(os.getppid(), SIGTERM)`` or
  ``os.killpg(0, ...)``): only the grader, or the grader's death, stops it.

It exits with the app's exit status (or dies by the app's signal), so the grader reads the
app's ``returncode`` as before. Run with ``-I``: nothing from the learner's folder is imported.
Only the standard library, and few modules of it (run with ``-I -S``): it must start fast.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
MARKER_ENV = "GRADER_APP_MARK"  # every process of one app carries it; the grader's last sweep uses it


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def descendants(root: int) -> list[int]:
    """PIDs below ``root`` (from /proc), deepest last."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may hold spaces and ')': the fields after the last ')' are fixed
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            found.append(pid)
            todo.append(pid)
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _reap_adopted(me: int, keep: int) -> None:
    """Wait for exited orphans (not the app: _App waits for it), so no zombie piles up."""
    for pid in descendants(me):
        if pid != keep:
            with contextlib.suppress(ChildProcessError):  # a grandchild is not ours to wait for
                os.waitpid(pid, os.WNOHANG)


def kill_tree(root: int, rounds: int = 50) -> None:
    """SIGKILL every process below ``root`` until none is left (a fork loop keeps making more)."""
    for _ in range(rounds):
        pids = descendants(root)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
        _reap()


def _is_below(pid: int, root: int) -> bool:
    """Whether ``pid`` is a descendant of ``root`` (walking /proc up the parent chain)."""
    for _ in range(64):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return False
        pid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        if pid == root:
            return True
        if pid <= 1:
            return False
    return False


def _limits(args: dict[str, int]) -> list[tuple[int, int]]:
    wanted = []
    if args.get("mem"):
        wanted.append((resource.RLIMIT_DATA, args["mem"]))
    if args.get("fsize"):
        wanted.append((resource.RLIMIT_FSIZE, args["fsize"]))
    if args.get("nproc") and hasattr(resource, "RLIMIT_NPROC"):
        wanted.append((resource.RLIMIT_NPROC, args["nproc"]))
    return wanted


class _App:
    """The app's process (``subprocess`` would cost this short-lived process its start-up time)."""

    def __init__(self, cmd: list[str], in_child) -> None:
        read, write = os.pipe()
        self.returncode: int | None = None
        self.pid = os.fork()
        if self.pid == 0:  # the app's process, until exec
            try:
                os.close(read)
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                os.dup2(write, 1)
                os.dup2(write, 2)
                os.close(write)
                in_child()
                os.execvp(cmd[0], cmd)
            except BaseException as exc:  # noqa: BLE001 - said in the log, then this process ends
                os.write(2, f"could not run {' '.join(cmd)}: {exc}\n".encode(errors="replace"))
            finally:
                os._exit(127)
        os.close(write)
        self.output = read

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode


class _Log:
    """The app's output, copied to fd 1 with a size cap (the newest half is kept)."""

    def __init__(self, fd: int, cap: int) -> None:
        self.fd, self.cap, self.size, self.dropped = fd, cap, 0, 0

    def write(self, data: bytes) -> None:
        if self.cap and self.size + len(data) > self.cap:
            self._shrink(len(data))
        os.write(self.fd, data)
        self.size += len(data)

    def _shrink(self, incoming: int) -> None:
        keep = max(0, self.cap // 2 - incoming)
        try:
            kept = os.pread(self.fd, keep, self.size - keep) if keep else b""
        except OSError:  # not a regular file (a pipe): nothing to rewrite
            self.size = 0
            return
        self.dropped += self.size - len(kept)
        note = f"[grader: {self.dropped} bytes of earlier app output dropped]\n".encode()
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        os.write(self.fd, note + kept)
        self.size = len(note) + len(kept)


def _pump(pipe: int, log: _Log) -> None:
    while True:
        try:
            data = os.read(pipe, 65536)
        except OSError:
            return
        if not data:
            return
        try:
            log.write(data)
        except OSError:
            return


def main(argv: list[str]) -> int:
    opts: dict[str, int] = {}
    while argv and argv[0] != "--":
        key, _, value = argv.pop(0).lstrip("-").partition("=")
        opts[key] = int(value)
    cmd = argv[1:]
    grader = opts.get("parent", os.getppid())
    me = os.getpid()
    # signals are taken with sigtimedwait below, to know who sent them
    signal.pthread_sigmask(signal.SIG_BLOCK, {*STOP_SIGNALS, signal.SIGCHLD})
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != grader:  # the grader died before the line above
        return 1
    limits = _limits(opts)

    def in_child() -> None:  # runs in the app's process, before exec (this process has no thread yet)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores these; a program expects the default
            signal.signal(sig, signal.SIG_DFL)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != me:
            os._exit(1)
        for which, value in limits:
            with contextlib.suppress(ValueError, OSError):  # a lower hard limit is already there: keep it
                hard = resource.getrlimit(which)[1]
                value = value if hard == resource.RLIM_INFINITY else min(value, hard)
                resource.setrlimit(which, (value, value))

    try:
        app = _App(cmd, in_child)
    except OSError as exc:
        print(f"could not run {' '.join(cmd)}: {exc}", flush=True)
        return 127
    log = _Log(1, opts.get("logmax", 0))
    pump = threading.Thread(target=_pump, args=(app.output, log), daemon=True)
    pump.start()
    stopping_since = None
    grace = opts.get("grace", 2)  # less than the grader waits before its SIGKILL
    while True:
        info = signal.sigtimedwait({*STOP_SIGNALS, signal.SIGCHLD}, 0.2)
        if info is not None and info.si_signo in STOP_SIGNALS and stopping_since is None:
            sender = info.si_pid
            # the app signalling its parent or its group is the app's own business, not a stop
            if sender != grader and sender > 0 and os.getppid() == grader and _is_below(sender, me):
                continue
            stopping_since = time.monotonic()
            if os.getppid() != grader:
                grace = 0.5  # the grader is gone: no one waits for a clean stop
            for pid in [app.pid, *descendants(me)]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)
        if info is not None and info.si_signo == signal.SIGCHLD:
            _reap_adopted(me, app.pid)
        if app.poll() is not None:
            break
        if os.getppid() != grader and stopping_since is None:  # a missed parent-death signal
            stopping_since = time.monotonic() - grace
        if stopping_since is not None and time.monotonic() - stopping_since > grace:
            break
    if app.poll() is None:
        os.kill(app.pid, signal.SIGKILL)
        app.wait()
    kill_tree(me)  # after the app is waited for: kill_tree reaps any child
    pump.join(1.0)
    code = app.returncode
    if code < 0:  # die as the app died, so the grader sees the same signal
        signal.signal(-code, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {-code})
        os.kill(me, -code)
        return 128 - code
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
