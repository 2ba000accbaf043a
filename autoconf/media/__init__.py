"""Media files: storage of originals, the ffmpeg/ffprobe adapter (no HTTP here)."""
