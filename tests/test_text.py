import pytest
from hypothesis import given
from hypothesis import strategies as st

from searchlib.text import fold, normalize_apostrophes, normalize_term


@given(st.text())
def test_text_apostrophe_mapping_keeps_every_offset(text):
    normalized = normalize_apostrophes(text)
    assert len(normalized) == len(text)
    assert all(a == b or b == "'" for a, b in zip(text, normalized))


@pytest.mark.parametrize("written", ["l’impunité", "lʼimpunité", "l‘impunité", "l'impunité"])
def test_text_every_apostrophe_becomes_ascii(written):
    assert normalize_apostrophes(written) == "l'impunité"


@pytest.mark.parametrize(
    ("term", "folded"),
    [("êtres", "etres"), ("impunité", "impunite"), ("œuvre", "oeuvre"), ("Ça", "ca"), ("naïve", "naive")],
)
def test_text_fold_strips_accents_and_ligatures(term, folded):
    assert fold(term) == folded


def test_text_normalize_term_composes_decomposed_accents():
    assert normalize_term("IMPUNITE\u0301") == "impunité"
