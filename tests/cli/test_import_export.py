"""``subscribers import`` checks every row first (line numbers for each problem, nothing stored
when one is bad), is idempotent, stores nothing on --dry-run, never re-activates someone who
left; ``export`` writes the same format back, or JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.cli.conftest import Cli

GOOD = '''email,interests,timezone,hour,frequency,weekday,status
ada@example.org,"diffusion; ""vision transformer""; cat:cs.CV",Europe/Berlin,7,daily,,active
grace@example.org,"""click-through rate""; recommender",America/New_York,9,weekly,fri,pending
alan@example.org,,UTC,,,,
kurt@example.org,logic,UTC,8,daily,0,unsubscribed
'''


def write(tmp_path: Path, text: str, name: str = "people.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def people(cli: Cli) -> list[tuple[str, str, list[str], str, int, str, int]]:
    return [(s["email"], s["status"], s["interests"], s["timezone"], s["hour"], s["frequency"],
             s["weekday"]) for s in cli.json("subscribers", "list")]  # fmt: skip


def test_import_then_again_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    first = cli.json("subscribers", "import", path)
    assert (first["created"], first["updated"], first["unchanged"]) == (4, 0, 0)
    expected = [
        ("ada@example.org", "active", ["diffusion", '"vision transformer"', "cat:cs.CV"],
         "Europe/Berlin", 7, "daily", 0),
        ("grace@example.org", "pending", ['"click-through rate"', "recommender"],
         "America/New_York", 9, "weekly", 4),
        ("alan@example.org", "pending", [], "UTC", 8, "daily", 0),
        ("kurt@example.org", "unsubscribed", ["logic"], "UTC", 8, "daily", 0),
    ]  # fmt: skip
    assert people(cli) == expected
    again = cli.json("subscribers", "import", path)
    assert (again["created"], again["updated"], again["unchanged"], again["skipped"]) == (
        0,
        0,
        4,
        [],
    )
    assert people(cli) == expected
    code, out, _ = cli("subscribers", "import", path)
    assert code == 0 and "imported 4 rows: 0 new, 0 updated, 4 unchanged" in out


def test_dry_run_stores_nothing(cli: Cli, tmp_path: Path) -> None:
    code, out, _ = cli("subscribers", "import", write(tmp_path, GOOD), "--dry-run")
    assert code == 0 and "would import 4 rows: 4 new" in out and "nothing was stored" in out
    assert cli.json("subscribers", "list") == []


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_imported(
    cli: Cli, tmp_path: Path
) -> None:
    bad = (
        "email,interests,timezone,hour,frequency,weekday,status\n"
        "ada@example.org,diffusion,UTC,8,daily,0,active\n"
        'not-an-address,"a multi-line\ncell",UTC,8,daily,0,active\n'  # lines 3-4
        "grace@example.org,cat:,Mars/Base,25,hourly,someday,vip\n"  # line 5
        "ADA@example.org,,,,,,\n"  # line 6: the same person as line 2
        "\n"
        "bob@example.org,gan,UTC,8,daily,0,active,extra\n"  # line 8
    )
    code, _, err = cli("subscribers", "import", write(tmp_path, bad))
    assert code == 1
    lines = [line.split(":", 2)[1:] for line in err.splitlines() if line.startswith(str(tmp_path))]
    by_line = {}
    for number, message in lines:
        by_line.setdefault(int(number.removeprefix("line ")), []).append(message)
    assert sorted(by_line) == [3, 5, 6, 8]
    assert "not a valid email address" in by_line[3][0]
    five = " ".join(by_line[5])
    for expected in ("interest 'cat:'", "unknown time zone 'Mars/Base'", "hour '25'",
                     "frequency 'hourly'", "weekday 'someday'", "status 'vip'"):  # fmt: skip
        assert expected in five
    assert "already on line 2" in by_line[6][0]
    assert "more cells than columns" in by_line[8][0]
    assert "4 bad rows" in err and "nothing was imported" in err
    assert cli.json("subscribers", "list") == []


def test_unusable_files(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("subscribers", "import", write(tmp_path, "mail,topics\nx@y.org,a\n"))
    assert code == 1 and "header must name columns among email,interests" in err
    code, _, err = cli("subscribers", "import", write(tmp_path, ""))
    assert code == 1 and "empty" in err
    assert cli("subscribers", "import", str(tmp_path / "missing.csv"))[0] == 2


def test_import_respects_who_left(cli: Cli, tmp_path: Path) -> None:
    cli("subscribers", "import", write(tmp_path, GOOD))
    cli("suppressions", "add", "ada@example.org")
    again = GOOD.replace("unsubscribed", "active").replace(",weekly,fri,pending", ",daily,,active")
    report = cli.json("subscribers", "import", write(tmp_path, again, "again.csv"))
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 1, 1)
    assert report["skipped"] == [
        "line 2: ada@example.org is suppressed (`paperpost suppressions remove` it first)",
        "line 5: kurt@example.org unsubscribed themselves; only they can subscribe again",
    ]
    statuses = {s["email"]: s["status"] for s in cli.json("subscribers", "list")}
    assert statuses == {"ada@example.org": "suppressed", "grace@example.org": "active",
                        "alan@example.org": "pending", "kurt@example.org": "unsubscribed"}  # fmt: skip
    events = cli.json("subscribers", "show", "grace@example.org")["events"]
    assert [(e["kind"], e["source"]) for e in events[:2]] == [
        ("confirm", "import"),
        ("preferences", "import"),
    ]


def test_export_round_trips_and_speaks_json(cli: Cli, tmp_path: Path) -> None:
    cli("subscribers", "import", write(tmp_path, GOOD))
    code, exported, _ = cli("subscribers", "export")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["email"] for r in rows] == [
        "ada@example.org",
        "grace@example.org",
        "alan@example.org",
        "kurt@example.org",
    ]
    assert rows[0]["interests"] == 'diffusion; "vision transformer"; cat:cs.CV'
    assert rows[1]["weekday"] == "4" and rows[3]["status"] == "unsubscribed"
    before = people(cli)
    again = cli.json("subscribers", "import", write(tmp_path, exported, "exported.csv"))
    assert again["unchanged"] == 4 and people(cli) == before

    out = tmp_path / "all.json"
    code, printed, _ = cli("subscribers", "export", "--format", "json", "--output", str(out))
    assert code == 0 and "exported 4 subscribers" in printed
    data = json.loads(out.read_text())
    assert [d["email"] for d in data] == [r["email"] for r in rows]
    assert data[0]["interests"] == ["diffusion", '"vision transformer"', "cat:cs.CV"]
    active = json.loads(cli("subscribers", "export", "--format", "json", "--status", "active")[1])
    assert [d["email"] for d in active] == ["ada@example.org"]
    assert cli("subscribers", "export", "--format", "xml")[0] == 2


def test_interests_typed_differently_are_the_same_interests(cli: Cli, tmp_path: Path) -> None:
    text = 'email,interests\nada@example.org,"au:LeCun;  GAN   models ; NOT survey; au:LeCun"\n'
    path = write(tmp_path, text)
    assert cli.json("subscribers", "import", path)["created"] == 1
    stored = cli.json("subscribers", "list")[0]["interests"]
    assert stored == ["author:LeCun", "GAN models", "-survey"]
    assert cli.json("subscribers", "import", path)["unchanged"] == 1
    code, out, _ = cli("interests", "add", "ada@example.org", "author:LeCun", "ti:mamba")
    assert code == 0 and out.strip() == "ada@example.org: added title:mamba"
    assert cli("interests", "remove", "ada@example.org", "NOT survey")[0] == 0
