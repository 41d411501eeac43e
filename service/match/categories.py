"""The arXiv category taxonomy, to validate ``cat:`` and suggest what was meant."""

from __future__ import annotations

import difflib

_TAXONOMY = {
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS NA "
    "NE NI OH OS PF PL RO SC SD SE SI SY",
    "econ": "EM GN TH",
    "eess": "AS IV SP SY",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA RA "
    "RT SG SP ST",
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "nlin": "AO CD CG PS SI",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an "
    "ed-ph flu-dyn gen-ph geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph space-ph",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "stat": "AP CO ME ML OT TH",
    "gr-qc": "",
    "hep-ex": "",
    "hep-lat": "",
    "hep-ph": "",
    "hep-th": "",
    "math-ph": "",
    "nucl-ex": "",
    "nucl-th": "",
    "quant-ph": "",
}

ARCHIVES = frozenset(_TAXONOMY)
# Canonical spelling by lower-case key: "cs.cv" -> "cs.CV", "cs" -> "cs".
CANONICAL = {a: a for a in _TAXONOMY} | {
    f"{a}.{c}".lower(): f"{a}.{c}" for a, codes in _TAXONOMY.items() for c in codes.split()
}


def canonical(code: str) -> str | None:
    """The category or archive as arXiv writes it, or None when arXiv has no such thing."""
    return CANONICAL.get(code.strip().lower())


def suggest(code: str) -> list[str]:
    """Close spellings of an unknown category: "cv" -> cs.CV, math.CV; "cs.vc" -> cs.CV."""
    key = code.strip().lower()
    by_code = [c for k, c in CANONICAL.items() if "." in k and k.split(".", 1)[1] == key]
    close = difflib.get_close_matches(key, list(CANONICAL), n=3, cutoff=0.75)
    found = [*by_code, *(CANONICAL[k] for k in close)]
    return list(dict.fromkeys(found))[:3]


def keys_of(category: str) -> tuple[str, ...]:
    """What a paper's category answers to: itself and its archive ("cs.CV" -> cs.cv, cs)."""
    key = category.strip().lower()
    archive = key.split(".", 1)[0]
    return (key,) if archive == key else (key, archive)
