"""Which links a mail may carry (D13): https only, to a known paper host or to our own site.

Paper data comes from outside (HF, arXiv, files): a ``javascript:`` or ``data:`` link, a link
with credentials, control characters or a look-alike host is dropped, never printed.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import quote, urlsplit

PAPER_HOSTS = frozenset(
    {
        "arxiv.org",
        "huggingface.co",
        "github.com",
        "gitlab.com",
        "bitbucket.org",
        "codeberg.org",
        "openreview.net",
        "doi.org",
        "paperswithcode.com",
        "aclanthology.org",
        "proceedings.neurips.cc",
        "openaccess.thecvf.com",
    }
)
# Subdomains of these are allowed too (export.arxiv.org, someone.github.io).
PAPER_DOMAINS = ("arxiv.org", "huggingface.co", "github.io", "github.com")
_UNSAFE = re.compile(
    r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\"'<>\\^`{|}]"
)
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_URL = 600


def host_allowed(host: str, extra: Collection[str] = ()) -> bool:
    if host in PAPER_HOSTS or host in extra:
        return True
    return any(host.endswith("." + domain) for domain in PAPER_DOMAINS)


def safe_url(raw: str | None, extra_hosts: Collection[str] = ()) -> str:
    """The link as https to an allowed host, or "" when it is not one we will print.

    Plain http links to the known paper hosts are upgraded (they all serve https); every other
    scheme is refused. Characters outside the URL syntax are percent-encoded."""
    if not raw or len(raw) > MAX_URL:
        return ""
    text = raw.strip()
    if _CONTROL.search(text):
        return ""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("https", "http") or port not in (None, 443):
        return ""
    if "@" in parts.netloc or not parts.hostname:
        return ""
    try:
        host = parts.hostname.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        return ""
    if not _HOST.match(host) or not host_allowed(host, extra_hosts):
        return ""
    rest = quote(text[text.find(parts.netloc) + len(parts.netloc) :], safe="/?#&=;%:+,.@!$()*~-_")
    if _UNSAFE.search(rest):
        return ""
    return f"https://{host}{rest}"


def own_url(raw: str, base: str) -> str:
    """A link to our own site (action buttons), or "" when it points anywhere else."""
    if not raw or _UNSAFE.search(raw) or len(raw) > MAX_URL:
        return ""
    root = base.rstrip("/") + "/"
    return raw if raw.startswith(root) else ""
