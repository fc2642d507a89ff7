#!/usr/bin/env python3
"""vm/debian/model.py write FILE | expect FILE: the app's model (512 x 1024 float64, integer values 0..255
from a seeded PRNG: deterministic, 4 MiB), and the line the app must answer, computed without numpy."""
import array, hashlib, random, sys
ROWS, COLS = 512, 1024
what, path = sys.argv[1], sys.argv[2]
if what == "write":
    r = random.Random(12)
    a = array.array("d", (float(r.randrange(256)) for _ in range(ROWS * COLS)))
    if sys.byteorder != "little":
        a.byteswap()
    open(path, "wb").write(a.tobytes())
    sys.exit(0)
raw = open(path, "rb").read()
a = array.array("d"); a.frombytes(raw)
if sys.byteorder != "little":
    a.byteswap()
v = [int(x) for x in a]
# g = m m^T: trace = sum of squares; sum of all entries = |sum of the rows|^2 = sum over columns of colsum^2
trace = sum(x * x for x in v)
cols = [sum(v[i * COLS + j] for i in range(ROWS)) for j in range(COLS)]
print("EARLYSTART-DEBIAN-APP md5=%s trace=%d total=%d" % (hashlib.md5(raw).hexdigest(), trace, sum(c * c for c in cols)))
