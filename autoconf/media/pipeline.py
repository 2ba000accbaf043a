"""From an original to everything the player needs: probe, proxy, poster, thumbnails,
waveform. No database here: `autoconf.media.jobs` runs this and records what happened."""

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from autoconf.media import derived
from autoconf.media.probe import MediaInfo, probe
from autoconf.media.proxy import ProxyPlan, plan_proxy, proxy_args
from autoconf.media.runner import FFmpeg, MediaError, StopFn
from autoconf.media.storage import sync_folder

# Stages, their French label and their share of the progress bar (the proxy dominates when
# it re-encodes; a remux is over in seconds either way).
STAGES: dict[str, tuple[str, float, float]] = {
    "probe": ("Analyse du fichier", 0.0, 0.02),
    "proxy": ("Conversion pour le navigateur", 0.02, 0.85),
    "poster": ("Image d'aperçu", 0.85, 0.86),
    "thumbnails": ("Vignettes de navigation", 0.86, 0.94),
    "waveform": ("Forme d'onde du son", 0.94, 1.0),
}
DERIVED_NAMES = ("proxy.mp4", "proxy.m4a", derived.POSTER, derived.THUMBNAILS_VTT, derived.WAVEFORM)
# A proxy shorter than this share of the announced duration means a file cut short.
MIN_COMPLETE = 0.97

Report = Callable[[str, float], None]  # stage, overall fraction 0..1


@dataclass(frozen=True)
class Processed:
    info: MediaInfo
    plan: ProxyPlan
    proxy: str  # file name in the recording's folder
    poster: str | None
    thumbnails: str | None
    waveform: str | None


def stage_label(stage: str) -> str:
    return STAGES.get(stage, (stage, 0.0, 0.0))[0]


def process(
    runner: FFmpeg,
    ffprobe: str,
    original: Path,
    work: Path,
    report: Report,
    should_stop: StopFn,
    name: str = "",
) -> Processed:
    """Write the proxy and derived files of `original` into the folder `work` (one per
    attempt, so that two attempts never write the same file); MediaError when it cannot be
    read (the message is for the user, who knows the file as `name`), Stopped when
    `should_stop` says so."""

    def at(stage: str) -> Callable[[float], None]:
        _, start, end = STAGES[stage]
        report(stage, start)
        return lambda fraction: report(stage, start + (end - start) * fraction)

    at("probe")
    info = probe(original, ffprobe, name)
    plan = plan_proxy(info)
    proxy = work / plan.filename
    runner.run(
        proxy_args(info, plan, original, proxy),
        duration_s=info.duration_ms / 1000 or None,
        progress=at("proxy"),
        should_stop=should_stop,
    )
    # What the proxy holds is the truth: a header may estimate the duration (MP3 without a
    # VBR header) or omit it (live WebM). A shorter proxy means a cut file only where the
    # header is exact (an MP4 index) or ffprobe saw damage.
    played = probe(proxy, ffprobe, name).duration_ms
    announced = info.duration_ms
    if played < announced * MIN_COMPLETE and (info.exact_duration or info.warnings):
        raise MediaError(
            f"Le fichier est tronqué : seules {played / 1000:.0f} s sur {announced / 1000:.0f} s "
            "annoncées sont lisibles. Déposez le fichier complet."
        )
    if played <= 0:
        raise MediaError(f"« {name or original.name} » ne contient rien de lisible.")
    info = replace(info, duration_ms=played)
    duration_s = played / 1000
    poster = thumbs = None
    if info.video:
        at("poster")
        poster = derived.poster(runner, proxy, work, duration_s, should_stop)
        sheet = derived.thumbnails(
            runner,
            proxy,
            work,
            duration_s,
            info.video.display_size,
            at("thumbnails"),
            should_stop,
        )
        thumbs = derived.THUMBNAILS_VTT if sheet.times else None
    wave = None
    if info.audio:
        wave = derived.waveform(runner, proxy, work, duration_s, at("waveform"), should_stop)
    report("waveform", 1.0)
    return Processed(info, plan, plan.filename, poster, thumbs, wave)


def install(work: Path, folder: Path) -> None:
    """Put a finished attempt's files (written to disk: `storage.sync_files`) in place of the
    previous ones, each by a rename, and the renames on disk; nothing to do when it was done
    already (a retried final write). The emptied `work` stays: its attempt removes it."""
    names = sorted(path.name for path in work.iterdir()) if work.is_dir() else []
    if not names:
        return
    clear_derived(folder)
    for name in names:
        (work / name).replace(folder / name)
    sync_folder(folder)


def clear_derived(folder: Path) -> None:
    """Remove what an earlier attempt left (the original stays)."""
    for name in DERIVED_NAMES:
        (folder / name).unlink(missing_ok=True)
    for sprite in folder.glob("sprite-*.jpg"):
        sprite.unlink()
