"""Streaming row output for the CLI: aligned table, CSV or a JSON list of objects.

Rows are flushed as they are written, so an interrupted run keeps every finished row; on exit (normal or not)
the JSON list is closed, so the output always parses.
"""

from __future__ import annotations

import csv
import json
import math
from typing import IO, Any


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.10g}" if math.isfinite(v) else ("inf" if v > 0 else "-inf" if v < 0 else "nan")
    return str(v)


def _json_value(v: Any) -> Any:
    # JSON has no inf/nan: write them as strings so every consumer can parse the output.
    if isinstance(v, float) and not math.isfinite(v):
        return _cell(v)
    return v


class RowWriter:
    """Context manager writing rows (dicts with keys ``columns``) to ``stream`` in ``fmt``."""

    def __init__(self, stream: IO[str], columns: list[str], fmt: str):
        if fmt not in ("table", "csv", "json"):
            raise ValueError(f"format must be one of table, csv, json; got {fmt!r}")
        self.stream, self.columns, self.fmt = stream, columns, fmt
        self.widths = [max(len(c), 16 if c not in ("seed", "depth", "index") else 6) for c in columns]
        self.count = 0

    def __enter__(self) -> RowWriter:
        if self.fmt == "json":
            self.stream.write("[")
        elif self.fmt == "csv":
            csv.writer(self.stream, lineterminator="\n").writerow(self.columns)
        else:
            self.stream.write("  ".join(c.rjust(w) for c, w in zip(self.columns, self.widths)) + "\n")
        self.stream.flush()
        return self

    def write(self, row: dict[str, Any]) -> None:
        vals = [row[c] for c in self.columns]
        if self.fmt == "json":
            sep = "\n  " if self.count == 0 else ",\n  "
            self.stream.write(sep + json.dumps({c: _json_value(v) for c, v in zip(self.columns, vals)}))
        elif self.fmt == "csv":
            csv.writer(self.stream, lineterminator="\n").writerow([_cell(v) for v in vals])
        else:
            self.stream.write("  ".join(_cell(v).rjust(w) for v, w in zip(vals, self.widths)) + "\n")
        self.count += 1
        self.stream.flush()

    def __exit__(self, *exc: object) -> None:
        if self.fmt == "json":
            self.stream.write("\n]\n" if self.count else "]\n")
        self.stream.flush()
