"""Procedural media for int8 calibration: a video and an audio track, deterministic, no data needed."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def synthetic_video(frames: int = 64, height: int = 256, width: int = 456, seed: int = 0) -> np.ndarray:
    """uint8 [T, H, W, 3]: four 16-frame scenes of drifting colour fields, moving shapes, texture, noise."""
    rng = np.random.default_rng(seed)
    g = torch.Generator().manual_seed(seed)
    out = np.empty((frames, height, width, 3), np.uint8)
    for start in range(0, frames, 16):
        n = min(16, frames - start)
        grid = int(rng.integers(2, 9))
        coarse = torch.rand(1, 3, grid, grid * 2, generator=g) * 255
        field = F.interpolate(coarse, size=(height, width * 2), mode="bicubic", align_corners=False)[0]
        shapes = [(rng.integers(0, height), rng.integers(0, width), rng.integers(8, height // 2),
                   rng.integers(-12, 13), rng.uniform(0, 255, 3)) for _ in range(rng.integers(2, 7))]
        noise = float(rng.choice([2.0, 8.0, 24.0]))
        texture = torch.rand(1, 1, height // 4, width // 4, generator=g) * 80 - 40
        texture = F.interpolate(texture, size=(height, width), mode="nearest")[0]
        for t in range(n):
            shift = (t * 6) % width  # the camera pans
            img = field[:, :, shift:shift + width].clone() + texture * (start // 16 % 2)
            for top, left, size, speed, colour in shapes:
                y, x = int(top), int(left + speed * t) % width
                img[:, y:y + size, x:x + size] = torch.tensor(colour, dtype=torch.float32)[:, None, None]
            img += torch.randn(img.shape, generator=g) * noise
            out[start + t] = img.clamp(0, 255).round().byte().permute(1, 2, 0).numpy()
    return out


def synthetic_audio(seconds: float = 32.0, sample_rate: int = 16000, seed: int = 0) -> np.ndarray:
    """float64 samples in [-1, 1]: 2-s scenes cycling through voiced harmonics, chords, sweeps,
    noise bursts, clicks and near-silence, each at its own loudness over a faint noise floor."""
    rng = np.random.default_rng(seed)
    n = int(2.0 * sample_rate)
    t = np.arange(n) / sample_rate
    scenes = []
    for i in range(int(np.ceil(seconds / 2.0))):
        kind = i % 6
        if kind == 0:  # voiced: a gliding pitch with decaying harmonics and a syllable-rate envelope
            f0 = rng.uniform(90, 300) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(2, 6) * t))
            phase = 2 * np.pi * np.cumsum(f0) / sample_rate
            x = sum(np.sin(k * phase) / k for k in range(1, 12))
            x *= 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(3, 5) * t) ** 2
        elif kind == 1:  # a chord
            x = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(200, 2000, 3))
        elif kind == 2:  # a sweep
            x = np.sin(2 * np.pi * np.cumsum(np.geomspace(80, 7000, n)) / sample_rate)
        elif kind == 3:  # noise bursts, white and smoothed
            x = rng.standard_normal(n)
            if i % 12 == 9:
                x = np.convolve(x, np.ones(32) / 32, mode="same")
            x *= np.repeat(rng.uniform(0, 1, 8) > 0.4, n // 8 + 1)[:n]
        elif kind == 4:  # clicks: decaying noise impulses
            x = np.zeros(n)
            for start in rng.integers(0, n - 800, 12):
                x[start:start + 800] += rng.standard_normal(800) * np.exp(-np.arange(800) / 120)
        else:  # near-silence
            x = np.zeros(n)
        x = x / (np.abs(x).max() + 1e-9) * 10 ** rng.uniform(-2, -0.1)
        scenes.append(x + rng.standard_normal(n) * 10 ** rng.uniform(-4, -2.5))
    return np.clip(np.concatenate(scenes)[:int(seconds * sample_rate)], -1, 1)
