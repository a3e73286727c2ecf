"""The malformed-input corpus as a whole: its size and its outcomes, by input kind."""

from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path

from malformed import OUTCOMES, Case

MODULES = sorted(p.stem for p in Path(__file__).parent.glob("test_malformed_*.py"))


def corpus() -> list[Case]:
    cases: list[Case] = []
    for name in MODULES:
        if name == "test_malformed_corpus":
            continue
        cases += importlib.import_module(name).CASES
    return cases


def test_corpus_ids_are_unique_and_every_outcome_is_allowed():
    cases = corpus()
    ids = Counter(case.id for case in cases)
    assert not [name for name, count in ids.items() if count > 1]
    assert {case.outcome for case in cases} <= set(OUTCOMES)


def test_corpus_holds_sixty_cases_over_every_input_kind():
    cases = corpus()
    by_outcome = Counter(case.outcome for case in cases)
    by_kind = Counter(case.kind for case in cases)
    print(f"\n{len(cases)} malformed inputs: {dict(by_outcome)}; by kind: {dict(by_kind)}")
    assert len(cases) >= 60
