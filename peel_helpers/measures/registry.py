"""The one registry of measures: every number the report's data sections show.

Each :class:`MeasureDef` says what the measure is (label, unit, scale), which family computes it
(recorded crime, crime outcomes, anti-social behaviour incidents, or HMICFRS's data return), which
Annex A rules apply (``family``), and, for data-return measures, which raw count in the input
table feeds it, what it is divided by by default, and the range its value can take: a value
outside ``possible`` is an error (a share over 100%, 250 calls a head a year), a value outside
``plausible`` but possible a warning (0.12 typed for a 12% share). The data return is the one
input typed in by hand, so these ranges are checked there (:mod:`peel_helpers.measures.datareturn`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import ParameterError

FAMILIES = ("recorded_crime", "outcomes", "asb_incidents", "data_return")


@dataclass(frozen=True)
class MeasureDef:
    key: str
    label: str
    short: str                       # a few words for chart titles ("action taken")
    unit: str
    family: str                      # rules family in data/exclusions.csv and data/caveats.csv
    scale: float
    source: str = "open"             # "open" (open data) or "data_return" (HMICFRS's own return)
    uses_population: bool = False
    decimals: int = 1
    signed: bool = False
    outcome_types: tuple[int, ...] = ()
    base: str = ""                   # data return: the raw count's name in the input table
    count_unit: str = ""             # data return: unit of that count
    denominator: str = ""            # data return: "population", "recorded_crime" or another base
    possible: tuple[float, float] | None = None    # data return: values outside are impossible (error)
    plausible: tuple[float, float] | None = None   # data return: values outside are doubtful (warning)
    range_why: str = ""              # why the possible range is what it is, for the error message

    @property
    def computes(self) -> str:
        """The family of code that computes it: recorded_crime, outcomes, asb_incidents or data_return."""
        return "data_return" if self.source == "data_return" else \
            ("outcomes" if self.outcome_types else self.family)


def _outcome(key: str, label: str, short: str, types: tuple[int, ...]) -> MeasureDef:
    return MeasureDef(key, label, short, "% of offences recorded", "outcomes", 100, outcome_types=types)


def _return(key, label, short, unit, family, scale, base, count_unit, denominator, possible, plausible,
            why) -> MeasureDef:
    return MeasureDef(key, label, short, unit, family, scale, source="data_return",
                      uses_population=denominator == "population", base=base, count_unit=count_unit,
                      denominator=denominator, possible=possible, plausible=plausible, range_why=why)


# Ranges of the data-return rates. Shares are 0-100. Rates per head allow for the City of London,
# whose resident population (under 10,000) is a small part of the people its police serve, so its
# rates per resident are tens of times any other force's (its 46 OCGs in 2017 are about 6,000 per
# million residents): the upper bounds are several times that, far above any real value, and far
# below a count typed into the wrong column. Below the plausible range a
# value is most likely a fraction typed for a percentage (0.12 for 12%), or a rate per head for a
# rate per 1,000.
SHARE, SHARE_PLAUSIBLE, SHARE_WHY = (0, 100), (1, 100), "a share of a total cannot exceed 100%"


# Outcome types (Home Office outcomes framework): codes are stable across releases, unlike labels.
MEASURES: dict[str, MeasureDef] = {m.key: m for m in [
    MeasureDef("recorded_crime_per_1000", "Recorded crime (excluding fraud) per 1,000 population", "recorded crime",
               "per 1,000 population", "recorded_crime", 1_000, uses_population=True),
    MeasureDef("recorded_crime_change_pct", "Change in recorded crime (excluding fraud) on the previous 12 months",
               "change in recorded crime", "% change", "recorded_crime", 100, signed=True),
    _outcome("outcome_charge_summons", "Charged/summonsed", "charge or summons", (1,)),
    _outcome("outcome_tic", "Taken into consideration", "taken into consideration", (4,)),
    _outcome("outcome_ooc_formal", "Out-of-court (formal)", "formal out-of-court outcomes", (2, 3, 6)),
    _outcome("outcome_ooc_informal", "Out-of-court (informal)", "informal out-of-court outcomes", (7, 8)),
    _outcome("outcome_evidential_difficulties", "Evidential difficulties: victim does not support police action",
             "evidential difficulties", (14, 16)),
    _outcome("outcome_no_suspect", "Investigation complete: no suspect identified", "no suspect identified", (18,)),
    _outcome("outcome_not_yet_assigned", "Not yet assigned an outcome", "not yet assigned an outcome", (0,)),
    _outcome("action_taken", "Investigations where action was taken", "action taken", (1, 2, 3, 4, 6, 7, 8)),
    MeasureDef("asb_incidents_per_1000", "Anti-social behaviour incidents per 1,000 population", "ASB incidents",
               "per 1,000 population", "asb_incidents", 1_000, uses_population=True),
    _return("calls_for_assistance_per_1000", "Calls for assistance per 1,000 population", "calls for assistance",
            "per 1,000 population", "calls", 1_000, "calls_for_assistance", "calls", "population",
            (0, 50_000), (10, 20_000), "more than 50 calls a year for every resident is not a real rate, even for "
            "the City of London"),
    _return("da_calls_pct", "Domestic abuse-related calls as a share of calls for assistance", "domestic abuse calls",
            "% of calls", "da_calls", 100, "da_calls", "calls", "calls_for_assistance", SHARE, SHARE_PLAUSIBLE,
            SHARE_WHY),
    _return("da_offences_pct", "Domestic abuse-related offences as a share of recorded crime",
            "domestic abuse offences", "% of recorded crime", "da_offences", 100, "da_offences", "offences",
            "recorded_crime", SHARE, SHARE_PLAUSIBLE, SHARE_WHY),
    _return("da_arrests_per_100", "Domestic abuse arrests per 100 domestic abuse-related offences",
            "domestic abuse arrests", "per 100 offences", "da_arrests", 100, "da_arrests", "arrests", "da_offences",
            (0, 1_000), (1, 300), "a force may make more than one arrest per offence, and the report says the "
            "rate may exceed 100, but not ten arrests for every offence"),
    _return("asb_powers_per_million", "Anti-social behaviour powers used per 1 million population", "ASB powers used",
            "per 1 million population", "asb_powers", 1_000_000, "asb_powers_total", "powers used", "population",
            (0, 1_000_000), (0, 100_000), "more powers than residents is not a real rate"),
    _return("ocg_per_million", "Organised crime groups per 1 million population", "organised crime groups",
            "per 1 million population", "ocg", 1_000_000, "ocg", "OCGs", "population",
            (0, 100_000), (0, 10_000), "one organised crime group for every 10 residents is not a real rate"),
    _return("eaw_per_million", "European arrest warrants executed per 1 million population", "arrest warrants",
            "per 1 million population", "eaw", 1_000_000, "eaw", "warrants", "population",
            (0, 100_000), (0, 10_000), "one warrant executed for every 10 residents is not a real rate"),
]}

ASB_POWER_TYPES = ("criminal_behaviour_orders", "community_protection_notices", "civil_injunctions",
                   "dispersal_orders")
# raw counts the data-return input may hold -> the measure they feed
BASE_MEASURES: dict[str, str] = {m.base: m.key for m in MEASURES.values() if m.base} | {
    f"asb_powers_{t}": "asb_powers_per_million" for t in ASB_POWER_TYPES}

FORCE_IN_NUMBERS = (
    "recorded_crime_per_1000", "recorded_crime_change_pct",
    "outcome_charge_summons", "outcome_tic", "outcome_ooc_formal", "outcome_ooc_informal",
    "outcome_evidential_difficulties", "outcome_no_suspect", "outcome_not_yet_assigned",
    "asb_incidents_per_1000",
    "calls_for_assistance_per_1000", "da_calls_pct", "da_offences_pct", "da_arrests_per_100", "ocg_per_million",
)


def suggest(value: str, choices, limit: int = 3) -> str:
    """"'a', 'b', 'c'": the closest choices to ``value``, for did-you-mean messages."""
    from rapidfuzz import process

    return ", ".join(repr(c) for c, *_ in process.extract(str(value), list(choices), limit=limit))


def measure(key: str) -> MeasureDef:
    """The measure ``key`` (a registry key, or a raw data-return count such as ``"da_arrests"``)."""
    if key in MEASURES:
        return MEASURES[key]
    if key in BASE_MEASURES:
        return MEASURES[BASE_MEASURES[key]]
    raise ParameterError(f"Unknown measure {key!r}: did you mean {suggest(key, MEASURES)}? "
                         "(see peel_helpers.measures.MEASURES)")


def range_problem(mdef: MeasureDef, value: float) -> tuple[str, str] | None:
    """("error", why) when ``value`` is outside the measure's possible range, ("warning", why) when it
    is possible but outside the plausible range, None when it is fine (or the measure has no range)."""
    if mdef.possible is not None:
        low, high = mdef.possible
        if not low <= value <= high:
            return "error", (f"{plain(value)} ({mdef.unit}) is outside the possible range {plain(low)} to {plain(high)} "
                             f"({mdef.range_why})")
    if mdef.plausible is not None:
        low, high = mdef.plausible
        if not low <= value <= high:
            hint = " (a fraction typed for a percentage? 12% is written 12, not 0.12)" if value < low and \
                mdef.unit.startswith("%") else ""
            return "warning", (f"{plain(value)} ({mdef.unit}) is possible but outside the plausible range "
                               f"{plain(low)} to {plain(high)}{hint}")
    return None


def plain(value: float) -> str:
    """90,000 or 0.12: a number as typed, without trailing zeros (never 1e+06)."""
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def fmt(value, mdef: MeasureDef) -> str:
    """Format ``value`` in the measure's unit, or a dash."""
    from ..core.text import format_value

    return format_value(value, mdef.unit, mdef.decimals, mdef.signed)
