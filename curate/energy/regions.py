"""Grid carbon intensity of countries and cloud regions, from the data CodeCarbon ships (offline).

- Countries: ``codecarbon/data/private_infra/global_energy_mix.json``: each country's
  ``carbon_intensity`` (gCO2eq/kWh) of its electricity mix, with the year of its data.
- Cloud regions: ``codecarbon/data/cloud/impact.csv``: each provider region's gCO2eq/kWh with the
  source it names (Google Cloud's region carbon data for the GCP rows).
- The world average (475 g/kWh) from ``carbon_intensity_per_source.json`` (IEA, 2019).

Keys: a 3-letter ISO country code (``FRA``), ``<provider>:<region>`` (``gcp:europe-north1``)
or ``world``.
"""

from __future__ import annotations

import csv
import functools
import json
from dataclasses import dataclass
from pathlib import Path

from curate.errors import ConfigError, require

DEFAULT_REGIONS = ("SWE", "FRA", "GBR", "DEU", "USA", "CHN", "IND", "POL", "AUS",
                   "gcp:europe-north1", "gcp:us-central1", "gcp:asia-south1")
"""The what-if table's regions unless ``energy.regions`` names others: low-, mid- and high-carbon grids."""


@dataclass(frozen=True)
class Region:
    """One grid: its key, name, kind, intensity and where the figure comes from."""

    key: str
    name: str
    kind: str
    gco2eq_per_kwh: float
    year: int | None
    source: str


def _data() -> tuple[Path, str]:
    codecarbon = require("codecarbon", "energy", "codecarbon")
    from importlib.metadata import version

    return Path(codecarbon.__file__).parent / "data", version("codecarbon")


@functools.cache
def known_regions() -> dict[str, Region]:
    """Every grid CodeCarbon's offline data knows, by key."""
    folder, version = _data()
    found: dict[str, Region] = {}
    world = json.loads((folder / "private_infra" / "carbon_intensity_per_source.json").read_text(encoding="utf-8"))
    found["world"] = Region("world", "world average", "world", float(world["world_average"]), 2019,
                            f"CodeCarbon {version} carbon_intensity_per_source.json ({world['world_average_source']})")
    mix = json.loads((folder / "private_infra" / "global_energy_mix.json").read_text(encoding="utf-8"))
    for iso, row in mix.items():
        if row.get("carbon_intensity") is None:
            continue
        found[iso] = Region(iso, row.get("country_name") or iso, "country", float(row["carbon_intensity"]),
                            row.get("year"), f"CodeCarbon {version} global_energy_mix.json")
    with open(folder / "cloud" / "impact.csv", encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            key = f"{row['provider']}:{row['region']}"
            name = f"{row['providerName']} {row['region']} ({row['city'] or row['country_name']})"
            found[key] = Region(key, name, "cloud region", float(row["impact"]), None,
                                f"CodeCarbon {version} cloud/impact.csv ({row['source']}; year not stated)")
    return found


def region(key: str) -> Region:
    """The grid named ``key``.

    Raises
    ------
    ConfigError
        For a key the data does not have (with the closest known keys).
    """
    regions = known_regions()
    if key in regions:
        return regions[key]
    from difflib import get_close_matches

    close = get_close_matches(key, list(regions), n=3)
    raise ConfigError(f"unknown region '{key}' in energy.regions",
                      hint=(f"did you mean {', '.join(close)}? " if close else "")
                      + "use a 3-letter country code (FRA), a cloud region as provider:region (gcp:europe-west1) or world")


def grid_intensity(country_iso_code: str | None) -> float:
    """gCO2eq per kWh of a country's grid, or the world average when ``None`` or unknown."""
    regions = known_regions()
    return regions.get(country_iso_code or "world", regions["world"]).gco2eq_per_kwh
