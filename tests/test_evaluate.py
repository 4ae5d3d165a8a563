"""searchlib eval: metrics checked against hand-computed values, on a judged set built here."""

import json
import math

import pytest
from click.testing import CliRunner
from conftest import shared

from searchlib.cli import main
from searchlib.evaluate import evaluate, load_dataset, score, write_trec_run


@pytest.fixture()
def tiny(tmp_path):
    """Three documents, three judged queries, with rankings that are easy to reason about."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    docs = [
        {"id": "a", "title": "", "text": "Le chat dort. Le chat mange. Le chat joue.", "lang": "fr"},
        {"id": "b", "title": "", "text": "Un chat blanc.", "lang": "fr"},
        {"id": "c", "title": "", "text": "Une souris grise.", "lang": "fr"},
    ]
    queries = [
        {"id": "q1", "text": "chat", "lang": "fr"},  # a ranks first (three chats), the judged b second
        {"id": "q2", "text": "blanc", "lang": "fr"},  # b, first
        {"id": "q3", "text": "éléphant", "lang": "fr"},  # nothing found
    ]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (folder / "qrels.tsv").write_text("query_id\tdoc_id\trelevance\nq1\tb\t1\nq2\tb\t1\nq3\tc\t1\n", encoding="utf-8")
    return folder


def test_evaluate_metrics_match_a_hand_computed_case(tiny):
    report = evaluate(tiny)
    assert report.run["q1"][0][0] == "a" and report.run["q1"][1][0] == "b"
    assert report.run["q3"] == []
    ndcg = (1 / math.log2(3) + 1 + 0) / 3  # b at rank 2, b at rank 1, nothing
    assert report.metrics == {"ndcg@10": round(ndcg, 4), "mrr@10": 0.5, "recall@100": round(2 / 3, 4)}
    assert report.per_language == {"fr": report.metrics}
    assert (report.queries, report.documents) == (3, 3)


def test_evaluate_score_with_graded_relevance():
    # trec_eval's nDCG uses the relevance itself as the gain.
    qrels = {"q": {"x": 2, "y": 1}}
    run = {"q": [("y", 2.0), ("x", 1.0)]}
    ideal = 2 / math.log2(2) + 1 / math.log2(3)
    actual = 1 / math.log2(2) + 2 / math.log2(3)
    assert score(qrels, run) == {"ndcg@10": round(actual / ideal, 4), "mrr@10": 1.0, "recall@100": 1.0}


def test_evaluate_reuses_a_named_index(tiny, tmp_path):
    first = evaluate(tiny, index_path=tmp_path / "ix")
    second = evaluate(tiny, index_path=tmp_path / "ix")
    assert first.metrics == second.metrics and second.index == str(tmp_path / "ix")


def test_evaluate_cli_json_keys_and_run_file(tiny, tmp_path):
    run_file = tmp_path / "run.trec"
    result = CliRunner().invoke(main, ["eval", str(tiny), "--format", "json", "--run", str(run_file)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == [
        "dataset", "index", "queries", "documents", "metrics", "per_language", "seconds_indexing", "seconds_querying"
    ]
    assert list(data["metrics"]) == ["ndcg@10", "mrr@10", "recall@100"]
    lines = run_file.read_text().splitlines()
    assert lines[0].split()[:4] == ["q1", "Q0", "a", "1"] and lines[0].endswith(" searchlib")


def test_evaluate_cli_text_table(tiny):
    result = CliRunner().invoke(main, ["eval", str(tiny)])
    assert result.exit_code == 0
    assert "ndcg@10       0.5436  0.5436" in result.stdout


def test_evaluate_a_folder_without_qrels_is_a_clear_error(tmp_path):
    (tmp_path / "corpus.jsonl").write_text("", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {tmp_path} is not an evaluation folder: queries.jsonl is missing "
        "(it needs corpus.jsonl, queries.jsonl and qrels.tsv)\n"
    )


def test_evaluate_write_trec_run(tmp_path):
    write_trec_run({"q": [("d1", 3.5), ("d2", 1.25)]}, tmp_path / "r")
    assert (tmp_path / "r").read_text() == "q Q0 d1 1 3.5000 searchlib\nq Q0 d2 2 1.2500 searchlib\n"


def test_evaluate_split_is_deterministic_and_by_article():
    data = load_dataset(shared("piaf"))
    tune, test = data.split()
    again_tune, again_test = data.split()
    assert (tune.doc_langs, test.doc_langs) == (again_tune.doc_langs, again_test.doc_langs)
    assert not set(tune.doc_langs) & set(test.doc_langs)
    titles = {doc.id: doc.title for doc in data.documents()}
    assert not {titles[d] for d in tune.doc_langs} & {titles[d] for d in test.doc_langs}
    assert (len(tune.queries), len(test.queries)) == (3548, 4021)
    assert {q.id for q in tune.queries}.isdisjoint({q.id for q in test.queries})


def test_evaluate_split_by_group_keeps_an_ntrex_article_and_its_translations_together():
    data = load_dataset(shared("ntrex128"))
    article = lambda doc: doc.id.rsplit("-", 1)[0]  # noqa: E731
    tune, test = data.split(group=article)
    assert {article(d) for d in data.documents() if d.id in tune.doc_langs}.isdisjoint(
        {article(d) for d in data.documents() if d.id in test.doc_langs}
    )
    assert (len(tune.doc_langs), len(test.doc_langs)) == (427, 434)  # 61 and 62 articles, 7 languages each
    # Every headline is judged on its article in all 7 languages, so none is dropped.
    assert len(tune.queries) + len(test.queries) == len(data.queries) == 861
    # By title (all empty in NTREX) every document would land on one side.
    assert min(len(half.doc_langs) for half in data.split()) == 0


def test_evaluate_without_its_extra_says_so_before_indexing(tiny, tmp_path, monkeypatch):
    import sys

    from searchlib import SearchlibError

    monkeypatch.setitem(sys.modules, "ir_measures", None)  # as if not installed
    with pytest.raises(SearchlibError, match=r"pip install 'searchlib\[eval\]'"):
        evaluate(tiny, index_path=tmp_path / "never")
    assert not (tmp_path / "never").exists()


@pytest.mark.slow
def test_evaluate_scores_the_top_10_that_search_returns(tmp_path):
    # eval asks for 100 documents; its nDCG@10 is right only if their first 10
    # are what a user asking for 10 gets.
    from searchlib import open_index

    data = load_dataset(shared("piaf"))
    tune, _ = data.split()
    report = evaluate(tune, index_path=tmp_path / "index", sample=40)
    index = open_index(tmp_path / "index")
    queries = {q.id: q.text for q in tune.queries}
    for qid, ranked in report.run.items():
        top = index.search(queries[qid], limit=10, per_doc=True, plain=True, highlight=False).hits
        assert [doc for doc, _ in ranked[:10]] == [hit.doc_id for hit in top], qid
