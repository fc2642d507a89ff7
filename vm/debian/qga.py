#!/usr/bin/env python3
"""vm/debian/qga.py SOCKET ping|exec CMD...: talks to the QEMU guest agent on its chardev socket.

ping: guest-sync-delimited (skips what an earlier client left in the channel), then guest-ping.
exec: guest-exec of /bin/sh -c CMD, waits for it, prints its stdout/stderr, exits with its code.
"""
import base64, json, random, socket, sys, time


def connect(path, timeout=30):
    deadline = time.time() + timeout
    while True:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.settimeout(10)
            return s
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


class Agent:
    def __init__(self, path):
        self.s = connect(path)
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("guest agent closed the socket")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def call(self, cmd, args=None):
        msg = {"execute": cmd}
        if args is not None:
            msg["arguments"] = args
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            # the reply to guest-sync-delimited starts with 0xFF: bytes, not UTF-8
            line = self.line().lstrip(b"\xff").strip()
            if line:
                reply = json.loads(line)
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (cmd, reply["error"]))
                return reply.get("return")

    def sync(self, timeout=60):
        deadline = time.time() + timeout
        while True:
            token = random.randrange(1 << 30)
            try:
                if self.call("guest-sync-delimited", {"id": token}) == token:
                    return
            except (socket.timeout, EOFError, OSError):
                if time.time() > deadline:
                    raise
                self.s.close()
                self.s, self.buf = connect(self.path_), b""


def main():
    path, what = sys.argv[1], sys.argv[2]
    a = Agent(path)
    a.path_ = path
    t0 = time.time()
    a.sync()
    if what == "ping":
        a.call("guest-ping")
        print("guest agent: guest-ping answered (%d ms)" % ((time.time() - t0) * 1000))
        return 0
    if what == "exec":
        pid = a.call("guest-exec", {"path": "/bin/sh", "arg": ["-c", " ".join(sys.argv[3:])],
                                    "capture-output": True})["pid"]
        while True:
            st = a.call("guest-exec-status", {"pid": pid})
            if st.get("exited"):
                break
            time.sleep(0.1)
        sys.stdout.write(base64.b64decode(st.get("out-data", "")).decode(errors="replace"))
        sys.stderr.write(base64.b64decode(st.get("err-data", "")).decode(errors="replace"))
        return st.get("exitcode", 1)
    print("usage: qga.py SOCKET ping|exec CMD...", file=sys.stderr)
    return 2


sys.exit(main())
