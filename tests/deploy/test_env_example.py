"""deploy/env.example lists every setting the code reads, with its real default and a meaning,
and is itself a valid configuration once the secrets are filled in."""

from __future__ import annotations

import json
import re
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / "deploy" / "env.example"
INTERNAL = {"secret_key_generated"}  # set by the code itself, never by the operator
ASSIGNMENT = re.compile(r"^(# )?(PAPERPOST_[A-Z0-9_]+|POSTGRES_[A-Z_]+)=(.*)$")
MENTION = re.compile(r"\bPAPERPOST_[A-Z][A-Z0-9_]*[A-Z0-9]\b")


def entries() -> dict[str, tuple[bool, str, str]]:
    """{VARIABLE: (commented out, value, the comment block above it)}."""
    found: dict[str, tuple[bool, str, str]] = {}
    comment: list[str] = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            assert match[2] not in found, f"{match[2]} is listed twice"
            found[match[2]] = (bool(match[1]), match[3], " ".join(comment))
            comment = []
        elif line.startswith("# "):
            comment.append(line[2:].strip())
        elif not line.strip():
            comment = []
    return found


def rendered(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list):
        return json.dumps([str(v) for v in value])
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def defaults() -> dict[str, str]:
    out = {}
    for name, field in Settings.model_fields.items():
        if name in INTERNAL:
            continue
        value = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        out[f"PAPERPOST_{name.upper()}"] = rendered(value)
    return out


def test_every_setting_is_listed_with_its_default_and_meaning() -> None:
    listed = entries()
    missing = {k: v for k, v in defaults().items() if k not in listed}
    assert not missing, "add to deploy/env.example (name: default): " + ", ".join(
        f"{k}: {v or 'unset'}" for k, v in missing.items()
    )
    for variable, default in defaults().items():
        commented, value, comment = listed[variable]
        shown = f"Default: `{default}`." if default else "Default: unset."
        assert shown in comment, f"{variable}: the comment above it should say {shown!r}"
        assert len(comment) > len(shown) + 10, f"{variable}: say what it means"
        if commented:
            assert value == default, f"{variable}: the commented line should show the default"


def test_every_variable_the_code_mentions_is_listed() -> None:
    listed = set(entries())
    sources = [*ROOT.joinpath("service").rglob("*.py"), *ROOT.joinpath("workers").rglob("*.py"),
               *ROOT.joinpath("deploy").rglob("*")]  # fmt: skip
    mentioned: dict[str, str] = {}
    for path in sources:
        if path.is_file() and path.name != "env.example" and path.suffix != ".pyc":
            for name in MENTION.findall(path.read_text(errors="replace")):
                mentioned.setdefault(name, str(path.relative_to(ROOT)))
    unknown = {name: where for name, where in mentioned.items() if name not in listed}
    assert not unknown, f"mentioned in the code but not in deploy/env.example: {unknown}"


def test_the_example_is_a_valid_production_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("PAPERPOST_"):
            monkeypatch.delenv(name)
    text = ENV_EXAMPLE.read_text().replace(
        "PAPERPOST_SECRET_KEY=\n", "PAPERPOST_SECRET_KEY=" + "k" * 48 + "\n"
    )
    (tmp_path / ".env").write_text(text)
    settings = Settings(_env_file=tmp_path / ".env")  # type: ignore[call-arg]
    assert settings.env.value == "production" and settings.log_format == "json"
    assert settings.smtp_tls.value == "starttls" and settings.public_base_url.startswith("https")
