#!/usr/bin/python3
"""The Debian VM's app (vm/debian/app.sh): loads a model (a numpy array) at start, answers GET / with a
checkable line: the md5 of the model's bytes and exact results of a numpy computation on it."""
import hashlib, http.server, sys
import numpy as np

MODEL = "/opt/app/model.f64"
ROWS, COLS = 512, 1024
raw = open(MODEL, "rb").read()
m = np.frombuffer(raw, dtype="<f8").reshape(ROWS, COLS)
# the values are integers 0..255: every sum below is exact in float64, so the host can check it
g = m @ m.T
LINE = ("EARLYSTART-DEBIAN-APP md5=%s trace=%d total=%d numpy=%s\n"
        % (hashlib.md5(raw).hexdigest(), int(np.trace(g)), int(g.sum()), np.__version__)).encode()


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(LINE)))
        self.end_headers()
        self.wfile.write(LINE)

    def log_message(self, *a):
        pass


port = int(sys.argv[1]) if len(sys.argv) > 1 else 80
http.server.ThreadingHTTPServer(("0.0.0.0", port), H).serve_forever()
