"""The VGGish log-mel front end against a line-by-line transcription of the reference code."""
import numpy as np

import extract.audio
from extract.audio import audio_examples, hertz_to_mel, load_audio, log_mel_examples, pcm_examples, segment_to_float


def reference_examples(data: np.ndarray) -> np.ndarray:
    """A plain transcription of vggish_input.waveform_to_examples + mel_features (16 kHz input),
    written with explicit loops so it shares no code with the implementation under test."""
    win, hop, nfft = 400, 160, 512
    n_frames = 1 + int(np.floor((len(data) - win) / hop))
    window = 0.5 - (0.5 * np.cos(2 * np.pi / win * np.arange(win)))
    spec = np.stack([np.abs(np.fft.rfft(data[i * hop:i * hop + win] * window, nfft)) for i in range(n_frames)])
    nyquist = 16000 / 2.0
    bins_hz = np.linspace(0.0, nyquist, spec.shape[1])
    mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)  # noqa: E731
    bins_mel = mel(bins_hz)
    edges = np.linspace(mel(125.0), mel(7500.0), 64 + 2)
    weights = np.empty((spec.shape[1], 64))
    for i in range(64):
        lo, c, hi = edges[i:i + 3]
        lower = (bins_mel - lo) / (c - lo)
        upper = (hi - bins_mel) / (hi - c)
        weights[:, i] = np.maximum(0.0, np.minimum(lower, upper))
    weights[0, :] = 0.0
    log_mel = np.log(spec @ weights + 0.01)
    n_ex = 1 + int(np.floor((log_mel.shape[0] - 96) / 96))
    return np.stack([log_mel[i * 96:(i + 1) * 96] for i in range(n_ex)])


def test_matches_reference_on_tone_plus_noise():
    rng = np.random.default_rng(0)
    t = np.arange(int(16000 * 3.1)) / 16000
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))
    got = log_mel_examples(x, 16000)
    ref = reference_examples(x)
    assert got.shape == (3, 96, 64) and got.dtype == np.float32
    assert np.max(np.abs(got - ref)) < 1e-4


def test_pure_tone_peaks_in_its_band_and_silence_is_floor():
    t = np.arange(16000 * 2) / 16000
    tone = log_mel_examples(0.5 * np.sin(2 * np.pi * 1000 * t), 16000)
    edges = np.linspace(hertz_to_mel(125.0), hertz_to_mel(7500.0), 66)
    band = int(np.argmin(np.abs(edges[1:-1] - hertz_to_mel(1000.0))))  # band centred nearest 1 kHz
    assert np.all(tone.mean(axis=1).argmax(axis=1) == band)
    # a 1 kHz tone of amplitude A through a 400-sample periodic Hann (25 whole cycles):
    # |X(1 kHz)| = A * sum(window) / 2 = 0.5 * 200 / 2 = 50 -> log(mel) well above silence
    assert tone[0, 10, band] > np.log(50 * 0.5)
    silence = log_mel_examples(np.zeros(16000 * 2), 16000)
    assert np.allclose(silence, np.log(0.01))


def test_example_count_and_short_audio():
    assert log_mel_examples(np.zeros(16000), 16000).shape == (1, 96, 64)
    assert log_mel_examples(np.zeros(15000), 16000).shape == (0, 96, 64)  # < 0.96 s
    assert log_mel_examples(np.zeros(0), 16000).shape == (0, 96, 64)


def test_other_rates_are_resampled():
    t16 = np.arange(16000 * 2) / 16000
    t44 = np.arange(44100 * 2) / 44100
    a = log_mel_examples(0.5 * np.sin(2 * np.pi * 1000 * t16), 16000)
    b = log_mel_examples(0.5 * np.sin(2 * np.pi * 1000 * t44), 44100)
    stereo = log_mel_examples(np.stack([0.5 * np.sin(2 * np.pi * 1000 * t16)] * 2, axis=1), 16000)
    assert a.shape == b.shape
    assert np.median(np.abs(a - b)) < 0.05
    assert np.allclose(a, stereo)


def test_load_audio_codecs(videos):
    for name in ("mp4_aac", "webm_opus", "avi_mp3", "mkv_pcm"):
        seg = load_audio(videos[name])
        assert seg.frame_rate == 16000 and seg.channels == 1
        assert abs(len(seg) - 2000) < 80  # milliseconds
        x = segment_to_float(seg)
        assert 0.05 < np.abs(x).max() <= 1.0
    assert load_audio(videos["mov_silent"]) is None
    assert audio_examples(videos["mov_silent"]).shape == (0, 96, 64)
    assert audio_examples(videos["mp4_aac"]).shape == (2, 96, 64)
    # decoding stops at max_seconds (a header that understates the length cannot make it unbounded)
    assert abs(len(load_audio(videos["mp4_aac"], max_seconds=1.2)) - 1200) < 40
    assert audio_examples(videos["mp4_aac"], max_seconds=1.2).shape == (1, 96, 64)


def test_chunked_examples_are_the_whole_tracks(monkeypatch):
    """Long audio is computed a chunk of examples at a time (bounded memory): not one value changes,
    and 16-bit samples read in place give what their float copy gives."""
    rng = np.random.default_rng(1)
    pcm = rng.integers(-(1 << 15), 1 << 15, 16000 * 12 + 1234, dtype=np.int16)  # 12 examples and a remainder
    floats = pcm / 32768.0
    monkeypatch.setattr(extract.audio, "CHUNK_EXAMPLES", 1000)
    whole = log_mel_examples(floats, 16000)
    assert whole.shape == (12, 96, 64)
    for chunk in (1, 5, 12):
        monkeypatch.setattr(extract.audio, "CHUNK_EXAMPLES", chunk)
        assert np.array_equal(log_mel_examples(floats, 16000), whole)
        assert np.array_equal(pcm_examples(pcm), whole)
    assert np.max(np.abs(whole - reference_examples(floats))) < 1e-4


def test_real_audio_matches_reference(sample_data):
    seg = load_audio(sample_data / "clips" / "video9938.mp4")
    x = segment_to_float(seg)
    got = log_mel_examples(x, 16000)
    assert got.shape[0] == 15
    assert np.max(np.abs(got - reference_examples(x))) < 1e-4
