"""The 43 territorial forces: every spelling resolves, unknown names get suggestions, and every
row of every mirrored file is either exactly one force or a recognised non-territorial row."""

from __future__ import annotations

import pandas as pd
import pytest

from peel_helpers.core import forces
from peel_helpers.data import readers
from peel_helpers.core.errors import UnknownForceError
from peel_helpers.core.forces import FORCE_NAMES, FORCES

realdata = pytest.mark.realdata


# ------------------------------------------------------------------------------------------
# The registry and resolve()

def test_registry_has_43_unique_forces():
    assert len(FORCES) == 43
    for attr in ("name", "slug", "code", "full_title"):
        values = [getattr(f, attr) for f in FORCES]
        assert len(set(values)) == 43, attr
    assert all(f.code[:3] in ("E23", "W15") and len(f.code) == 9 for f in FORCES)
    assert sum(f.country == "Wales" for f in FORCES) == 4


@pytest.mark.parametrize("spelling", [
    "Cambridgeshire", "Cambridgeshire Constabulary", "cambridgeshire", "CAMBRIDGESHIRE", "E23000023",
    "e23000023", "Cambridgeshire8", " Cambridgeshire ", "Cambridgeshire Police",
])
def test_resolve_spellings_of_one_force(spelling):
    assert forces.resolve(spelling).name == "Cambridgeshire"


@pytest.mark.parametrize("spelling, name", [
    ("London, City of", "City of London"), ("City of London10", "City of London"),
    ("city-of-london", "City of London"), ("Devon & Cornwall", "Devon and Cornwall"),
    ("devon-and-cornwall", "Devon and Cornwall"), ("Metropolitan Police Service", "Metropolitan Police"),
    ("Dyfed Powys", "Dyfed-Powys"), ("West Midlands", "West Midlands"), ("E23000014", "West Midlands"),
    ("Warwickshire9", "Warwickshire"), ("Greater Manchester Police", "Greater Manchester"),
])
def test_resolve_source_spellings(spelling, name):
    assert forces.resolve(spelling).name == name


@pytest.mark.parametrize("welsh, english, code", [
    ("Heddlu Gwent", "Gwent", "W15000002"), ("Heddlu Gogledd Cymru", "North Wales", "W15000001"),
    ("Heddlu De Cymru", "South Wales", "W15000003"), ("Heddlu Dyfed-Powys", "Dyfed-Powys", "W15000004"),
    ("heddlu dyfed powys", "Dyfed-Powys", "W15000004"), ("HEDDLU DE CYMRU", "South Wales", "W15000003"),
])
def test_welsh_names_of_the_welsh_forces_are_accepted(welsh, english, code):
    """The four Welsh forces' own Welsh names (codes as ONS publishes them for the police force areas)."""
    force = forces.resolve(welsh)
    assert (force.name, force.code) == (english, code)


def test_a_welsh_name_is_accepted_by_the_build_command(tmp_path, capsys):
    """The forces are read before the sections: the only complaint is about the (bad) section."""
    from peel_helpers import cli
    from peel_helpers.batch import checks, jobs as batch_jobs, runner

    code = cli.main(["build", "--force", "Heddlu Gogledd Cymru", "--forces", "Heddlu Gwent,Kent",
                        "--section", "no-such-section", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "is not a section" in err[0], err


def test_every_force_resolves_by_each_identifier():
    for f in FORCES:
        for value in (f.name, f.short_name, f.full_title, f.slug, f.code, f.name.upper(), f.name.lower()):
            assert forces.resolve(value) == f, value


def test_unknown_name_error_has_suggestions():
    with pytest.raises(UnknownForceError) as err:
        forces.resolve("Cambridgshire")
    msg = str(err.value)
    assert "'Cambridgshire'" in msg and "'Cambridgeshire'" in msg and "\n" not in msg


def test_non_territorial_name_error_says_why():
    with pytest.raises(UnknownForceError, match="British Transport Police"):
        forces.resolve("British Transport Police")


def test_classify_uses_the_code_for_region_or_force():
    assert forces.classify("West Midlands", "E23000014") == "territorial"
    assert forces.classify("West Midlands", "E12000005") != "territorial"
    assert forces.classify("West Midlands ", "E12000005") is not None
    assert forces.classify("England (excluding Greater Manchester Police)5") not in (None, "territorial")
    assert forces.classify("Atlantis") is None
    assert readers.body_of("Action Fraud") == "fraud_body"
    assert readers.body_of("CIFAS") == "fraud_body"
    assert readers.body_of("British Transport Police7") == "british_transport_police"
    assert readers.body_of("ENGLAND AND WALES (inc. BTP)7", "K04000001") == "aggregate"


# ------------------------------------------------------------------------------------------
# Every row of every mirrored file

def _check_rows(names_codes: pd.DataFrame, source: str, expect_all_forces: bool = True) -> dict[str, int]:
    """Each distinct (name, code): territorial -> exactly one force; otherwise a recognised body."""
    seen: dict[str, set] = {}
    bodies = {}
    for name, code in names_codes.drop_duplicates().itertuples(index=False):
        code = None if pd.isna(code) else code
        body = readers.body_of(name, code)
        assert body is not None, f"{source}: unrecognised row {name!r} ({code})"
        bodies[body] = bodies.get(body, 0) + 1
        if body == "territorial":
            force = forces.lookup(code) if code else forces.lookup(name)
            assert force is not None
            # the name and the code (where given) agree on one force
            assert forces.lookup(name) == force, (source, name, code)
            seen.setdefault(force.name, set()).add((name, code))
        elif code:
            assert forces.lookup(code) is None, (source, name, code)
    if expect_all_forces:
        assert sorted(seen) == sorted(FORCE_NAMES), source
    return bodies


@realdata
def test_recorded_crime_file_rows(raw_files):
    raw = pd.read_csv(raw_files["rec_crime_pfa"], dtype=str, keep_default_na=False)
    bodies = _check_rows(raw[["PFA"]].assign(code=None), "rec-crime-pfa.csv")
    assert bodies == {"territorial": 43, "british_transport_police": 1, "fraud_body": 3}
    tidy = readers.read_recorded_crime(raw_files["rec_crime_pfa"])
    assert len(tidy) == len(raw)            # every row kept, each labelled with its body
    territorial = tidy[tidy["body"] == "territorial"]
    assert territorial["force"].nunique() == 43
    per_force = territorial.groupby("force").size()
    assert per_force.nunique() == 1         # same number of rows for every force: none merged


@realdata
@pytest.mark.parametrize("key", ["pfa_tables_mar2018", "pfa_tables_jun2018"])
def test_ons_pfa_tables_rows(raw_files, key):
    path = raw_files[key]
    for sheet in readers.sheet_names(path):
        if not sheet.startswith("Table P"):
            continue
        table = readers.read_area_table(path, sheet)     # raises on any unrecognised row
        rows = table.rows
        assert rows["body"].notna().all()
        territorial = rows[rows["body"] == "territorial"]
        # 43 forces, each exactly once; or 41 where one London row combines City of London and
        # the Met (Table P6), which is recognised by its region code and excluded
        assert territorial["force"].is_unique, (key, sheet)
        if len(territorial) != 43:
            assert sorted(set(FORCE_NAMES) - set(territorial["force"])) == ["City of London", "Metropolitan Police"]
            combined = rows[rows["name"].str.contains("City of London") & rows["name"].str.contains("Metropolitan")]
            assert len(combined) == 1 and combined["body"].iloc[0] == "aggregate", (key, sheet)
        assert rows["code"].dropna().str.fullmatch(r"[EWK]\d{8}").all(), (key, sheet)
        assert set(rows.loc[rows["body"] != "territorial", "body"]) <= {"aggregate", "british_transport_police"}
        for code, force in territorial[["code", "force"]].itertuples(index=False):
            assert forces.resolve(code).name == force


@realdata
def test_outcomes_file_rows(raw_files):
    raw = pd.read_csv(raw_files["outcomes_2017_18_csv"], usecols=["force_name"], dtype=str).dropna()
    bodies = _check_rows(raw.assign(code=None), "outcomes csv")
    assert bodies == {"territorial": 43, "british_transport_police": 1}


@realdata
def test_pfa_lookup_rows(raw_files):
    raw = pd.read_csv(raw_files["pfa_lookup_2016"], dtype=str, encoding="utf-8-sig")
    bodies = _check_rows(raw[["PFA16NM", "PFA16CD"]], "lookup")
    assert bodies == {"territorial": 43}
    # each PFA code names the same force as the registry's code
    for code, name in raw[["PFA16CD", "PFA16NM"]].drop_duplicates().itertuples(index=False):
        assert forces.resolve(code) == forces.resolve(name)
