"""The judged query sets of bench/judged/ are well formed, and their splits follow the rule they record."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from conftest import ROOT, shared

JUDGED = ROOT / "bench" / "judged"
SETS = {"spf": "spf-fiches", "ntrex": "ntrex128"}
MINIMUM = {"spf": 72, "ntrex": 84}
KINDS = {"spf": {"question", "keywords", "situation"}, "ntrex": {"entities", "retold"}}
NTREX_LANGUAGES = {"en", "fr", "de", "es", "it", "pt", "nl"}
SEED = 2026


def queries(name: str) -> list[dict]:
    with open(JUDGED / name / "queries.jsonl", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def qrels(name: str) -> dict[str, dict[str, int]]:
    judged: dict[str, dict[str, int]] = {}
    with open(JUDGED / name / "qrels.tsv", encoding="utf-8") as lines:
        assert next(lines).rstrip("\n").split("\t") == ["query_id", "doc_id", "relevance"]
        for line in lines:
            qid, doc, grade = line.rstrip("\n").split("\t")
            assert doc not in judged.get(qid, {}), f"{qid} judges {doc} twice"
            judged.setdefault(qid, {})[doc] = int(grade)
    return judged


def corpus(name: str) -> dict[str, dict]:
    with open(shared(SETS[name]) / "corpus.jsonl", encoding="utf-8") as lines:
        return {doc["id"]: doc for doc in map(json.loads, lines)}


@pytest.mark.parametrize("name", sorted(SETS))
def test_judged_sets_queries_are_well_formed(name: str) -> None:
    found = queries(name)
    assert len(found) >= MINIMUM[name]
    assert len({q["id"] for q in found}) == len(found), "query ids must be unique"
    assert len({q["text"].lower() for q in found}) == len(found), "query texts must be unique"
    for q in found:
        assert q["split"] in ("tune", "test"), q["id"]
        assert q["kind"] in KINDS[name], q["id"]
        assert q["text"].strip() == q["text"] and q["text"], q["id"]
    splits = Counter(q["split"] for q in found)
    assert len(found) // 4 <= splits["tune"] <= len(found) // 2, splits


@pytest.mark.parametrize("name", sorted(SETS))
def test_judged_sets_every_query_has_an_answer(name: str) -> None:
    judged = qrels(name)
    ids = {q["id"] for q in queries(name)}
    assert set(judged) == ids, "every query is judged, and only the queries are"
    for qid, grades in judged.items():
        assert set(grades.values()) <= {0, 1, 2}, qid
        assert 2 in grades.values(), f"{qid} has no document graded 2"


@pytest.mark.parametrize("name", sorted(SETS))
def test_judged_sets_judged_documents_exist(name: str) -> None:
    docs = corpus(name)
    for qid, grades in qrels(name).items():
        missing = set(grades) - set(docs)
        assert not missing, f"{qid} judges documents absent from the corpus: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(SETS))
def test_judged_sets_queries_are_not_titles_or_headlines(name: str) -> None:
    taken = {doc["title"].strip().lower() for doc in corpus(name).values() if doc.get("title")}
    if name == "ntrex":
        with open(shared("ntrex128") / "queries.jsonl", encoding="utf-8") as lines:
            taken |= {json.loads(line)["text"].strip().lower() for line in lines}
    copied = [q["id"] for q in queries(name) if q["text"].strip().lower() in taken]
    assert not copied, f"queries equal to a title or headline: {copied}"


def test_judged_sets_spf_kinds_are_balanced() -> None:
    kinds = Counter(q["kind"] for q in queries("spf"))
    assert set(kinds) == KINDS["spf"]
    assert max(kinds.values()) - min(kinds.values()) <= 2, kinds


def test_judged_sets_spf_split_follows_its_rule() -> None:
    """Per kind: ids sorted, shuffled with the seed, the first third is ``tune``."""
    found = queries("spf")
    for kind in KINDS["spf"]:
        ids = sorted(q["id"] for q in found if q["kind"] == kind)
        random.Random(SEED).shuffle(ids)
        tune = set(ids[: len(ids) // 3])
        assert {q["id"] for q in found if q["kind"] == kind and q["split"] == "tune"} == tune, kind


def test_judged_sets_ntrex_queries_fit_their_article() -> None:
    """Each query's grade-2 document is its own article in its own language; every judged document is in that language."""
    judged = qrels("ntrex")
    languages_of_article: dict[str, set[str]] = {}
    for q in queries("ntrex"):
        assert q["lang"] in NTREX_LANGUAGES, q["id"]
        languages_of_article.setdefault(q["article"], set()).add(q["lang"])
        grades = judged[q["id"]]
        assert [doc for doc, grade in grades.items() if grade == 2] == [f"{q['article']}-{q['lang']}"], q["id"]
        assert all(doc.endswith(f"-{q['lang']}") for doc in grades), q["id"]
    assert all(len(langs) == 1 for langs in languages_of_article.values()), "an article is queried in one language only"
    per_language = Counter(next(iter(langs)) for langs in languages_of_article.values())
    assert set(per_language) == NTREX_LANGUAGES and min(per_language.values()) >= 12, per_language


def test_judged_sets_ntrex_split_follows_its_rule() -> None:
    """Articles linked by a grade of 1 or 2 form one group; groups keyed by their smallest article
    id are sorted, shuffled with the seed, and taken into ``tune`` until it holds a third of the
    queries. No article, and no event, is on both sides."""
    found = queries("ntrex")
    judged = qrels("ntrex")
    parent: dict[str, str] = {}

    def root(article: str) -> str:
        parent.setdefault(article, article)
        while parent[article] != article:
            article = parent[article]
        return article

    for q in found:
        for doc, grade in judged[q["id"]].items():
            if grade > 0:
                parent[root(doc.rsplit("-", 1)[0])] = root(q["article"])
    groups: dict[str, list[dict]] = {}
    for q in found:
        groups.setdefault(root(q["article"]), []).append(q)
    keys = {r: min(a for a in parent if root(a) == r) for r in groups}
    order = sorted(groups, key=keys.__getitem__)
    random.Random(SEED).shuffle(order)
    tune: set[str] = set()
    for group in order:
        if len(tune) >= len(found) // 3:
            break
        tune |= {q["id"] for q in groups[group]}
    assert {q["id"] for q in found if q["split"] == "tune"} == tune
