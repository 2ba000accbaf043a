"""Pure media logic: what to copy or re-encode, rotation, thumbnails track, waveform peaks,
progress parsing."""

import numpy as np
import pytest

from autoconf.media import derived
from autoconf.media.probe import AudioStream, MediaInfo, VideoStream, parse
from autoconf.media.proxy import plan_proxy

H264 = VideoStream("h264", "High", "yuv420p", 1280, 720, 0, 25.0)
AAC = AudioStream("aac", "LC", 2, 48000)


def info(video: VideoStream | None = H264, audio: AudioStream | None = AAC) -> MediaInfo:
    return MediaInfo("mov,mp4,m4a,3gp,3g2,mj2", 600_000, None, video, audio)


def test_compatible_streams_are_copied() -> None:
    plan = plan_proxy(info())
    assert (plan.copy_video, plan.copy_audio, plan.remux_only) == (True, True, True)
    assert plan.filename == "proxy.mp4" and plan.reasons == ()


@pytest.mark.parametrize(
    ("video", "audio", "copy_video", "copy_audio"),
    [
        (VideoStream("hevc", "Main", "yuv420p", 640, 360, 0, 25.0), AAC, False, True),
        (H264, AudioStream("mp3", "", 1, 44100), True, False),
        (VideoStream("h264", "High 10", "yuv420p10le", 640, 360, 0, 25.0), AAC, False, True),
        (VideoStream("h264", "High", "yuv420p", 640, 360, 90, 30.0), AAC, False, True),
        (VideoStream("h264", "High", "yuv420p", 3840, 2160, 0, 30.0), AAC, False, True),
        (H264, AudioStream("aac", "LC", 6, 48000), True, False),
    ],
)
def test_only_the_stream_that_needs_it_is_reencoded(
    video: VideoStream, audio: AudioStream, copy_video: bool, copy_audio: bool
) -> None:
    plan = plan_proxy(info(video, audio))
    assert (plan.copy_video, plan.copy_audio) == (copy_video, copy_audio)
    assert not plan.remux_only and plan.reasons


def test_scaling_keeps_the_short_side_at_1080() -> None:
    landscape = plan_proxy(info(VideoStream("h264", "High", "yuv420p", 3840, 2160, 0, 30.0)))
    assert landscape.scale_to == (-2, 1080)
    portrait = plan_proxy(info(VideoStream("h264", "High", "yuv420p", 2160, 3840, 0, 30.0)))
    assert portrait.scale_to == (1080, -2)
    rotated = plan_proxy(info(VideoStream("h264", "High", "yuv420p", 3840, 2160, 270, 30.0)))
    assert rotated.scale_to == (1080, -2)  # shown upright: 2160 wide, 3840 high
    assert plan_proxy(info()).scale_to is None


def test_audio_only_gets_an_m4a_and_video_only_an_mp4() -> None:
    audio = plan_proxy(info(video=None, audio=AudioStream("flac", "", 1, 22050)))
    assert (audio.kind, audio.filename, audio.copy_audio) == ("audio", "proxy.m4a", False)
    silent = plan_proxy(info(audio=None))
    assert (silent.kind, silent.filename, silent.remux_only) == ("video", "proxy.mp4", True)


def test_parse_reads_rotation_and_skips_cover_art() -> None:
    data = {
        "format": {"format_name": "mp3", "duration": "8.07", "bit_rate": "64000"},
        "streams": [
            {"codec_type": "audio", "codec_name": "mp3", "channels": 1, "sample_rate": "22050"},
            {
                "codec_type": "video",
                "codec_name": "mjpeg",
                "width": 300,
                "height": 300,
                "disposition": {"attached_pic": 1},
            },
        ],
    }
    parsed = parse(data)
    assert parsed.kind == "audio" and parsed.video is None and parsed.duration_ms == 8070
    assert parsed.streams == ("audio mp3", "video mjpeg") and parsed.bit_rate == 64000
    phone = parse(
        {
            "format": {"format_name": "mov", "duration": "3"},
            "streams": [
                {
                    "codec_type": "video",
                    "codec_name": "h264",
                    "width": 1920,
                    "height": 1080,
                    "avg_frame_rate": "30000/1001",
                    "side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}],
                }
            ],
        }
    )
    assert phone.video is not None
    assert phone.video.rotation == 270 and phone.video.display_size == (1080, 1920)
    assert phone.video.fps == 29.97
    assert phone.as_dict()["video"]["rotation"] == 270  # what the recording row keeps


def test_thumbnails_track_points_into_the_sprite_grid() -> None:
    times = [0.0, 2.0, 4.0] + [6.0 + 2 * i for i in range(100)]
    track = derived.thumbnails_vtt(derived.Thumbnails(times, 160, 90), 210.0)
    cues = track.split("\n\n")[1:]
    assert track.startswith("WEBVTT\n")
    assert cues[0] == "00:00:00.000 --> 00:00:02.000\nthumbnails/sprite-001.jpg#xywh=0,0,160,90"
    assert cues[11].endswith("sprite-001.jpg#xywh=160,90,160,90")  # row 2, column 2
    assert cues[100].startswith("00:03:20.000 --> 00:03:22.000\nthumbnails/sprite-002.jpg#xywh=0,0")
    assert cues[-1].strip().startswith("00:03:24.000 --> 00:03:30.000")


def test_thumbnail_interval_caps_the_count() -> None:
    assert derived.thumbnail_interval(120) == 2.0
    assert derived.thumbnail_interval(90 * 60) * derived.MAX_THUMBNAILS >= 90 * 60


def test_waveform_peaks_round_trip() -> None:
    rate, per = derived.WAVEFORM_RATE, derived.SAMPLES_PER_PEAK
    signal = np.zeros(per * 3 + 10, dtype="<i2")
    signal[5] = 32767
    signal[per + 7] = -32768
    signal[-1] = 16384
    pairs = derived._peaks(signal[: per * 3].tobytes())
    tail = derived._peaks(signal[per * 3 :].tobytes(), partial=True)
    data = derived.waveform_bytes(np.concatenate([pairs, tail]))
    read_rate, read_per, read_pairs = derived.read_waveform(data)
    assert (read_rate, read_per) == (rate, per)
    assert read_pairs.tolist() == [[0, 127], [-128, 0], [0, 0], [0, 64]]
    assert len(data) == 24 + 4 * 2


def test_ninety_minutes_of_peaks_stay_small() -> None:
    pairs = 90 * 60 * derived.WAVEFORM_RATE // derived.SAMPLES_PER_PEAK
    assert len(derived.waveform_bytes(np.zeros((pairs, 2), dtype=np.int8))) < 120_000
