"""The 43 territorial police forces of England and Wales, and every spelling the sources use.

``resolve()`` is the single way any name (from a user, a notebook parameter or a source
file) becomes a :class:`Force`. It accepts the canonical name, short name, full title,
slug and ONS PFA code, in any case, with footnote digits or punctuation variants
("Cheshire8", "London, City of", "Devon & Cornwall"), and the Welsh forces' own Welsh names
("Heddlu Gwent", "Heddlu Gogledd Cymru", "Heddlu De Cymru", "Heddlu Dyfed-Powys").

Bodies that appear in the sources but are outside the inspection (British Transport
Police, the national fraud bodies, national and regional totals) are recognised by
:func:`classify` so that readers can drop them deliberately rather than by accident.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import UnknownForceError


@dataclass(frozen=True)
class Force:
    name: str          # canonical, as the report's figures label it ("Metropolitan Police")
    short_name: str
    full_title: str    # "Cambridgeshire Constabulary"
    slug: str          # "cambridgeshire", used in output paths
    code: str          # ONS police force area code, E23... or W15...
    region: str        # English region, or "Wales"
    country: str
    welsh_name: str = ""  # the force's own Welsh name (the four Welsh forces), e.g. "Heddlu Gwent"

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.name


def _load() -> tuple[Force, ...]:
    with open(Path(__file__).with_name("forces.csv"), newline="", encoding="utf-8") as fh:
        return tuple(Force(**row) for row in csv.DictReader(fh))


FORCES: tuple[Force, ...] = _load()
FORCE_NAMES: tuple[str, ...] = tuple(f.name for f in FORCES)

# Spellings seen in the sources that differ from the canonical name after normalising.
_ALIASES = {
    "london city of": "City of London",
    "city of london police service": "City of London",
    "devon cornwall": "Devon and Cornwall",
    "met": "Metropolitan Police",
    "metropolitan police service": "Metropolitan Police",
    "the met": "Metropolitan Police",
    "mps": "Metropolitan Police",
    "gmp": "Greater Manchester",
    "dyfed powys": "Dyfed-Powys",
}

# Rows in the sources that are not territorial forces, and why they are excluded.
NON_TERRITORIAL = {
    "british transport police": "British Transport Police is outside the scope of the inspection (Annex A)",
    "btp": "British Transport Police is outside the scope of the inspection (Annex A)",
    "action fraud": "national fraud reporting body, not a territorial force (fraud is excluded from recorded crime)",
    "cifas": "national fraud reporting body, not a territorial force (fraud is excluded from recorded crime)",
    "uk finance": "national fraud reporting body, not a territorial force (fraud is excluded from recorded crime)",
    "national fraud intelligence bureau": "national fraud body, not a territorial force",
}

_AGGREGATE_PATTERNS = (
    re.compile(r"^england and wales"),
    re.compile(r"^england($| \()"),   # also "England (excluding Greater Manchester Police)"
    re.compile(r"^wales($| \()"),
    re.compile(r"^(north east|north west|yorkshire and the humber|east midlands|west midlands|east|east of england|london|south east|south west)$"),
)
_AGGREGATE_CODE = re.compile(r"^(K04|E92|W92|E12)\d{6}$")


def normalise(text: str) -> str:
    """Lower-case, drop footnote digits, ``&``->``and``, punctuation to spaces, squeeze."""
    s = str(text).strip().lower()
    s = s.replace("&", " and ")
    s = re.sub(r"(?<=[a-z\)])\s*\d+(\s*,\s*\d+)*$", "", s)  # trailing footnote markers
    s = re.sub(r"[^a-z0-9()]+", " ", s).strip()
    return s


def _keys(force: Force) -> set[str]:
    keys = {normalise(force.name), normalise(force.short_name), normalise(force.full_title),
            force.slug.lower(), force.code.lower(), normalise(force.slug), normalise(force.welsh_name)}
    for suffix in (" police", " constabulary", " police service"):
        if normalise(force.full_title).endswith(suffix.strip()):
            keys.add(normalise(force.full_title)[: -len(suffix.strip())].strip())
    return {k for k in keys if k}


@lru_cache(maxsize=1)
def _index() -> dict[str, Force]:
    index: dict[str, Force] = {}
    by_name = {f.name: f for f in FORCES}
    for force in FORCES:
        for key in _keys(force):
            index[key] = force
            index[key.replace(" and ", " ")] = force
    for alias, name in _ALIASES.items():
        index[alias] = by_name[name]
    return index


def lookup(name: object) -> Force | None:
    """The force ``name`` means, or ``None``. Never raises."""
    if name is None:
        return None
    if isinstance(name, Force):
        return name
    raw = str(name).strip().lower()
    index = _index()
    if re.fullmatch(r"[ew]\d{8}", raw):
        return index.get(raw)
    key = normalise(raw)
    if not key:
        return None
    for candidate in (key, key.replace(" and ", " ")):
        if candidate in index:
            return index[candidate]
    for suffix in (" police service", " police", " constabulary", " police force"):
        if key.endswith(suffix):
            stripped = key[: -len(suffix)].strip()
            if stripped in index:
                return index[stripped]
    return None


def suggestions(name: object, limit: int = 3) -> list[str]:
    """Closest canonical force names to ``name``, best first."""
    from rapidfuzz import fuzz, process

    choices = {f.name: normalise(f.full_title) for f in FORCES}
    query = normalise(str(name))
    found = process.extract(query, choices, scorer=fuzz.WRatio, limit=limit)
    return [key for _, _score, key in found]


def resolve(name: object) -> Force:
    """Return the territorial force ``name`` refers to, or raise a one-line error with suggestions."""
    force = lookup(name)
    if force is not None:
        return force
    why = classify(name)
    if why and why != "territorial":
        raise UnknownForceError(
            f"{name!r} is not one of the 43 territorial forces: {why}. "
            "Pick a territorial force, e.g. 'Cambridgeshire' (see peel_helpers.core.forces.FORCE_NAMES)."
        )
    close = ", ".join(repr(s) for s in suggestions(name))
    raise UnknownForceError(
        f"Unknown force {name!r}. Did you mean {close}? "
        "Use a force name, full title, slug or ONS code (see peel_helpers.core.forces.FORCE_NAMES)."
    )


def classify(name: object, code: object = None) -> str | None:
    """``"territorial"``, a reason string for a known non-territorial row, or ``None`` if unknown.

    ``code`` (an ONS area code, where the source has one) settles names that are both a
    region and a force, such as "West Midlands".
    """
    code_s = str(code).strip().upper() if code is not None and str(code).strip() not in ("", "nan", "None") else ""
    if code_s:
        if _AGGREGATE_CODE.match(code_s):
            return "a national or regional total, not a force"
        if lookup(code_s) is not None:
            return "territorial"
    key = normalise(str(name)) if name is not None else ""
    if key in NON_TERRITORIAL:
        return NON_TERRITORIAL[key]
    if key.startswith("fraud"):
        return NON_TERRITORIAL["action fraud"]
    if not code_s and any(p.match(key) for p in _AGGREGATE_PATTERNS[:3]):
        return "a national total, not a force"
    if lookup(name) is not None:
        return "territorial"
    if any(p.match(key) for p in _AGGREGATE_PATTERNS):
        return "a national or regional total, not a force"
    return None


def slug(name: object) -> str:
    return resolve(name).slug

