#!/usr/bin/env python3
"""A minimal QMP client (stdlib only) for the test VM scripts.

  qmp.py SOCKET save VMSTATE       x-ignore-shared, stop, migrate to "exec:cat > VMSTATE", poll
                                   query-migrate until completed, quit
  qmp.py SOCKET resume VMSTATE     (QEMU started with -incoming defer) x-ignore-shared,
                                   migrate-incoming "exec:cat VMSTATE", wait until the VM is paused,
                                   cont
  qmp.py SOCKET cmd NAME [ARGS]    one command, ARGS as JSON; prints the "return" value as JSON
  qmp.py SOCKET quit
Options before SOCKET: --timeout SECONDS, --pid PID.

Waits up to --timeout seconds (default 60) for the socket to accept; with --pid PID, gives up as soon
as that process (QEMU) has exited. Prints progress lines
"qmp: <step> <ms>" on stderr, ms being wall-clock milliseconds since the epoch (as date +%s%3N), so
callers can time steps from their own start.
Exit status 1 with the QMP error on any failure.
"""
import json
import shlex
import socket
import sys
import time

def log(msg):
    print("qmp: %s %d" % (msg, time.time() * 1000), file=sys.stderr, flush=True)


class QmpError(Exception):
    pass


def running(pid):
    """The process exists and is not a zombie."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1] not in ("Z", "X")
    except OSError:
        return False
    return False


class Qmp:
    def __init__(self, path, timeout, pid=None):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if pid is not None and not running(pid):
                    raise QmpError("QEMU (pid %d) exited" % pid)
                if time.monotonic() > deadline:
                    raise QmpError("no QMP socket at %s after %ss" % (path, timeout))
                time.sleep(0.02)
        self.sock.settimeout(timeout)
        self.file = self.sock.makefile("rb")
        greeting = self._read()
        if "QMP" not in greeting:
            raise QmpError("not a QMP greeting: %s" % greeting)
        self.events = []
        self.execute("qmp_capabilities")

    def _read(self):
        line = self.file.readline()
        if not line:
            raise QmpError("QMP connection closed")
        return json.loads(line)

    def execute(self, name, args=None):
        msg = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise QmpError("%s: %s" % (name, reply["error"].get("desc", reply["error"])))
            return reply.get("return")

    def ignore_shared(self):
        self.execute("migrate-set-capabilities",
                     {"capabilities": [{"capability": "x-ignore-shared", "state": True}]})


def save(q, vmstate, timeout):
    q.ignore_shared()
    q.execute("stop")
    log("stopped")
    q.execute("migrate", {"uri": "exec:cat > " + shlex.quote(vmstate)})
    deadline = time.monotonic() + timeout
    while True:
        info = q.execute("query-migrate")
        status = info.get("status")
        if status == "completed":
            break
        if status in ("failed", "cancelled"):
            raise QmpError("migration %s: %s" % (status, info.get("error-desc", "")))
        if time.monotonic() > deadline:
            raise QmpError("migration not completed after %ss (status %s)" % (timeout, status))
        time.sleep(0.02)
    log("migrated ram.transferred=%s" % info.get("ram", {}).get("transferred", "?"))
    quit_(q)


def resume(q, vmstate, timeout):
    q.ignore_shared()
    q.execute("migrate-incoming", {"uri": "exec:cat " + shlex.quote(vmstate)})
    deadline = time.monotonic() + timeout
    while True:
        status = q.execute("query-status")["status"]
        if status != "inmigrate":
            break
        if time.monotonic() > deadline:
            raise QmpError("still inmigrate after %ss" % timeout)
        time.sleep(0.01)
    if status != "paused":
        info = q.execute("query-migrate")
        raise QmpError("incoming migration ended in state %s: %s" % (status, info.get("error-desc", info)))
    log("paused")
    q.execute("cont")
    log("running")


def quit_(q):
    try:
        q.execute("quit")
    except QmpError:  # QEMU may close the socket before or after answering
        pass
    log("quit")


def main():
    args = sys.argv[1:]
    timeout, pid = 60.0, None
    while len(args) >= 2 and args[0] in ("--timeout", "--pid"):
        if args[0] == "--timeout":
            timeout = float(args[1])
        else:
            pid = int(args[1])
        args = args[2:]
    if len(args) < 2:
        sys.exit(__doc__)
    path, op, rest = args[0], args[1], args[2:]
    try:
        q = Qmp(path, timeout, pid)
        log("connected")
        if op == "save" and len(rest) == 1:
            save(q, rest[0], timeout)
        elif op == "resume" and len(rest) == 1:
            resume(q, rest[0], timeout)
        elif op == "quit" and not rest:
            quit_(q)
        elif op == "cmd" and 1 <= len(rest) <= 2:
            print(json.dumps(q.execute(rest[0], json.loads(rest[1]) if len(rest) == 2 else None)))
        else:
            sys.exit(__doc__)
    except (QmpError, OSError) as e:
        print("qmp: error: %s" % e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
