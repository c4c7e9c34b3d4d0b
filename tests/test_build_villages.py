"""`scripts/build_geodata.py`'s village-page layer: checks and merging. Skipped when ../shared is absent."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

pytestmark = pytest.mark.skipif(not (SHARED / "data").is_dir(), reason="../shared/data is not present")

HEADER = "name\tadmin1\tlat\tlon\tkind\talt_names\tname_ar\tsubdistrict\tpcode\tsource_url\tsource_title\tnote\n"


@pytest.fixture(scope="module")
def build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_geodata", REPO / "scripts" / "build_geodata.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_geodata"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_village_rows_merge_add_and_refuse(build: ModuleType, tmp_path: Path) -> None:
    polys = build.load_admin1(SHARED)
    known = [build.Row(id="nw:kafr-zita", name="Kafr Zita", admin1="Hama", lat=35.375, lon=36.6, kind="village")]
    (tmp_path / "a.tsv").write_text(
        HEADER
        # the same town under another spelling, 0.3 km away: completes the known place
        + "Kafr Zeita\tHama\t35.37361\t36.60167\ttown\tKafr Zita|Kfar Zita\tكفر زيتا\tKafr Zita\tC3101\t"
        "https://example.org/wiki/Kafr_Zita\tWikipedia: Kafr Zita (copy)\t\n"
        # a new village, with a diacritic to fold
        "Basqala\tIdlib\t35.6\t36.58333\tvillage\tBsekla\tبسقلا\tKafr Nabl\tC4061\t"
        "https://example.org/wiki/Basqala\tWikipedia: Basqala (copy)\t\n"
        # claims Idlib but lies in Hama: refused
        "Wrongplace\tIdlib\t35.2\t36.75\tvillage\t\t\t\t\thttps://example.org/w\tx\t\n"
        # no source: refused
        "Nosource\tIdlib\t35.6\t36.6\tvillage\t\t\t\t\t\tx\t\n"
        "# no-coords: Abdin https://example.org/wiki/Abdin\n",
        encoding="utf-8",
    )
    rows, log, problems = build.load_villages(tmp_path, polys, known)
    assert [r.id for r in rows] == ["vl:basqala"]
    assert rows[0].name_ar == "بسقلا" and rows[0].pcode == "C4061" and rows[0].alts == ["Bsekla"]
    assert len(log) == 1 and "nw:kafr-zita" in log[0]
    assert "Kafr Zeita" in known[0].alts and known[0].pcode == "C3101" and "village-pages" in known[0].source
    assert len(problems) == 2
    assert any("Wrongplace" in p and "lies in 'Hama'" in p for p in problems)
    assert any("Nosource" in p and "source_url" in p for p in problems)
