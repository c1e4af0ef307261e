"""A small n-gram language model in ARPA form, estimated from weighted sentences (no toolkit, nothing
downloaded): interpolated Witten-Bell smoothing, written with back-off weights, as pocketsphinx reads it.

Witten-Bell because the counts are fractional (each phrasing template shares one unit of weight among its
expansions, so a template with many slot values does not drown the short ones) and Witten-Bell needs no
counts-of-counts, which fractional counts do not have. For a history h seen c(h) times, followed by T(h)
distinct words:  p(w | h) = (c(h, w) + T(h) p(w | h')) / (c(h) + T(h)),  h' being h without its first word;
a word never seen after h gets  alpha(h) p(w | h')  with alpha chosen so the probabilities sum to one.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

BOS, EOS = "<s>", "</s>"
#: ARPA's "impossible": log10 probability of <s>, which is never predicted
LOG_ZERO = -99.0


def count_ngrams(sentences: Iterable[tuple[str, float]], order: int) -> list[dict[tuple[str, ...], float]]:
    """Weighted counts of every 1..order-gram of the sentences (with <s> and </s> around each)."""
    counts: list[dict[tuple[str, ...], float]] = [defaultdict(float) for _ in range(order)]
    for sentence, weight in sentences:
        words = (BOS, *sentence.split(), EOS)
        for n in range(1, order + 1):
            table = counts[n - 1]
            for i in range(len(words) - n + 1):
                table[words[i:i + n]] += weight
    return counts


def _probabilities(counts: list[dict[tuple[str, ...], float]], spread: float, uniform: float
                   ) -> list[dict[tuple[str, ...], float]]:
    """Interpolated Witten-Bell p(w | h) for every seen n-gram (h, w)."""
    unigrams = counts[0]
    total = sum(c for (w,), c in unigrams.items() if w != BOS)
    size = len(unigrams) - 1
    probs: list[dict[tuple[str, ...], float]] = [
        {g: (1 - uniform) * c / total + uniform / size for g, c in unigrams.items() if g != (BOS,)}]
    for n in range(2, len(counts) + 1):
        history_count: dict[tuple[str, ...], float] = defaultdict(float)
        followers: dict[tuple[str, ...], int] = defaultdict(int)
        for gram, c in counts[n - 1].items():
            history_count[gram[:-1]] += c
            followers[gram[:-1]] += 1
        level = {}
        for gram, c in counts[n - 1].items():
            h = gram[:-1]
            lower = _lookup(probs, gram[1:])
            level[gram] = (c + spread * followers[h] * lower) / (history_count[h] + spread * followers[h])
        probs.append(level)
    return probs


def _lookup(probs: list[dict[tuple[str, ...], float]], gram: tuple[str, ...]) -> float:
    """p(w | h) with back-off, for an n-gram that may not have been seen (only used while estimating, where
    every lower-order n-gram of a seen n-gram has been seen, so this is the interpolated value)."""
    return probs[len(gram) - 1][gram]


def _backoff_weights(probs: list[dict[tuple[str, ...], float]]) -> list[dict[tuple[str, ...], float]]:
    """alpha(h) for every history h of order 1..order-1 that has followers."""
    weights: list[dict[tuple[str, ...], float]] = []
    for n in range(2, len(probs) + 1):
        seen_mass: dict[tuple[str, ...], float] = defaultdict(float)
        lower_mass: dict[tuple[str, ...], float] = defaultdict(float)
        for gram, p in probs[n - 1].items():
            seen_mass[gram[:-1]] += p
            lower_mass[gram[:-1]] += probs[n - 2][gram[1:]]
        weights.append({h: max(1.0 - seen_mass[h], 1e-12) / max(1.0 - lower_mass[h], 1e-12) for h in seen_mass})
    return weights


def arpa(sentences: Iterable[tuple[str, float]], order: int = 3, *, spread: float = 1.0, uniform: float = 0.0) -> str:
    """The ARPA text of a Witten-Bell `order`-gram model of (sentence, weight) pairs (words split on spaces).

    `spread` scales the mass each history leaves to words not seen after it (1: Witten-Bell's own), and
    `uniform` is the share of the unigram probabilities spread evenly over the vocabulary: both let the
    decoder hear word sequences the sentences do not have, at the price of more confusions."""
    if order < 1:
        raise ValueError("an n-gram model needs order >= 1")
    counts = count_ngrams(sentences, order)
    if not counts[0]:
        raise ValueError("no sentences to build a language model from")
    probs = _probabilities(counts, spread, uniform)
    weights = _backoff_weights(probs)
    grams_by_order = [sorted(counts[n]) for n in range(order)]
    lines = ["\\data\\"] + [f"ngram {n + 1}={len(grams)}" for n, grams in enumerate(grams_by_order)]
    for n, grams in enumerate(grams_by_order):
        lines += ["", f"\\{n + 1}-grams:"]
        for gram in grams:
            logp = LOG_ZERO if gram == (BOS,) else math.log10(probs[n][gram])
            entry = f"{logp:.6f}\t{' '.join(gram)}"
            if n + 1 < order and gram in weights[n]:
                entry += f"\t{math.log10(weights[n][gram]):.6f}"
            lines.append(entry)
    return "\n".join(lines + ["", "\\end\\", ""])
