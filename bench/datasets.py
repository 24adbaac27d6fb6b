"""Real, class-imbalanced tables for the protocol benchmark, all readable offline.

Every table is either one of scikit-learn's built-ins or a data file shipped *inside* a PyPI package (no
loader here downloads anything; each was checked with the network switched off). Each loader returns the
table as a user would hand it to synthlift: features plus a label column of class names, with identifiers,
outcome leaks and dates turned into plain columns or dropped (see each loader).

The benchmark makes each table scarce: ``scarce_rows`` caps every class but the majority in the USER rows
(after the outer TEST split), as the product's own built-in demo does; ``None`` keeps the natural counts.

TUNING set (may be used to tune the product): breast_cancer, wine, penguins, rossi.
HELD-BACK set (never used to tune anything; only reported): cars, gbsg2, seattle_weather, anes96.

| table | source (package) | licence of the data | rows | classes |
| --- | --- | --- | --- | --- |
| breast_cancer | Breast Cancer Wisconsin (Diagnostic), UCI (scikit-learn) | CC BY 4.0 | 569 | 2 |
| wine | Wine recognition, UCI (scikit-learn) | CC BY 4.0 | 178 | 3 |
| penguins | Palmer Station LTER, Gorman et al. 2014 (palmerpenguins) | CC0 | 344 | 3 |
| rossi | Rossi, Berk & Lenihan 1980 recidivism, via R carData (lifelines) | GPL-2 (R carData); lifelines MIT | 432 | 2 |
| cars | StatLib auto-mpg, Henderson & Velleman 1981 (vega_datasets, local) | public (StatLib); vega_datasets MIT | 406 | 3 |
| gbsg2 | German Breast Cancer Study Group 2, via R TH.data (lifelines) | GPL-2 (R TH.data); lifelines MIT | 686 | 3 |
| seattle_weather | NOAA daily weather, Seattle 2012-2015 (vega_datasets, local) | US public domain (NOAA) | 1461 | 5 |
| anes96 | American National Election Studies 1996 (statsmodels) | public domain (per statsmodels) | 944 | 2 |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import pandas as pd

TUNING = "tuning"
HELD_BACK = "held_back"


@dataclass(frozen=True)
class BenchTable:
    name: str
    load: Callable[[], pd.DataFrame]
    label_column: str
    scarce_rows: Optional[int]
    """Every class but the majority is cut to this many USER rows; None keeps the natural counts."""
    group: str
    source: str
    licence: str
    package: str
    """The PyPI package that ships the data (the bench extra must install it)."""


def breast_cancer() -> pd.DataFrame:
    """scikit-learn's copy of UCI's Breast Cancer Wisconsin (Diagnostic): 30 numeric features, diagnosis."""
    from quality.data.tables import BUILTIN_TABLES

    return BUILTIN_TABLES["breast_cancer"].load()


def wine() -> pd.DataFrame:
    """scikit-learn's copy of UCI's Wine recognition: 13 numeric features, cultivar (3 classes)."""
    from quality.data.tables import BUILTIN_TABLES

    return BUILTIN_TABLES["wine"].load()


def penguins() -> pd.DataFrame:
    """Palmer penguins: 4 measurements, island and sex (categorical, some missing), year; species (3 classes)."""
    from palmerpenguins import load_penguins

    return load_penguins()


def rossi() -> pd.DataFrame:
    """Recidivism of 432 released prisoners; label: arrested within a year. ``week`` (the week of the arrest,
    52 when none) is the outcome itself, so it is dropped."""
    from lifelines.datasets import load_rossi

    frame = load_rossi().drop(columns=["week"])
    frame["arrest"] = frame["arrest"].map({0: "not_arrested", 1: "arrested"})
    return frame


def cars() -> pd.DataFrame:
    """Auto-mpg (vega_datasets' local copy): 6 numeric features (two with missing values) and model year;
    label: origin (USA, Europe, Japan). ``Name`` (the car model, a text identifier) is dropped."""
    from vega_datasets import local_data

    frame = local_data.cars().drop(columns=["Name"])
    frame["Year"] = pd.to_datetime(frame["Year"]).dt.year
    return frame


def gbsg2() -> pd.DataFrame:
    """German Breast Cancer Study Group 2 (686 patients); label: tumour grade (I, II, III) from hormone therapy,
    menopausal status (categorical), age, size, nodes and receptors. The survival outcome (time, cens) is dropped."""
    from lifelines.datasets import load_gbsg2

    return load_gbsg2().drop(columns=["time", "cens"])


def seattle_weather() -> pd.DataFrame:
    """Daily weather in Seattle 2012-2015 (vega_datasets' local copy); label: weather (sun, fog, rain, drizzle,
    snow). The date becomes year and month (synthlift refuses dates; the labelling changes over the years)."""
    from vega_datasets import local_data

    frame = local_data.seattle_weather()
    dates = pd.to_datetime(frame.pop("date"))
    return frame.assign(year=dates.dt.year, month=dates.dt.month)


def anes96() -> pd.DataFrame:
    """1996 US presidential election survey (statsmodels); label: vote (Clinton, Dole). ``logpopul`` (the log of
    ``popul``) is dropped as a duplicate."""
    import statsmodels.api as sm

    frame = sm.datasets.anes96.load_pandas().data.drop(columns=["logpopul"])
    frame["vote"] = frame["vote"].map({0.0: "Clinton", 1.0: "Dole"})
    return frame


TABLES: dict[str, BenchTable] = {table.name: table for table in (
    BenchTable("breast_cancer", breast_cancer, "diagnosis", 20, TUNING,
               "UCI Breast Cancer Wisconsin (Diagnostic)", "CC BY 4.0", "scikit-learn"),
    BenchTable("wine", wine, "cultivar", 20, TUNING, "UCI Wine recognition", "CC BY 4.0", "scikit-learn"),
    BenchTable("penguins", penguins, "species", 20, TUNING, "Palmer Station LTER (Gorman et al. 2014)", "CC0",
               "palmerpenguins"),
    BenchTable("rossi", rossi, "arrest", 30, TUNING, "Rossi, Berk & Lenihan 1980 (R carData)",
               "GPL-2 (R carData)", "lifelines"),
    BenchTable("cars", cars, "Origin", 20, HELD_BACK, "StatLib auto-mpg (Henderson & Velleman 1981)",
               "public (StatLib)", "vega_datasets"),
    BenchTable("gbsg2", gbsg2, "tgrade", 20, HELD_BACK, "German Breast Cancer Study Group 2 (R TH.data)",
               "GPL-2 (R TH.data)", "lifelines"),
    BenchTable("seattle_weather", seattle_weather, "weather", None, HELD_BACK, "NOAA daily weather, Seattle",
               "US public domain (NOAA)", "vega_datasets"),
    BenchTable("anes96", anes96, "vote", 30, HELD_BACK, "American National Election Studies 1996",
               "public domain", "statsmodels"),
)}


def load(name: str) -> tuple[pd.DataFrame, str]:
    """The table ``name`` and its label column."""
    table = TABLES[name]
    return table.load(), table.label_column
