"""Processes of a benchmark run: start them in their own process group, read their CPU
time, memory and descriptors from /proc, pin them, and make sure none outlives the run
(normal end, failure, Ctrl-C or SIGTERM)."""

import ctypes
import os
import resource
import signal
import socket
import subprocess
import time

_live = {}  # pgid -> (name, Popen)
# Nice value of every process started here (set by the runner): a negative one keeps
# other work on a shared machine from taking the cores in the middle of a load.
niceness = 0
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """Runs in the child before exec: its own session and process group, its
    priority, and death when the runner dies."""
    os.setsid()
    if niceness:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
        # With autogroup scheduling a nice value only counts within a session: give
        # the new session's group the same priority.
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(niceness))
        except OSError:
            pass
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def spawn(name, argv, log_path, env=None, cpus=None):
    """Starts argv with stdout and stderr to log_path; returns the Popen."""
    if cpus is not None:
        argv = ["taskset", "-c", ",".join(str(c) for c in cpus)] + list(argv)
    log = open(log_path, "ab")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent, env=env)
    log.close()
    _live[proc.pid] = (name, proc)
    return proc


def stop(proc, timeout=5.0):
    """Ends the process group that proc leads: SIGTERM, then SIGKILL after `timeout`."""
    if proc.pid not in _live:
        return
    del _live[proc.pid]
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None and not group_pids(proc.pid):
                return
            time.sleep(0.05)
    proc.poll()


def stop_all():
    for pid in list(_live):
        stop(_live[pid][1], timeout=2.0)


def install_signal_handlers():
    """SIGINT, SIGTERM and SIGHUP end the run, so that cleanup runs (SIGINT too: a
    shell starts background jobs with it ignored)."""
    def handler(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def run_measured(argv, timeout, cpus=None, env=None):
    """Runs a load generator to completion. Returns (stdout, stderr, returncode,
    cpu_seconds, wall_seconds), cpu_seconds being the child's own CPU time."""
    if cpus is not None:
        argv = ["taskset", "-c", ",".join(str(c) for c in cpus)] + list(argv)
    # RUSAGE_CHILDREN adds up every child reaped so far: take the difference.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent, env=env)
    _live[proc.pid] = ("load", proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        out, err = proc.communicate()
        err += f"\n(killed after {timeout} s)".encode()
        proc.returncode = 124  # as timeout(1) reports it, whatever the signal made of it
    _live.pop(proc.pid, None)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return out.decode(errors="replace"), err.decode(errors="replace"), proc.returncode, cpu, wall


def spawn_piped(name, argv):
    """Starts a load generator whose stdout the caller reads line by line."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent, text=True)
    _live[proc.pid] = (name, proc)
    return proc


def group_pids(pgid):
    """Pids of the live (non-zombie) processes in process group pgid."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def cpu_seconds(pids):
    """utime + stime of pids (all their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / _CLK_TCK


def rss_bytes(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def fd_count(pids):
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    return total


def kernel_memory():
    """Slab memory and TCP socket buffer memory of the whole machine, in bytes."""
    slab = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                slab = int(line.split()[1]) * 1024
    tcp_pages = 0
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                words = line.split()
                tcp_pages = int(words[words.index("mem") + 1])
    return slab, tcp_pages * os.sysconf("SC_PAGE_SIZE")


def set_affinity(pids, cpus):
    """Pins every thread of pids to cpus."""
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), cpus)
            except OSError:
                pass


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def http_get_status(port, path="/", host="127.0.0.1"):
    """Status code of a GET on a fresh connection, or None."""
    try:
        with socket.create_connection((host, port), timeout=3) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            data = s.recv(256)
        return int(data.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return None


def machine_busy_seconds():
    """CPU seconds spent not idle by the whole machine since boot (all cores),
    softirq time left out: on loopback it is mostly the load's own TCP processing,
    which no process is charged for."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    return (user + nice + system + irq + steal) / _CLK_TCK


def busy_cpu_percent(seconds=1.0):
    """How busy the machine's CPUs are (all cores, %), over `seconds`."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]
        return sum(v), idle
    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return 100.0 * (1 - (i1 - i0) / max(1, t1 - t0))
