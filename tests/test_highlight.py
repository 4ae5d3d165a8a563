import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchlib import Document, create_index
from searchlib.highlight import mark


@pytest.fixture(scope="module")
def scratch_index(tmp_path_factory):
    return create_index(tmp_path_factory.mktemp("hypothesis") / "index")


french = st.text(
    alphabet=st.sampled_from(list("abcdeéèêàçôîûœ ABCÉÀ’'.,;:!?-•\n 0123456789«»")),
    min_size=1,
    max_size=300,
)
anything = st.text(min_size=1, max_size=200)


def is_word_of(text: str, start: int, end: int) -> bool:
    """``text[start:end]`` is a whole word: no space inside, no letter glued on either side."""
    word = text[start:end]
    return (
        bool(word)
        and not any(c.isspace() for c in word)
        and re.search(r"\w", word) is not None
        and (start == 0 or not text[start - 1].isalnum())
        and (end == len(text) or not text[end].isalnum())
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=french | anything)
def test_highlight_matches_are_words_and_offsets_round_trip(scratch_index, text):
    if not text.strip():
        return
    scratch_index.add([Document(id="h", text=text)])
    queries = list(dict.fromkeys(re.findall(r"\w+", text)))[:4]
    for query in queries:
        if query in {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"}:
            continue
        for hit in scratch_index.search(query, limit=50).hits:
            assert text[hit.start : hit.end] == hit.text
            for start, end in hit.matches:
                assert is_word_of(hit.text, start, end), (hit.text, hit.text[start:end])


@pytest.mark.parametrize(
    ("text", "matches", "expected"),
    [
        ("la traite", [(3, 9)], "la [traite]"),
        ("l’impunité des auteurs", [(2, 10), (15, 22)], "l’[impunité] des [auteurs]"),
        ("", [], ""),
    ],
)
def test_highlight_mark_wraps_each_match(text, matches, expected):
    assert mark(text, matches, before="[", after="]") == expected
