"""Every supported language on real sentences: lemma matches, marks on the words as written, stop words."""

import pytest
from conftest import doc, words

from searchlib import Document

SENTENCES = {
    "fr": "Les enfants jouaient dans les vieilles maisons près de la rivière.",
    "en": "The children were playing in the old houses near the river.",
    "de": "Die Kinder spielten in den alten Häusern am Fluss.",
    "es": "Los niños jugaban en las casas viejas cerca del río.",
    "it": "I bambini giocavano nelle vecchie case vicino al fiume dell'antica città.",
    "pt": "As crianças brincavam nas casas velhas perto do rio.",
    "nl": "De kinderen speelden in de oude huizen bij de rivier.",
}


@pytest.fixture(scope="module")
def languages_index(tmp_path_factory):
    from searchlib import create_index

    index = create_index(tmp_path_factory.mktemp("languages") / "index")
    index.add([Document(id=code, text=text) for code, text in SENTENCES.items()])  # languages detected
    return index


def test_languages_search_each_document_is_detected(languages_index):
    assert {d.id: d.lang for d in languages_index.documents()} == {code: code for code in SENTENCES}


@pytest.mark.parametrize(
    ("lang", "query", "marked"),
    [
        ("fr", "maison", "maisons"),
        ("fr", "jouer", "jouaient"),
        ("en", "house", "houses"),
        ("en", "child", "children"),
        ("de", "Haus", "Häusern"),
        ("de", "Kind", "Kinder"),
        ("es", "casa", "casas"),
        ("es", "niño", "niños"),
        ("it", "casa", "case"),
        ("it", "bambino", "bambini"),
        ("it", "città", "città"),  # on spaCy's Italian stop list, but a noun: kept
        ("it", "antica", "antica"),  # after the elided "dell'"
        ("pt", "casa", "casas"),
        ("pt", "criança", "crianças"),
        ("nl", "huis", "huizen"),  # a plural the lookup table lacks: Snowball joins them
        ("nl", "rivier", "rivier"),
    ],
)
def test_languages_search_lemma_match_marks_the_word_as_written(languages_index, lang, query, marked):
    results = languages_index.search(query, lang=lang)
    assert [h.doc_id for h in results.hits] == [lang]
    assert words(results.hits[0]) == [marked]


@pytest.mark.parametrize(
    ("lang", "stop"),
    [("fr", "les"), ("en", "the"), ("de", "die"), ("es", "las"), ("it", "nelle"), ("pt", "nas"), ("nl", "de")],
)
def test_languages_search_stop_words_match_nothing(languages_index, lang, stop):
    assert languages_index.search(stop, lang=lang).total == 0


# Real sentences with a content word that spaCy's stop list for the language
# holds. Without a tagger, searchlib keeps only the short lists of closed-class
# words (Lucene's), so these are found: (text, query, word marked).
CONTENT_WORDS = {
    "en": ("The mayor will call a meeting at the top of the hill on Friday.", "top", "top"),
    "de": ("Am Ende des Jahres hatten viele Familien kaum Geld für Heizung.", "Jahr", "Jahres"),
    "es": ("El accidente ocurrió ayer por la tarde en la autopista del norte.", "tarde", "tarde"),
    "it": ("Il governo ha presentato un piano per il lavoro dei giovani.", "governo", "governo"),
    "pt": ("O grupo de estudantes visitou o museu durante a manhã.", "grupo", "grupo"),
    "nl": ("Na drie jaar werk is de nieuwe brug eindelijk klaar.", "klaar", "klaar"),
}
# Words on Snowball's short lists that are mostly nouns: kept, as the French tagger would.
HOMOGRAPHS = {
    "es-estado": ("El Estado aprobó una nueva ley de vivienda en marzo.", "Estado", "Estado"),  # estar
    "es-estados": ("Los Estados Unidos y México firmaron el acuerdo comercial.", "Estados Unidos", "Estados Unidos"),
    "de-weg": ("Der Weg zum Bahnhof führt durch den alten Park.", "Weg", "Weg"),  # weg (away)
}


@pytest.fixture(scope="module")
def content_words_index(tmp_path_factory):
    from searchlib import create_index

    index = create_index(tmp_path_factory.mktemp("content-words") / "index")
    index.add([Document(id=key, text=text, lang=key[:2]) for key, (text, _, _) in {**CONTENT_WORDS, **HOMOGRAPHS}.items()])
    return index


@pytest.mark.parametrize("key", sorted(CONTENT_WORDS))
def test_languages_search_content_words_on_spacys_stop_lists_are_found(content_words_index, key):
    from searchlib.languages import _stop_words

    lang, (_, query, marked) = key[:2], CONTENT_WORDS[key]
    assert query.lower() in _stop_words(lang)  # spaCy's list would drop it
    results = content_words_index.search(query, lang=lang)
    assert [h.doc_id for h in results.hits] == [key]
    assert words(results.hits[0]) == [marked]


@pytest.mark.parametrize("key", sorted(HOMOGRAPHS))
def test_languages_search_nouns_on_the_short_stop_lists_are_found(content_words_index, key):
    from searchlib.languages import BUNDLED_STOPS, _stop_words

    lang, (_, query, marked) = key[:2], HOMOGRAPHS[key]
    assert query.split()[0].lower() in _stop_words(lang, BUNDLED_STOPS)  # the list alone would drop it
    results = content_words_index.search(query, lang=lang)
    assert results.hits and results.hits[0].doc_id == key  # "Estado" also finds "Estados", second
    assert words(results.hits[0]) == marked.split()


@pytest.mark.parametrize(
    ("lang", "text", "query", "marked"),
    [
        ("de", "Die EU-Kommission will den Handel mit Asien stärken.", "Kommission", ["Kommission"]),
        ("de", "Die EU-Kommission will den Handel mit Asien stärken.", '"EU-Kommission"', ["EU", "Kommission"]),
        ("es", "La guerra comercial US-China afecta a los mercados europeos.", "China", ["China"]),
        ("pt", "O jogo terminou 1-0 a favor da equipa da casa.", "1 0", ["1", "0"]),
    ],
)
def test_languages_search_hyphenated_words_are_found_by_their_parts(empty_index, lang, text, query, marked):
    # spaCy's German, Spanish and Portuguese tokenizers keep these whole; Lucene's splits them.
    empty_index.add([Document(id="d", text=text, lang=lang)])
    results = empty_index.search(query, lang=lang)
    assert [h.doc_id for h in results.hits] == ["d"]
    assert words(results.hits[0]) == marked


@pytest.mark.parametrize(
    ("query", "marked"),
    [
        ('"teachers cannot find"', ["teachers", "can", "not", "find"]),
        ('"we cannot"', ["we", "can"]),  # "not" is a stop word: only inside a phrase is it marked
        ("cannot", ["can"]),
    ],
)
def test_languages_search_a_word_spacy_splits_is_split_in_queries(empty_index, query, marked):
    # spaCy writes "cannot" as two words, "can" and "not": a phrase typed with
    # "cannot" must count two positions, as the documents do.
    text = "Parents and teachers cannot find them, and we cannot either."
    empty_index.add([Document(id="d", text=text, lang="en")])
    results = empty_index.search(query, lang="en")
    assert [h.doc_id for h in results.hits] == ["d"]
    assert words(results.hits[0])[: len(marked)] == marked


def test_languages_search_without_lang_searches_every_language(languages_index):
    assert {h.doc_id for h in languages_index.search("casa").hits} >= {"es", "it", "pt"}
    assert [h.lang for h in languages_index.search("Häusern").hits] == ["de"]


def test_languages_search_ambiguous_short_queries_are_routed_to_every_plausible_language(empty_index):
    empty_index.add(
        [
            doc("chat-fr", "Le chat noir dort sur le canapé du salon depuis ce matin."),
            doc("chat-en", "Let us chat about the weather and the garden this afternoon."),
            doc("pain-fr", "Le boulanger vend du pain frais tous les matins."),
            doc("pain-en", "The pain in his back kept him awake all night."),
        ]
    )
    assert {d.lang for d in empty_index.documents()} == {"fr", "en"}
    for word in ("chat", "pain"):
        found = {h.doc_id for h in empty_index.search(word).hits}
        assert found == {f"{word}-fr", f"{word}-en"}, word
        assert [h.doc_id for h in empty_index.search(word, lang="en").hits] == [f"{word}-en"]


def test_languages_search_a_mixed_document_is_analyzed_paragraph_by_paragraph(empty_index):
    text = (
        "Rapport annuel\n\n"
        "La conférence de l'Alliance contre la traite des êtres humains a réuni de nombreux experts venus de toute "
        "l'Europe pour discuter des poursuites judiciaires et de la protection des victimes.\n\n"
        "The conference of the Alliance against trafficking in human beings brought together many experts from "
        "all over Europe to discuss prosecutions and the protection of victims and survivors."
    )
    empty_index.add([doc("mixed", text)])
    [info] = empty_index.documents()
    assert info.lang == "fr"
    english = empty_index.search("survivors")
    assert [(h.doc_id, h.lang) for h in english.hits] == [("mixed", "en")]
    assert words(english.hits[0]) == ["survivors"]
    french = empty_index.search("victimes", lang="fr")
    assert [h.lang for h in french.hits] == ["fr"]


def test_languages_search_a_language_without_lemmas(empty_index):
    empty_index.add([doc("sv", "Barnen leker i de gamla husen vid floden.", lang="sv")])
    assert words(empty_index.search("husen").hits[0]) == ["husen"]
    assert empty_index.search("hus").total == 0  # tokenized and folded, not lemmatized
    assert words(empty_index.search("Floden").hits[0]) == ["floden"]
