"""SpamAssassin, offline (RELIABILITY.md D12, section 7): every kind of message paperpost
sends scores below 1.0 and hits none of the forbidden rules."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from service.render.digest import render_notice
from service.send.compose import compose_message
from tests.render.samples import ROOT, digest_message, envelope, real_cards, with_reasons
from tests.render.test_hostile import HOSTILE, hostile_card
from tests.render.test_inline import KINDS, notice
from tests.render.test_messages import NON_LATIN, SHAPES
from tests.servers import require

pytestmark = pytest.mark.spam

SPAMSCORE = ROOT.parent / "shared" / "tools" / "spamscore"
FORBID = (
    "MISSING_*,MIME_HTML_ONLY,MIME_HEADER_CTYPE_ONLY,MPART_ALT_DIFF*,HTML_IMAGE_ONLY_*,"
    "HTML_FONT_LOW_CONTRAST,FROM_ADDR_WS,BODY_SINGLE_URI,SUBJ_ALL_CAPS,DATE_IN_*"
)


def samples(folder: Path) -> list[Path]:
    """Every message shape worth scoring, as .eml files."""
    messages: dict[str, bytes] = {}
    for name, (for_you, trending) in SHAPES.items():
        messages[f"digest-{name}"] = digest_message(for_you, trending)[0]
    cards = with_reasons(real_cards())
    messages["digest-ai-summary"] = digest_message(cards[:5], cards[5:8], use_ai=True)[0]
    messages["digest-text-only"] = digest_message(cards[:5], [], text_only=True)[0]
    messages["digest-non-latin"] = digest_message(NON_LATIN, [])[0]
    for case in ("script in title", "100 KB abstract", "encoded newline in title"):
        messages[f"hostile-{case}"] = digest_message([hostile_card(HOSTILE[case])], cards[:2])[0]
    for kind in KINDS:
        rendered = render_notice(kind, notice(kind))
        messages[f"notice-{kind}"] = compose_message(rendered, envelope(rendered))
    paths = []
    for name, raw in messages.items():
        path = folder / f"{name.replace(' ', '-').replace(',', '')}.eml"
        path.write_bytes(raw)
        paths.append(path)
    return paths


def test_every_message_scores_below_one_with_no_forbidden_rule(tmp_path: Path) -> None:
    if not SPAMSCORE.exists():
        require(f"the SpamAssassin wrapper is missing: {SPAMSCORE}")
    if shutil.which("spamassassin") is None:
        require("SpamAssassin is not installed (apt-get install -y spamassassin)")
    paths = samples(tmp_path)
    control = tmp_path / "control-no-date-html-only.eml"  # proves the gate can fail
    control.write_bytes(
        b"From: x@paperpost.example\r\nTo: y@example.org\r\nSubject: hi\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><body><p>hello</p></body></html>\r\n"
    )
    run = subprocess.run(
        ["python3", str(SPAMSCORE), "--json", "--max-score", "1.0", "--forbid", FORBID, str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(paths) + 1, run.stderr
    failing = {
        Path(r["path"]).name: (r["score"], sorted(r["rules"]), r["forbidden_hits"])
        for r in results
        if not r["pass"]
    }
    assert set(failing) == {control.name}, failing
    assert {"MISSING_DATE", "MIME_HTML_ONLY"} <= set(failing[control.name][2])
