"""Speaker turns: the recognised words grouped into stretches of speech, each given to one of
two speakers, consecutive stretches of one speaker joined into a turn.

No diarisation library runs offline on a CPU without a gated or separately downloaded
model, so the method is simple, documented and corrected by the researcher:

- a two-channel recording (a microphone per person) gives each stretch to the channel
  that is louder over it (by LOUDER, else as for one channel);
- otherwise each stretch is described by its voice's timbre (means and spreads of 12
  mel-frequency cepstral coefficients over its voiced frames), and the stretches are split
  into two groups by k-means.

The speaker of the first turn gets the first name (the counsellor opens a session, the
researcher an auto-confrontation interview): "Speakers can be swapped in one action" is
there for when this guess is wrong.
"""

from dataclasses import dataclass

import numpy as np

from autoconf.transcribe.audio import FRAME, RATE, Sound
from autoconf.transcribe.recognise import Segment, Word

PAUSE_MS = 400  # a silence this long between two words may be a change of speaker
JOIN_MS = 2000  # two stretches of one speaker closer than this make one turn
LONGEST_TURN_MS = 30_000  # a longer turn is cut at a stretch (readable cues)
LOUDER = 1.5  # RMS ratio for a channel to claim a stretch
MIN_VOICED_FRAMES = 10  # 0.1 s of voice to describe a stretch


@dataclass(frozen=True)
class Turn:
    start_ms: int
    end_ms: int
    speaker: str
    text: str
    words: tuple[Word, ...]


def stretches(segments: list[Segment]) -> list[tuple[Word, ...]]:
    """The words cut at segment ends and at pauses of PAUSE_MS."""
    found: list[tuple[Word, ...]] = []
    for segment in segments:
        words = segment.words or (Word(segment.start_ms, segment.end_ms, segment.text, 1.0),)
        current = [words[0]]
        for word in words[1:]:
            if word.start_ms - current[-1].end_ms >= PAUSE_MS:
                found.append(tuple(current))
                current = []
            current.append(word)
        found.append(tuple(current))
    return found


def speaker_turns(segments: list[Segment], sound: Sound, names: tuple[str, str]) -> list[Turn]:
    """The turns of `segments`, their speakers named from `names` (see the module)."""
    parts = stretches(segments)
    if not parts:
        return []
    groups = _by_channel(parts, sound) if sound.loudness is not None else None
    if groups is None:
        groups = _by_voice(parts, sound)
    first = groups[0]
    labels = [names[0] if group == first else names[1] for group in groups]
    return _joined(parts, labels)


def _by_channel(parts: list[tuple[Word, ...]], sound: Sound) -> list[int] | None:
    """0 or 1, the louder channel of each stretch; None when too many are undecided (the
    channels are copies of one microphone)."""
    assert sound.loudness is not None
    per_ms = RATE / FRAME / 1000
    groups: list[int | None] = []
    for words in parts:
        a, b = int(words[0].start_ms * per_ms), max(int(words[-1].end_ms * per_ms), 1)
        level = sound.loudness[a : max(b, a + 1)].mean(axis=0)
        if level[0] > LOUDER * level[1]:
            groups.append(0)
        elif level[1] > LOUDER * level[0]:
            groups.append(1)
        else:
            groups.append(None)
    decided = [g for g in groups if g is not None]
    if len(decided) < 0.8 * len(groups) or len(set(decided)) < 2:
        return None
    filled: list[int] = []
    for group in groups:  # an undecided one: its previous neighbour's
        filled.append(group if group is not None else (filled[-1] if filled else decided[0]))
    return filled


def _by_voice(parts: list[tuple[Word, ...]], sound: Sound) -> list[int]:
    """0 or 1 for each stretch, from k-means on the stretches' timbre."""
    features = [_timbre(sound.samples, words[0].start_ms, words[-1].end_ms) for words in parts]
    described = [index for index, f in enumerate(features) if f is not None]
    if len(described) < 2:
        return [0] * len(parts)
    matrix = np.array([features[index] for index in described])
    spread = matrix.std(axis=0)
    matrix = (matrix - matrix.mean(axis=0)) / np.where(spread > 0, spread, 1)
    from sklearn.cluster import KMeans  # here: a second at import, for the worker alone

    found = KMeans(n_clusters=2, n_init=10, random_state=0).fit_predict(matrix)
    groups: list[int] = [0] * len(parts)
    known = dict(zip(described, (int(g) for g in found), strict=True))
    last = int(found[0])
    for index in range(len(parts)):  # too short to describe: its previous neighbour's
        last = known.get(index, last)
        groups[index] = last
    return groups


_MEL: list[np.ndarray] = []
_DCT: list[np.ndarray] = []


def _dct() -> np.ndarray:
    """Rows 1-12 of the orthonormal DCT-II of 26 values: cepstral coefficients 1-12."""
    if not _DCT:
        n = np.arange(26)
        rows = np.cos(np.pi / 26 * (n[None, :] + 0.5) * np.arange(1, 13)[:, None])
        _DCT.append(rows * np.sqrt(2 / 26))
    return _DCT[0]


def _mel_filters() -> np.ndarray:
    """26 triangular mel filters over a 512-point spectrum at 16 kHz, 60 Hz to 7.6 kHz."""
    if not _MEL:

        def mel(hz: np.ndarray) -> np.ndarray:
            return np.asarray(2595 * np.log10(1 + hz / 700))

        def hz(value: np.ndarray) -> np.ndarray:
            return np.asarray(700 * (10 ** (value / 2595) - 1))

        edges = hz(np.linspace(mel(np.array(60.0)), mel(np.array(7600.0)), 28))
        bins = np.floor(edges / RATE * 512).astype(int)
        filters = np.zeros((26, 257))
        for i in range(26):
            left, centre, right = bins[i], bins[i + 1], bins[i + 2]
            filters[i, left:centre] = (np.arange(left, centre) - left) / max(centre - left, 1)
            filters[i, centre:right] = (right - np.arange(centre, right)) / max(right - centre, 1)
        _MEL.append(filters)
    return _MEL[0]


def _timbre(samples: np.ndarray, start_ms: int, end_ms: int) -> np.ndarray | None:
    """Means and spreads of MFCC 1-12 over the voiced 25 ms frames (10 ms apart) of a
    stretch; None when it holds too little voice."""
    piece = samples[start_ms * RATE // 1000 : end_ms * RATE // 1000]
    if len(piece) < 400:
        return None
    count = 1 + (len(piece) - 400) // 160
    index = np.arange(400)[None, :] + 160 * np.arange(count)[:, None]
    frames = piece[index] * np.hamming(400)
    energy = (frames**2).mean(axis=1)
    voiced = frames[energy > max(energy.max() * 0.05, 1e-7)]
    if len(voiced) < MIN_VOICED_FRAMES:
        return None
    power = np.abs(np.fft.rfft(voiced, 512)) ** 2
    coefficients = np.log(power @ _mel_filters().T + 1e-10) @ _dct().T
    return np.concatenate([coefficients.mean(axis=0), coefficients.std(axis=0)])


def _joined(parts: list[tuple[Word, ...]], labels: list[str]) -> list[Turn]:
    turns: list[Turn] = []
    current: list[Word] = []
    speaker = labels[0]

    def close() -> None:
        if current:
            text = "".join(word.text for word in current).strip()
            start, end = current[0].start_ms, current[-1].end_ms
            turns.append(Turn(start, end, speaker, text, tuple(current)))

    for words, label in zip(parts, labels, strict=True):
        continues = (
            current
            and label == speaker
            and words[0].start_ms - current[-1].end_ms < JOIN_MS
            and words[-1].end_ms - current[0].start_ms <= LONGEST_TURN_MS
        )
        if not continues:
            close()
            current, speaker = [], label
        current.extend(words)
    close()
    return turns
