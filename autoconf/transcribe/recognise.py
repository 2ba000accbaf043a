"""Speech to timed words: the model over a recording's sound, in French unless told
otherwise, each segment with its words' times (what a split at a word and the turns need)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from autoconf.media.runner import Stopped

BEAM_SIZE = 1  # greedy: twice as fast as 5, for a few points of word error a draft can bear


@dataclass(frozen=True)
class Word:
    start_ms: int
    end_ms: int
    text: str  # as the model spells it, with its leading space
    probability: float


@dataclass(frozen=True)
class Segment:
    start_ms: int
    end_ms: int
    text: str
    words: tuple[Word, ...]


def recognise(
    model: Any,
    samples: np.ndarray,
    language: str,
    progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[Segment]:
    """The segments the model hears in `samples` (16 kHz mono float32), in time order.
    Silence is skipped (the library's voice activity filter); Stopped when asked to."""
    duration_s = max(len(samples) / 16_000, 0.001)
    found, _info = model.transcribe(
        samples,
        language=language,
        beam_size=BEAM_SIZE,
        word_timestamps=True,
        vad_filter=True,
        condition_on_previous_text=False,  # a hallucination does not echo on and on
    )
    segments: list[Segment] = []
    for piece in found:  # decoded lazily, 30 s at a time
        if should_stop and should_stop():
            raise Stopped()
        words = tuple(
            Word(_ms(w.start), max(_ms(w.end), _ms(w.start)), w.word, float(w.probability))
            for w in piece.words or ()
            if w.word.strip()
        )
        text = piece.text.strip()
        if text:
            start = words[0].start_ms if words else _ms(piece.start)
            end = words[-1].end_ms if words else _ms(piece.end)
            segments.append(Segment(start, max(end, start), text, words))
        if progress:
            progress(min(1.0, piece.end / duration_s))
    return segments


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))
