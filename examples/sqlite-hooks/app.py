"""One sqlite3 connection for the whole session: opened by the first run, reused by every reload.

Edit NOTE (or anything else) and save: the row count keeps growing and id(conn) stays the same,
because the connection is kept by hotload.keep, not rebuilt by the reload. The database lives in
memory, so a new connection would start with no rows at all.
"""

import sqlite3

import hotload

# Built by the factory on the first run only; every reload gets the same object back.
conn = hotload.keep("db", lambda: sqlite3.connect(":memory:"))
conn.execute("CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, note TEXT NOT NULL)")

NOTE = "first version"


def count():
    return conn.execute("SELECT count(*) FROM runs").fetchone()[0]


def before_reload():
    """pre hook: the old code's last chance before the reload. Commit pending work; the
    connection itself stays open for the new code."""
    conn.commit()
    print(f"pre: committed; {count()} rows so far, conn id {id(conn)}")


def after_reload():
    """post hook: the new code is loaded. Record this run and report."""
    conn.execute("INSERT INTO runs (note) VALUES (?)", (NOTE,))
    conn.commit()
    print(f"post: conn id {id(conn)}, {count()} rows, latest note: {NOTE}")
