#!/usr/bin/env python3
"""vm/http_get.py PORT PATH TIMEOUT_S [RUNDIR]: GET http://127.0.0.1:PORT/PATH until a 200 answer.

Prints the body and exits 0; exits 1 when TIMEOUT_S passes, or at once when RUNDIR's QEMU
(RUNDIR/qemu.pid) has exited. One process asks every 50 ms: a curl started that often (QEMU's user
networking accepts a connection at once and closes it while nothing listens in the guest) takes CPU
the VM needs on a small machine, 0.2-0.4 s by the first answer on 2 cores (bench/RESULTS.md, issue 12).
"""
import os
import socket
import sys
import time


def qemu_alive(run):
    try:
        with open(os.path.join(run, "qemu.pid")) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1] not in ("Z", "X")
    except (OSError, ValueError):
        return False
    return False


def get(port, path, timeout):
    """The body of a 200 answer, or None."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" % path).encode("ascii"))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, sep, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if not sep or len(status) < 2 or status[1] != b"200":
        return None
    return body


def main():
    if len(sys.argv) not in (4, 5):
        sys.stderr.write(__doc__.split("\n\n")[0] + "\n")
        return 2
    port, path, timeout = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    run = sys.argv[4] if len(sys.argv) == 5 and sys.argv[4] else None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body = get(port, path, min(10.0, max(0.1, deadline - time.monotonic())))
            if body is not None:
                sys.stdout.buffer.write(body)
                return 0
        except OSError:
            pass
        if run is not None and not qemu_alive(run):
            sys.stderr.write("vm: QEMU exited before answering\n")
            return 1
        time.sleep(0.05)
    sys.stderr.write("vm: no HTTP answer on port %d after %ss\n" % (port, sys.argv[3]))
    return 1


if __name__ == "__main__":
    sys.exit(main())
