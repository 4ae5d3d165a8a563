"""Searching the bundled article through the Python API: the behaviours users rely on."""

import json
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
from conftest import CORPUS, SEED_ID, doc, words

from searchlib.ranking import DEFAULT
from searchlib.schema import SCHEMA_VERSION, entity_key

from searchlib import (
    Document,
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
    InputError,
    NotAnIndexError,
    QuerySyntaxError,
    UnknownEntityTypeError,
    UnknownLanguageError,
    create_index,
    open_index,
)


def marked(results) -> list[str]:
    return [w for hit in results.hits for w in words(hit)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("victimes", "victimes"),
        ("victime", "victimes"),
        ("exploiter", "exploités"),
        ("exploités", "exploités"),
        ("poursuivre", "poursuivant"),
        ("poursuivre", "poursuivie"),
        ("exploitées", "exploités"),  # never seen by the index: spaCy's lemmatizer bridges it
    ],
)
def test_search_lemmas_match_every_form(seed_index, query, expected):
    assert expected in marked(seed_index.search(query, limit=50))


def test_search_singular_and_plural_find_the_same_passages(seed_index):
    singular = {(h.doc_id, h.passage) for h in seed_index.search("victime", limit=50).hits}
    plural = {(h.doc_id, h.passage) for h in seed_index.search("victimes", limit=50).hits}
    assert singular == plural and len(singular) == 4


@pytest.mark.parametrize("query", ["l'impunité", "l’impunité", "lʼimpunité", "impunité", "impunite"])
def test_search_elision_and_accents_mark_only_the_word(seed_index, query):
    results = seed_index.search(query)
    assert results.total == 3
    for hit in results.hits:
        [(start, end)] = hit.matches
        assert hit.text[start:end] == "impunité"
        assert hit.text[start - 2 : start] == "l’"


def test_search_accents_are_optional(seed_index):
    hit = seed_index.search("etre humain").hits[0]
    assert words(hit) == ["êtres", "humains"]


@pytest.mark.parametrize(
    ("query", "entity"),
    [("Convention de Palerme", "convention de palerme"), ("convention de palerme", "convention de palerme"),
     ("la Convention de Palerme protège", "convention de palerme"), ("l'OSCE", "osce"), ('"Convention de Palerme"', "convention de palerme")],
)
def test_search_a_passage_that_mentions_the_entity_the_words_name_gains_a_bonus(seed_index, query, entity):
    """Words that spell an entity of the index (typed in any case, after an elision, or quoted) give the passages
    that mention it a bonus: every other passage scores as without it, and no hit is added or lost."""
    without = seed_index.search(query, limit=1000, ranking=replace(DEFAULT, entity_weight=0.0), highlight=False)
    scores = {h.passage: h.score for h in without.hits}
    results = seed_index.search(query, limit=1000)
    assert results.total == without.total and {h.passage for h in results.hits} == set(scores)
    mentioning = [h for h in results.hits if entity in {entity_key(e.text) for e in h.entities}]
    assert mentioning, f"no passage of the article mentions {entity!r}"
    gains = [h.score - scores[h.passage] for h in mentioning]
    # Scores come rounded to 4 decimals.
    assert min(gains) > 0 and max(gains) - min(gains) <= 2e-4, f"each mention gains the entity's one bonus, not {gains}"
    others = [h for h in results.hits if h not in mentioning]
    assert all(h.score == pytest.approx(scores[h.passage]) for h in others)


def test_search_excluded_words_name_no_entity(seed_index):
    """``NOT`` words, fields and patterns are not read as names: only the text words typed as such are."""
    without = replace(DEFAULT, entity_weight=0.0)
    for query in ["victimes NOT OSCE", "victimes entity:France", "victimes title:OSCE", "victimes OSC*"]:
        a = seed_index.search(query, limit=1000, ranking=without, highlight=False)
        b = seed_index.search(query, limit=1000, highlight=False)
        assert [(h.passage, round(h.score, 6)) for h in a.hits] == [(h.passage, round(h.score, 6)) for h in b.hits], query


def test_search_typed_accents_rank_exact_words_first(empty_index):
    empty_index.add(
        [
            doc("lisbonne", "Le traité de Lisbonne a été signé en 2007."),
            doc("crime", "La traite des êtres humains est un crime."),
        ]
    )
    accented = empty_index.search("traité")
    assert [h.doc_id for h in accented.hits] == ["lisbonne", "crime"]
    assert accented.hits[0].score > accented.hits[1].score
    assert words(accented.hits[0]) == ["traité"]


def test_search_a_word_lemmatized_in_context_is_found_as_written(empty_index, analyzer):
    # Alone, "traité" is lemmatized as the verb "traiter"; in the sentence it
    # is the noun. The query goes through the index's lexicon, so it finds it.
    assert analyzer.nlp("traité")[0].lemma_ == "traiter"
    empty_index.add([doc("lisbonne", "Le traité de Lisbonne a été signé en 2007.")])
    assert words(empty_index.search("traité").hits[0]) == ["traité"]


def test_search_function_words_are_chosen_in_context(empty_index):
    empty_index.add([doc("ete", "Pendant l'été 2019, les victimes ont été nombreuses.")])
    results = empty_index.search("été")
    assert results.total == 1
    # The noun is marked; the auxiliary of "ont été" is not.
    assert results.hits[0].matches == ((10, 13),)


def test_search_a_query_of_function_words_finds_nothing(seed_index):
    results = seed_index.search("de la des")
    assert (results.total, results.hits, results.suggestion) == (0, (), None)


@pytest.mark.parametrize(("query", "expected"), [("2015", ["2015"]), ("1 personne poursuivie", ["1", "personne", "poursuivie"])])
def test_search_numbers_and_stop_listed_nouns_are_findable(seed_index, query, expected):
    assert words(seed_index.search(query).hits[0]) == expected


def test_search_phrase_marks_the_phrase_and_its_function_words(seed_index):
    results = seed_index.search('"Convention de Palerme"')
    assert results.total == 1
    hit = results.hits[0]
    assert words(hit) == ["Convention", "de", "Palerme"]
    assert hit.text[hit.matches[0][0] : hit.matches[-1][1]] == "Convention de Palerme"


def test_search_phrase_words_out_of_order_do_not_match(seed_index):
    assert seed_index.search('"Palerme Convention"').total == 0


def test_search_phrase_gap_is_any_word_whatever_the_function_word_was(empty_index):
    # "de" is a function word in most passages, and a content word in a few
    # (the lexicon then knows a lemma for it): a phrase must find both kinds.
    empty_index.add(
        [
            doc("a", "La Convention de Palerme protège les victimes de la traite."),
            doc("b", "Il a mis en place un plan pour la coupe du monde."),
            doc("c", "La convention a été signée à Palerme."),
        ]
    )
    for query, expected in [('"Convention de Palerme"', "a"), ('"victimes de la traite"', "a"),
                            ('"mis en place"', "b"), ('"coupe du monde"', "b")]:
        assert [h.doc_id for h in empty_index.search(query).hits] == [expected], query
    assert words(empty_index.search('"coupe du monde"').hits[0]) == ["coupe", "du", "monde"]


@pytest.mark.parametrize("query", ['"fin à l’impunité"', "\"fin à l'impunité\"", '"mettre fin à l’impunité"'])
def test_search_phrase_counts_an_elision_as_a_word(seed_index, query):
    # spaCy makes "l’" a word of its own: the phrase counts it too, so
    # "impunité" is three words after "fin", not two.
    results = seed_index.search(query)
    assert results.total == 2  # the heading "Mettre fin à l’impunité" and passage 13
    for hit in results.hits:
        assert words(hit)[-3:] == ["fin", "à", "impunité"]  # the elided "l’" is never marked
    assert seed_index.search('"fin l’impunité"').total == 0


@pytest.mark.parametrize("per_doc", [False, True])
def test_search_top_k_does_not_depend_on_the_limit(seed_copy, per_doc):
    # Several documents, so that document-level evidence reorders passages.
    seed_copy.add([doc(f"n{i}", text) for i, text in enumerate([
        "La traite des êtres humains est un crime. Les victimes de la traite sont protégées.",
        "La convention protège les victimes. La convention a été signée.",
        "Les poursuites contre les auteurs de traite ont baissé en Europe.",
    ])])
    for query in ["victimes de la traite", "convention victimes", "traite Europe poursuites", "êtres humains"]:
        deep = seed_copy.search(query, limit=1000, per_doc=per_doc, plain=True)
        assert deep.total >= 2, query
        for k in (1, 2, 3, 5):
            top = seed_copy.search(query, limit=k, per_doc=per_doc, plain=True)
            assert [(h.doc_id, h.passage, h.score) for h in top.hits] == [
                (h.doc_id, h.passage, h.score) for h in deep.hits[:k]
            ], (query, k)
            assert top.total == deep.total


def test_search_not_excludes_passages(seed_index):
    results = seed_index.search("traite NOT humains", limit=50)
    assert results.total > 0
    for hit in results.hits:
        assert "humains" not in hit.text
        assert "traite" in words(hit)


def test_search_and_requires_every_word(seed_index):
    both = seed_index.search("victimes AND protéger", limit=50)
    either = seed_index.search("victimes protéger", limit=50)
    assert 1 <= both.total < either.total
    for hit in both.hits:
        assert {"victimes", "protéger"} <= set(words(hit))


def test_search_fuzzy_and_prefix(seed_index):
    assert "prostitution" in marked(seed_index.search("prostitusion~"))
    assert {"prostitution", "prostitués"} <= set(marked(seed_index.search("prostit*")))


def test_search_fuzzy_terms_share_the_first_letter(seed_index):
    # One edit away either way, but the edit is on the first letter.
    assert seed_index.search("brostitution~").total == 0
    assert "prostitution" in marked(seed_index.search("prostitutiom~"))


@pytest.mark.parametrize(
    ("query", "suggestion"),
    [("prostitusion", "prostitution"), ("victimes prostitusion", "victimes prostitution"), ("exploiter", None)],
)
def test_search_did_you_mean(seed_index, query, suggestion):
    assert seed_index.search(query).suggestion == suggestion


def test_search_no_suggestion_for_a_function_word_of_another_language(seed_copy):
    # With a German document beside the French article, "de" is unknown to
    # German but a function word in French: no "did you mean" either way.
    seed_copy.add([doc("de1", "Die Konvention wurde in Palermo unterzeichnet. Sie schützt die Opfer.", lang="de")])
    for query in ['"Convention de Palerme"', "Convention de Palerme"]:
        assert seed_copy.search(query).suggestion is None, query
    assert seed_copy.search("victimmes").suggestion == "victimes"
    seed_copy.delete(["de1"])
    assert seed_copy.search('"Convention de Palerme"').suggestion is None


def test_search_plain_query_length_is_capped(seed_index):
    with pytest.raises(QuerySyntaxError, match="the limit is 1,000"):
        seed_index.search("victimes " * 200, plain=True)


def test_search_entity_filters(seed_index):
    by_text = seed_index.search("traite", entity="osce", limit=50)
    assert by_text.total >= 1
    for hit in by_text.hits:
        assert any(e.text == "OSCE" for e in hit.entities)
        assert "OSCE" in words(hit)
    in_query = seed_index.search("traite AND entity:OSCE", limit=50)
    assert {(h.doc_id, h.passage) for h in in_query.hits} == {(h.doc_id, h.passage) for h in by_text.hits}
    by_type = seed_index.search("traite", entity_type="ORG", limit=50)
    assert by_type.total >= by_text.total
    for hit in by_type.hits:
        assert any(e.label == "ORG" for e in hit.entities)


def test_search_entity_phrase_in_query(seed_index):
    hit = seed_index.search('entity:"Convention de Palerme"').hits[0]
    assert words(hit) == ["Convention", "de", "Palerme"]


def test_search_unknown_entity_type_is_an_error(seed_index):
    with pytest.raises(UnknownEntityTypeError) as info:
        seed_index.search("traite", entity_type="PERSON")
    assert str(info.value) == "unknown entity type 'PERSON'; use one of: PER, ORG, LOC, MISC"


def test_search_per_doc_keeps_the_best_passage_of_each_document(seed_copy):
    seed_copy.add([doc("note", "Les victimes de la traite doivent être protégées. Les victimes ont des droits.")])
    passages = seed_copy.search("victimes", limit=50)
    per_doc = seed_copy.search("victimes", per_doc=True, limit=50)
    assert per_doc.total == 2
    assert sorted(h.doc_id for h in per_doc.hits) == ["000_5730bd4df953f932.txt", "note"]
    best = {}
    for hit in passages.hits:
        best.setdefault(hit.doc_id, hit)
    assert {(h.doc_id, h.passage) for h in per_doc.hits} == {(h.doc_id, h.passage) for h in best.values()}


def test_search_reindexing_replaces_and_never_duplicates(seed_copy):
    before = seed_copy.info()
    report = seed_copy.add([CORPUS])
    assert (report.documents, report.unchanged) == (0, 1)
    seed_copy.add([Document(id=SEED_ID, text="Un texte entièrement nouveau sur la traite.")])
    after = seed_copy.info()
    assert (after.documents, after.passages) == (1, 1)
    assert before.passages > 1
    assert seed_copy.search("impunité").total == 0
    hits = seed_copy.search("traite").hits
    assert [(h.doc_id, h.passage) for h in hits] == [(SEED_ID, 0)]


def test_search_delete_removes_a_document(seed_copy):
    assert seed_copy.delete([SEED_ID]) == 1
    assert seed_copy.info().documents == 0
    assert seed_copy.search("traite").total == 0
    assert seed_copy.delete([SEED_ID]) == 0


def test_search_offsets_place_the_passage_in_the_document(seed_index, seed_text):
    for hit in seed_index.search("traite", limit=50).hits:
        assert seed_text[hit.start : hit.end] == hit.text


def test_search_highlight_is_escaped_html(empty_index):
    empty_index.add([doc("html", "Le <b>trafic</b> & la traite.")])
    hit = empty_index.search("traite").hits[0]
    assert hit.highlight == "Le &lt;b&gt;trafic&lt;/b&gt; &amp; la <mark>traite</mark>."


def test_search_entities_facets(seed_index):
    facets = seed_index.entities()
    assert facets[0].text == "OSCE" and facets[0].label == "ORG" and facets[0].passages == 4
    assert all(f.label == "LOC" for f in seed_index.entities(label="loc"))
    assert [f.passages for f in facets] == sorted((f.passages for f in facets), reverse=True)


def test_search_info(seed_index):
    info = seed_index.info()
    assert (info.documents, info.languages, info.schema_version) == (1, {"fr": info.passages}, SCHEMA_VERSION)
    assert info.passages == 24


def test_search_malformed_jsonl_commits_nothing(seed_copy, tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "a", "text": "Alpha."}\n{"id": "b", "text": "Bêta."}\n{"id": "c"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"docs.jsonl line 3: invalid JSON"):
        seed_copy.add([path])
    assert seed_copy.info().documents == 1
    assert seed_copy.search("alpha").total == 0


def test_search_unknown_language_fails_before_any_write(seed_copy, tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "a", "text": "Alpha."}\n{"id": "b", "text": "Beta.", "lang": "zz"}\n', encoding="utf-8")
    with pytest.raises(UnknownLanguageError, match="unknown language 'zz'"):
        seed_copy.add([path])
    assert seed_copy.info().documents == 1


def test_search_empty_documents_are_skipped_and_counted(empty_index):
    report = empty_index.add([doc("blank", "  \n\t "), doc("ok", "Un texte.")])
    assert (report.documents, report.empty) == (1, 1)
    assert report.warnings == ("blank: skipped, no text",)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"Convention de Palerme', 'unbalanced quote: a phrase opened with " is never closed; add the closing "'),
        ("(traite OR victimes", "unbalanced parenthesis: a ( is never closed; add the )"),
        ("traite)", "unbalanced parenthesis: a ) has no matching (; remove it or add the ("),
        ("NOT", "NOT needs a term after it, as in: traite NOT personnes"),
        ("traite AND", "AND needs a term after it; search for the word in lowercase, e.g. and"),
        ("OR traite", "OR needs a term before it; search for the word in lowercase, e.g. or"),
        ("auteur:Dupont", "unknown field 'auteur' in 'auteur:Dupont'; known fields: text, title, entity, type, lang, doc"),
        ("entity:", "'entity:' has no value; write it as entity:word or entity:\"some words\""),
        ("()", "empty parentheses (); put a term inside or remove them"),
        ("traite " * 200, "the query is 1,400 characters long; the limit is 1,000. Shorten it"),
    ],
)
def test_search_bad_query_syntax_is_a_clear_error(seed_index, query, message):
    with pytest.raises(QuerySyntaxError) as info:
        seed_index.search(query)
    assert str(info.value) == message


def test_search_times_and_field_like_text_are_not_fields(seed_index):
    assert seed_index.search("12:30").total == 0


def test_search_missing_index(tmp_path):
    with pytest.raises(IndexNotFoundError) as info:
        open_index(tmp_path / "nope")
    assert str(info.value) == f"no index at {tmp_path / 'nope'}; build one with: searchlib index [PATH...] --index {tmp_path / 'nope'}"


def test_search_a_folder_that_is_not_an_index(tmp_path):
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(NotAnIndexError, match="is not a searchlib index"):
        open_index(tmp_path)
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "x"


def test_search_another_schema_version_is_refused_untouched(seed_copy):
    meta = seed_copy.path / "searchlib.json"
    data = json.loads(meta.read_text(encoding="utf-8"))
    data["schema_version"] = 0
    meta.write_text(json.dumps(data), encoding="utf-8")
    files = sorted(p.name for p in seed_copy.path.iterdir())
    with pytest.raises(IndexVersionError) as info:
        open_index(seed_copy.path)
    assert "has schema version 0" in str(info.value) and "rebuild it" in str(info.value)
    assert sorted(p.name for p in seed_copy.path.iterdir()) == files


def test_search_a_locked_index_names_its_holder(seed_copy):
    holder = textwrap.dedent(
        f"""
        import sys
        from searchlib import open_index
        index = open_index({str(seed_copy.path)!r})
        with index._write_lock(0):
            print("locked", flush=True)
            sys.stdin.readline()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(IndexLockedError) as info:
            seed_copy.add([doc("x", "Texte.")], wait=0.3)
        message = str(info.value)
        assert f"is being written by process {proc.pid}" in message
        assert "waited 0.3s. Wait for it to finish, or retry with a longer --wait" in message
    finally:
        proc.communicate("\n", timeout=30)
    assert seed_copy.add([doc("x", "Texte.")], wait=5).documents == 1


def test_search_a_lock_left_by_a_killed_process_is_recovered(seed_copy):
    holder = f"from searchlib import open_index\nimport os, signal\nwith open_index({str(seed_copy.path)!r})._write_lock(0):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    assert subprocess.run([sys.executable, "-c", holder]).returncode == -9
    assert seed_copy.add([doc("x", "Texte.")], wait=0).documents == 1


def test_search_create_refuses_a_folder_with_other_files(tmp_path):
    (tmp_path / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(NotAnIndexError, match="is not empty and is not a searchlib index"):
        create_index(tmp_path)


def test_search_seeding_random_never_clobbers_a_segment(empty_index):
    import random

    for i in range(3):
        random.seed(0)  # Whoosh alone would name each new segment the same
        empty_index.add([doc(f"d{i}", f"Le texte numéro {i} parle de la traite.")])
    assert empty_index.info().documents == 3
    assert empty_index.search("traite").total == 3


def test_search_sees_a_replaced_document_at_once(empty_index):
    # Searches share one open searcher; a commit must renew it, deletions included.
    empty_index.add([doc("a", "La conférence de Vienne.")])
    assert empty_index.search("Vienne").total == 1
    empty_index.add([doc("a", "Le traité de Lisbonne.")])
    assert empty_index.search("Vienne").total == 0
    assert [h.text for h in empty_index.search("Lisbonne").hits] == ["Le traité de Lisbonne."]


@pytest.mark.parametrize(
    ("query", "total"),
    [('"victimes de la traite"', 1), ('"victimes sur la traite"', 0), ('"victimes de le traite"', 0)],
)
def test_search_phrase_checks_its_function_words_in_the_text(seed_index, query, total):
    # "de" and "la" are not indexed: a phrase checks them in the passage, as typed.
    results = seed_index.search(query)
    assert results.total == total
    for hit in results.hits:
        assert words(hit) == ["victimes", "de", "la", "traite"]


def test_search_phrase_of_one_indexed_word_and_function_words(seed_index):
    # One indexed word with function words around it is still a phrase, not the word alone:
    # "impunité" is in 3 passages, 2 of them after "à l’", none after "contre l’".
    assert seed_index.search("impunité").total == 3
    assert seed_index.search('"à l’impunité"').total == 2
    assert seed_index.search('"contre l’impunité"').total == 0


def test_search_a_question_mark_alone_is_punctuation_not_a_pattern(seed_index):
    """"Qui poursuit les trafiquants ?" searches its words: the lone ? is no wildcard over every word."""
    asked = seed_index.search("Qui poursuit les trafiquants ?", limit=50)
    plain = seed_index.search("Qui poursuit les trafiquants", limit=50)
    assert asked.total == plain.total > 0
    assert [(h.doc_id, h.passage, h.matches) for h in asked.hits] == [(h.doc_id, h.passage, h.matches) for h in plain.hits]
    assert seed_index.search("?").total == 0
    assert seed_index.search("traf*").total > 0


def test_search_a_phrase_of_function_words_only_is_found_in_the_text(seed_index):
    """"de la" has no indexed word: its passages are found by their text, each such occurrence marked."""
    import re

    found = seed_index.search('"de la"', limit=100)
    every = seed_index.search("*", limit=100)
    expected = {(h.doc_id, h.passage) for h in every.hits if re.search(r"(?<!\w)de la(?!\w)", h.text, re.IGNORECASE)}
    assert expected and {(h.doc_id, h.passage) for h in found.hits} == expected
    for hit in found.hits:
        marked = [hit.text[s:e].lower() for s, e in hit.matches]
        assert marked and set(marked) == {"de", "la"}, marked
