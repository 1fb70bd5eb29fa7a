import re
from pathlib import Path

from setuptools import find_packages, setup

# the version `s2vt --version` says, declared once in s2vt/__init__.py: read, not imported (that would need
# the package's dependencies before they are installed)
VERSION = re.search(r'^__version__ = "([^"]+)"$', Path(__file__).with_name("s2vt").joinpath("__init__.py")
                    .read_text(encoding="utf-8"), re.M).group(1)

# `s2vt serve`: a maintained ASGI stack (python-multipart parses the uploads)
SERVE = ["fastapi>=0.110", "uvicorn>=0.29", "python-multipart>=0.0.9"]

setup(
    name="s2vt",
    version=VERSION,
    description="Watch a video, say what is in it: S2VT captions and category tags from ResNet-152, C3D and VGGish features",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    license_files=["LICENSE"],  # (in the sdist and the wheel's metadata: MIT asks the text travel along)
    python_requires=">=3.10",
    packages=find_packages(include=["s2vt", "s2vt.*", "extract", "extract.*"]),
    package_data={"s2vt": ["static/*.html"]},
    # (no py_modules: train.py and caption.py are the checkout's scripts; installed as top-level `train` and
    # `caption` they would shadow, or be shadowed by, a user's own; the console scripts need neither)
    install_requires=[
        "torch>=2.4",
        "torchvision>=0.19",
        "numpy",
        "pydub",
        "audioop-lts; python_version>='3.13'",  # pydub needs audioop, removed from 3.13
        "imageio-ffmpeg",
        "pycocoevalcap",
        "tqdm",
        "matplotlib",
        "google-crc32c>=1.5",  # TFRecord checksums (YouTube-8M import)
        "jieba",  # Chinese word segmentation, dictionary included (--text-tokenizer word)
    ],
    extras_require={
        # httpx: the serve tests' ASGI client; playwright drives the system chromium (the page test); pytest-xdist
        # runs the suite in two processes (pytest.ini)
        "test": ["pytest>=7", "pytest-xdist>=3", "httpx", "playwright", *SERVE],
        "serve": SERVE,
        # bench/text_baseline.py's TF-IDF + linear classifier baselines (README "Text")
        "bench": ["scikit-learn"],
    },
    entry_points={"console_scripts": ["s2vt=s2vt.__main__:main", "s2vt-extract=extract.__main__:main"]},
)
