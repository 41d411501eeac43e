from __future__ import annotations

import pytest

from service.config import ConfigError, Settings


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def test_development_allows_and_says_what_production_refuses() -> None:
    s = make(public_base_url="http://127.0.0.1:8000", smtp_tls="none")
    notes = " ".join(s.development_warnings())
    assert "http" in notes and "TLS" in notes


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"secret_key": ""}, "PAPERPOST_SECRET_KEY is empty"),
        ({"public_base_url": "http://paperpost.example"}, "not https"),
        ({"smtp_host": "relay.example", "smtp_tls": "none"}, "PAPERPOST_SMTP_TLS=none"),
    ],
)
def test_production_refuses_unsafe_settings(values: dict[str, object], message: str) -> None:
    base = {
        "env": "production",
        "secret_key": "k" * 40,
        "public_base_url": "https://paperpost.example",
        "smtp_host": "relay.example",
        "smtp_tls": "starttls",
    }
    with pytest.raises(ValueError, match=message):
        make(**{**base, **values})


def test_production_accepts_safe_settings() -> None:
    s = make(env="production", secret_key="k" * 40, public_base_url="https://p.example",
             smtp_host="relay.example", smtp_tls="implicit")  # fmt: skip
    assert s.development_warnings() == []
    assert issubclass(ConfigError, ValueError)
