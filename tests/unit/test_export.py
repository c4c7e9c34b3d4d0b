"""`dmzwatch export --format csv|geojson`: ACLED-style CSV (read back with the csv module: pandas is not a
dependency here) and GeoJSON that shapely reads back."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import shapely
from shapely.geometry import Point, mapping, shape

from dmzwatch.db.migrate import upgrade
from dmzwatch.db.session import session_scope
from dmzwatch.export import CSV_COLUMNS, export_row, write_geojson
from dmzwatch.geo import ZoneSet
from dmzwatch.records import SubEventType
from dmzwatch.stages import incidents
from tests.unit.test_stages import (
    KAFR_NABL,
    NOW,
    POLICY,
    REPO,
    SUQAYLABIYAH,
    ScriptedExtractor,
    _article,
    _event,
)

# ACLED's export columns in ACLED's order (its codebook), written out here independently of the code.
ACLED_COLUMNS = [
    "event_id_cnty",
    "event_date",
    "year",
    "time_precision",
    "disorder_type",
    "event_type",
    "sub_event_type",
    "actor1",
    "assoc_actor_1",
    "inter1",
    "actor2",
    "assoc_actor_2",
    "inter2",
    "interaction",
    "civilian_targeting",
    "iso",
    "region",
    "country",
    "admin1",
    "admin2",
    "admin3",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "source",
    "source_scale",
    "notes",
    "fatalities",
    "tags",
    "timestamp",
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A SQLite database with two incidents: one inside (two sources, tolls 5 and 9), one outside."""
    url = f"sqlite:///{tmp_path / 'dmzwatch.sqlite3'}"
    upgrade(url)
    sessions = partial(session_scope, url)
    zones = ZoneSet.load(REPO / "config" / "zones")
    extractor = ScriptedExtractor(
        {
            "a": [_event(killed=5)],
            "b": [_event(killed=9, perpetrator="russia")],
            "c": [_event(place=SUQAYLABIYAH, kind=SubEventType.SHELLING, killed=None)],
        }
    )
    for url_, text in (
        ("https://agency.example/1", "a"),
        ("https://monitor.example/2", "b"),
        ("https://state.example/3", "c"),
    ):
        article = _article(sessions, url_, text)
        incidents.extract_events(sessions, article, extractor=extractor, zones=zones, policy=POLICY, now=NOW)
    return tmp_path


def _export(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMZWATCH_")}
    env["DMZWATCH_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", "export", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_csv_has_acled_columns_and_loads_with_the_csv_module(data_dir: Path) -> None:
    out = data_dir / "incidents.csv"
    result = _export(data_dir, "--format", "csv", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "2 incidents written" in result.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames is not None and reader.fieldnames[: len(ACLED_COLUMNS)] == ACLED_COLUMNS
    assert reader.fieldnames == list(CSV_COLUMNS)  # ours after theirs
    strike, shelling = rows
    assert strike["event_id_cnty"] == "SYRDMZ1" and strike["year"] == "2019"
    assert strike["event_date"] == "2019-05-04" and strike["sub_event_type"] == "Air/drone strike"
    assert strike["event_type"] == "Explosions/Remote violence" and strike["disorder_type"] == "Political violence"
    assert strike["location"] == KAFR_NABL.name and strike["admin1"] == "Idlib"
    assert (strike["country"], strike["iso"], strike["region"]) == ("Syria", "760", "Middle East")
    assert (float(strike["latitude"]), float(strike["longitude"])) == (KAFR_NABL.lat, KAFR_NABL.lon)
    # ACLED's conservative figure: the lowest any source gave; the range in our columns and the notes.
    assert strike["fatalities"] == "5" and (strike["fatalities_min"], strike["fatalities_max"]) == ("5", "9")
    assert "5-9 killed" in strike["notes"]
    assert (strike["actor1"], strike["inter1"], strike["interaction"]) == ("Military Forces of Russia", "8", "80")
    assert strike["source"] == "agency.example; monitor.example"
    assert strike["geo_precision"] == "1" and strike["time_precision"] == "1"
    assert int(strike["timestamp"]) == int(NOW.timestamp()) and strike["dmzwatch_incident_id"] == "1"
    assert shelling["fatalities"] == "0" and shelling["location"] == SUQAYLABIYAH.name  # none reported: 0
    assert shelling["zone_status"] == "outside" and "zone status outside" in shelling["notes"]


def test_incremental_export_by_timestamp(data_dir: Path) -> None:
    everything = _export(data_dir, "--format", "csv", "--since", "0")
    assert everything.returncode == 0, everything.stderr
    latest = max(int(row["timestamp"]) for row in csv.DictReader(everything.stdout.splitlines()))
    later = _export(data_dir, "--format", "csv", "--since", str(latest + 1))
    assert later.returncode == 0 and list(csv.DictReader(later.stdout.splitlines())) == []
    assert (
        len(list(csv.DictReader(_export(data_dir, "--format", "csv", "--until", "2000-01-01").stdout.splitlines())))
        == 0
    )
    bad = _export(data_dir, "--format", "csv", "--since", "last tuesday")
    assert bad.returncode == 2 and "Unix timestamp" in bad.stderr


def test_csv_opens_in_pandas_with_typed_columns(data_dir: Path) -> None:
    import pandas as pd

    out = data_dir / "incidents.csv"
    assert _export(data_dir, "--format", "csv", "--output", str(out)).returncode == 0
    frame = pd.read_csv(out, parse_dates=["event_date"])
    assert list(frame.columns[: len(ACLED_COLUMNS)]) == ACLED_COLUMNS
    assert len(frame) == 2
    assert frame["latitude"].dtype.kind == "f" and frame["geo_precision"].dtype.kind == "i"
    assert str(frame.loc[0, "event_date"].date()) == "2019-05-04"
    # Integer fatalities, as ACLED's own files load (blank would make the column float).
    assert frame["fatalities"].dtype.kind == "i" and frame["fatalities"].tolist() == [5, 0]
    assert frame["year"].dtype.kind == "i" and frame["timestamp"].dtype.kind == "i"


def test_geojson_round_trips_through_shapely(data_dir: Path) -> None:
    result = _export(data_dir, "--format", "geojson")  # to stdout
    assert result.returncode == 0, result.stderr
    collection = json.loads(result.stdout)
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 2
    for feature in collection["features"]:
        assert feature["type"] == "Feature"
        geometry = shape(feature["geometry"])
        assert isinstance(geometry, Point) and shapely.is_valid(geometry)
        assert mapping(geometry)["coordinates"] == tuple(feature["geometry"]["coordinates"])
        props = feature["properties"]
        assert (geometry.x, geometry.y) == (props["longitude"], props["latitude"])  # lon, lat order
        assert set(ACLED_COLUMNS) <= set(props) and props["sources"]
    inside = [f for f in collection["features"] if f["properties"]["zone_status"] == "inside"]
    assert len(inside) == 1 and inside[0]["properties"]["version"] == 2


def test_zone_status_filter_and_bad_values(data_dir: Path) -> None:
    result = _export(data_dir, "--format", "csv", "--zone-status", "inside")
    assert result.returncode == 0, result.stderr
    assert len(list(csv.DictReader(result.stdout.splitlines()))) == 1
    bad = _export(data_dir, "--format", "csv", "--zone-status", "nearby")
    assert bad.returncode == 2 and "inside, edge or outside" in bad.stderr


def test_incident_without_coordinates_keeps_a_null_geometry() -> None:
    record = {
        "id": 1,
        "version": 1,
        "place": "somewhere",
        "lat": None,
        "lon": None,
        "admin1": None,
        "geo_precision": 3,
        "event_type": "Battles",
        "sub_event_type": "Armed clash",
        "killed": None,
        "killed_min": None,
        "killed_max": None,
        "injured": None,
        "perpetrator": "unknown",
        "occurred_on": None,
        "time_precision": None,
        "zones": [],
        "zone_status": "outside",
        "evidence": None,
        "sources": [],
    }
    row = export_row(record)
    assert (row["latitude"], row["longitude"], row["fatalities"], row["event_date"]) == ("", "", 0, "")
    out = io.StringIO()
    assert write_geojson([record], out) == 1
    (feature,) = json.loads(out.getvalue())["features"]
    assert feature["geometry"] is None and feature["properties"]["location"] == "somewhere"


def test_incidents_json_carries_the_evidence_fields(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMZWATCH_")}
    env["DMZWATCH_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "-m", "workers.cli", "incidents", "--json"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records and all(set(r["evidence"]) == {"sentence", "start", "end", "fields"} for r in records)
