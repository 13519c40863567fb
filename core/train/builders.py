r"""Training records for the pruner from public QA sets (the shared samples, or the full files).

Each builder reads one set's own format, labels the sentences that hold the answer (or the
supporting facts), adds distractor passages as negatives and names each record's source
document, so that :func:`lingua_core.train.records.split_by_source` never splits a document.
Passages are ``title\ntext``, as retrievers hand them to the pruner at inference.

- :func:`squad_records`: the answer's sentence in its paragraph; the article's other paragraphs
  (the BM25-hardest that hold no answer) as negatives: distractors on the same topic.
- :func:`hotpotqa_records`: supporting-fact sentences; the eight distractor paragraphs.
- :func:`musique_records`: in each supporting paragraph, the sentences holding a hop's answer
  (the whole paragraph when none does); the BM25-hardest other paragraphs as negatives.
- :func:`nq_records`: the gold passage's sentences that hold an answer; BM25-hard negatives from
  a pool of other passages (none holding the answer).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lingua_core.eval.data import _literal, _records, _rows
from lingua_core.eval.metrics import answer_in
from lingua_core.pipeline.text import sentence_units
from lingua_core.scorers.rank import terms
from lingua_core.train.records import Passage, PrunerRecord, keep_overlapping


class _BM25:
    """BM25 Okapi over a fixed pool, indexed once.

    The same formula as :func:`lingua_core.scorers.rank.bm25_scores`.
    """

    def __init__(self, texts: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        self.docs = [Counter(terms(t)) for t in texts]
        n = len(self.docs)
        lengths = np.asarray([sum(d.values()) for d in self.docs], dtype=np.float64)
        self.norm = k1 * (1 - b + b * lengths / (float(lengths.mean()) or 1.0))
        self.k1 = k1
        self.postings: dict[str, list[int]] = {}
        for i, d in enumerate(self.docs):
            for t in d:
                self.postings.setdefault(t, []).append(i)
        idf = {
            t: math.log(n - len(p) + 0.5) - math.log(len(p) + 0.5) for t, p in self.postings.items()
        }
        floor = 0.25 * sum(idf.values()) / max(len(idf), 1)
        self.idf = {t: (v if v >= 0 else floor) for t, v in idf.items()}

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(len(self.docs))
        for q in set(terms(query)):
            for i in self.postings.get(q, ()):
                tf = self.docs[i][q]
                out[i] += self.idf[q] * tf * (self.k1 + 1) / (tf + self.norm[i])
        return out


def _hardest(
    pool: _BM25, texts: Sequence[str], question: str, answers: Sequence[str], n: int, skip: set[int]
) -> list[int]:
    """The ``n`` best BM25 texts of the pool that hold no answer (and are not in ``skip``)."""
    scores = pool.scores(question)
    out: list[int] = []
    for j in np.argsort(-scores, kind="stable").tolist():
        if len(out) >= n:
            break
        if j in skip or (answers and answer_in(texts[j], answers)):
            continue
        out.append(j)
    return out


def _answer_sentences(text: str, answers: Sequence[str]) -> tuple[int, ...]:
    units = sentence_units(text)
    return tuple(i for i, s in enumerate(units.texts(text)) if answer_in(s, answers))


def squad_records(
    path: str | Path, articles: Sequence[int] | range, *, negatives: int = 3
) -> list[PrunerRecord]:
    """SQuAD v1.1 questions: the answer sentence kept, same-article paragraphs as negatives.

    Args:
        path: A SQuAD-format JSON-lines file, one article per line (``title``, ``paragraphs``).
        articles: Article indices (lines) to read: the unit of the split.
        negatives: Distractor paragraphs per question.

    Raises:
        ValueError: For an article index past the file or a malformed line.
    """
    out = []
    for a, row in _records(path, articles):
        title = str(row.get("title", "")).replace("_", " ")
        paragraphs = row.get("paragraphs")
        if not isinstance(paragraphs, list) or not paragraphs:
            msg = f"{path}, article {a}: missing field 'paragraphs'"
            raise ValueError(msg)
        texts = [f"{title}\n{p['context']}" for p in paragraphs]
        pool = _BM25(texts)
        shift = len(title) + 1
        for pi, p in enumerate(paragraphs):
            for qa in p.get("qas", []):
                answers = tuple(dict.fromkeys(str(x["text"]) for x in qa["answers"]))
                if not answers or answer_in(title, answers):
                    continue
                spans = [
                    (
                        shift + int(x["answer_start"]),
                        shift + int(x["answer_start"]) + len(x["text"]),
                    )
                    for x in qa["answers"]
                ]
                keep = keep_overlapping(texts[pi], spans)
                if not keep:
                    continue
                negs = _hardest(pool, texts, str(qa["question"]), answers, negatives, {pi})
                passages = (Passage(texts[pi], keep), *(Passage(texts[j]) for j in negs))
                out.append(PrunerRecord(str(qa["question"]), passages, answers, f"squad:{title}"))
    return out


def hotpotqa_records(path: str | Path, records: Sequence[int] | range) -> list[PrunerRecord]:
    """HotpotQA (distractor setting): supporting-fact sentences kept, the rest negatives.

    Raises:
        ValueError: For a record index past the file or a malformed record.
    """
    out = []
    for i, row in _records(path, records):
        context = _literal(row.get("context"))
        if not isinstance(context, list) or not context:
            msg = f"{path}, record {i}: missing field 'context' (a list of [title, sentences])"
            raise ValueError(msg)
        facts: dict[str, set[int]] = {}
        for t, k in _literal(row.get("supporting_facts")) or []:
            facts.setdefault(str(t), set()).add(int(k))
        passages = []
        for title, sentences in context:
            head = f"{title}\n"
            pos = len(head)
            spans = []
            body = ""
            for k, s in enumerate(sentences):
                piece = s if body else s.lstrip()
                if k in facts.get(str(title), set()) and piece.strip():
                    spans.append((pos, pos + len(piece)))
                body += piece
                pos += len(piece)
            text = head + body.rstrip()
            passages.append(Passage(text, keep_overlapping(text, spans)))
        answer = str(row.get("answer", ""))
        out.append(PrunerRecord(str(row["question"]), tuple(passages), (answer,), f"hotpotqa:{i}"))
    return out


def musique_records(
    path: str | Path, records: Sequence[int] | range, *, negatives: int = 6
) -> list[PrunerRecord]:
    """MuSiQue-Ans: in supporting paragraphs, the sentences holding a hop's answer.

    Raises:
        ValueError: For a record index past the file or a malformed record.
    """
    from lingua_core.eval.data import musique

    out = []
    for ex in musique(path, records):
        texts = list(ex.contexts)
        support = list(ex.meta["supporting"])
        passages = []
        for j in support:
            keep = _answer_sentences(texts[j], [*ex.meta["hop_answers"], *ex.answers])
            passages.append(Passage(texts[j], keep or tuple(range(len(sentence_units(texts[j]))))))
        negs = _hardest(_BM25(texts), texts, ex.question, (), negatives, set(support))
        passages += [Passage(texts[j]) for j in negs]
        out.append(
            PrunerRecord(ex.question, tuple(passages), ex.answers, f"musique:{ex.meta['index']}")
        )
    return out


def nq_records(
    path: str | Path,
    questions: Sequence[int] | range,
    *,
    negatives: int = 3,
    pool: Sequence[int] | range | None = None,
) -> list[PrunerRecord]:
    """NQ-Open oracle questions: answer-bearing sentences of the gold passage, BM25-hard negatives.

    Args:
        path: ``nq-open-oracle.jsonl.gz`` (``question``, ``answers``, ``ctxs`` with one gold
            passage).
        questions: Question indices (lines) whose records are built.
        negatives: Negatives per question.
        pool: Lines whose gold passages form the negatives' pool (default: the questions').
            A negative never holds one of the question's answers.

    Raises:
        ValueError: For an index past the file.
    """
    rows = [row for _, row in _rows(path)]

    def passage(n: int) -> str:
        if not 0 <= n < len(rows):
            msg = f"question index {n} out of range: the file has {len(rows)} lines"
            raise ValueError(msg)
        ctx: dict[str, Any] = rows[n]["ctxs"][0]
        return f"{ctx['title']}\n{ctx['text']}"

    pool_ids = list(questions if pool is None else pool)
    texts = [passage(n) for n in pool_ids]
    by_text: dict[str, set[int]] = {}
    for j, t in enumerate(texts):
        by_text.setdefault(t, set()).add(j)
    bm25 = _BM25(texts)
    out = []
    for n in questions:
        gold = passage(n)
        answers = tuple(str(a) for a in rows[n]["answers"])
        keep = _answer_sentences(gold, answers)
        if not keep:
            continue
        skip = by_text.get(gold, set())  # the gold passage itself, wherever it is in the pool
        negs = _hardest(bm25, texts, str(rows[n]["question"]), answers, negatives, skip)
        passages = (Passage(gold, keep), *(Passage(texts[j]) for j in negs))
        title = str(rows[n]["ctxs"][0]["title"])
        out.append(PrunerRecord(str(rows[n]["question"]), passages, answers, f"nq:{title}"))
    return out
