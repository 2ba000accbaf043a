"""Automatic transcription of the demo session (issue 21): word error rate against its
transcript, speakers told apart, and time per minute of audio.

The demo session (`autoconf/demo/seance-demo.mp4`, 2'16, a synthetic French dialogue between
a counsellor and a beneficiary) is decoded and transcribed in this process as the job does it
(`transcribe.audio`, `recognise`, `turns`), with the model of `--model` (by default Whisper
base, the tests' model: `tests/whisper.py`; a folder of Systran's faster-whisper-small gives
the figure of the issue's target), `--threads` CPU threads, `--runs` times.

Reference: ffmpeg decoding the same audio to 16 kHz PCM, in the same run.
Target: a 60-minute session in under 20 minutes on 2 cores, i.e. < 20 s per minute of audio.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import jiwer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from autoconf.media.runner import FFmpeg
from autoconf.schemes.subtitles import read_cues
from autoconf.settings import Settings
from autoconf.transcribe import audio, model, recognise, turns
from tests.integration.test_transcription import NORMALISE
from tests.whisper import base_model

ROOT = Path(__file__).resolve().parents[1]
SESSION = ROOT / "autoconf" / "demo" / "seance-demo.mp4"
REFERENCE = read_cues((ROOT / "autoconf" / "demo" / "seance-demo.vtt").read_bytes(), "vtt", "r")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="", help="a faster-whisper model folder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args, _ = parser.parse_known_args()  # bench/run passes every benchmark's options
    folder = Path(args.model) if args.model else base_model()
    settings = Settings(transcribe_model=str(folder), transcribe_threads=args.threads)
    runner = FFmpeg.create("ffmpeg", 3600, 1)
    loaded = model.load(settings)
    decoding, recognising, results = [], [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        sound = audio.decode(runner, SESSION, 1, 136.0)
        decoding.append(time.perf_counter() - started)
        started = time.perf_counter()
        segments = recognise.recognise(loaded, sound.samples, "fr")
        found = turns.speaker_turns(segments, sound, ("Conseillère", "Bénéficiaire"))
        recognising.append(time.perf_counter() - started)
        results.append(found)
    minutes = sound.duration_s / 60
    per_minute = statistics.median(recognising) / minutes
    heard = " ".join(turn.text for turn in results[-1])
    said = " ".join(cue.text for cue in REFERENCE)
    wer = jiwer.wer(said, heard, reference_transform=NORMALISE, hypothesis_transform=NORMALISE)

    def speaker(ms: int) -> str | None:
        return min(REFERENCE, key=lambda c: max(c.start_ms - ms, ms - c.end_ms, 0)).speaker

    spoken = sum(t.end_ms - t.start_ms for t in results[-1])
    agreed = sum(
        t.end_ms - t.start_ms
        for t in results[-1]
        if speaker((t.start_ms + t.end_ms) // 2) == t.speaker
    )
    print(f"model {folder.name}, {args.threads} threads, {args.runs} runs, {minutes:.2f} min")
    print(f"  word error rate     {wer:.3f} (normalised: case, punctuation, apostrophes)")
    print(f"  speakers right      {agreed / spoken:.1%} of the speech")
    print(f"  turns               {len(results[-1])} (the transcript has {len(REFERENCE)} cues)")
    print(f"  transcription       {per_minute:.1f} s per minute of audio (median)")
    print(f"  60-minute session   {per_minute:.0f} min (target < 20)")
    decode = statistics.median(decoding)
    print(
        f"  reference: ffmpeg decode {decode:.2f} s; transcription/decode ratio "
        f"{statistics.median(recognising) / decode:.0f}"
    )
    met = "target met" if per_minute < 20 else "target NOT met"
    print(f"  {met}: < 20 s per minute of audio ({folder.name}, {args.threads} threads)")


if __name__ == "__main__":
    main()
