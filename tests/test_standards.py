"""Standards as data: defaults, overrides, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from schoolplan.errors import ConfigError
from schoolplan.standards import load_standards


def test_national_defaults() -> None:
    s = load_standards()
    assert s["class_size"]["primary"] == 45 and s["class_size"]["junior"] == 50
    assert s["class_size"]["large_class"] == 56 and s["class_size"]["very_large_class"] == 66
    assert s["teacher_ratio"]["primary"] == 19.0 and s["teacher_ratio"]["junior"] == 13.5
    assert s["service_radius_m"] == {"kindergarten": 300, "primary": 500, "junior": 1000}
    assert s["consolidation"]["bus_minutes"] == 20.0
    assert s["balance"]["cv_primary"] == 0.50 and s["balance"]["cv_junior"] == 0.45


def test_overrides_do_not_leak() -> None:
    s = load_standards(overrides={"class_size": {"primary": 40}})
    assert s["class_size"]["primary"] == 40 and s["class_size"]["junior"] == 50
    assert load_standards()["class_size"]["primary"] == 45


def test_file_override(tmp_path: Path) -> None:
    p = tmp_path / "henan.toml"
    p.write_text("[meta]\nname='henan'\n[service_radius_m]\nprimary = 2000\n", encoding="utf-8")
    assert load_standards(p)["service_radius_m"]["primary"] == 2000


def test_unknown_key_and_preset(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown standards key 'class_size.primery'"):
        load_standards(overrides={"class_size": {"primery": 40}})
    with pytest.raises(ConfigError, match="preset 'atlantis' does not exist"):
        load_standards("atlantis")
    bad = tmp_path / "bad.toml"
    bad.write_text("[class_size\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read standards file"):
        load_standards(bad)


def test_switches_are_true_or_false() -> None:
    assert load_standards()["consolidation"]["junior_to_county_seat"] is True
    assert load_standards(overrides={"consolidation": {"junior_to_county_seat": False}})["consolidation"][
        "junior_to_county_seat"] is False
    with pytest.raises(ConfigError, match="junior_to_county_seat must be true or false, got 1"):
        load_standards(overrides={"consolidation": {"junior_to_county_seat": 1}})
