"""The DNS records mailbox providers check before they accept bulk mail (RELIABILITY.md 1.3 and
6.2): SPF on the sender domain, the DKIM key of the selector, and a DMARC policy.

The sender domain itself is looked up first: when it does not resolve (no network, no DNS
server, or a misspelt domain), the three checks say "could not resolve" instead of claiming a
record is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.resolver

RESERVED = ("localhost", "example", "test", "invalid", "local")


@dataclass(frozen=True, slots=True)
class Finding:
    name: str
    status: str  # ok, warn or fail
    detail: str


def make_resolver(timeout: float = 3.0) -> dns.resolver.Resolver | None:
    """The system's resolver, or None when the machine has no DNS configuration."""
    try:
        resolver = dns.resolver.Resolver()
    except dns.resolver.NoResolverConfiguration:
        return None
    resolver.lifetime = timeout
    return resolver


def txt(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    """TXT strings at ``name``; [] when there are none (NXDOMAIN or no TXT answer)."""
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]


def unresolvable(resolver: dns.resolver.Resolver | None, domain: str) -> str | None:
    """Why ``domain`` cannot be looked up at all, or None when DNS answers for it."""
    if resolver is None:
        return "no DNS resolver is configured on this machine"
    try:
        resolver.resolve(domain, "SOA", search=False)
    except dns.resolver.NoAnswer:
        return None  # the name exists (a subdomain without its own SOA)
    except dns.resolver.NXDOMAIN:
        return (
            f"{domain} does not exist in DNS (no network here, or a misspelt PAPERPOST_MAIL_FROM)"
        )
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        return f"no DNS answer ({exc.__class__.__name__})"
    except dns.exception.DNSException as exc:
        return f"DNS error ({exc.__class__.__name__}: {exc})"
    return None


def check_domain(
    resolver: dns.resolver.Resolver | None, domain: str, selector: str | None, dkim_domain: str
) -> list[Finding]:
    names = ("SPF", "DKIM", "DMARC")
    if domain == "localhost" or domain.rpartition(".")[2] in RESERVED:
        reason = f"{domain} is a reserved name: set PAPERPOST_MAIL_FROM to your own domain"
        return [Finding(n, "warn", f"skipped: {reason}") for n in names]
    why = unresolvable(resolver, domain)
    if why is not None or resolver is None:
        return [Finding(n, "warn", f"could not resolve: {why}") for n in names]
    try:
        return [
            spf(resolver, domain),
            dkim(resolver, selector, dkim_domain),
            dmarc(resolver, domain),
        ]
    except dns.exception.DNSException as exc:
        return [Finding(n, "warn", f"could not resolve: {exc.__class__.__name__}") for n in names]


def spf(resolver: dns.resolver.Resolver, domain: str) -> Finding:
    records = [r for r in txt(resolver, domain) if r.lower().startswith("v=spf1")]
    if not records:
        return Finding(
            "SPF",
            "fail",
            f"no SPF record on {domain}: publish one that includes "
            "your relay, e.g. v=spf1 include:relay.example ~all",
        )
    if len(records) > 1:
        return Finding("SPF", "fail", f"{len(records)} SPF records on {domain}: keep exactly one")
    if records[0].rstrip().endswith("+all"):
        return Finding("SPF", "fail", f"{records[0]}: +all lets anyone send as {domain}")
    return Finding("SPF", "ok", records[0])


def dkim(resolver: dns.resolver.Resolver, selector: str | None, domain: str) -> Finding:
    if not selector:
        return Finding(
            "DKIM",
            "warn",
            "no PAPERPOST_DKIM_SELECTOR: make sure the relay signs, "
            "covering List-Unsubscribe and List-Unsubscribe-Post (RFC 8058)",
        )
    name = f"{selector}._domainkey.{domain}"
    records = [r for r in txt(resolver, name) if "p=" in r]
    if not records:
        return Finding("DKIM", "fail", f"no DKIM key at {name}: publish the public key there")
    key = records[0].replace(" ", "").split("p=", 1)[1].split(";", 1)[0]
    if not key:
        return Finding("DKIM", "fail", f"the key at {name} is revoked (empty p=)")
    return Finding("DKIM", "ok", f"key published at {name}")


def dmarc(resolver: dns.resolver.Resolver, domain: str) -> Finding:
    name = f"_dmarc.{domain}"
    records = [r for r in txt(resolver, name) if r.lower().startswith("v=dmarc1")]
    if not records:
        return Finding(
            "DMARC",
            "fail",
            f"no DMARC record at {name}: publish at least "
            f"v=DMARC1; p=none; rua=mailto:dmarc@{domain}",
        )
    tags = dict(part.strip().split("=", 1) for part in records[0].split(";") if "=" in part.strip())
    policy = tags.get("p", "").lower()
    if policy not in ("none", "quarantine", "reject"):
        return Finding("DMARC", "fail", f"{records[0]}: p= must be none, quarantine or reject")
    note = "" if "rua" in tags else " (no rua=: you get no aggregate reports)"
    return Finding("DMARC", "warn" if note else "ok", f"{records[0]}{note}")
