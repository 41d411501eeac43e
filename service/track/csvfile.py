"""The subscriber CSV the admin CLI imports and exports, read and written as plain values.

Columns: ``email,interests,timezone,hour,frequency,weekday,status``, a header line first (any
order; only ``email`` is required). ``interests`` holds several interests separated by ``;``
(a ``;`` inside double quotes belongs to a phrase). ``weekday`` is 0-6 (0 = Monday) or a day's
name, used by weekly digests. ``status`` is ``pending`` (the default), ``active``,
``unsubscribed`` or ``suppressed``. Every row is checked here, each problem reported with its
line number, before anything is stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from service.plan.schedule import zone
from service.store.models import Frequency, SubscriberStatus
from service.track.addresses import InvalidAddress, normalize_email
from service.track.interests import InterestProblem, check_interests

COLUMNS = ("email", "interests", "timezone", "hour", "frequency", "weekday", "status")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
STATUSES = tuple(s.value for s in SubscriberStatus)


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    email: str  # normalised
    interests: tuple[str, ...]
    timezone: str
    hour: int
    frequency: str
    weekday: int
    status: str


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class CsvError(ValueError):
    """The file as a whole is unusable (no header, unknown columns)."""


def split_interests(cell: str) -> tuple[str, ...]:
    """``a; "b; c" d; e`` -> ("a", '"b; c" d', "e")."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in cell:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return tuple(p for p in (" ".join(part.split()) for part in parts) if p)


def join_interests(values: Iterable[str]) -> str:
    return "; ".join(values)


def read_rows(text: str) -> tuple[list[Row], list[RowProblem]]:
    """Every valid row, and every problem; a file with any problem is not imported."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = _header(reader)
    rows: list[Row] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    line = reader.line_num
    for record in reader:
        start, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        values = dict(zip(header, record, strict=False))
        row, found = _row(start, values, len(record) - len(header))
        if row is not None and row.email in seen:
            found.append(RowProblem(start, f"{row.email} is already on line {seen[row.email]}"))
        problems += found
        if row is not None and not found:
            seen[row.email] = start
            rows.append(row)
    return rows, problems


def _header(reader: Iterator[list[str]]) -> list[str]:
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CsvError("the file is empty: it needs a header line, e.g. email,interests") from None
    unknown = [h for h in header if h not in COLUMNS]
    if unknown or "email" not in header:
        raise CsvError(
            f"line 1: the header must name columns among {','.join(COLUMNS)} "
            f"(email is required); found {','.join(header) or 'nothing'}"
        )
    return header


def _row(line: int, values: dict[str, str], extra: int) -> tuple[Row | None, list[RowProblem]]:
    problems: list[str] = []
    if extra > 0:
        problems.append(f"{extra} more cells than columns in the header (quote cells with commas)")
    email = _email(values.get("email", ""), problems)
    interests = split_interests(values.get("interests", ""))
    problems += [_interest_problem(p) for p in check_interests(interests)]
    timezone = values.get("timezone", "").strip() or "UTC"
    if zone(timezone).key != timezone:
        problems.append(f"unknown time zone {timezone!r} (an IANA name such as Europe/Berlin)")
    hour = _number(values.get("hour", ""), 8, 0, 23, "hour", problems)
    frequency = values.get("frequency", "").strip().lower() or Frequency.daily
    if frequency not in tuple(Frequency):
        problems.append(f"frequency {frequency!r} is not daily or weekly")
    weekday = _weekday(values.get("weekday", ""), problems)
    status = values.get("status", "").strip().lower() or SubscriberStatus.pending
    if status not in STATUSES:
        problems.append(f"status {status!r} is not one of {', '.join(STATUSES)}")
    found = [RowProblem(line, p) for p in problems]
    if found or email is None:
        return None, found
    return Row(line, email, interests, timezone, hour, frequency, weekday, status), []


def _email(raw: str, problems: list[str]) -> str | None:
    try:
        return normalize_email(raw)
    except InvalidAddress as exc:
        problems.append(str(exc) if raw.strip() else "the email cell is empty")
        return None


def _interest_problem(p: InterestProblem) -> str:
    where = f" at character {p.position + 1}" if p.position is not None else ""
    return f"interest {p.text!r}{where}: {p.message}" + (f" ({p.hint})" if p.hint else "")


def _number(raw: str, default: int, low: int, high: int, name: str, problems: list[str]) -> int:
    raw = raw.strip()
    if not raw:
        return default
    if raw.isdigit() and low <= int(raw) <= high:
        return int(raw)
    problems.append(f"{name} {raw!r} is not a whole number from {low} to {high}")
    return default


def _weekday(raw: str, problems: list[str]) -> int:
    name = raw.strip().lower()
    for number, day in enumerate(DAYS):
        if name and (name == day or name == day[:3]):
            return number
    return _number(raw, 0, 0, 6, "weekday", problems)


def write_rows(rows: Iterable[dict[str, object]], out: TextIO) -> int:
    """Write the header and the rows (dicts with the column names); returns the row count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        interests = row.get("interests") or ()
        assert isinstance(interests, list | tuple)
        cells = {**row, "interests": join_interests(str(i) for i in interests)}
        writer.writerow([cells.get(column, "") for column in COLUMNS])
        count += 1
    return count
