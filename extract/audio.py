"""Audio: pydub holds the 16 kHz mono track; the VGGish log-mel front end, exactly as the spec.

The front end follows the reference `vggish_input.waveform_to_examples` /
`mel_features.py`: 25 ms periodic-Hann frames (400 samples) every 10 ms (160), |rFFT| of
size 512, 64 HTK-mel bands over 125-7500 Hz, log(mel + 0.01), and non-overlapping
examples of 96 frames.
"""
from __future__ import annotations

import os

import numpy as np

from .ffmpeg import MediaError, ffmpeg_exe, ffmpeg_path, last_error_line, run_ffmpeg

SAMPLE_RATE = 16000
WINDOW = 400
HOP = 160
FFT = 512
MEL_BANDS = 64
MEL_LOW, MEL_HIGH = 125.0, 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96
EXAMPLE_SECONDS = EXAMPLE_FRAMES * HOP / SAMPLE_RATE  # 0.96


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, has_audio: bool | None = None,
               background: bool = False, max_seconds: float | None = None):
    """The audio track as a pydub AudioSegment (mono, `sample_rate` Hz, 16-bit), or None without audio.

    ffmpeg (the same binary the video path uses) decodes and resamples through a pipe;
    pydub's own `from_file` would need ffprobe, which the bundled ffmpeg lacks.
    Returns None when the file has no audio stream (`has_audio` skips the probe when known).
    `background`: see `extract.ffmpeg.start_ffmpeg`. `max_seconds`: decode no more than this
    (a container whose header understates its length cannot make the track unbounded).
    """
    if has_audio is None:
        from .video import probe
        has_audio = probe(path).has_audio
    if not has_audio:
        return None
    AudioSegment = pydub_segment_class()
    proc = run_ffmpeg(["-loglevel", "error", "-i", ffmpeg_path(path), "-map", "0:a:0?", "-vn", "-sn",
                       "-ac", "1", "-ar", str(sample_rate),
                       *(["-t", f"{max_seconds:.6f}"] if max_seconds is not None else []), "-f", "s16le", "pipe:1"], timeout=3600,
                      background=background)
    if proc.returncode != 0:
        raise MediaError(f"{os.fspath(path)}: cannot decode audio ({last_error_line(proc.stderr)})")
    if not proc.stdout:
        return None
    data = proc.stdout[: len(proc.stdout) // 2 * 2]
    return AudioSegment(data=data, sample_width=2, frame_rate=sample_rate, channels=1)


def pydub_segment_class():
    """pydub's AudioSegment, pointed at our ffmpeg (its import-time PATH lookup warns otherwise)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        from pydub import AudioSegment
    AudioSegment.converter = ffmpeg_exe()
    return AudioSegment


def segment_to_float(segment) -> np.ndarray:
    """pydub AudioSegment (mono) -> float64 samples in [-1, 1], as the reference reads wav files."""
    samples = np.array(segment.get_array_of_samples(), dtype=np.float64)
    return samples / float(1 << (8 * segment.sample_width - 1))


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling by FFT (zero-padding / truncating the spectrum)."""
    if rate_in == rate_out or len(samples) == 0:
        return samples
    n_out = int(round(len(samples) * rate_out / rate_in))
    spec = np.fft.rfft(samples)
    keep = min(len(spec), n_out // 2 + 1)
    out_spec = np.zeros(n_out // 2 + 1, dtype=complex)
    out_spec[:keep] = spec[:keep]
    return np.fft.irfft(out_spec, n_out) * (n_out / len(samples))


def hertz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale."""
    return 1127.0 * np.log(1.0 + np.asarray(hz) / 700.0)


def mel_matrix(num_bands: int = MEL_BANDS, num_bins: int = FFT // 2 + 1,
               sample_rate: int = SAMPLE_RATE, low: float = MEL_LOW, high: float = MEL_HIGH) -> np.ndarray:
    """[num_bins, num_bands] triangular HTK-mel weights (the reference's spectrogram_to_mel_matrix)."""
    bins_mel = hertz_to_mel(np.linspace(0.0, sample_rate / 2.0, num_bins))
    edges = np.linspace(hertz_to_mel(low), hertz_to_mel(high), num_bands + 2)
    lower = (bins_mel[:, None] - edges[None, :-2]) / (edges[1:-1] - edges[:-2])[None, :]
    upper = (edges[None, 2:] - bins_mel[:, None]) / (edges[2:] - edges[1:-1])[None, :]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights[0, :] = 0.0  # the DC bin never contributes, as in the reference
    return weights


def _frame(data: np.ndarray, length: int, hop: int) -> np.ndarray:
    count = 1 + (data.shape[0] - length) // hop
    if count <= 0:
        return np.zeros((0, length) + data.shape[1:], data.dtype)
    shape = (count, length) + data.shape[1:]
    strides = (data.strides[0] * hop,) + data.strides
    return np.lib.stride_tricks.as_strided(data, shape=shape, strides=strides)


# Examples computed per chunk: the float64 frames and their spectrum (~2 KB and ~4 KB a frame,
# 96 frames an example) then take a fixed ~40 MB however long the audio is, instead of ~3 GB
# an hour of audio at once (docs/benchmarks.md, "Audio memory"). Each frame's spectrum and
# mel row are computed alone, so the chunking does not change a single value.
CHUNK_EXAMPLES = 64


def log_mel_examples(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """VGGish input examples [A, 96, 64] float32 from float samples in [-1, 1].

    Multi-channel input ([N, C]) is averaged to mono; other rates are resampled to 16 kHz.
    Audio shorter than one example (0.96 s) gives A = 0.
    """
    data = np.asarray(samples)
    if data.ndim > 1:
        data = data.astype(np.float64).mean(axis=1)
    if int(sample_rate) != SAMPLE_RATE:
        data = resample(data.astype(np.float64), int(sample_rate), SAMPLE_RATE)
    return _examples(data, 1.0)


def pcm_examples(pcm: np.ndarray) -> np.ndarray:
    """`log_mel_examples` of 16 kHz mono 16-bit samples, read in place (no float copy of the track)."""
    return _examples(pcm, float(1 << 15))


def _examples(data: np.ndarray, scale: float) -> np.ndarray:
    """Examples of 16 kHz mono samples `data` / `scale` (as float64, like the reference), chunk by chunk."""
    frames = 1 + (len(data) - WINDOW) // HOP if len(data) >= WINDOW else 0
    out = np.empty((frames // EXAMPLE_FRAMES, EXAMPLE_FRAMES, MEL_BANDS), np.float32)
    window = 0.5 - 0.5 * np.cos(2 * np.pi / WINDOW * np.arange(WINDOW))  # periodic Hann
    mel = mel_matrix()
    span = EXAMPLE_FRAMES * HOP  # samples between the starts of consecutive examples
    for start in range(0, len(out), CHUNK_EXAMPLES):
        stop = min(len(out), start + CHUNK_EXAMPLES)
        chunk = np.asarray(data[start * span:(stop - 1) * span + (EXAMPLE_FRAMES - 1) * HOP + WINDOW],
                           dtype=np.float64)
        if scale != 1.0:
            chunk = chunk / scale  # a power of two: exact, as the reference's division
        spectrum = np.abs(np.fft.rfft(_frame(chunk, WINDOW, HOP) * window, FFT))
        out[start:stop] = np.log(spectrum @ mel + LOG_OFFSET).reshape(stop - start, EXAMPLE_FRAMES, MEL_BANDS)
    return out


def audio_examples(path: str | os.PathLike, has_audio: bool | None = None, background: bool = False,
                   max_seconds: float | None = None) -> np.ndarray:
    """[A, 96, 64] VGGish examples of a file's audio track ([0, 96, 64] without audio), of at most
    its first `max_seconds`."""
    segment = load_audio(path, has_audio=has_audio, background=background, max_seconds=max_seconds)
    if segment is None:
        return np.zeros((0, EXAMPLE_FRAMES, MEL_BANDS), np.float32)
    return pcm_examples(np.frombuffer(segment.raw_data, dtype="<i2"))
