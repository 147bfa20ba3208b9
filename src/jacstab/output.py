"""Streaming row output for the CLI: aligned table, CSV, a JSON list of objects or JSON Lines (stdlib only).

Tables round floats to 10 significant digits for reading; CSV and JSON carry every float at full precision
(the shortest text that reads back to the same float64).

Rows are flushed as they are written, so an interrupted run keeps every finished row; on exit (normal or not)
the JSON list is closed, so the output always parses. :meth:`RowWriter.write_rows` writes a batch (one seed's
rows) with Ctrl-C held back until the batch is out, so an interrupted run never prints part of a seed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from jacstab._checks import FORMATS

_NARROW = ("seed", "depth", "index")


def _cell(v: Any, *, exact: bool = False) -> str:
    """Text of one value: floats at 10 significant digits, or exactly (``repr``, round-trips) with ``exact``."""
    if v is None:
        return ""
    if isinstance(v, float):
        if not math.isfinite(v):
            return "inf" if v > 0 else "-inf" if v < 0 else "nan"
        return repr(v) if exact else f"{v:.10g}"
    return str(v)


def _json_value(v: Any) -> Any:
    # JSON has no inf/nan: write them as strings so every consumer can parse the output.
    if isinstance(v, float) and not math.isfinite(v):
        return _cell(v)
    return v


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM (see :func:`raise_on_sigterm`): stops work like Ctrl-C, exit 143."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated


def raise_on_sigterm() -> None:
    """Turn SIGTERM into :class:`Terminated` in the main thread, so ``finally`` blocks end workers and close
    outputs (the default action would kill the process and leave its worker processes running)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold back SIGINT (Ctrl-C) and SIGTERM inside the block and raise them when it ends.

    Only where Python's own SIGINT handler (or jacstab's SIGTERM handler) is installed, in the main thread;
    elsewhere a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    ours = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: _on_sigterm}
    previous = {sig: signal.getsignal(sig) for sig in ours}
    held = [sig for sig, handler in ours.items() if previous[sig] is handler]
    caught: list[int] = []
    for sig in held:
        signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for sig in held:
            signal.signal(sig, previous[sig])
        if caught:
            raise Terminated if caught[0] == signal.SIGTERM else KeyboardInterrupt


class RowWriter:
    """Context manager writing rows (dicts with keys ``columns``) to ``stream`` in ``fmt`` (table, csv, json,
    jsonl: one JSON object per line)."""

    def __init__(self, stream: IO[str], columns: list[str], fmt: str):
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
        self.stream, self.columns, self.fmt = stream, list(columns), fmt
        self.widths = [max(len(c), 16 if c not in _NARROW else 6) for c in self.columns]
        self.count = 0

    def __enter__(self) -> RowWriter:
        if self.fmt == "json":
            head = "["
        elif self.fmt == "jsonl":
            head = ""
        elif self.fmt == "csv":
            head = self._csv_line(self.columns)
        else:
            head = "  ".join(c.rjust(w) for c, w in zip(self.columns, self.widths)) + "\n"
        with interrupts_deferred():
            self.stream.write(head)
            self.stream.flush()
        return self

    def _csv_line(self, cells: list[str]) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(cells)
        return buf.getvalue()

    def _format(self, row: dict[str, Any]) -> str:
        vals = [row[c] for c in self.columns]
        if self.fmt == "json":
            sep = "\n  " if self.count == 0 else ",\n  "
            text = sep + json.dumps({c: _json_value(v) for c, v in zip(self.columns, vals)})
        elif self.fmt == "jsonl":
            text = json.dumps({c: _json_value(v) for c, v in zip(self.columns, vals)}) + "\n"
        elif self.fmt == "csv":
            text = self._csv_line([_cell(v, exact=True) for v in vals])
        else:
            text = "  ".join(_cell(v).rjust(w) for v, w in zip(vals, self.widths)) + "\n"
        self.count += 1
        return text

    def write(self, row: dict[str, Any]) -> None:
        """Write one row and flush."""
        self.write_rows([row])

    def write_rows(self, rows: Iterable[dict[str, Any]]) -> None:
        """Write a batch of rows in one piece and flush; Ctrl-C waits until the whole batch is out."""
        text = "".join(self._format(row) for row in rows)
        with interrupts_deferred():
            self.stream.write(text)
            self.stream.flush()

    def __exit__(self, *exc: object) -> None:
        with interrupts_deferred():
            if self.fmt == "json":
                self.stream.write("\n]\n" if self.count else "]\n")
            self.stream.flush()
