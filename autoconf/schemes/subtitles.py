"""Subtitle files as people bring them: WebVTT or SRT, from old Windows tools too.

webvtt-py reads the cues; around it, what it would get wrong without a word: the encoding
(UTF-8 with or without BOM, UTF-16 with BOM, Windows-1252 line by line), an SRT cue without
its number, a line of times that cannot be read (a cue silently lost), the speakers.

Speakers: a WebVTT voice `<v Conseillère>` (in SRT files too), and "Name : text" labels,
which are ambiguous ("Alors : on reprend", "CV : à refaire"), so they are taken only when
the file is written that way: the same short label opens at least two cues (and one
labelled cue in twenty), and such cues are at least a third of the file. A cue holding two
speakers keeps both names in its text and has no speaker. Dialogue dashes ("- Bonjour")
name nobody: left in the text.
"""

import codecs
import io
import re
from collections import Counter
from dataclasses import dataclass
from html import unescape

import webvtt
from webvtt.models import Timestamp
from webvtt.srt import SRTCueBlock
from webvtt.vtt import WebVTTCueBlock

from autoconf.errors import Invalid

SHAPES = {  # what the user should find in the file, said when it is not there
    "vtt": "un fichier WebVTT commence par « WEBVTT », puis chaque réplique par une ligne "
    "« 00:00:01.000 --> 00:00:04.000 ».",
    "srt": "dans un fichier SRT, chaque réplique a un numéro, une ligne "
    "« 00:00:01,000 --> 00:00:04,000 », puis son texte.",
}
_EXAMPLES = {"vtt": "00:00:01.000 --> 00:00:04.000", "srt": "00:00:01,000 --> 00:00:04,000"}
_TIMINGS = {"vtt": WebVTTCueBlock.CUE_TIMINGS_PATTERN, "srt": SRTCueBlock.CUE_TIMINGS_PATTERN}
_BOMS = ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_NEWLINES = re.compile(r"\r\n|\r|\n")

# Each match stops at the next "<" (or "{") and at the line's end: linear on any text.
_VOICE = re.compile(r"<v(?:\.[^\s<>]*)?[ \t]+([^\s<>][^<>\n]{0,200})>")
_TAG = re.compile(r"<[^<>\n]*>")  # <i>, <b>, <font color=…>, </v>…: a "<" alone stays text
_POSITION = re.compile(r"\{\\[^{}\n]*\}")  # {\an8}: a position written by Aegisub-like tools
_LABEL = re.compile(r"([^\W\d_]+(?:[ '’.-]{1,2}[^\W\d_]+){0,2}) ?: (?=\S)")
LABEL_CHARS = 30


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    speaker: str | None
    text: str


def read_cues(content: bytes, kind: str, filename: str) -> list[Cue]:
    """The cues of a WebVTT (`kind` "vtt") or SRT ("srt") file, in file order, empty ones
    included; Invalid (French, naming the line) when a part of it cannot be read."""
    lines = _lines(content, filename)
    normalised, expected = _checked(lines, kind, filename)
    try:
        captions = webvtt.from_buffer(io.StringIO("\n".join(normalised)), format=kind).captions
    except (webvtt.errors.MalformedFileError, webvtt.errors.MalformedCaptionError):
        raise Invalid(
            f"« {filename} » n'est pas une transcription lisible : {SHAPES[kind]}"
        ) from None
    _all_read(captions, expected, kind, filename)
    cues = []
    for caption in captions:
        speaker, text = _voiced(caption.raw_text)
        cues.append(
            Cue(
                caption.start_time.in_milliseconds(),
                caption.end_time.in_milliseconds(),
                speaker,
                text,
            )
        )
    return _labelled(cues, [caption.raw_text for caption in captions])


def _lines(content: bytes, filename: str) -> list[str]:
    """The file's lines: UTF-8 (with or without BOM), UTF-16 with BOM, else each line in
    UTF-8 or, failing that, Windows-1252 (a superset of Latin-1's letters), so that a file
    put together from two tools is read too."""
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            try:
                text = content[len(bom) :].decode(encoding)
            except UnicodeDecodeError as error:
                line = content[: error.start].decode(encoding, errors="replace").count("\n") + 1
                raise Invalid(_unreadable(filename, line)) from None
            return _NEWLINES.split(text)
    content = content.removeprefix(codecs.BOM_UTF8)
    if b"\x00" in content:  # UTF-16 without its BOM, or not text at all
        line = content[: content.index(b"\x00")].count(b"\n") + 1
        raise Invalid(_unreadable(filename, line))
    decoded = []
    for number, raw in enumerate(content.split(b"\n"), start=1):
        try:
            decoded.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            try:
                decoded.append(raw.decode("cp1252"))
            except UnicodeDecodeError:
                raise Invalid(_unreadable(filename, number)) from None
    return _NEWLINES.split("\n".join(decoded))


def _unreadable(filename: str, line: int) -> str:
    return (
        f"« {filename} », ligne {line} : des caractères illisibles (ni UTF-8, ni Windows-1252) ; "
        "enregistrez le fichier en UTF-8 et importez-le de nouveau."
    )


def _checked(lines: list[str], kind: str, filename: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The lines webvtt-py should read (an SRT cue without its number gets one) and, for each
    cue with text, its line and start; Invalid on a line of times that cannot be read: a
    cue would be lost."""
    lines = [line.removeprefix("\ufeff") if n == 0 else line for n, line in enumerate(lines)]
    skipped = next((n for n, line in enumerate(lines) if line.strip()), len(lines))
    pattern = _TIMINGS[kind]
    normalised: list[str] = []
    expected: list[tuple[int, int]] = []
    for index, line in enumerate(lines[skipped:], start=skipped):
        if "-->" not in line:
            normalised.append(line)
            continue
        match = pattern.match(line)
        if match is None or not _readable_times(match.group(1), match.group(2), kind):
            shown = line.strip() if len(line.strip()) <= 60 else line.strip()[:60] + "…"
            raise Invalid(
                f"« {filename} », ligne {index + 1} : « {shown} » n'est pas une ligne de temps "
                f"lisible ; une ligne qui contient « --> » donne le début et la fin d'une "
                f"réplique, par exemple « {_EXAMPLES[kind]} »."
            )
        if kind == "srt" and not (normalised and normalised[-1].strip().isdigit()):
            if normalised and normalised[-1].strip():
                normalised.append("")
            normalised.append(str(len(expected) + 1))  # the number is not read: any will do
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if following.strip() and "-->" not in following:
            expected.append((index + 1, _start_ms(match.group(1), kind)))
        normalised.append(line)
    return normalised, expected


def _readable_times(start: str, end: str, kind: str) -> bool:
    """WebVTT's minutes and seconds stop at 59 (webvtt-py would leave the cue out); SRT
    readers carry them over, as webvtt-py does."""
    if kind == "srt":
        return True
    try:
        Timestamp.from_string(start), Timestamp.from_string(end)
    except webvtt.errors.MalformedCaptionError:
        return False
    return True


def _start_ms(timestamp: str, kind: str) -> int:
    """A cue's start as webvtt-py reads it (SRT: the digits after the comma are a number of
    milliseconds; WebVTT: a fraction of a second, hours optional)."""
    *fields, fraction = re.split(r"[:,.]", timestamp)
    hours, minutes, seconds = ([0] * (3 - len(fields))) + [int(field) for field in fields]
    milliseconds = int(fraction) if kind == "srt" else int(fraction.ljust(3, "0")[:3])
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + milliseconds


def _all_read(
    captions: list[webvtt.Caption], expected: list[tuple[int, int]], kind: str, filename: str
) -> None:
    """Invalid, naming its line, when webvtt-py left out a cue that has text."""
    starts = Counter(caption.start_time.in_milliseconds() for caption in captions)
    for line, start in expected:
        if starts[start] > 0:
            starts[start] -= 1
            continue
        raise Invalid(
            f"« {filename} », ligne {line} : cette réplique n'a pas pu être lue ; {SHAPES[kind]}"
        )


def _clean(raw: str) -> str:
    """The words of cue text: tags and positions dropped, character references read, spaces
    and line breaks made single spaces."""
    return " ".join(unescape(_POSITION.sub("", _TAG.sub("", raw))).split())


def _voiced(raw: str) -> tuple[str | None, str]:
    """(speaker, words) of a cue's text from its `<v Name>` voices; two different voices:
    no speaker, each name kept before its words."""
    parts = _VOICE.split(raw)
    names = [" ".join(unescape(name).split()) for name in parts[1::2]]
    distinct = list(dict.fromkeys(name for name in names if name))
    if len(distinct) <= 1:
        return (distinct[0] if distinct else None), _clean(_VOICE.sub("", raw))
    pieces = [_clean(parts[0])]
    for name, words in zip(names, parts[2::2], strict=True):
        pieces.append(f"{name} : {_clean(words)}" if name else _clean(words))
    return None, " ".join(piece for piece in pieces if piece)


def _label(raw: str) -> str | None:
    """The "Name :" opening a cue's first line, when no other line of the cue opens with one."""
    lines = [_clean(line) for line in raw.split("\n")]
    found = [_LABEL.match(line) for line in lines if line]
    if not found or found[0] is None or any(match is not None for match in found[1:]):
        return None
    label = found[0].group(1)
    return label if len(label) <= LABEL_CHARS else None


def _labelled(cues: list[Cue], raws: list[str]) -> list[Cue]:
    """The cues, with the labels of a labelled file as their speakers (see the module): a
    label opening at least two cues, and one labelled cue in twenty, written as first seen."""
    labels = [
        _label(raw) if cue.speaker is None else None for cue, raw in zip(cues, raws, strict=True)
    ]
    counts = Counter(label.casefold() for label in labels if label)
    labelled = sum(counts.values())
    kept = {key for key, count in counts.items() if count >= 2 and count * 20 >= labelled}
    if sum(counts[key] for key in kept) * 3 < len(cues):
        return cues
    spelling: dict[str, str] = {}
    for label in labels:
        if label:
            spelling.setdefault(label.casefold(), label)
    result = []
    for cue, label in zip(cues, labels, strict=True):
        if label and label.casefold() in kept:
            words = cue.text[len(label) :].lstrip(" ")[1:].lstrip(" ")
            cue = Cue(cue.start_ms, cue.end_ms, spelling[label.casefold()], words)
        result.append(cue)
    return result
