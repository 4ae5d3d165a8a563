import pytest

from searchlib.errors import UnknownLanguageError
from searchlib.languages import get_language


@pytest.mark.parametrize("name", ["fr", "FR", "fra", "french", "Français", "francais"])
def test_languages_aliases_resolve_to_french(name):
    assert get_language(name).code == "fr"


def test_languages_unknown_code_lists_the_supported_ones():
    with pytest.raises(UnknownLanguageError) as info:
        get_language("zz")
    assert str(info.value) == (
        "unknown language 'zz'; supported languages: fr (French), en (English), de (German), es (Spanish), "
        "it (Italian), pt (Portuguese), nl (Dutch), and any other language spaCy can tokenize, "
        "by its ISO 639-1 code (indexed without lemmas)"
    )


@pytest.mark.parametrize(
    ("surface", "pos", "lemma", "dropped"),
    [
        ("été", "AUX", "être", True),  # "a été lancée"
        ("été", "NOUN", "été", False),  # "l'été"
        ("personne", "NOUN", "personne", False),  # "1 personne poursuivie"
        ("personne", "PRON", "personne", True),  # "personne n'est venu"
        ("avions", "NOUN", "avion", False),
        ("avions", "AUX", "avoir", True),
        ("20", "PRON", "20", False),  # numbers stay whatever their tag
        ("abbaye", "PRON", "abbaye", False),  # a tagging error: not on the stop list, so kept
        ("partout", "ADV", "partout", False),
        ("pas", "ADV", "pas", True),
        ("l'", "DET", "le", True),
        ("qu'", "SCONJ", "que", True),
    ],
)
def test_languages_function_words_are_chosen_by_part_of_speech(surface, pos, lemma, dropped):
    assert get_language("fr").is_function_word(surface, pos, lemma) is dropped


@pytest.mark.parametrize(("word", "stripped"), [("l'impunité", "impunité"), ("qu'il", "il"), ("aujourd'hui", "aujourd'hui")])
def test_languages_strip_elision(word, stripped):
    assert get_language("fr").strip_elision(word) == stripped
