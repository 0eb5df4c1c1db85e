"""Runs Snowflake-dialect statements on fakesnow (Snowflake SQL emulated on DuckDB) and prints
their rows, for the emulator test of conflict-io (tests/fakesnow.rs).

usage: run_statements.py INPUT.json OUTPUT.json

INPUT: {"database": str, "schema": str,
        "tables": [{"name": str, "columns": [[name, postgres_type], ...], "rows": [{...}]}],
        "runs": [[{"sql": str, "params": [str] | null, "fetch": bool, "session": bool}]]}
Each run is one connection. Tables are created with Snowflake DDL through fakesnow and filled
directly in DuckDB from an Arrow table (loading is not what is under test, and fakesnow's
executemany costs milliseconds per row). Session statements (ALTER SESSION) are run apart:
fakesnow does not implement them, so a failure there is reported, not fatal.

OUTPUT: {"runs": [[{"ok": bool, "error": str | null, "rows": [[cell]] | null}]]}, each cell
null or text: timestamps as "YYYY-MM-DD HH:MM:SS[.ffffff]" (trailing zeros cut), dates as
"YYYY-MM-DD", everything else by str().
"""

import datetime
import json
import sys

import fakesnow
import fakesnow.transforms
import pyarrow as pa
import snowflake.connector
from sqlglot import exp


def trim_cast_varchar_keeping_characters(expression):
    """fakesnow 0.12.1's `trim_cast_varchar` (transforms/transforms.py) rebuilds every TRIM as
    `TRIM(CAST(x AS VARCHAR))`, dropping the character set and the side of
    `LTRIM(x, chars)` / `RTRIM(x, chars)`: `LTRIM(' \t1', ' ' || CHR(9))` gives `'\t1'` there,
    `'1'` on Snowflake. This keeps the transform's cast and everything else of the expression.
    """
    if not isinstance(expression, exp.Trim):
        return expression
    operand = expression.this
    text = [exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT]
    if isinstance(operand, exp.Cast) and operand.to.this in text:
        return expression
    fixed = expression.copy()
    fixed.set("this", exp.Cast(this=operand, to=exp.DataType(this=exp.DataType.Type.VARCHAR)))
    return fixed


# The cursor calls it as `transforms.trim_cast_varchar`, so replacing the package attribute
# is enough.
fakesnow.transforms.trim_cast_varchar = trim_cast_varchar_keeping_characters

SNOWFLAKE_TYPES = {
    "uuid": ("VARCHAR", pa.string()),
    "bigint": ("BIGINT", pa.int64()),
    "integer": ("BIGINT", pa.int64()),
    "character varying": ("VARCHAR", pa.string()),
    "text": ("VARCHAR", pa.string()),
    "date": ("DATE", pa.date32()),
    "timestamp with time zone": ("TIMESTAMP_TZ", pa.timestamp("us", tz="UTC")),
    "timestamp without time zone": ("TIMESTAMP_NTZ", pa.timestamp("us")),
    "real": ("FLOAT", pa.float64()),
    "double precision": ("FLOAT", pa.float64()),
    "boolean": ("BOOLEAN", pa.bool_()),
}


def python_value(value, pg_type):
    if value is None:
        return None
    if pg_type == "date":
        return datetime.date.fromisoformat(value)
    if pg_type.startswith("timestamp"):
        return datetime.datetime.fromisoformat(value)
    return value


def cell(value):
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        if value.microsecond:
            text += (".%06d" % value.microsecond).rstrip("0")
        return text
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def load(conn, database, schema, table):
    cur = conn.cursor()
    cols = table["columns"]
    ddl = ", ".join('"%s" %s' % (name, SNOWFLAKE_TYPES[ty][0]) for name, ty in cols)
    cur.execute("CREATE TABLE %s.%s (%s)" % (schema, table["name"], ddl))
    arrays = []
    for name, ty in cols:
        values = [python_value(row[name], ty) for row in table["rows"]]
        arrays.append(pa.array(values, type=SNOWFLAKE_TYPES[ty][1]))
    arrow = pa.Table.from_arrays(arrays, names=[name for name, _ in cols])
    duck = conn._duck_conn
    duck.register("conflicts_load", arrow)
    duck.execute(
        'INSERT INTO %s.%s.%s SELECT * FROM conflicts_load' % (database, schema, table["name"])
    )
    duck.unregister("conflicts_load")


def run(conn, steps):
    out = []
    for step in steps:
        cur = conn.cursor()
        try:
            cur.execute(step["sql"], step["params"])
            rows = [[cell(v) for v in row] for row in cur.fetchall()] if step["fetch"] else None
            out.append({"ok": True, "error": None, "rows": rows})
        except Exception as e:  # reported per statement; the Rust test decides
            out.append({"ok": False, "error": "%s: %s" % (type(e).__name__, e), "rows": None})
            if not step["session"]:
                conn.rollback()
    return out


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    database, schema = spec["database"], spec["schema"]
    result = {"runs": []}
    with fakesnow.patch():
        setup = snowflake.connector.connect(database=database, schema=schema)
        setup.cursor().execute("CREATE SCHEMA IF NOT EXISTS %s.%s" % (database, schema))
        for table in spec["tables"]:
            load(setup, database, schema, table)
        for steps in spec["runs"]:
            conn = snowflake.connector.connect(
                database=database, schema=schema, paramstyle="qmark"
            )
            result["runs"].append(run(conn, steps))
            conn.close()
    with open(sys.argv[2], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
