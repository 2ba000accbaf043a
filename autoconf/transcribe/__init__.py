"""Automatic transcription on the lab's own machine: a first draft the researcher corrects.

`model` finds the speech-recognition model (faster-whisper, the optional extra
`autoconf[transcribe]`) and says in French why transcription is unavailable; `audio` decodes
a recording's sound with ffmpeg; `recognise` turns it into timed words; `turns` splits them
into speaker turns and names the speakers. No web imports.
"""
