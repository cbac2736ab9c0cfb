#!/usr/bin/env python3
"""The VADER lexicon's own score on the held-out fifth of its movie-review snippets (issue 13).

Reads the TSV that `make ratings` writes (id, rating in -4..4, stars, text), takes the same
validation split as `bert finetune --task regression` / `bert train-head --task regression`
(seeded, not stratified: a Fisher-Yates shuffle of all rows driven by SplitMix64(seed), the first
round(n x fraction) rows held out; ported from Sources/BertBLAS/Training/LabeledData.swift), and
scores each held-out text with vaderSentiment 3.3.2's `SentimentIntensityAnalyzer().polarity_scores`
compound score (in [-1, 1]). Reports Pearson r with the human rating, and the 5-star accuracy of
4 x compound (mapped linearly onto the -4..4 rating scale) with the same 5 equal-width classes as
`--rating-scale -4:4` (1 star below -2.4, 2 below -0.8, 3 below 0.8, 4 below 2.4, 5 from 2.4).

Run (reference venv with `pip install vaderSentiment==3.3.2`):
    .venv-goldens/bin/python scripts/vader_baseline.py .cache/data/vader/movie-reviews.tsv
"""
import argparse
import csv
import json
import math
import sys

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def split(n, fraction, seed):
    """LabeledDataset.split(validationFraction:seed:stratified: false): (train, validation) indices."""
    rng = SplitMix64(seed)
    members = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.next() % (i + 1)
        members[i], members[j] = members[j], members[i]
    take = int(math.floor(n * fraction + 0.5))  # Swift's .rounded(): half away from zero
    return sorted(members[take:]), sorted(members[:take])


def star(value, low=-4.0, high=4.0, classes=5):
    """RatingScale.bucket: equal-width classes, a boundary value in the upper class."""
    position = math.floor((value - low) / ((high - low) / classes) + 1e-9)
    return min(max(position, 0), classes - 1)


def pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("tsv", help="the ratings TSV of make ratings")
    p.add_argument("--validation-split", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    import vaderSentiment

    # The TSV is not quoted (csv.QUOTE_NONE): texts hold '' and ", as bert reads them.
    with open(args.tsv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    _, validation = split(len(rows), args.validation_split, args.seed)
    analyzer = SentimentIntensityAnalyzer()
    truth = [float(rows[i]["rating"]) for i in validation]
    compound = [analyzer.polarity_scores(rows[i]["text"])["compound"] for i in validation]
    r = pearson(truth, compound)
    stars = sum(star(t) == star(4 * c) for t, c in zip(truth, compound)) / len(truth)
    result = {"examples": len(rows), "validation": len(validation), "pearson": r, "star_accuracy": stars,
              "vaderSentiment": getattr(vaderSentiment, "__version__", "3.3.2")}
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"VADER compound on {len(validation)} held-out snippets of {len(rows)} (seed {args.seed}): "
              f"Pearson r {r:.4f}, 5-star accuracy {stars:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
