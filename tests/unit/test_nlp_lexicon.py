"""The lexicon is the one place trigger, actor and veto words live: a new event type is one data edit."""

from __future__ import annotations

import io
import tokenize
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from dmzwatch.geo import Gazetteer
from dmzwatch.nlp.extract import Extractor
from dmzwatch.nlp.lexicon import LexiconError, get_lexicon, load_lexicon, reset_lexicons
from dmzwatch.records import SubEventType
from dmzwatch.settings import get_settings

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config" / "lexicon" / "en.yaml"
TEXT = "Chlorine gas was released over the town of Kafr Zita on Friday, residents said."


def _gazetteer(d: Path) -> Gazetteer:
    (d / "places.tsv").write_text(
        "id\tname\tadmin1\tlat\tlon\tkind\talt_names\tsource\tpopulation\n"
        "nw:kafr-zita\tKafr Zita\tHama\t35.375\t36.6\ttown\t\twiki\t0\n",
        encoding="utf-8",
    )
    (d / "regions.tsv").write_text(
        "id\tname\tadmin1\tlat\tlon\tkind\talt_names\tmethod\n"
        "gov:hama\tHama\tHama\t35.2\t36.9\tgovernorate\tHama province\ttest\n",
        encoding="utf-8",
    )
    (d / "aliases.tsv").write_text("alias\tplace_id\tnote\n", encoding="utf-8")
    return Gazetteer.load(d)


@pytest.fixture
def lexicon_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the shipped lexicon that the process uses for the test (and forgets afterwards)."""
    d = tmp_path / "lexicon"
    d.mkdir()
    (d / "en.yaml").write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("DMZWATCH_LEXICON_DIR", str(d))
    get_settings.cache_clear()
    reset_lexicons()
    yield d
    monkeypatch.delenv("DMZWATCH_LEXICON_DIR")
    get_settings.cache_clear()
    reset_lexicons()


def test_a_new_event_type_through_the_lexicon_alone(lexicon_dir: Path, tmp_path: Path) -> None:
    pub = datetime(2019, 5, 4, 12, tzinfo=UTC)
    gaz = tmp_path / "gaz"
    gaz.mkdir()
    before = Extractor(_gazetteer(gaz))
    assert not before.is_relevant(TEXT)  # no word of the shipped lexicon says violence here

    raw = yaml.safe_load((lexicon_dir / "en.yaml").read_text(encoding="utf-8"))
    raw["event_types"].append(
        {
            "label": "Chemical weapon",
            "acled_event_type": "Explosions/Remote violence",
            "priority": 5,
            "triggers": {"bounded": True, "any": ["chlorine(?: gas)?", "sarin", "toxic gas"]},
        }
    )
    (lexicon_dir / "en.yaml").write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    reset_lexicons()

    after = Extractor(_gazetteer(gaz))
    assert after.is_relevant(TEXT)  # pre-filtered by the same words
    (event,) = after.extract(TEXT, pub)
    assert event.place_text == "Kafr Zita"
    assert event.sub_event_type.value == "Chemical weapon"  # typed
    assert event.sub_event_type is SubEventType("Chemical weapon")
    assert event.sub_event_type.event_type == "Explosions/Remote violence"


def test_a_broken_lexicon_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "en.yaml"
    bad.write_text("language: en\nevent_types: []\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="missing key 'generic_trigger'"):
        load_lexicon(bad)
    raw = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    raw["generic_trigger"] = {"any": ["attack(?:s"]}
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(LexiconError, match="generic_trigger: bad pattern"):
        load_lexicon(bad)


def _raw_strings(path: Path) -> Iterator[str]:
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
        if tok.type == tokenize.STRING and tok.string.lstrip("fF").lower().startswith("r"):
            yield tok.string


def test_no_trigger_pattern_outside_the_lexicon() -> None:
    """Every raw-string regex in the package is free of the lexicon's trigger words (they cannot drift)."""
    lex = get_lexicon()
    samples = ["shell", "air ?strike", "barrel", "warplane", "mortar", "artillery", "clash", "IED", "land ?mine"]
    samples += ["massacre", "killed", "wounded", "martyr", "regime", "Russian", "Turkish"]
    offenders = [
        f"{path.relative_to(REPO)}: {literal[:80]}"
        for path in sorted((REPO / "dmzwatch").rglob("*.py"))
        for literal in _raw_strings(path)
        if any(word in literal for word in samples)
    ]
    assert offenders == []
    # and the lexicon holds them
    assert any(rule.triggers.search("barrel bombs") for rule in lex.event_types)
    assert lex.violence.search("A booby-trapped motorcycle exploded") and not lex.violence.search("a quiet market")


def test_a_front_line_of_fighting_is_a_description_not_a_clash() -> None:
    from dmzwatch.nlp.triggers import find_triggers

    text = "aid trucks waited outside Saraqib, which sits near the front lines of the fighting"
    assert [t.text for t in find_triggers(text)] == []
