"""What the page templates see: frozen values only (StrictUndefined turns a missing field into
an error, never a blank)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from service.track.interests import InterestProblem

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    dev_inbox: bool


@dataclass(frozen=True, slots=True)
class Choices:
    timezones: tuple[str, ...]
    hours: tuple[int, ...] = tuple(range(24))
    weekdays: tuple[str, ...] = WEEKDAYS
    pause_weeks: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12)


@dataclass(frozen=True, slots=True)
class PreviewHit:
    arxiv_id: str
    title: str
    url: str
    score: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Preview:
    """This week's papers the interests would have matched."""

    shown: bool  # False: no interests typed yet
    hits: tuple[PreviewHit, ...] = ()
    problems: tuple[InterestProblem, ...] = ()
    note: str = ""


NO_PREVIEW = Preview(shown=False)


@dataclass(frozen=True, slots=True)
class ScheduleForm:
    """The fields the subscribe and preferences forms share, as typed (for refilling)."""

    interests: str = ""
    timezone: str = "UTC"
    send_hour: int = 8
    frequency: str = "daily"
    weekday: int = 0
    include_trending: bool = True


@dataclass(frozen=True, slots=True)
class SubscribePage:
    form: ScheduleForm
    email: str
    choices: Choices
    preview: Preview
    errors: Mapping[str, str] = field(default_factory=dict)
    guess_timezone: bool = True  # the form is fresh: let the script pick the browser's zone


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: str  # a URL this page POSTs to
    fields: tuple[tuple[str, str], ...] = ()
    style: str = "primary"  # primary | secondary | danger


@dataclass(frozen=True, slots=True)
class Message:
    """A short page: check your inbox, link expired, done."""

    title: str
    heading: str
    paragraphs: tuple[str, ...]
    buttons: tuple[Button, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (label, url)
    tone: str = "info"  # info | ok | warn | error


@dataclass(frozen=True, slots=True)
class PreferencesPage:
    email: str
    status: str
    form: ScheduleForm
    format: str
    summary_style: str
    max_papers: int
    paused_until: str  # "" when not paused, else a date
    choices: Choices
    preview: Preview
    token: str
    unsubscribe_url: str
    saved: bool = False
    errors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccountPage:
    email: str
    token: str


@dataclass(frozen=True, slots=True)
class InboxItem:
    key: str
    date: str
    sender: str
    to: str
    subject: str
    kind: str  # the Feedback-ID kind: digest, confirm, welcome...


@dataclass(frozen=True, slots=True)
class InboxPage:
    folder: str
    items: tuple[InboxItem, ...]


@dataclass(frozen=True, slots=True)
class InboxMessage:
    item: InboxItem
    headers: tuple[tuple[str, str], ...]
    text: str
    has_html: bool
    links: tuple[str, ...]  # the http(s) links of the text part, to click through
