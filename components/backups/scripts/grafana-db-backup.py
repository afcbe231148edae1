"""Copy Grafana's SQLite database consistently while Grafana runs (sqlite3's online backup API,
docs.python.org/3/library/sqlite3.html#sqlite3.Connection.backup); the source is opened read-only."""

import sqlite3
import sys

source, target = sys.argv[1], sys.argv[2]
with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
    src.backup(dst)
    (check,) = dst.execute("PRAGMA integrity_check").fetchone()
if check != "ok":
    sys.exit(f"grafana backup: integrity check of {target} failed: {check}")
print(f"grafana backup: {source} -> {target}")
