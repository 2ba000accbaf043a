"""Reading transcripts: WebVTT with voices, SRT, and the files that are not transcripts."""

import pytest

from autoconf.errors import Invalid
from autoconf.schemes.transcripts import parse_transcript
from tests.factories import DEMO_TRANSCRIPT

SRT = """1
00:00:01,000 --> 00:00:04,500
Bonjour, asseyez-vous.

2
00:00:05,000 --> 00:00:07,250
<v Bénéficiaire>Merci.
Je suis un peu en avance.
"""


def test_webvtt_voices_become_speakers() -> None:
    cues = parse_transcript(DEMO_TRANSCRIPT.read_bytes(), "seance-demo.vtt")
    assert len(cues) == 20
    first = cues[0]
    assert (first.start_ms, first.end_ms, first.speaker) == (0, 10_178, "Conseillère")
    assert first.text.startswith("Bonjour monsieur Durand")
    assert {cue.speaker for cue in cues} == {"Conseillère", "Bénéficiaire"}
    assert [cue.start_ms for cue in cues] == sorted(cue.start_ms for cue in cues)


def test_srt_is_read_too() -> None:
    cues = parse_transcript(SRT.encode("cp1252", errors="replace"), "séance.SRT")
    assert [(c.start_ms, c.end_ms, c.speaker) for c in cues] == [
        (1000, 4500, None),
        (5000, 7250, "Bénéficiaire"),
    ]
    assert cues[1].text == "Merci. Je suis un peu en avance."


@pytest.mark.parametrize(
    ("content", "name", "words"),
    [
        (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nok\n", "notes.docx", "WebVTT (.vtt) ou SRT"),
        (b"%PDF-1.4 binary", "transcription.vtt", "commence par « WEBVTT »"),
        (
            b"bonjour\n",
            "transcription.srt",
            "n'est pas une transcription lisible : dans un fichier SRT",
        ),
        (b"WEBVTT\n\n", "vide.vtt", "aucune réplique"),
    ],
)
def test_what_is_not_a_transcript_is_said(content: bytes, name: str, words: str) -> None:
    with pytest.raises(Invalid) as error:
        parse_transcript(content, name)
    assert words in str(error.value)


def test_character_references_are_read_as_the_characters_they_stand_for() -> None:
    """WebVTT writes &, < and > as &amp; &lt; &gt;: stored as the words they are (and
    escaped once on the way out), so that an import-export cycle changes nothing."""
    vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Dupont &amp; fils>a &lt; b &amp;&gt; c\n"
    [cue] = parse_transcript(vtt.encode(), "t.vtt")
    assert (cue.speaker, cue.text) == ("Dupont & fils", "a < b &> c")
