# citebot: `make run` to try it, `make test` to test it. See README.md and DEVELOPERS.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHARED ?= ../shared
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test check lint format eval eval-summaries bench bench-quick bench-extract bench-feeds model model-open clean

# torch goes in first, pinned: an unpinned torch pulls a multi-gigabyte CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/citebot run --samples samples

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: lint test bench-quick

# Answer quality on Wikipedia (xquad-en) and news (newsqa-dev), one table each (about 25 min).
eval: $(STAMP)
	$(BIN)/citebot eval $(SHARED)/data/qa/xquad-en $(SHARED)/data/qa/newsqa-dev --compare \
		--distractors $(SHARED)/data/corpus/cnn-dailymail-1000.jsonl

# Summary quality (benchmarks/eval_summaries.py): ROUGE of citebot's summaries of 700 CNN/Daily
# Mail articles against their highlights, beside Lead-3 and TextRank.
eval-summaries: $(STAMP)
	$(BIN)/python benchmarks/eval_summaries.py --shared $(SHARED)

# Speed and scale (benchmarks/speed.py), then PostgreSQL against SQLite and several processes
# against one (benchmarks/scale.py; it starts a throwaway PostgreSQL, or uses
# CITEBOT_TEST_DATABASE_URL's server). bench-quick: 150 articles, 100k vectors, 20k chunks
# over PostgreSQL, part of `make check`; it skips (and says so) when ../shared is not there.
bench-quick: $(STAMP)
	@if [ -f $(SHARED)/data/corpus/cnn-dailymail-1000.jsonl ]; then \
		$(BIN)/python benchmarks/speed.py --quick --corpus $(SHARED)/data/corpus/cnn-dailymail-1000.jsonl && \
		$(BIN)/python benchmarks/scale.py --quick --corpus $(SHARED)/data/corpus/cnn-dailymail-1000.jsonl; \
	else echo "bench-quick skipped: $(SHARED)/data/corpus is not there"; fi

bench: $(STAMP)
	$(BIN)/python benchmarks/speed.py --corpus $(SHARED)/data/corpus/cnn-dailymail-1000.jsonl \
		--qa $(SHARED)/data/qa/xquad-en
	$(BIN)/python benchmarks/scale.py --corpus $(SHARED)/data/corpus/cnn-dailymail-1000.jsonl

# Following feeds (benchmarks/feeds.py): 100 polls of a simulated news feed on 127.0.0.1 built
# from ../shared's real feeds: articles per poll, duplicates, time from a new item to answerable.
bench-feeds: $(STAMP)
	$(BIN)/python benchmarks/feeds.py --shared $(SHARED)

bench-extract: $(STAMP)
	$(BIN)/python benchmarks/extraction.py $(SHARED)/data/html/article-extraction-benchmark

# Retrain the news reranker (models/news-reranker) from the bundled MiniLM and ../shared's
# training data, seeded; about an hour on 2 cores (62 min here). See README "Model card".
model: $(STAMP)
	$(BIN)/python training/train_reranker.py --shared $(SHARED) --out models/news-reranker

# The same recipe on openly licensed data alone (SQuAD, CC BY-SA 4.0), as many steps, into
# models/open-reranker (not shipped): CITEBOT_RERANKER_PATH=models/open-reranker to use it.
model-open: $(STAMP)
	$(BIN)/python training/train_reranker.py --shared $(SHARED) --out models/open-reranker \
		--news-passes 0 --squad 10000 --limit 1544

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
