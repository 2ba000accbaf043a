"""Subtitle files as people bring them (tests/data/subtitles/): SRT with voices or labels,
old Windows encodings, BOMs, CRLF, formatting tags, cues without numbers; what cannot be
read is refused with its line."""

from pathlib import Path

import pytest

from autoconf.errors import Invalid
from autoconf.schemes.transcripts import parse_transcript

SUBTITLES = Path(__file__).parents[1] / "data" / "subtitles"


def cues(name: str) -> list[tuple[int, int, str | None, str]]:
    read = parse_transcript((SUBTITLES / name).read_bytes(), name)
    return [(cue.start_ms, cue.end_ms, cue.speaker, cue.text) for cue in read]


def refusal(content: bytes, name: str) -> str:
    with pytest.raises(Invalid) as error:
        parse_transcript(content, name)
    return str(error.value)


def test_srt_voices_become_speakers_as_in_webvtt() -> None:
    assert cues("voices.srt") == [
        (1_000, 4_500, "Conseillère", "Bonjour, asseyez-vous."),
        # Inside <i>…</i> too.
        (5_000, 7_250, "Bénéficiaire", "Merci. Je suis un peu en avance."),
        # Two voices in one cue: nobody's alone; both names stay in the words.
        (7_500, 9_000, None, "Conseillère : Pas de souci. Bénéficiaire : Tant mieux."),
        (9_500, 11_000, None, "Sans voix."),
    ]


def test_labels_are_speakers_only_in_a_labelled_file() -> None:
    assert cues("labels.srt") == [
        (1_000, 3_000, "CONSEILLÈRE", "Bonjour monsieur."),
        (3_500, 5_000, "BÉNÉFICIAIRE", "Bonjour madame."),
        # The same label in another case: one speaker, written as first seen; only the
        # first "Name :" is a label.
        (5_500, 8_000, "CONSEILLÈRE", "Alors : on commence par votre CV ?"),
        (8_500, 10_000, None, "et par vos envies."),  # not guessed from the one before
        (10_500, 12_000, "BÉNÉFICIAIRE", "D'accord."),
        # Dialogue dashes name nobody; "CV :" opens one cue only: words, not a speaker.
        (12_500, 14_000, None, "- Vous avez apporté le CV ? - Oui, le voici."),
        (14_500, 16_000, None, "CV : deux pages."),
    ]


def test_a_label_here_and_there_is_not_a_speaker() -> None:
    lines = []
    for n in range(1, 11):
        words = "Alors : on reprend." if n in (3, 7) else f"Réplique {n}."
        lines.append(f"{n}\n00:00:{n:02d},000 --> 00:00:{n:02d},500\n{words}\n")
    read = parse_transcript("\n".join(lines).encode(), "t.srt")
    assert {cue.speaker for cue in read} == {None}
    assert read[2].text == "Alors : on reprend."


def test_encodings_of_old_and_new_tools() -> None:
    # Windows-1252 with CRLF (’, œ, € and guillemets are not in Latin-1).
    assert cues("windows-1252.srt") == [
        (1_000, 4_000, "Conseillère", "Vous êtes arrivé à l’heure, ça c’est bien."),
        (4_500, 6_000, "Bénéficiaire", "Le cœur du problème : 1 500 € par mois, « à peu près »."),
    ]
    # UTF-8 with a BOM, CRLF, a blank line before the first cue.
    assert cues("bom-crlf.srt") == [
        (1_000, 2_000, None, "Première réplique."),
        (2_500, 3_000, None, "Deuxième réplique."),
    ]
    # UTF-16 with its BOM (Windows Notepad's "Unicode").
    assert cues("utf-16.srt") == [
        (1_000, 2_000, "Conseillère", "Écrit par le Bloc-notes de Windows.")
    ]
    # A file put together from two tools: each line in its own encoding.
    assert [cue[3] for cue in cues("mixed-encodings.srt")] == [
        "Écrite en UTF-8.",
        "Ajoutée sous Windows : déjà vu.",
    ]
    # Latin-1 is read as Windows-1252, which agrees with it on every letter.
    latin = "1\n00:00:01,000 --> 00:00:02,000\nÇa a été dit à Noël.\n".encode("latin-1")
    assert parse_transcript(latin, "l.srt")[0].text == "Ça a été dit à Noël."


def test_formatting_tags_are_dropped() -> None:
    assert [cue[3] for cue in cues("tags.srt")] == [
        "En italique et en gras, souligné.",
        "En jaune a < b",  # a "<" that opens no tag is text
        "En haut de l'image",  # {\an8} (a position) dropped too
    ]


def test_cue_numbers_missing_or_out_of_order() -> None:
    """Numbers are not read: missing, repeated or out of order, the times decide."""
    assert cues("unnumbered.srt") == [
        (0, 500, None, "Le même numéro, avant les autres."),
        (1_000, 2_000, None, "Sans numéro, au début."),
        (2_500, 3_000, None, "Numéro 7."),
        (3_500, 4_000, None, "Sans numéro, au milieu."),
        (4_500, 5_000, None, "Collée à la précédente."),
        (5_500, 6_000, None, "Numéro 2, après le 7."),
    ]


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        (
            "bad-timing.srt",
            (SUBTITLES / "bad-timing.srt").read_bytes(),
            "« bad-timing.srt », ligne 6 : « 00:00:0x,000 --> 00:00:04,000 » n'est pas une "
            "ligne de temps lisible",
        ),
        (
            "unreadable.srt",
            (SUBTITLES / "unreadable.srt").read_bytes(),
            "« unreadable.srt », ligne 7 : des caractères illisibles (ni UTF-8, ni Windows-1252)",
        ),
        (
            "sans-bom.srt",  # UTF-16 without its BOM
            "1\n00:00:01,000 --> 00:00:02,000\nBonjour\n".encode("utf-16-le"),
            "ligne 1 : des caractères illisibles",
        ),
        (
            "fleche.vtt",  # "-->" in a WebVTT cue's words would end it there
            b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nBon\n\n00:00:03.000 --> 00:00:04.000\n"
            b"avant --> apres\n",
            "ligne 7 : « avant --> apres » n'est pas une ligne de temps lisible",
        ),
        (
            "minutes.vtt",
            b"WEBVTT\n\n00:75:01.000 --> 00:75:02.000\nBonjour\n",
            "ligne 3 : « 00:75:01.000 --> 00:75:02.000 » n'est pas une ligne de temps",
        ),
        (
            "enorme.srt",  # a time past any recording: webvtt-py would leave the cue out
            b"1\n00:00:01,000 --> 00:00:02,000\nBonjour\n\n2\n"
            b"999999999999999999:00:00,000 --> 999999999999999999:00:01,000\nPerdue\n",
            "« enorme.srt », ligne 6 : cette réplique n'a pas pu être lue",
        ),
    ],
)
def test_what_cannot_be_read_is_refused_with_its_line(
    name: str, content: bytes, words: str
) -> None:
    assert words in refusal(content, name)
