"""``paperpost interests add | remove | list``."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_add_remove_list(cli: Cli) -> None:
    cli("subscribers", "add", "ada@example.org", "--confirmed", "-i", "diffusion")
    cli("subscribers", "add", "grace@example.org", "--confirmed", "-i", "diffusion")
    code, out, _ = cli("interests", "add", "ada@example.org", "cat:cs.CV", 'author:"Kaiming He"',
                       "diffusion")  # fmt: skip
    assert code == 0 and out.strip() == 'ada@example.org: added cat:cs.CV; author:"Kaiming He"'
    mine = cli.json("interests", "list", "ada@example.org")
    assert [(i["interest"], i["kind"]) for i in mine] == [
        ("diffusion", "keyword"),
        ("cat:cs.CV", "category"),
        ('author:"Kaiming He"', "author"),
    ]
    everyone = cli.json("interests", "list")
    assert everyone[0] == {"interest": "diffusion", "kind": "keyword", "subscribers": 2}
    assert cli("interests", "remove", "ada@example.org", "cat:cs.CV")[0] == 0
    assert [i["interest"] for i in cli.json("interests", "list", "ada@example.org")] == [
        "diffusion",
        'author:"Kaiming He"',
    ]
    events = [e["kind"] for e in cli.json("subscribers", "show", "ada@example.org")["events"]]
    assert events.count("preferences") == 2


def test_errors_say_where_and_what_to_do(cli: Cli) -> None:
    cli("subscribers", "add", "ada@example.org", "-i", "diffusion")
    code, _, err = cli("interests", "add", "ada@example.org", "cat:")
    assert code == 1 and "interest 'cat:'" in err and "nothing was changed" in err
    code, _, err = cli("interests", "remove", "ada@example.org", "mamba")
    assert code == 1 and "has no interest 'mamba'" in err and "(theirs: diffusion)" in err
    assert cli("interests", "add", "ada@example.org")[0] == 2
    assert cli("interests", "list", "nobody@example.org")[0] == 1
    assert cli.json("interests", "list") == []  # no active subscriber yet
