import dataclasses
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from extract.ffmpeg import MediaError, ffmpeg_cmd
from extract.video import clip_indices, decode_frames, probe, scaled_size, uniform_indices

from .conftest import make_video


def test_uniform_indices_spread_and_repeat():
    idx = uniform_indices(400, 40)
    assert len(idx) == 40 and idx[0] == 5 and idx[-1] == 395
    assert np.all(np.diff(idx) == 10)
    short = uniform_indices(10, 40)  # fewer frames than asked: each repeats 4 times
    assert np.array_equal(np.bincount(short), np.full(10, 4))


def test_clip_indices_consecutive_and_padded():
    clips = clip_indices(300, 8)
    assert clips.shape == (8, 16)
    assert np.all(np.diff(clips, axis=1) == 1)
    assert clips.min() >= 0 and clips.max() <= 299
    short = clip_indices(10, 2)
    assert short.shape == (2, 16) and short.max() == 9 and np.all(short[:, -1] == 9)


def test_scaled_size_short_side():
    assert scaled_size(640, 360, 256) == (456, 256)
    assert scaled_size(360, 640, 256) == (256, 456)


def test_probe_reads_header(videos):
    info = probe(videos["mp4_aac"])
    assert abs(info.duration - 2.0) < 0.1 and info.fps == 25
    assert (info.width, info.height) == (160, 120) and info.has_audio
    assert not probe(videos["mov_silent"]).has_audio


def test_probe_names_what_a_path_is_when_it_is_not_a_video_file(tmp_path):
    # /dev/null (or a FIFO) exists but said "no such file"
    os.mkfifo(tmp_path / "fifo")
    for path, says in (("/dev/null", "/dev/null: a character device, not a video file"),
                       (tmp_path / "fifo", f"{tmp_path / 'fifo'}: a pipe (FIFO), not a video file"),
                       (tmp_path, f"{tmp_path}: a folder, not a video file"),
                       (tmp_path / "nope.mp4", f"{tmp_path / 'nope.mp4'}: no such file"),
                       # (caption.py https://…: said "no such file" and no more)
                       ("https://example.com/v.mp4", "https://example.com/v.mp4: no such file (a URL: videos are "
                                                     "read from files; download it first)")):
        with pytest.raises(MediaError) as e:
            probe(path)
        assert str(e.value) == says


def test_probe_rotation_swaps_display_size(videos):
    info = probe(videos["rotated"])
    assert info.rotation in (90, 270) and (info.width, info.height) == (96, 160)
    fr = decode_frames(videos["rotated"], 4, short_side=64)
    assert fr.frames.shape == (4, 106, 64, 3)  # portrait after rotation


def test_decode_samples_the_right_frames(tmp_path):
    # luma encodes the frame index (16 + 4n, limited range), lossless, so we can read back which frames came out
    path = tmp_path / "counter.mkv"
    subprocess.run(ffmpeg_cmd(["-loglevel", "error", "-y", "-f", "lavfi", "-i",
                               "color=c=black:s=64x64:r=10:d=4,format=yuv444p,geq=lum='16+4*N':cb=128:cr=128",
                               "-c:v", "ffv1", str(path)]), check=True)
    fr = decode_frames(path, 8, clips=2, short_side=64)
    to_index = lambda rgb: np.round(rgb * 219 / 255 / 4).astype(int)  # noqa: E731
    got = to_index(fr.frames.astype(float).mean(axis=(1, 2, 3)))
    assert got.tolist() == uniform_indices(40, 8).tolist()
    clip_got = to_index(fr.clips.astype(float).mean(axis=(2, 3, 4)))
    assert clip_got.tolist() == clip_indices(40, 2).tolist()

    # a header promising twice the frames: the 40 real ones are counted and sampled instead, with a note
    long = dataclasses.replace(probe(path), duration=8.0)
    fr = decode_frames(path, 8, clips=0, short_side=64, info=long)
    assert to_index(fr.frames.astype(float).mean(axis=(1, 2, 3))).tolist() == uniform_indices(40, 8).tolist()
    assert fr.notes == ["video stream holds only 40 of the 80 frames the file's duration implies (8.0 s at 10 fps: a "
                        "stream cut short, or sound that outlasts the video): sampled over those"]
    # one frame short in a file with sound (its encoder padding outlasting the video): sampled over the real ones,
    # unsaid; every clip ffmpeg cut from a file with sound got the note (trial 91). Without sound, it is damage: said
    # (trial 92)
    for sound, said in ((True, []), (False, ["video stream holds only 40 of the 41 frames the file's duration implies "
                                             "(4.1 s at 10 fps: a stream cut short, or sound that outlasts the "
                                             "video): sampled over those"])):
        info = dataclasses.replace(probe(path), duration=4.1, has_audio=sound)
        fr = decode_frames(path, 40, clips=0, short_side=64, info=info)
        assert to_index(fr.frames.astype(float).mean(axis=(1, 2, 3))).tolist() == list(range(40))
        assert fr.notes == said


@pytest.mark.parametrize("name", ["mp4_aac", "webm_opus", "avi_mp3", "mkv_pcm", "mov_silent", "short"])
def test_decode_every_container(videos, name):
    fr = decode_frames(videos[name], 6, clips=2, short_side=64)
    assert fr.frames.shape == (6, 64, 86, 3) and fr.frames.dtype == np.uint8
    assert fr.clips.shape == (2, 16, 64, 86, 3)
    assert fr.frames.std() > 5  # real picture content, not a blank buffer


@pytest.mark.parametrize("name", ["zero", "text", "corrupt", "audio_only"])
def test_broken_inputs_raise_media_error(broken, name):
    with pytest.raises(MediaError) as e:
        fr = probe(broken[name])
        decode_frames(broken[name], 4, info=fr)
    assert "\n" not in str(e.value) and str(broken[name]) in str(e.value)


def test_an_mp4_cut_before_its_index_is_said_to_be_cut_short(broken):
    """An MP4 cut before its moov atom (a download stopped early: ffmpeg writes the index last) said 'not a
    readable video (Error opening input files: Invalid data found when processing input)' in extract and
    caption.py (hostile trial; both probe the file so), with no hint that the file is incomplete."""
    with pytest.raises(MediaError) as e:
        probe(broken["corrupt"])
    assert str(e.value) == (f"{broken['corrupt']}: not a readable video (the file looks cut short: its index "
                            "(moov) is missing)")
    # (ffmpeg says 'moov atom not found' of any file named .mp4: a text file is not said to be cut short)
    with pytest.raises(MediaError) as e:
        probe(broken["text"])
    assert "cut short" not in str(e.value), str(e.value)


def test_an_mp4_whose_index_comes_first_cut_short_is_said_to_be_cut(tmp_path):
    """An MP4 written with its index first (`-movflags +faststart`, as web video is) and then cut was noted
    'video stream holds only 51 of the 100 frames its header implies', never that the file was cut short (an AVI
    was; hostile trial): its last top-level box running past the file's end tells it. A whole one has no note."""
    from extract.video import mp4_cut

    whole = make_video(tmp_path / "fs.mp4", 4.0, audio=None, extra=["-movflags", "+faststart"])
    assert decode_frames(whole, 8, clips=1, short_side=64).notes == [] and mp4_cut(whole) is None
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    notes = decode_frames(cut, 8, clips=1, short_side=64).notes
    assert re.fullmatch(rf"file cut short \({len(data) // 2:,} of the {len(data):,} bytes its boxes give\): video "
                        r"stream holds only \d+ of the 100 frames the file's duration implies \(4\.0 s at 25 fps\): "
                        "sampled over those", notes[0]), notes


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        probe(tmp_path / "nope.mp4")


def test_names_with_a_colon_are_files_not_urls(videos, tmp_path, monkeypatch):
    """A bare name holding a colon is a URL to ffmpeg: `file:x.mp4` was decoded from x.mp4 (another video,
    silently) and an ISO-timestamp name failed 'Protocol not found'. Frames, clips, the frame count and the
    audio all come from the named file."""
    from extract.audio import audio_examples
    from extract.media import decode_media
    from extract.video import count_frames

    shutil.copy(videos["mp4_aac"], tmp_path / "file:x.mp4")  # testsrc2, 440 Hz, 2 s
    shutil.copy(videos["mp4_aac"], tmp_path / "2024-05-01T10:30:00.mp4")
    shutil.copy(videos["mp4_aac"], tmp_path / "plain.mp4")
    shutil.copy(videos["short"], tmp_path / "x.mp4")  # 0.4 s: another video's frames, clips and audio
    monkeypatch.chdir(tmp_path)
    mods = ["resnet152", "c3d", "vggish"]
    plain = decode_media("plain.mp4", mods, frames=4, clips=1, short_side=64)
    other = decode_media("x.mp4", mods, frames=4, clips=1, short_side=64)
    assert not np.array_equal(plain.frames, other.frames)
    for name in ("file:x.mp4", "2024-05-01T10:30:00.mp4"):
        got = decode_media(name, mods, frames=4, clips=1, short_side=64)
        for what in ("frames", "clips", "examples"):
            assert np.array_equal(getattr(got, what), getattr(plain, what)), (name, what)
        assert count_frames(name) == count_frames("plain.mp4")
        assert np.array_equal(audio_examples(name), audio_examples("plain.mp4"))


def test_a_raw_stream_without_timestamps_is_decoded_by_frame_order(tmp_path):
    """A raw H.264 stream (no container, no timestamps) was refused as 'video has no duration (no decodable
    frames)' though it holds every frame: its frames are counted and sampled by their order (those a plain
    decode gives), with a note saying their times are assumed."""
    from extract.media import decode_media

    raw = tmp_path / "raw.h264"
    subprocess.run(ffmpeg_cmd(["-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=3",
                               "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "h264",  # (B-frames: no pts)
                               str(raw)]), check=True, capture_output=True)
    # every frame it holds, in order, as a plain ffmpeg decode gives them
    every = subprocess.run(ffmpeg_cmd(["-loglevel", "error", "-i", str(raw), "-vf", "scale=64:48:flags=bilinear",
                                       "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]),
                           check=True, capture_output=True).stdout
    every = np.frombuffer(every, np.uint8).reshape(-1, 48, 64, 3)
    got = decode_media(raw, ["resnet152", "c3d"], frames=6, clips=2, short_side=48)
    assert len(every) == 75 and not probe(raw).timed and probe(raw).est_frames == 75
    idx = uniform_indices(75, 6)
    assert np.array_equal(got.frames, every[idx]) and np.array_equal(got.clips, every[clip_indices(75, 2)])
    assert np.allclose(got.times, idx / 25)
    assert got.notes == ["video stream has no timestamps (a raw stream?): its 75 frames sampled by their order, "
                         "their times taken at 25 fps"]


def test_a_raw_stream_is_timed_at_its_own_rate(tmp_path):
    """Raw streams were timed at 25 fps whatever they carry: a 3 s 60 fps raw H.264 (timestamps, no container)
    was read as 75 frames (the first 1.25 s sampled, times to 2.8 s), a 10 fps raw HEVC (`25 fps, 10 tbr`)
    as 1.2 s, its note saying 25 fps, so serve's --max-video-seconds let it through (hostile trial). The
    rate is the packets' own (ffmpeg 9's tbr of an H.264 stream is its field rate, twice the frame rate);
    a stream that carries none (MJPEG) keeps 25."""
    from extract.media import TooLong, decode_media

    def raw(name, rate, codec, *extra):
        subprocess.run(ffmpeg_cmd(["-loglevel", "error", "-f", "lavfi", "-i", f"testsrc2=size=64x48:rate={rate}:"
                                   "duration=3", "-c:v", codec, "-pix_fmt", "yuv420p", *extra, str(tmp_path / name)]),
                       check=True, capture_output=True)
        return tmp_path / name

    r60 = raw("r60.h264", 60, "libx264", "-bf", "0")  # (no B-frames: timestamps)
    info = probe(r60)
    assert (info.fps, info.timed, info.est_frames) == (60, True, 180)
    got = decode_frames(r60, 6, short_side=48)
    assert np.allclose(got.times, uniform_indices(180, 6) / 60) and got.times[-1] < 3 and got.notes == []
    r10 = raw("r10.hevc", 10, "libx265", "-x265-params", "log-level=error")
    info = probe(r10)
    assert (info.fps, info.timed, info.duration) == (10, False, 3.0)
    got = decode_frames(r10, 6, short_side=48)
    assert np.allclose(got.times, uniform_indices(30, 6) / 10)
    assert got.notes == ["video stream has no timestamps (a raw stream?): its 30 frames sampled by their order, "
                         "their times taken at 10 fps"]
    with pytest.raises(TooLong, match="lasts 3.0 s"):
        decode_media(r10, ["resnet152"], frames=4, clips=0, short_side=48, max_seconds=2)
    mjpeg = raw("m.mjpeg", 10, "mjpeg", "-pix_fmt", "yuvj420p")
    assert probe(mjpeg).fps == 25


@pytest.mark.parametrize("muxer, pix_fmt", [("mjpeg", "yuvj420p"), ("mpjpeg", "yuvj420p"),
                                             # (read by ffmpeg's jpeg_pipe, not its mjpeg demuxer: hostile trial)
                                             ("mjpeg", "yuvj422p"), ("mjpeg", "yuvj444p"), ("mjpeg", "gray")])
def test_a_raw_mjpeg_stream_says_its_rate_is_assumed_and_is_not_refused_for_a_guessed_duration(tmp_path, muxer,
                                                                                              pix_fmt):
    """A raw MJPEG stream (JPEGs one after another, or a multipart stream) carries no frame rate: a 4 s 60 fps
    one was timed at ffmpeg's 25 fps with no note, and serve's --max-video-seconds 5 refused it as lasting
    9.6 s (hostile trial). Its frames are still all sampled (by order), its times and duration said to be taken
    at 25 fps, and the duration limit is not applied to that guess (such a stream holds no audio, whose
    decoding the limit bounds; the upload limit bounds its frames)."""
    from extract.media import decode_media

    clip = tmp_path / "m60.mjpeg"
    subprocess.run(ffmpeg_cmd(["-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=60:duration=4",
                               "-c:v", "mjpeg", "-pix_fmt", pix_fmt, "-f", muxer, str(clip)]),
                   check=True, capture_output=True)
    got = decode_media(clip, ["resnet152"], frames=4, clips=0, short_side=48, max_seconds=5)
    assert got.frames.shape == (4, 48, 64, 3) and np.allclose(got.times, uniform_indices(240, 4) / 25)
    assert got.notes == ["video stream carries no frame rate (raw MJPEG): its 240 frames sampled by their order, "
                         "their times and its duration (9.6 s) taken at 25 fps"]
    info = probe(clip)
    assert (info.fps, info.est_frames, bool(info.fps_assumed), info.has_audio) == (25, 240, True, False)


CUT_AVI = re.compile(r"file cut short \(([\d,]+) of the ([\d,]+) bytes its AVI header gives\): its video stream "
                     r"holds (\d+) of the header's (\d+) frames: sampled over those")


def cut_avi_notes(path, frames: int = 8):
    """decode_frames' notes of `path`, and (bytes, header's bytes, frames held, header's frames) of its cut-short
    note, None without one."""
    fr = decode_frames(path, frames, clips=1, short_side=64)
    m = CUT_AVI.fullmatch(fr.notes[0]) if fr.notes else None
    return fr, (tuple(int(g.replace(",", "")) for g in m.groups()) if m else None)


def test_an_avi_cut_short_is_noted_so(tmp_path, videos):
    """An AVI cut short (a copy or download broken off) was captioned with no note, or with one counting the
    frames ffmpeg guesses from the bytes left (ffmpeg scales its header's duration by them, so the frames decoded
    agreed with the guess): its header's own size and frame count tell it, and its frames are counted and
    sampled (hostile trial). An intact AVI gets no note."""
    from extract.video import count_frames

    whole = make_video(tmp_path / "whole.avi", 4.0, vcodec="mpeg4", audio=None)  # 100 frames
    assert decode_frames(whole, 8, clips=1, short_side=64).notes == []
    assert decode_frames(videos["avi_mp3"], 8, clips=1, short_side=64).notes == []  # (sound interleaved)
    data = whole.read_bytes()
    for part in (3, 5, 6, 7, 9):  # (ffmpeg's guess falls under the frames held at some, over at others)
        cut = tmp_path / f"cut{part}.avi"
        cut.write_bytes(data[: len(data) * part // 10])
        held = count_frames(cut)[0]
        fr, said = cut_avi_notes(cut)
        assert said == (cut.stat().st_size, len(data), held, 100), (part, fr.notes)
        assert fr.times.max() < held / 25  # (over the frames it holds)
        # (the last frame it holds may be cut through: its packet counted, its picture not whole)
        assert all(re.fullmatch(r"1 of the \d+ frames sampled could not be decoded: the last decoded frame stands in",
                                n) for n in fr.notes[1:]), fr.notes


def test_the_real_avi_clips_cut_short_are_noted_so(sample_data, tmp_path):
    """The shared MSVD clips (MEncoder AVIs): whole, no note; cut to 30 % or 60 % of their bytes, the note."""
    clips = sorted((sample_data / "clips").glob("*.avi"))
    assert clips
    for clip in clips:
        assert decode_frames(clip, 8, clips=1, short_side=64).notes == [], clip.name
        data = clip.read_bytes()
        for part in (3, 6):
            cut = tmp_path / f"{part}_{clip.name}"
            cut.write_bytes(data[: len(data) * part // 10])
            fr, said = cut_avi_notes(cut)
            assert said and said[:2] == (cut.stat().st_size, len(data)) and said[2] < said[3], (cut.name, fr.notes)


def test_a_note_counting_frames_ffmpeg_guessed_from_the_file_size_does_not_say_the_header_implies_them(tmp_path,
                                                                                                    monkeypatch):
    """An AVI written to a pipe (its header's sizes never filled in: ffmpeg's to-pipe length of 2^30 frames)
    was noted 'video stream holds only 100 of the 42281 frames its header implies', a number ffmpeg made by
    scaling that length by the bytes in the file (hostile trial); a duration ffmpeg says it estimated from the
    bitrate is a guess from the size too. Such a note says whose number it is; a header's stays as it was."""
    import extract.ffmpeg
    from extract.ffmpeg import ffmpeg_exe

    from .conftest import piped_avi

    # (a piped AVI's frames are now counted at the probe: its duration theirs, nothing to note)
    piped = piped_avi(tmp_path / "piped.avi", 4.0)
    info = probe(piped)
    assert info.size_guess and info.counted == 100 and info.duration == 4.0 and info.avi_cut is None
    assert decode_frames(piped, 8, clips=1, short_side=64, info=info).notes == []
    # an ffmpeg that says it estimated the duration from the bitrate (its warning, at the default log level)
    counter = tmp_path / "counter.mkv"
    subprocess.run(ffmpeg_cmd(["-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=4",
                               "-c:v", "ffv1", str(counter)]), check=True)
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(f"#!/bin/sh\n'{ffmpeg_exe()}' \"$@\"\nrc=$?\n"
                       "echo '[in#0 @ 0x1] Estimating duration from bitrate, this may be inaccurate' >&2\nexit $rc\n")
    wrapper.chmod(0o755)
    monkeypatch.setattr(extract.ffmpeg, "ffmpeg_exe", lambda: str(wrapper))
    long = dataclasses.replace(probe(counter), duration=8.0)
    assert decode_frames(counter, 8, short_side=64, info=long).notes == [
        "video stream holds only 40 of the 80 frames ffmpeg guesses from the file's size: sampled over those"]


@pytest.mark.parametrize("container", ["avi", "mp4", "mkv", "mpjpeg", "mjpeg"])
def test_a_video_cut_short_through_a_jpeg_gives_the_same_frames_every_time(tmp_path, container):
    """An MJPEG AVI cut short through its last JPEG gave another last frame, and another caption, on every run:
    the decoder filled the picture's missing part from memory it never set (hostile trial). The packet read
    short is dropped, counted and decoded alike: the frames sampled are the whole ones the file holds, each the
    same picture as in the file before it was cut, every time. A raw MJPEG stream (JPEGs one after another: no
    size of each to find one read short) is told by its end: no JPEG's end marker."""
    from extract.video import count_frames

    # (an MP4 cut short needs its index first; a multipart JPEG stream has no extension of its own)
    extra = {"mp4": ["-movflags", "+faststart"], "mpjpeg": ["-f", "mpjpeg"]}.get(container, [])
    whole = make_video(tmp_path / f"whole.{container}", 2.0, size="320x240", vcodec="mjpeg", audio=None,
                       extra=extra)
    data = whole.read_bytes()
    for part in (3, 7):
        cut = tmp_path / f"cut{part}.{container}"
        cut.write_bytes(data[: len(data) * part // 10])
        held = count_frames(cut)[0] - (container == "mjpeg")  # (a raw stream's last packet: the cut JPEG)
        assert 0 < held < 50
        # every frame it holds sampled (the last, cut through or not, among them), at a size that showed it
        runs = [decode_frames(cut, held, short_side=240) for _ in range(3)]
        assert all(np.array_equal(r.frames, runs[0].frames) for r in runs[1:]), (container, part)
        before = decode_frames(whole, held, short_side=240,
                               info=dataclasses.replace(probe(whole), duration=held / 25))
        assert np.array_equal(runs[0].frames, before.frames), (container, part)
    if container == "mjpeg":  # (whole, its last frame is kept)
        assert probe(whole).est_frames == 50


@pytest.mark.parametrize("tail", [b"\n", b"\0" * 64, bytes(range(37))])
def test_a_whole_raw_mjpeg_with_bytes_after_its_last_jpeg_keeps_every_frame(tmp_path, tail):
    """A whole raw MJPEG stream with anything after its last JPEG (padding, a newline, garbage) was taken as cut
    through its last JPEG, whose end marker was not the file's last bytes: 60 frames became 59, and a one-frame
    stream was refused 'no decodable frames' (hostile trial). A stream is cut through a JPEG only when one begins
    after the last JPEG's end."""
    for frames in (50, 1):
        whole = make_video(tmp_path / f"w{frames}.mjpeg", frames / 25, size="64x48", vcodec="mjpeg", audio=None)
        padded = tmp_path / f"p{frames}.mjpeg"
        padded.write_bytes(whole.read_bytes() + tail)
        assert probe(padded).est_frames == probe(whole).est_frames == frames
        assert np.array_equal(decode_frames(padded, frames, short_side=48).frames,
                              decode_frames(whole, frames, short_side=48).frames)


def test_an_avi_piped_by_stream_copy_is_timed_by_its_packets(tmp_path):
    """An MJPEG stream copied into an AVI written to a pipe has its header's rate on the time base (600 fps), not
    the frames' (25): its 60 counted frames were timed at 600 fps, 0.1 s for 2.4 s (hostile trial), so every
    sampled time was 24x too small and serve's duration limit let a 40-minute video through as 100 s. Its
    duration and rate are the packets' own."""
    raw = make_video(tmp_path / "raw.mjpeg", 2.4, size="64x48", vcodec="mjpeg", audio=None)
    piped = tmp_path / "piped.avi"
    with open(raw, "rb") as src, open(piped, "wb") as out:
        subprocess.run(ffmpeg_cmd(["-loglevel", "error", "-f", "mjpeg", "-i", "-", "-c", "copy", "-f", "avi",
                                   "pipe:1"]), stdin=src, stdout=out, check=True)
    info = probe(piped)
    assert info.counted == 60 and info.fps == pytest.approx(25) and info.duration == pytest.approx(2.4, abs=0.05)


def test_an_avi_cut_short_before_its_first_frame_says_so(tmp_path):
    """An AVI cut short within its first 2,000 bytes (its header, no frame) was refused 'not a readable video
    (Error opening input files: Invalid data found when processing input)', though its header tells it was cut
    (hostile trial): it is said to be cut short, in the bytes held and the header's. One written to a pipe
    (its header's size never filled in) tells nothing: ffmpeg's reason stays."""
    from .conftest import piped_avi

    whole = make_video(tmp_path / "whole.avi", 4.0, vcodec="mpeg4", audio=None)
    data = whole.read_bytes()
    for held in (12, 100, 2000):
        cut = tmp_path / f"cut{held}.avi"
        cut.write_bytes(data[:held])
        with pytest.raises(MediaError) as e:
            probe(cut)
        assert str(e.value) == (f"{cut}: file cut short before its first frame ({held:,} of the {len(data):,} bytes "
                                "its AVI header gives)")
    piped = tmp_path / "piped100.avi"
    piped.write_bytes(piped_avi(tmp_path / "piped.avi").read_bytes()[:100])
    with pytest.raises(MediaError, match="not a readable video"):
        probe(piped)


@pytest.mark.parametrize("ext, muxer", [("mjpeg", "mjpeg"), ("mjpg", "mjpeg"), ("mjpeg", "mpjpeg")])
def test_a_raw_mjpeg_stream_cut_through_a_jpeg_is_noted_so(tmp_path, ext, muxer):
    """A raw MJPEG stream (ffmpeg's `-f mjpeg`, `.mjpeg`/`.mjpg`, or a multipart one) cut short through a JPEG
    was extracted without any note that it was cut short: its last, cut picture was only left out (hostile
    trial). It is noted so, with the whole frames sampled; the whole stream gets no such note."""
    whole = make_video(tmp_path / f"whole.{ext}", 2.0, size="64x48", vcodec="mjpeg", audio=None,
                       extra=["-f", muxer])
    assert not any("cut short" in n for n in decode_frames(whole, 8, short_side=48).notes)
    data = whole.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) * 7 // 10])
    fr = decode_frames(cut, 8, short_side=48)
    held = probe(cut).est_frames
    assert 0 < held < 50 and fr.notes[0] == (f"file cut short through its last JPEG (the file ends before that "
                                             f"picture does): left out, its {held} whole frames sampled"), fr.notes


@pytest.mark.parametrize("audio", [None, "sine=frequency=440"])
def test_an_avi_cut_short_after_its_last_frame_is_noted_so(tmp_path, audio):
    """An AVI cut short only in its index (idx1) or its last audio chunk got no note, its video stream holding
    every frame its header gives (hostile trial): the file is still cut short, its header's size tells it, and
    the note says so and that its frames are all there. The whole file gets no note."""
    import struct

    whole = make_video(tmp_path / "whole.avi", 4.0, vcodec="mpeg4", audio=audio, acodec="pcm_s16le")  # 100 frames
    assert decode_frames(whole, 8, clips=1, short_side=64).notes == []
    data = whole.read_bytes()
    index = data.rfind(b"idx1")
    cuts = [index + 2, index + 20]  # (in the index's header, in its entries)
    if audio:  # (in the last chunk of the movi list, an audio one)
        pos, last = data.find(b"movi") + 4, None
        while pos + 8 <= index:
            last, size = (data[pos:pos + 4], pos), struct.unpack_from("<I", data, pos + 4)[0]
            pos += 8 + size + (size & 1)
        assert last[0] == b"01wb"
        cuts.append(last[1] + 20)
    for held in cuts:
        cut = tmp_path / f"cut{held}.avi"
        cut.write_bytes(data[:held])
        assert decode_frames(cut, 8, clips=1, short_side=64).notes == [
            f"file cut short ({held:,} of the {len(data):,} bytes its AVI header gives): its video stream holds all "
            "of the header's 100 frames (what is lost comes after them: its last sound or its index)"], held


def test_an_avi_written_to_a_pipe_and_cut_short_is_noted_so(tmp_path):
    """An AVI written to a pipe (`ffmpeg ... -f avi pipe:1 > v.avi`, its header's sizes never filled in) and then
    cut short was extracted without any note, while an AVI written to a file and cut so is noted (hostile
    trial): with no size in its header, its last chunk running past the file's end tells it. The whole one gets
    no note."""
    from .conftest import piped_avi

    piped = piped_avi(tmp_path / "piped.avi", 4.0)
    assert decode_frames(piped, 8, clips=1, short_side=64).notes == []
    data = piped.read_bytes()
    for part in (3, 7, 9):
        cut = tmp_path / f"cut{part}.avi"
        cut.write_bytes(data[: len(data) * part // 10])
        info = probe(cut)
        fr = decode_frames(cut, 8, clips=1, short_side=64, info=info)
        assert 0 < info.counted < 100 and fr.notes[0] == (
            f"file cut short ({len(data) * part // 10:,} bytes, its last chunk needing {info.pipe_cut:,}: an AVI "
            f"written to a pipe, whose header gives no size): its video stream holds {info.counted} whole frames: "
            "sampled over those"), (part, fr.notes)
        assert info.pipe_cut > cut.stat().st_size


def test_a_damaged_stream_decodes_as_extract_decodes_it(tmp_path):
    """How ffmpeg's H.264 decoder repairs a damaged stream depends on its thread count: extract decodes on one
    thread, caption.py and serve on ffmpeg's default, and their features for one damaged file differed (trial 86).
    A stream ffmpeg reports errors in is decoded again on one thread; the frames then equal extract's."""
    base = make_video(tmp_path / "base.mp4", seconds=3.0, size="320x240", audio=None)
    data = bytearray(base.read_bytes())
    data[40000:60000] = bytes(20000)  # (a hole in the middle of the stream: its frames concealed or lost)
    holed = tmp_path / "holed.mp4"
    holed.write_bytes(bytes(data))
    alone, ahead = (decode_frames(holed, 8, 1, 112, None, background) for background in (False, True))
    assert alone.notes == ahead.notes and alone.notes, alone.notes
    np.testing.assert_array_equal(alone.frames, ahead.frames)
    np.testing.assert_array_equal(alone.clips, ahead.clips)


def test_an_avi_cut_within_its_first_frame_says_so(tmp_path):
    """An AVI cut past its header but inside its first frame's chunk opened, then failed as 'no decodable video
    frames (Nothing was written into output file ...)' (trial 103): it is said to be cut short, as one cut
    within its header is, its header completed or not (written to a pipe); one whose first frames are whole but
    fail to decode is not (trial 104)."""
    from .conftest import piped_avi

    def first_frame(data: bytes) -> tuple[int, int]:  # (where the first video chunk starts, and its size)
        pos = data.index(b"movi") + 4
        while data[pos + 2:pos + 4] not in (b"dc", b"db"):
            pos += 8 + int.from_bytes(data[pos + 4:pos + 8], "little")
        return pos, int.from_bytes(data[pos + 4:pos + 8], "little")

    whole = make_video(tmp_path / "whole.avi", 2.0, vcodec="mpeg4", audio=None)
    data = whole.read_bytes()
    at, size = first_frame(data)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:at + 8 + size // 2])
    with pytest.raises(MediaError) as e:
        decode_frames(cut, 8, short_side=48)
    assert str(e.value) == (f"{cut}: file cut short before its first frame ({cut.stat().st_size:,} of the "
                            f"{len(data):,} bytes its AVI header gives)")
    piped = piped_avi(tmp_path / "piped.avi").read_bytes()
    at, size = first_frame(piped)
    cut.write_bytes(piped[:at + 8 + size // 2])
    with pytest.raises(MediaError) as e:
        decode_frames(cut, 8, short_side=48)
    assert str(e.value) == (f"{cut}: file cut short before its first frame ({cut.stat().st_size:,} bytes; that "
                            f"frame ends at byte {at + 8 + size:,})")
    zeroed, pos = bytearray(data), data.index(b"movi") + 4  # (every frame's data zeroed, the file cut later)
    while pos + 8 <= len(data) and data[pos:pos + 4] != b"idx1":
        n = int.from_bytes(data[pos + 4:pos + 8], "little")
        zeroed[pos + 8:pos + 8 + n] = bytes(n)
        pos += 8 + n + (n & 1)
    cut.write_bytes(bytes(zeroed[:len(data) // 2]))
    with pytest.raises(MediaError, match="no decodable video frames"):
        decode_frames(cut, 8, short_side=48)
