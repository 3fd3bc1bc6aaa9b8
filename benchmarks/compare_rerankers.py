"""Compare rerankers on the HELD-OUT halves: hit@1 with all articles in one scope and in-article.

Each question set is imported once (into ``--data``, reused by later runs and by
``learn_weights.py``); then every held-out question is asked through ``Service.ask`` with each
reranker folder given, and with none, at the configured depth and weight. News and Wikipedia
are printed side by side. This is how the shipped news reranker was checked against the one
``make model-open`` trains from openly licensed data alone.

Usage: python benchmarks/compare_rerankers.py MODEL_DIR [MODEL_DIR ...] [--sets QA_DIR ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from learn_weights import DEFAULT_SETS, imported

from index.answer import AnswerSettings
from index.embedding import SentenceTransformerEmbedder
from index.evaluation import QuestionSet, is_hit
from index.rerank import CrossEncoderReranker
from index.service import Service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--sets", nargs="+", type=Path, default=DEFAULT_SETS)
    parser.add_argument("--data", type=Path, default=Path("/tmp/citebot-learn"))
    args = parser.parse_args()
    embedder = SentenceTransformerEmbedder()
    everything = AnswerSettings(min_relevance=-1.0)  # rank quality only: never abstain
    print(
        f"{'reranker':28}"
        + "".join(f"{s.name + ' ' + m:>26}" for s in args.sets for m in ("scope", "article"))
    )
    for model in [None, *args.models]:
        cells = []
        for directory in args.sets:
            qs = QuestionSet.read(directory)
            reranker = CrossEncoderReranker(model) if model else None
            service = Service(args.data / qs.name, embedder, answers=everything, reranker=reranker)
            imported(service, qs, qs.name, args.data / qs.name)
            held = [q for q in qs.questions if q.article_id in qs.held_out]
            for only in (False, True):
                hits = 0
                for q in held:
                    gold = qs.ids[q.article_id]
                    answer = service.ask(qs.name, q.question, gold if only else None)
                    hits += is_hit(answer, gold, q.answers, 1)
                cells.append(f"{hits / len(held):.3f} ({len(held)})")
            service.close()
        name = model.name if model else "none (first stage)"
        print(f"{name:28}" + "".join(f"{c:>26}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
