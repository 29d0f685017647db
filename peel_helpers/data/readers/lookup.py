"""The ONS lookup of local authority districts to community safety partnerships to police force areas."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .. import schemas
from ...core.errors import DataFileError
from .common import canonical, file_label, require_all_forces, unrecognised


def read_pfa_lookup(path: Path | str) -> pd.DataFrame:
    source = file_label(path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    wanted = {}
    for col in raw.columns:
        m = re.fullmatch(r"(LAD|CSP|PFA)\d{2}(CD|NM)", col.strip(), flags=re.I)
        if m:
            wanted[col] = f"{m.group(1).lower()}_{'code' if m.group(2).upper() == 'CD' else 'name'}"
    if len(set(wanted.values())) != 6:
        raise DataFileError(f"{source}: expected LADyyCD/NM, CSPyyCD/NM and PFAyyCD/NM columns, found "
                            f"{list(raw.columns)}; is this the ONS LAD-CSP-PFA lookup?")
    df = raw.rename(columns=wanted)
    pairs = {}
    for code, name in df[["pfa_code", "pfa_name"]].drop_duplicates().itertuples(index=False):
        body, force = canonical(source, name, code)
        if body != "territorial":
            raise unrecognised(source, f"{name} ({code})")
        pairs[(code, name)] = force
    df["force"] = [pairs[(c, n)] for c, n in zip(df["pfa_code"], df["pfa_name"])]
    require_all_forces(source, set(df["force"]), "the lookup")
    out = schemas.coerce("pfa_lookup", df).sort_values("lad_code").reset_index(drop=True)
    return schemas.validate("pfa_lookup", out, source)
