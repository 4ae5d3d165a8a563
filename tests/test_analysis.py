import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchlib import analysis
from searchlib.analysis import MAX_PASSAGE_CHARS, split_units
from searchlib.sources import Document


def tokens_of(analyzed):
    return [(p, t) for p in analyzed.passages for t in p.tokens]


def find_token(analyzed, written):
    for passage, token in tokens_of(analyzed):
        if passage.text[token.start : token.end] == written:
            return token
    raise AssertionError(f"{written!r} is not an indexed word")


def test_analysis_passages_are_slices_of_the_original_text(seed_analyzed, seed_text):
    for passage in seed_analyzed.passages:
        assert seed_text[passage.start : passage.end] == passage.text
    starts = [p.start for p in seed_analyzed.passages]
    assert starts == sorted(starts)
    assert [p.number for p in seed_analyzed.passages] == list(range(len(starts)))


def test_analysis_passages_hold_at_most_three_sentences_or_about_500_characters(seed_analyzed):
    for passage in seed_analyzed.passages:
        # Only a single long sentence may exceed the size.
        if len(passage.text) > MAX_PASSAGE_CHARS:
            assert not re.search(r"[.!?;]\s+\S", passage.text.rstrip(".!?;"))


def test_analysis_title_line_is_the_first_passage_and_the_title(seed_analyzed):
    first = seed_analyzed.passages[0]
    assert first.text == seed_analyzed.title
    assert seed_analyzed.title.startswith("Conférence de l’Alliance - nécessité de tripler")
    assert [t.surface for t in seed_analyzed.title_tokens][:3] == ["conférence", "alliance", "nécessité"]


def test_analysis_each_bullet_line_is_a_sentence(analyzer):
    text = "Les axes :\n• informer le public ;\n• protéger les victimes ;\n• poursuivre les auteurs ;\n• coopérer."
    [analyzed] = analyzer.analyze([Document(id="d", text=text)])
    texts = [p.text for p in analyzed.passages]
    # Three sentences a passage: the intro and two bullets, then the other two.
    assert texts == [
        "Les axes :\n• informer le public ;\n• protéger les victimes ;",
        "• poursuivre les auteurs ;\n• coopérer.",
    ]


def test_analysis_passages_never_cross_a_paragraph(analyzer):
    text = "Premier paragraphe court.\n\nSecond paragraphe court."
    [analyzed] = analyzer.analyze([Document(id="d", text=text)])
    assert [p.text for p in analyzed.passages] == ["Premier paragraphe court.", "Second paragraphe court."]


@pytest.mark.parametrize(
    ("written", "terms"),
    [
        ("exploités", ("exploité", "exploiter")),  # a participle used as a noun also gets its verb
        ("victimes", ("victime",)),
        ("poursuivant", ("poursuivre",)),
        ("personne", ("personne",)),  # "1 personne poursuivie": a noun, not the pronoun
        ("2015", ("2015",)),
        ("OSCE", ("osce",)),
        ("impunité", ("impunité",)),
    ],
)
def test_analysis_words_are_indexed_under_their_lemmas_in_context(seed_analyzed, written, terms):
    assert find_token(seed_analyzed, written).terms == terms


@pytest.mark.parametrize("written", ["l’", "été", "des", "qui", "s’"])
def test_analysis_function_words_are_not_indexed(seed_analyzed, written):
    with pytest.raises(AssertionError):
        find_token(seed_analyzed, written)
    stops = set().union(*(p.stop_surfaces for p in seed_analyzed.passages))
    assert written.replace("’", "'").lower() in stops


def test_analysis_numbers_are_kept_whatever_their_tag(seed_analyzed):
    # spaCy tags the 20 of "du 20 au 22 juillet" as a pronoun.
    assert find_token(seed_analyzed, "20").terms == ("20",)
    assert find_token(seed_analyzed, "154").terms == ("154",)


@pytest.mark.parametrize(
    ("mention", "label"),
    [("OSCE", "ORG"), ("Convention de Palerme", "MISC"), ("Europe", "LOC"), ("France", "LOC")],
)
def test_analysis_entities_are_extracted_as_written(seed_analyzed, mention, label):
    found = {(e.text, e.label) for p in seed_analyzed.passages for e in p.entities}
    assert (mention, label) in found


def test_analysis_entities_never_span_a_blank_line(seed_analyzed):
    for passage in seed_analyzed.passages:
        for entity in passage.entities:
            assert passage.text[entity.start : entity.end] == entity.text
            assert "\n\n" not in entity.text
            assert not entity.text.endswith(("’", "'", " de"))


def test_analysis_a_huge_unit_is_cut_into_bounded_pieces(analyzer, monkeypatch):
    monkeypatch.setattr(analysis, "MAX_UNIT_CHARS", 400)
    text = " ".join(["mot"] * 600)  # 2,400 characters, no punctuation, one line
    [analyzed] = analyzer.analyze([Document(id="d", text=text)])
    assert all(len(p.text) <= analysis.MAX_SENTENCE_CHARS for p in analyzed.passages)
    assert sum(len(p.tokens) for p in analyzed.passages) == 600


def test_analysis_split_units_trims_and_numbers_paragraphs():
    text = "Titre\nSuite du titre\n\n  Paragraphe un.\n- item un\n- item deux\n  suite de l'item deux\n\n# Section\nTexte."
    units = [(text[u.start : u.end], u.paragraph) for u in split_units(text)]
    assert units == [
        ("Titre\nSuite du titre", 0),
        ("Paragraphe un.", 1),
        ("- item un", 1),
        ("- item deux\n  suite de l'item deux", 1),
        ("# Section", 2),
        ("Texte.", 2),
    ]


texts = st.text(
    alphabet=st.sampled_from(list("abcdeéèêàçôœ ABCÉ’'.,;:!?-•\n\t 0123456789«»")) | st.characters(),
    max_size=400,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts)
def test_analysis_offsets_round_trip_for_any_text(analyzer, text):
    if not text.strip():
        return
    [analyzed] = analyzer.analyze([Document(id="d", text=text)])
    previous_end = 0
    for passage in analyzed.passages:
        assert text[passage.start : passage.end] == passage.text
        assert passage.start >= previous_end
        previous_end = passage.end
        assert len(passage.tokens) == 0 or passage.text.strip()
        for token in passage.tokens:
            written = passage.text[token.start : token.end]
            assert written and not written.isspace()
            assert token.terms
