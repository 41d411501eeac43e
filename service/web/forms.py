"""Form bodies to typed requests, with a message per field when something is wrong. The values
as typed come back too, so a page with an error keeps what the person entered."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.datastructures import FormData

from service.config import Settings
from service.track.account import PAUSE_WEEKS_MAX, PreferencesChange
from service.track.addresses import InvalidAddress, normalize_email
from service.track.interests import InterestProblem, check_interests, split_interests
from service.track.subscription import SubscriptionRequest, domain_refusal
from service.web.pages import timezones
from service.web.views import ScheduleForm

MAX_FIELD = 8_000


@dataclass(frozen=True, slots=True)
class Parsed:
    form: ScheduleForm
    interests: tuple[str, ...]
    errors: dict[str, str] = field(default_factory=dict)
    problems: tuple[InterestProblem, ...] = ()


def text(form: FormData, name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name)
    return value[:limit].replace("\x00", "") if isinstance(value, str) else ""


def _int(form: FormData, name: str, low: int, high: int, default: int) -> int | None:
    raw = text(form, name, 10).strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if low <= value <= high else None


def parse_schedule(form: FormData) -> Parsed:
    errors: dict[str, str] = {}
    raw_interests = text(form, "interests")
    interests = tuple(split_interests(raw_interests))
    problems = tuple(check_interests(interests))
    if problems:
        errors["interests"] = "Some interests could not be read; see below."
    timezone = text(form, "timezone", 64).strip() or "UTC"
    if timezone not in timezones():
        errors["timezone"] = "Choose a time zone from the list."
    hour = _int(form, "send_hour", 0, 23, 8)
    if hour is None:
        errors["send_hour"] = "Choose an hour between 0 and 23."
    frequency = text(form, "frequency", 10) or "daily"
    if frequency not in ("daily", "weekly"):
        errors["frequency"] = "Choose daily or weekly."
    weekday = _int(form, "weekday", 0, 6, 0)
    if weekday is None:
        errors["weekday"] = "Choose a day of the week."
    trending = form.get("include_trending") in ("on", "1", "true", "yes")
    if not interests and not trending and "interests" not in errors:
        errors["interests"] = "Add at least one interest, or include the trending papers."
    typed = ScheduleForm(
        interests=raw_interests,
        timezone=timezone,
        send_hour=hour if hour is not None else 8,
        frequency=frequency,
        weekday=weekday if weekday is not None else 0,
        include_trending=trending,
    )
    return Parsed(typed, interests, errors, problems)


def parse_subscribe(settings: Settings, form: FormData) -> tuple[Parsed, str, str]:
    """(the schedule, the address as typed, the normalised address or "" when invalid)."""
    parsed = parse_schedule(form)
    raw = text(form, "email", 1000).strip()
    email = ""
    try:
        email = normalize_email(raw)
    except InvalidAddress:
        parsed.errors["email"] = "Enter a valid email address, like ada@example.org."
    else:
        refusal = domain_refusal(settings, email)
        if refusal:
            parsed.errors["email"] = refusal
    return parsed, raw, email


def subscription_request(parsed: Parsed, email: str) -> SubscriptionRequest:
    f = parsed.form
    return SubscriptionRequest(
        email=email,
        interests=parsed.interests,
        timezone=f.timezone,
        send_hour=f.send_hour,
        frequency=f.frequency,
        weekday=f.weekday,
        include_trending=f.include_trending,
    )


@dataclass(frozen=True, slots=True)
class ParsedPreferences:
    schedule: Parsed
    format: str
    summary_style: str
    max_papers: int
    pause_weeks: int | None

    def change(self) -> PreferencesChange:
        f = self.schedule.form
        return PreferencesChange(
            interests=self.schedule.interests,
            frequency=f.frequency,
            weekday=f.weekday,
            send_hour=f.send_hour,
            timezone=f.timezone,
            include_trending=f.include_trending,
            format=self.format,
            summary_style=self.summary_style,
            max_papers=self.max_papers,
            pause_weeks=self.pause_weeks,
        )


def parse_preferences(form: FormData) -> ParsedPreferences:
    schedule = parse_schedule(form)
    errors = schedule.errors
    fmt = text(form, "format", 10) or "html"
    if fmt not in ("html", "text"):
        errors["format"] = "Choose HTML or plain text."
    style = text(form, "summary_style", 10) or "abstract"
    if style not in ("abstract", "ai"):
        errors["summary_style"] = "Choose the abstract or the AI summary."
    max_papers = _int(form, "max_papers", 1, 50, 10)
    if max_papers is None:
        errors["max_papers"] = "Choose between 1 and 50 papers."
    pause: int | None = None
    if text(form, "pause_weeks", 4).strip():
        pause = _int(form, "pause_weeks", 0, PAUSE_WEEKS_MAX, 0)
        if pause is None:
            errors["pause_weeks"] = f"Pause for 0 to {PAUSE_WEEKS_MAX} weeks."
    return ParsedPreferences(schedule, fmt, style, max_papers or 10, pause)
