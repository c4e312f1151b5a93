"""The phenotype catalogue: every target a predictor can have is described, in words and in codes."""

import re

from gaitcore.phenotypes import BY_NAME, CATALOGUE, SYSTEMS, info, system_name
from gaitcore.synth.phenotypes import COVARIATE_SYSTEMS, PHENOTYPES


def test_every_generator_phenotype_and_derived_output_is_in_the_catalogue_with_its_system():
    for p in PHENOTYPES:
        assert p.name in BY_NAME, p.name
        assert BY_NAME[p.name].system == p.system, p.name
    for name in ("age", "gait_age", "gait_age_gap", "gait_age_gap_corrected", "bmi"):
        assert name in BY_NAME and BY_NAME[name].system == COVARIATE_SYSTEMS[name]


def test_entries_are_readable_and_coded():
    code_name = re.compile(r"^[A-Z][a-z0-9]+( [a-z0-9]+)*$")  # "Bmi", "Phq9", "Met cortisol", "Cgm time above 140"
    loinc = re.compile(r"^\d{1,6}-\d$")
    for c in CATALOGUE:
        assert "_" not in c.display, c.name
        assert c.ucum and " " not in c.ucum, c.name
        assert c.low < c.high, c.name
        assert c.worse in ("", "higher", "lower"), c.name
        assert not c.loinc or loinc.match(c.loinc), c.name
        assert c.unit != "z", c.name
    for bad in ("Bmi", "Phq9", "Il6", "Met cortisol", "Cgm time above 140"):
        assert bad not in {c.display for c in CATALOGUE}
    assert code_name.match("Bmi")  # the pattern itself catches the examples
    assert [system_name(s) for s in SYSTEMS] and all("_" not in system_name(s) for s in SYSTEMS)


def test_plausible_range_flags_and_clips():
    tg = info("triglycerides")
    assert not tg.plausible(1.2) and tg.plausible(150)
    assert tg.clip(-30) == tg.low
    steps = info("steps_per_day")
    assert not steps.plausible(-451)
    assert info("frailty_deviation").display == "Frailty deviation"
    assert "not in the catalogue" in info("some_new_target").display
