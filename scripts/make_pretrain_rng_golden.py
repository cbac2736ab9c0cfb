"""Golden for Sources/BertBLAS/Pretraining/SeededRandom.swift: an independent Python
implementation of SplitMix64 seeding + xoshiro256** (https://prng.di.unimi.it/), the 53-bit
unit double, Lemire's unbiased bounded integer and the Fisher-Yates shuffle.

Usage: $PYTHON scripts/make_pretrain_rng_golden.py  (writes Tests/Goldens/pretrain/rng.json)
Pure Python, deterministic, no packages needed.
"""
import json
import os

M = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.x = seed & M

    def next(self):
        self.x = (self.x + 0x9E3779B97F4A7C15) & M
        z = self.x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        return z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M


class Xoshiro256StarStar:
    def __init__(self, seed):
        sm = SplitMix64(seed)
        self.s = [sm.next() for _ in range(4)]

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def unit_double(self):
        return (self.next() >> 11) * 2.0 ** -53

    def int_below(self, n):
        # Lemire (2019): multiply by n, reject the low part below 2^64 mod n.
        if n <= 1:
            return 0
        product = self.next() * n
        low = product & M
        if low < n:
            floor = (1 << 64) % n
            while low < floor:
                product = self.next() * n
                low = product & M
        return product >> 64

    def shuffle(self, items):
        i = len(items) - 1
        while i > 0:
            j = self.int_below(i + 1)
            items[i], items[j] = items[j], items[i]
            i -= 1
        return items


def main():
    cases = []
    for seed in [0, 1, 42, 2**64 - 1]:
        g = Xoshiro256StarStar(seed)
        raw = [g.next() for _ in range(8)]
        doubles = [g.unit_double() for _ in range(4)]
        bounds = [1, 2, 3, 7, 10, 30522, 2**31 - 1, 2**62 + 12345]
        ints = [g.int_below(n) for n in bounds]
        shuffled = g.shuffle(list(range(20)))
        after = g.next()
        cases.append({"seed": str(seed), "raw": [str(v) for v in raw], "doubles": doubles,
                      "bounds": [str(n) for n in bounds], "ints": [str(v) for v in ints],
                      "shuffled": shuffled, "after": str(after)})
    out = os.path.join(os.path.dirname(__file__), "..", "Tests", "Goldens", "pretrain", "rng.json")
    with open(out, "w") as f:
        json.dump({"generator": "xoshiro256** seeded by SplitMix64", "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
