"""Prompt robustness: negations that do not pull, and bare names that land on rich descriptions.

Two things a sentence embedding does badly with a user's words:

- **Negations.**  "grass without trees" embeds close to "trees": sentence encoders read
  words, not logic.  :func:`split_negations` cuts each negated phrase ("without trees",
  "no vegetation", "not water") out of a prompt before it is embedded, so a negation never
  pulls a class towards what it excludes (a prompt that is nothing but a negation keeps its
  text: there is nothing else to embed).
- **Bare names.**  A prompt of a word or two ("tree", "roof") gives the text model little to
  go on.  :func:`vocabulary_embeddings` matches each short prompt to the closest concept of a
  vocabulary (the base model's material concepts and their sentences, in its metadata) in
  the frozen text model's own space, and embeds the prompt together with that concept's
  sentences.  Longer prompts are the user's own description and are kept as written.

Both work on any encoder with ``encode(list[str]) -> (n, dim)`` unit-norm rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["split_negations", "vocabulary_embeddings", "concept_embeddings", "SHORT_PROMPT_WORDS"]

#: Prompts of at most this many words are matched to the vocabulary (bare names, "low vegetation").
SHORT_PROMPT_WORDS = 3

# a negation cue and what it governs, up to the next clause boundary
_NEGATED = re.compile(
    r"\b(?:without|with\s+no|no|not|never|free\s+of|except(?:\s+for)?|excluding|other\s+than|lacking)\b(?!-)"
    r"[^,.;:()]*",
    re.IGNORECASE,
)
# words that, right after a negated phrase, start a new positive clause ("no trees but grass")
_RESUME = re.compile(r"\s+(?:but|only|just|instead)\s+", re.IGNORECASE)


def split_negations(text: str) -> tuple[str, list[str]]:
    """``(positive text, negated phrases)`` of one prompt.

    >>> split_negations("Green grass and herbs, without trees.")
    ('Green grass and herbs.', ['without trees'])
    >>> split_negations("no trees but grass")
    ('grass', ['no trees'])
    """
    negated: list[str] = []

    def cut(m: re.Match[str]) -> str:
        phrase = m.group(0)
        resume = _RESUME.search(phrase)
        if resume:  # "no trees but grass": the clause after "but" is positive
            negated.append(phrase[:resume.start()].strip())
            return " " + phrase[resume.end():]
        negated.append(phrase.strip())
        return ""

    positive = _NEGATED.sub(cut, text)
    positive = re.sub(r"\s+([,.;:])", r"\1", positive)
    positive = re.sub(r"([,;:])\s*(?=[,.;:]|$)", "", positive)
    positive = re.sub(r"\s{2,}", " ", positive).strip(" ,;:")
    if not re.search(r"\w", positive):
        return text, []  # nothing but a negation: keep the words
    return positive, negated


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def concept_embeddings(vocabulary: Mapping[str, Sequence[str]], encoder: Any) -> np.ndarray:
    """Unit-norm text embeddings ``(K, dim)`` of a vocabulary's concepts, in its key order: the mean of each
    concept's sentence embeddings (what the words of the concept say on average)."""
    sentences = [list(v) for v in vocabulary.values()]
    s_emb = np.asarray(encoder.encode([s for ss in sentences for s in ss]), dtype=np.float32)
    bounds = np.cumsum([0] + [len(ss) for ss in sentences])
    return _unit(np.stack([s_emb[a:b].mean(0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]))


def vocabulary_embeddings(classes: Sequence[Sequence[str]], encoder: Any,
                          vocabulary: Mapping[str, Sequence[str]] | None = None, *,
                          short_words: int = SHORT_PROMPT_WORDS) -> tuple[np.ndarray, list[list[str | None]]]:
    """Class text embeddings ``(C, dim)`` with negations cut and short prompts expanded.

    Parameters
    ----------
    classes
        Per class, its prompts.
    encoder
        The frozen text encoder (``encode`` gives unit-norm rows).
    vocabulary
        Concept key -> its sentences (``None`` or empty: no expansion).
    short_words
        Prompts of at most this many words (after cutting negations) are expanded.

    Returns
    -------
    embeddings, matches
        The unit-norm class embeddings (mean of each class's prompt embeddings), and per
        class and prompt the vocabulary concept it was matched to (``None``: kept as written).
    """
    texts = [[split_negations(p)[0] for p in prompts] for prompts in classes]
    # a prompt that is nothing but a negation ("no trees") keeps its words and is never expanded:
    # the closest concept to its words is what it excludes
    only_negation = [[bool(_NEGATED.match(t.strip())) for t in ts] for ts in texts]
    flat = [t for ts in texts for t in ts]
    emb = np.asarray(encoder.encode(flat), dtype=np.float32)
    keys: list[str] = list(vocabulary or {})
    if keys:
        concept = concept_embeddings(vocabulary, encoder)  # type: ignore[arg-type]
    out, matches, i = [], [], 0
    for ts, negs in zip(texts, only_negation, strict=True):
        rows, found = [], []
        for t, neg in zip(ts, negs, strict=True):
            e = emb[i]
            i += 1
            if keys and not neg and len(re.findall(r"\w+", t)) <= short_words:
                # the concept whose sentences, on average, say the most what the short prompt says
                k = int(np.argmax(concept @ e))
                e = _unit(e + concept[k])
                found.append(keys[k])
            else:
                found.append(None)
            rows.append(e)
        out.append(_unit(np.mean(rows, axis=0)))
        matches.append(found)
    return np.stack(out).astype(np.float32), matches
