"""Interests as a subscriber types them: one per line, checked with the match stage's parser so
the form says which line is wrong, where, and how to fix it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from service.match.query import InterestSyntaxError, parse_interest

MAX_INTERESTS = 25
MAX_LENGTH = 300


@dataclass(frozen=True, slots=True)
class InterestProblem:
    line: int  # 1-based line of the text box
    text: str
    message: str
    hint: str
    position: int | None = None  # 0-based character in the line


def split_interests(raw: str) -> list[str]:
    """Lines, trimmed, without blanks and repeats, in the order typed."""
    seen: dict[str, None] = {}
    for line in raw.replace("\r", "\n").split("\n"):
        value = " ".join(line.split())
        if value and value.casefold() not in {s.casefold() for s in seen}:
            seen[value] = None
    return list(seen)


def check_interests(values: Iterable[str]) -> list[InterestProblem]:
    problems = []
    for number, value in enumerate(values, start=1):
        if number > MAX_INTERESTS:
            problems.append(
                InterestProblem(number, value, f"at most {MAX_INTERESTS} interests", "")
            )
            break
        if len(value) > MAX_LENGTH:
            problems.append(
                InterestProblem(
                    number, value[:60], f"longer than {MAX_LENGTH} characters", "shorten it"
                )
            )
            continue
        try:
            parse_interest(value)
        except InterestSyntaxError as exc:
            problems.append(InterestProblem(number, value, exc.message, exc.hint, exc.position))
    return problems
