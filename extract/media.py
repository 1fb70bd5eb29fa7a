"""One video decoded for every modality: sampled frames, C3D clips and VGGish log-mel examples.

numpy only (no torch, no networks), so it runs while the backbones are still being built.
"""
from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .audio import audio_examples
from .ffmpeg import MediaError
from .modalities import REGISTRY, reads
from .video import decode_frames, probe


@dataclasses.dataclass
class Media:
    """What each backbone reads: frames [N, H, W, 3] and clips [K, 16, H, W, 3] uint8 RGB,
    log-mel examples [A, 96, 64] float32 (None for a modality not asked for); `times`: the
    sampled frames' times in seconds (None without a video modality)."""
    frames: np.ndarray | None = None
    clips: np.ndarray | None = None
    examples: np.ndarray | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    times: np.ndarray | None = None

    def of(self, modality: str) -> np.ndarray:
        """The decoded media a modality's backbone reads."""
        return getattr(self, REGISTRY[modality].reads)


class TooLong(MediaError):
    """A video longer than the caller accepts (`decode_media`'s `max_seconds`)."""


def decode_media(path: str | os.PathLike, modalities, frames: int, clips: int, short_side: int,
                 background: bool = False, max_seconds: float | None = None) -> Media:
    """Decode `path` once for the video modalities (one ffmpeg pass) and once for its audio (beside it).

    Raises MediaError for a file that cannot be decoded, unexpected decoder failures included.
    `background` (decoding ahead of the networks): ffmpeg single-threaded at low priority.
    `max_seconds`: TooLong for a video whose probed duration is longer, before anything is decoded
    (the audio's memory and time grow with its length; `s2vt serve`'s `--max-video-seconds`).
    """
    need = reads(modalities)
    try:
        info = probe(path)
        # (not a duration that is a guess, a raw MJPEG's at 25 fps: a 4 s 60 fps one "lasted" 9.6 s. Such a
        # stream holds no audio, whose decoding the limit bounds, and the upload's size bounds its frames. A
        # duration ffmpeg guessed from the file's size is its counted frames' by now; with none counted, a guess)
        guess = info.fps_assumed or (info.size_guess and not info.counted)
        if max_seconds is not None and info.duration > max_seconds and not guess:
            raise TooLong(f"{os.fspath(path)}: video lasts {info.duration:,.1f} s, over the limit of "
                          f"{max_seconds:,g} s")
        with ThreadPoolExecutor(1) as pool:
            audio = (pool.submit(audio_examples, path, has_audio=info.has_audio, background=background,
                                 max_seconds=max_seconds)
                     if "examples" in need else None)
            fr = (decode_frames(path, frames, clips if "clips" in need else 0, short_side, info, background)
                  if need & {"frames", "clips"} else None)
            examples = audio.result() if audio is not None else None
    except MediaError:
        raise
    except Exception as e:  # an unexpected decoder failure is this video's failure, not the job's
        raise MediaError(f"{os.fspath(path)}: {type(e).__name__}: {e}") from e
    media = Media(fr.frames if fr is not None and "frames" in need else None,
                  fr.clips if fr is not None and "clips" in need else None, examples,
                  list(fr.notes) if fr is not None else [], fr.times if fr is not None else None)
    if examples is not None:
        audio_names = "/".join(m for m in modalities if REGISTRY[m].reads == "examples")
        if not info.has_audio:
            media.notes.append(f"no audio track: {audio_names} has 0 rows")
        elif len(examples) == 0:
            media.notes.append(f"audio shorter than 0.96 s: {audio_names} has 0 rows")
    return media
