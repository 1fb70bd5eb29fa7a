"""YouTube-8M import: TFRecord framing and checksums, Example/SequenceExample decoding, the importer.

Shards are written here by an encoder of our own (protobuf wire format + TFRecord framing,
independent of s2vt.tfrecord), video-level and frame-level, packed and unpacked.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import google_crc32c
import numpy as np
import pytest

from s2vt.fileio import folds_case
from s2vt.manifest import read_manifest
from s2vt.store import CASE_TWIN as CASE, FeatureStore, StoreError
from s2vt.datasets import DatasetError
from s2vt.tfrecord import (CorruptRecord, TFRecordError, masked_crc32c, parse_example, parse_sequence_example,
                           read_records)
from s2vt.yt8m import import_yt8m, read_vocabulary

RNG = np.random.default_rng(0)


# --- a tiny TFRecord writer -------------------------------------------------------------------

def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 -> two's complement, 10 bytes
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


def ld(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def feature(value, packed: bool = True) -> bytes:
    """Feature: list of bytes -> bytes_list (1), float array -> float_list (2), ints -> int64_list (3)."""
    if isinstance(value, np.ndarray) and value.dtype == np.float32:
        if packed:
            return ld(2, ld(1, value.astype("<f4").tobytes()))
        return ld(2, b"".join(varint(1 << 3 | 5) + struct.pack("<f", v) for v in value))
    if value and isinstance(value[0], bytes):
        return ld(1, b"".join(ld(1, v) for v in value))
    if packed:
        return ld(3, ld(1, b"".join(varint(v) for v in value)))
    return ld(3, b"".join(varint(1 << 3 | 0) + varint(v) for v in value))


def features(d: dict, packed: bool = True) -> bytes:
    """Features: map<string, Feature> feature = 1 (entries: key 1, value 2)."""
    return b"".join(ld(1, ld(1, k.encode()) + ld(2, feature(v, packed))) for k, v in d.items())


def example(d: dict, packed: bool = True) -> bytes:
    return ld(1, features(d, packed))


def sequence_example(context: dict, lists: dict[str, list]) -> bytes:
    """context = 1; feature_lists = 2 (map<string, FeatureList>; FeatureList: repeated Feature = 1)."""
    fl = b"".join(ld(1, ld(1, k.encode()) + ld(2, b"".join(ld(1, feature(f)) for f in frames)))
                  for k, frames in lists.items())
    return ld(1, features(context)) + ld(2, fl)


def mask(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", mask(length)) + data + struct.pack("<I", mask(data))


def write_shard(path: Path, records: list[bytes]) -> Path:
    path.write_bytes(b"".join(record(r) for r in records))
    return path


def video(vid: str, labels: list[int] | None = (1, 2), packed: bool = True) -> tuple[bytes, dict]:
    """A video-level Example and its fields."""
    d = {"id": [vid.encode()], "mean_rgb": RNG.standard_normal(1024).astype(np.float32),
         "mean_audio": RNG.standard_normal(128).astype(np.float32)}
    if labels is not None:
        d["labels"] = list(labels)
    return example(d, packed), d


def frames(vid: str, t: int, labels=(3,)) -> tuple[bytes, dict]:
    """A frame-level SequenceExample of t seconds (uint8-quantised rgb and audio) and its frames."""
    q = {m: RNG.integers(0, 256, (t, dim), dtype=np.uint8) for m, dim in (("rgb", 1024), ("audio", 128))}
    data = sequence_example({"id": [vid.encode()], "labels": list(labels)},
                            {m: [[row.tobytes()] for row in x] for m, x in q.items()})
    return data, q


def shard_of(tmp_path: Path, name: str, n: int, start: int = 0) -> Path:
    return write_shard(tmp_path / name, [video(f"v{start + i}")[0] for i in range(n)])


# --- TFRecord and protobuf --------------------------------------------------------------------

def test_masked_crc_matches_a_real_tensorflow_header():
    # the first record header of the real validate0000.tfrecord: length 4695, masked crc 0x4f00338d
    assert masked_crc32c(struct.pack("<Q", 4695)) == 0x4F00338D


def test_packed_and_unpacked_fields_decode_alike():
    d = {"id": [b"abc"], "labels": [5, -1, 300], "mean_rgb": np.array([1.5, -2.25, 3.0], np.float32)}
    for packed in (True, False):
        ex = parse_example(example(d, packed))
        assert ex["id"] == [b"abc"]
        assert ex["labels"].tolist() == [5, -1, 300]
        assert ex["mean_rgb"].tolist() == [1.5, -2.25, 3.0]


def test_sequence_example_decodes_context_and_feature_lists():
    data, q = frames("s1", 3)
    context, lists = parse_sequence_example(data)
    assert context["id"] == [b"s1"] and context["labels"].tolist() == [3]
    assert [f[0] for f in lists["rgb"]] == [row.tobytes() for row in q["rgb"]]


# --- the importer -----------------------------------------------------------------------------

def test_video_level_round_trip(tmp_path):
    recs = [video("a1", [4, 7]), video("b2", [7], packed=False)]
    shard = write_shard(tmp_path / "train0000.tfrecord", [r for r, _ in recs])
    entries, report = import_yt8m([str(shard)], tmp_path / "m.jsonl")
    assert report == {"videos": 2, "skipped": {}, "failed_files": [], "empty_files": []}
    assert [(e["video_id"], e["split"], e["tags"]) for e in read_manifest(tmp_path / "m.jsonl")] == \
        [("a1", "train", ["label4", "label7"]), ("b2", "train", ["label7"])]
    store = FeatureStore(tmp_path / "features")
    for vid, (_, d) in zip(("a1", "b2"), recs):
        assert store.read("rgb", vid).shape == (1, 1024) and store.read("audio", vid).shape == (1, 128)
        np.testing.assert_allclose(store.read("rgb", vid)[0], d["mean_rgb"], rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(store.read("audio", vid)[0], d["mean_audio"], rtol=1e-3, atol=1e-3)
    assert store.meta()["dims"] == {"rgb": 1024, "audio": 128} and "video-level" in store.meta()["source"]


def test_frame_level_round_trip_dequantised(tmp_path):
    data, q = frames("f1", 4)
    shard = write_shard(tmp_path / "validate0000.tfrecord", [data])
    import_yt8m([str(shard)], tmp_path / "m.jsonl")
    assert [(e["video_id"], e["split"], e["tags"]) for e in read_manifest(tmp_path / "m.jsonl")] == \
        [("f1", "val", ["label3"])]
    store = FeatureStore(tmp_path / "features")
    for m, x in q.items():
        # the starter code's Dequantize(feat, max_quantized_value=2, min_quantized_value=-2)
        want = x.astype(np.float32) * (4 / 255.0) + (4 / 512.0 - 2)
        got = store.read(m, "f1")
        assert got.shape == x.shape
        np.testing.assert_allclose(got, want, atol=2e-3)  # float16 store
    edges = write_shard(tmp_path / "validate0001.tfrecord", [sequence_example(
        {"id": [b"f2"], "labels": [1]},
        {"rgb": [[bytes([0] * 1024)], [bytes([255] * 1024)]], "audio": [[bytes([128] * 128)]] * 2})])
    import_yt8m([str(edges)], tmp_path / "m2.jsonl")
    assert store.read("rgb", "f2")[:, 0].tolist() == [-1.9921875, 2.0078125]  # 0 and 255
    assert store.read("audio", "f2")[0, 0] == pytest.approx(128 * 4 / 255 + 4 / 512 - 2, abs=1e-3)
    # a record without a frame is skipped (stored as empty arrays, it was trained on unsaid; trial 84); rgb and
    # audio of other lengths are kept, each read at its own length, as the starter code's reader keeps them
    uneven = sequence_example({"id": [b"f4"], "labels": [1]}, {"rgb": [[bytes(1024)]] * 3, "audio": [[bytes(128)]]})
    empty = sequence_example({"id": [b"f3"], "labels": [1]}, {"rgb": [], "audio": []})
    entries, report = import_yt8m([str(write_shard(tmp_path / "validate0002.tfrecord", [empty, uneven]))],
                                  tmp_path / "m3.jsonl")
    assert [e["video_id"] for e in entries] == ["f4"] and report["skipped"] == {"no frames": 1}
    assert (store.read("rgb", "f4").shape, store.read("audio", "f4").shape) == ((3, 1024), (1, 128))


def test_corrupt_record_names_file_record_and_offset_and_the_rest_of_its_file_imports(tmp_path, capsys):
    bad = shard_of(tmp_path, "train0000.tfrecord", 3)
    raw = bytearray(bad.read_bytes())
    second = len(record(video("v0")[0]))  # every record here has the same size: the 2nd starts there
    raw[second + 20] ^= 0xFF  # a byte of the 2nd record's data: its length and length checksum intact
    bad.write_bytes(bytes(raw))
    good = shard_of(tmp_path, "train0001.tfrecord", 2, start=10)
    entries, report = import_yt8m([str(bad), str(good)], tmp_path / "m.jsonl")
    assert [e["video_id"] for e in entries] == ["v0", "v2", "v10", "v11"]
    assert report["failed_files"] == [] and report["skipped"] == {"corrupt record": 1}
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {bad}: 1 of 3 records skipped: corrupt record (bad data checksum: record 2 at byte {second})"]
    with pytest.raises(CorruptRecord, match=f"bad data checksum at byte {second}"):
        list(read_records(bad))  # strict by default
    got = list(read_records(bad, keep_going=True))
    assert [type(r) for r in got] == [bytes, CorruptRecord, bytes] and got[1].offset == second


def test_a_shard_of_corrupt_records_is_one_line_with_the_count_and_the_first_few(tmp_path, capsys):
    bad = shard_of(tmp_path, "train0000.tfrecord", 8)  # v0..v7: every record the same size
    raw = bytearray(bad.read_bytes())
    size = len(record(video("v0")[0]))
    for i in range(8):
        raw[i * size + 20] ^= 0xFF  # each record's data: lengths and their checksums intact
    bad.write_bytes(bytes(raw))
    good = shard_of(tmp_path, "train0001.tfrecord", 1, start=10)
    entries, report = import_yt8m([str(bad), str(good)], tmp_path / "m.jsonl")
    assert [e["video_id"] for e in entries] == ["v10"]
    assert report["failed_files"] == [] and report["skipped"] == {"corrupt record": 8}
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {bad}: 8 of 8 records skipped: corrupt record (bad data checksum: record 1 at byte 0, record 2 at "
        f"byte {size}, record 3 at byte {2 * size}, ...)"]


def test_broken_framing_skips_the_rest_of_the_file(tmp_path, capsys):
    bad = shard_of(tmp_path, "train0000.tfrecord", 3)
    raw = bytearray(bad.read_bytes())
    second = len(record(video("v0")[0]))
    raw[second] ^= 0xFF  # the 2nd record's length: where the 3rd starts is lost
    bad.write_bytes(bytes(raw))
    good = shard_of(tmp_path, "train0001.tfrecord", 2, start=10)
    entries, report = import_yt8m([str(bad), str(good)], tmp_path / "m.jsonl")
    assert [e["video_id"] for e in entries] == ["v0", "v10", "v11"]
    assert report["failed_files"] == [f"{bad}: corrupt record (bad length checksum at byte {second})"]
    assert f"{bad}: corrupt record (bad length checksum at byte {second}); the rest of this file is skipped " \
        "(1 record read)" in capsys.readouterr().err


def test_truncated_shard(tmp_path):
    shard = shard_of(tmp_path, "train0000.tfrecord", 3)
    size = len(record(video("v0")[0]))
    shard.write_bytes(shard.read_bytes()[:2 * size + 100])
    with pytest.raises(TFRecordError, match=f"truncated at byte {2 * size} "):
        list(read_records(shard))
    entries, report = import_yt8m([str(shard)], tmp_path / "m.jsonl")
    assert len(entries) == 2 and report["failed_files"][0].startswith(f"{shard}: truncated at byte {2 * size}")


def test_record_without_labels_skipped_in_train(tmp_path, capsys):
    shard = write_shard(tmp_path / "train0000.tfrecord", [video("a")[0], video("b", labels=None)[0]])
    entries, report = import_yt8m([str(shard)], tmp_path / "m.jsonl")
    assert [e["video_id"] for e in entries] == ["a"] and report["skipped"] == {"no labels": 1}
    assert f"{shard}: record 2: no labels; skipped" in capsys.readouterr().err


def test_record_without_labels_kept_in_test(tmp_path):
    shard = write_shard(tmp_path / "test0000.tfrecord", [video("b", labels=None)[0]])
    entries, _ = import_yt8m([str(shard)], tmp_path / "m.jsonl")
    assert entries == [{"video_id": "b", "split": "test", "captions": [], "tags": []}]


def test_label_outside_vocabulary_skipped(tmp_path, capsys):
    shard = write_shard(tmp_path / "validate0000.tfrecord",
                        [video("a", [3861])[0], video("b", [3862])[0], video("c", [-1])[0]])
    entries, report = import_yt8m([str(shard)], tmp_path / "m.jsonl")
    assert [e["tags"] for e in entries] == [["label3861"]]
    assert report["skipped"] == {"label outside the vocabulary": 2}
    # one line for the file, not one a record (a truncated vocabulary skipped hundreds)
    assert capsys.readouterr().err.strip().splitlines() == [
        f"warning: {shard}: 2 of 3 records skipped: label outside the vocabulary (labels 3862, -1); most of its "
        "records: is the vocabulary truncated, or another dataset's?"]


def test_non_tfrecord_file(tmp_path):
    text = tmp_path / "train_notes.tfrecord"
    text.write_text("this is not a TFRecord file\n" * 10)
    with pytest.raises(TFRecordError, match=r"not a TFRecord file \(bad length checksum at byte 0\)"):
        list(read_records(text))
    (tmp_path / "train_short.tfrecord").write_text("hello\n")  # shorter than one record header
    with pytest.raises(TFRecordError, match=r"not a TFRecord file \(record header cut short\)"):
        list(read_records(tmp_path / "train_short.tfrecord"))
    with pytest.raises(DatasetError, match="no video imported"):
        import_yt8m([str(text)], tmp_path / "m.jsonl")
    assert not (tmp_path / "m.jsonl").exists()
    entries, report = import_yt8m([str(text), str(shard_of(tmp_path, "train0000.tfrecord", 1))], tmp_path / "m.jsonl")
    assert len(entries) == 1 and len(report["failed_files"]) == 1


def test_record_that_is_not_an_example_skipped(tmp_path, capsys):
    shard = write_shard(tmp_path / "train0000.tfrecord", [b"\x0a\x05ab", video("ok")[0]])  # field of 5 bytes, 2 left
    entries, report = import_yt8m([str(shard)], tmp_path / "m.jsonl")
    assert [e["video_id"] for e in entries] == ["ok"] and report["skipped"] == {"not a tf.train.Example": 1}
    assert "record 1: not a tf.train.Example (field runs past the end of its message); skipped" \
        in capsys.readouterr().err


def test_invalid_id_skipped_never_a_path(tmp_path, capsys):
    shard = write_shard(tmp_path / "train0000.tfrecord", [video("../evil")[0], video("ok")[0]])
    entries, report = import_yt8m([str(shard)], tmp_path / "data" / "m.jsonl")
    assert f"{shard}: record 1: invalid id ('../evil'); skipped" in capsys.readouterr().err
    assert [e["video_id"] for e in entries] == ["ok"] and report["skipped"] == {"invalid id": 1}
    assert sorted(p.name for p in (tmp_path / "data").rglob("*.npy")) == ["ok.npy", "ok.npy"]
    assert not list(tmp_path.glob("*.npy"))
    # an id stored as numbers was said to be missing (trial 84)
    d = video("x")[1]
    shard = write_shard(tmp_path / "train0001.tfrecord", [example({**d, "id": [7]}), example({**d, "id": [b"a", b"b"]}),
                                                          video("ok2")[0]])
    entries, report = import_yt8m([str(shard)], tmp_path / "data" / "m2.jsonl")
    err = capsys.readouterr().err
    assert "record 1: id is not a bytes string (int64 values); skipped" in err
    assert report["skipped"] == {"id is not a bytes string": 1, "more than one id": 1}, report


def test_repeated_id_skipped(tmp_path):
    a, b = shard_of(tmp_path, "train0000.tfrecord", 2), shard_of(tmp_path, "train0001.tfrecord", 1, start=1)
    entries, report = import_yt8m([str(a), str(b)], tmp_path / "m.jsonl")
    assert [e["video_id"] for e in entries] == ["v0", "v1"] and report["skipped"] == {"repeated id": 1}


def test_a_second_import_into_one_store_keeps_the_features_it_holds(tmp_path, capsys):
    """Train and test shards imported into one store (the README's layout): a test shard repeating a train id with
    other features replaced the train video's features unsaid (trial 84). Kept and said; the same features (the
    same shard imported again) are no clash."""
    store = tmp_path / "store"
    train = shard_of(tmp_path, "train0000.tfrecord", 3)
    import_yt8m([str(train)], tmp_path / "train.jsonl", store)
    before = {p.name: p.read_bytes() for p in (store / "rgb").iterdir()}
    test = write_shard(tmp_path / "test0000.tfrecord", [video("v1")[0], video("t0", labels=None)[0]])
    entries, report = import_yt8m([str(test)], tmp_path / "test.jsonl", store)
    assert [e["video_id"] for e in entries] == ["t0"] and report["skipped"] == {"id the store holds with other "
                                                                                "features": 1}
    assert {p.name: p.read_bytes() for p in (store / "rgb").iterdir() if p.name != "t0.npy"} == before
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"warning: {store}: 1 record skipped: id the store holds with other features (an earlier import's, kept, "
        "not replaced: a YouTube-8M id is one video; first: v1)")
    entries, report = import_yt8m([str(train)], tmp_path / "again.jsonl", store)  # (a rerun: nothing to say)
    assert len(entries) == 3 and report["skipped"] == {}
    # frame-level records of the same ids: the store of the other level is refused as such (trial 85: said as ids
    # held with other features)
    frame_level = write_shard(tmp_path / "test0001.tfrecord", [frames("v0", 2)[0]])
    with pytest.raises(StoreError, match="video-level"):
        import_yt8m([str(frame_level)], tmp_path / "f.jsonl", store)


def test_an_import_into_another_datasets_store_is_warned_of(tmp_path, capsys):
    """A YouTube-8M import whose --features named an MLDS store (other modalities, other videos) added rgb and audio
    to it unsaid, and training on the MLDS manifest then asked for them (trial 88)."""
    store = FeatureStore(tmp_path / "store")
    store.write("cnn", "clip0", np.ones((2, 8), np.float32))
    assert store.unrelated(["clip0"], ["rgb"]) is None and store.unrelated(["v0"], ["cnn"]) is None
    import_yt8m([str(shard_of(tmp_path, "test0000.tfrecord", 2))], tmp_path / "t.jsonl", store.root)
    assert capsys.readouterr().err.splitlines()[0] == (
        f"warning: {store.root} holds cnn features of other videos, not this import's first video: rgb, audio are "
        "added beside them, and training on the store then reads every modality its meta.json lists (pass "
        "--modalities to choose): is it another dataset's store?")
    import_yt8m([str(shard_of(tmp_path, "test0001.tfrecord", 2, start=5))], tmp_path / "t2.jsonl", store.root)
    assert "another dataset" not in capsys.readouterr().err  # (more videos of the modalities it holds)


def test_copied_shard_repeats_counted_in_one_line_per_file(tmp_path, capsys):
    a = shard_of(tmp_path, "train0000.tfrecord", 5)
    (tmp_path / "copy").mkdir()
    copy = tmp_path / "copy" / "train0000.tfrecord"
    copy.write_bytes(a.read_bytes())
    entries, report = import_yt8m([str(a), str(copy)], tmp_path / "m.jsonl")
    assert len(entries) == 5 and report["skipped"] == {"repeated id": 5}
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {copy}: 5 of 5 records skipped: repeated id, already imported (first: v0, v1, v2, ...)"]


def test_vocabulary_empty_and_repeated_names(tmp_path):
    vocab = tmp_path / "vocabulary.csv"
    vocab.write_text("Index,TrainVideoCount,KnowledgeGraphId,Name,WikiUrl\n"
                     "0,10,/m/0,Game,u\n1,5,/m/1,,u\n2,5,/m/2,Dog,u\n3,5,/m/3,Dog,u\n4,5,/m/4, Nova,u\n")
    assert read_vocabulary(vocab) == {0: "Game", 1: "label1", 2: "label2", 3: "label3", 4: "Nova"}
    shard = write_shard(tmp_path / "train0000.tfrecord", [video("a", [0, 1, 3, 4])[0], video("b", [5])[0]])
    entries, report = import_yt8m([str(shard)], tmp_path / "m.jsonl", vocabulary=vocab)
    assert entries[0]["tags"] == ["Game", "label1", "label3", "Nova"]
    assert report["skipped"] == {"label outside the vocabulary": 1}  # 5 is not in this vocabulary
    # a row cut short (a file cut inside a row) and a negative Index are refused by line (trial 84: class 4 of a
    # row cut after three fields was tagged label4, unsaid)
    for text, said in (("4,286532,/m/09jwl\n", "line 2: 3 of the header's 5 fields, without its Name (a file cut "
                                              "short, or a row written by hand?)"),
                       ("-1,5,/m/0,Game,u\n", "line 2: Index must be 0 or more, not -1")):
        vocab.write_text("Index,TrainVideoCount,KnowledgeGraphId,Name,WikiUrl\n" + text)
        with pytest.raises(DatasetError) as e:
            read_vocabulary(vocab)
        assert str(e.value) == f"{vocab}: {said}"
    vocab.write_text("Index,TrainVideoCount,KnowledgeGraphId,Name,WikiUrl\n4,5,/m/4,Nova\n")  # (no WikiUrl: read)
    assert read_vocabulary(vocab) == {4: "Nova"}


def test_a_shard_or_binary_file_given_as_the_vocabulary_is_said_to_be_no_vocabulary_csv(tmp_path, capsys):
    """`s2vt train --vocabulary validate0000.tfrecord` said "cannot read ('utf-8' codec can't decode byte 0xd3 in
    position 13: invalid continuation byte)" (hostile trial). Now: not a vocabulary CSV, and what it is."""
    from s2vt.cli import main

    shard = shard_of(tmp_path, "train0000.tfrecord", 2)
    with pytest.raises(DatasetError) as e:
        read_vocabulary(shard)
    assert str(e.value) == (f"{shard}: not a vocabulary CSV: a TFRecord shard (shards go in --features); "
                            "--vocabulary takes YouTube-8M's vocabulary.csv (columns Index, Name)")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00\xd3\x01binary")
    with pytest.raises(DatasetError) as e:
        read_vocabulary(blob)
    assert str(e.value) == (f"{blob}: not a vocabulary CSV: a binary file; --vocabulary takes YouTube-8M's "
                            "vocabulary.csv (columns Index, Name)")
    code = main(["train", "--features", str(shard), "--vocabulary", str(shard), "--out", str(tmp_path / "run")])
    assert code == 2 and capsys.readouterr().err.strip().splitlines() == [
        f"error: {shard}: not a vocabulary CSV: a TFRecord shard (shards go in --features); --vocabulary takes "
        "YouTube-8M's vocabulary.csv (columns Index, Name)"]
    assert not (tmp_path / "run").exists()
    # import takes its shards as arguments, not in --features, which names the store it writes (trial 77)
    code = main(["import", "yt8m", str(shard), "--vocabulary", str(shard), "--out", str(tmp_path / "m.jsonl")])
    assert code == 2 and capsys.readouterr().err.strip().splitlines() == [
        f"error: {shard}: not a vocabulary CSV: a TFRecord shard (shards are the SHARD arguments); --vocabulary "
        "takes YouTube-8M's vocabulary.csv (columns Index, Name)"]
    # a file that is no shard, by a name that says no split, is said to be no shard, not told to pass --split
    (tmp_path / "vocabulary.csv").write_text("Index,Name\n0,Car\n")
    code = main(["import", "yt8m", str(tmp_path / "vocabulary.csv"), "--out", str(tmp_path / "m.jsonl")])
    assert code == 2 and capsys.readouterr().err.strip().splitlines() == [
        f"error: {tmp_path / 'vocabulary.csv'}: not a TFRecord file (a vocabulary CSV goes in --vocabulary)"]
    assert not (tmp_path / "m.jsonl").exists()
    # train.py the same for --val-features: one line (a warning that skipped it, then the error of a validation
    # with no shard to read, were two; new-user trial 94)
    code = main(["train", "--features", str(shard), "--val-features", str(tmp_path / "vocabulary.csv"), "--out",
                 str(tmp_path / "run")])
    assert code == 2 and capsys.readouterr().err.strip().splitlines() == [
        f"error: {tmp_path / 'vocabulary.csv'}: not a TFRecord file (a vocabulary CSV goes in --vocabulary)"]
    assert not (tmp_path / "run").exists()
    (tmp_path / "validate_notes.txt").write_text("notes\n")  # (named as a split's, but no .tfrecord: trial 96)
    code = main(["train", "--features", str(shard), "--val-features", str(tmp_path / "validate_notes.txt"), "--out",
                 str(tmp_path / "run")])
    assert code == 2 and capsys.readouterr().err.strip().splitlines() == [
        f"error: {tmp_path / 'validate_notes.txt'}: not a TFRecord file (YouTube-8M's shards are train*.tfrecord, "
        "validate*.tfrecord, test*.tfrecord)"]


def test_split_from_file_name_or_flag(tmp_path):
    odd = shard_of(tmp_path, "part-0.tfrecord", 1)
    with pytest.raises(DatasetError, match="pass --split"):
        import_yt8m([str(odd)], tmp_path / "m.jsonl")
    entries, _ = import_yt8m([str(odd)], tmp_path / "m.jsonl", split="val")
    assert entries[0]["split"] == "val"


def test_three_imports_share_one_store(tmp_path):
    store = tmp_path / "store"
    for i, (name, split) in enumerate((("train0000", "train"), ("validate0000", "val"), ("test0000", "test"))):
        shard = shard_of(tmp_path, f"{name}.tfrecord", 2, start=10 * i)
        import_yt8m([str(shard)], tmp_path / f"{split}.jsonl", features=store)
        assert {e["split"] for e in read_manifest(tmp_path / f"{split}.jsonl")} == {split}
    fs = FeatureStore(store)
    assert all(fs.done(v, ["rgb", "audio"]) for v in ("v0", "v1", "v10", "v11", "v20", "v21"))
    assert set(json.loads((store / "meta.json").read_text())["backbones"]) == {"rgb", "audio"}


def test_frame_level_into_video_level_store_refused(tmp_path):
    import_yt8m([str(shard_of(tmp_path, "train0000.tfrecord", 1))], tmp_path / "a.jsonl", features=tmp_path / "s")
    shard = write_shard(tmp_path / "train0001.tfrecord", [frames("f1", 2)[0]])
    with pytest.raises(StoreError, match="rgb features come from youtube-8m:video-level"):
        import_yt8m([str(shard)], tmp_path / "b.jsonl", features=tmp_path / "s")
    assert not (tmp_path / "s" / "rgb" / "f1.npy").exists()


def test_real_shards(sample_data, tmp_path):
    folder = sample_data / "yt8m"
    if not (folder / "vocabulary.csv").is_file():
        pytest.skip(f"no YouTube-8M shards in {folder}")
    shards = sorted(str(p) for p in folder.glob("validate*.tfrecord"))
    entries, report = import_yt8m(shards, tmp_path / "val.jsonl", vocabulary=folder / "vocabulary.csv")
    assert report == {"videos": 2950, "skipped": {}, "failed_files": [], "empty_files": []}
    assert len(read_manifest(tmp_path / "val.jsonl")) == 2950
    assert 2.5 < np.mean([len(e["tags"]) for e in entries]) < 3.5
    store = FeatureStore(tmp_path / "features")
    for e in entries[::100]:
        x = store.read("rgb", e["video_id"])
        assert x.shape == (1, 1024) and np.isfinite(x).all() and np.isfinite(store.read("audio", e["video_id"])).all()


def test_import_takes_a_folder_of_shards_as_train_py_does(tmp_path, capsys):
    """A folder was "cannot tell the split from the file name", then with --split "cannot read (Is a
    directory)"; train.py --features takes the same folder."""
    from s2vt import cli

    d = tmp_path / "shards"
    d.mkdir()
    shard_of(d, "validate0001.tfrecord", 3, start=2)
    shard_of(d, "validate0000.tfrecord", 2)
    (d / ".validate0002.tfrecord").write_bytes(b"an editor's temporary file")
    (d / "notes.txt").write_text("not a shard\n")
    assert cli.main(["import", "yt8m", str(d), "--out", str(tmp_path / "m.jsonl")]) == 0
    assert [(e["video_id"], e["split"]) for e in read_manifest(tmp_path / "m.jsonl")] == [
        (f"v{i}", "val") for i in range(5)]  # (the shards in name order)
    capsys.readouterr()
    (tmp_path / "empty").mkdir()
    for files, message in (([tmp_path / "empty"], f"{tmp_path / 'empty'}: a folder without TFRecord shards (*.tfrecord)"),
                           ([d, d / "validate0001.tfrecord"], f"{d / 'validate0001.tfrecord'}: given twice")):
        assert cli.main(["import", "yt8m", *map(str, files), "--out", str(tmp_path / "x.jsonl")]) == 2
        assert capsys.readouterr().err == f"error: {message}\n"
    # a hand-written manifest in the way: the refusal names only options import yt8m has
    (tmp_path / "hand.jsonl").write_text(json.dumps({"video_id": "v0", "path": "v0.mp4", "split": "train",
                                                     "captions": ["a cat sits"]}) + "\n")
    assert cli.main(["import", "yt8m", str(d), "--out", str(tmp_path / "hand.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "pass --force to replace it, or another --out" in err and "--videos" not in err, err


def test_an_out_name_too_long_for_the_temp_file_is_written_or_refused_before_the_store(tmp_path, capsys):
    """--out of 247 bytes: the store was written (every video), then "error: cannot write ...: File name too
    long": the hidden temp name '.NAME.tmp-PID' passed the file system's 255 (hostile trial). A temp name now
    always fits (cut, with a hash of the name); a name whose lock cannot fit is refused before the store."""
    import os

    from s2vt import cli
    from s2vt.fileio import atomic_write_bytes

    shard = shard_of(tmp_path, "train0000.tfrecord", 3)
    for size in (247, 249):
        out = tmp_path / ("m" * (size - len(".jsonl")) + ".jsonl")
        assert cli.main(["import", "yt8m", str(shard), "--features", str(tmp_path / f"s{size}"), "--out",
                         str(out)]) == 0, capsys.readouterr().err
        assert len(read_manifest(out)) == 3
    out = tmp_path / ("m" * 244 + ".jsonl")  # (250 bytes: '.NAME.lock' is 256)
    capsys.readouterr()
    assert cli.main(["import", "yt8m", str(shard), "--features", str(tmp_path / "s250"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: cannot write the lock file {tmp_path}/.{out.name}.lock: "
                                                   "File name too long"), err
    assert not (tmp_path / "s250").exists() and not out.exists()
    for name in ("é" * 127, "x" * 255):  # (a name of 254 and 255 bytes; the cut never splits a character's bytes)
        atomic_write_bytes(tmp_path / name, b"data")
        assert (tmp_path / name).read_bytes() == b"data"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert os.path.exists(tmp_path / ("x" * 255))


def test_a_gzipped_shard_or_the_vocabulary_among_shards_is_said_so(tmp_path, capsys):
    """A gzip-compressed shard in a folder was skipped unsaid, and given by name with --split it was "bad length
    checksum at byte 0", as the vocabulary given as a shard was (trial 80): each is said for what it is."""
    import gzip

    from s2vt.cli import main

    folder = tmp_path / "yt"
    folder.mkdir()
    shard = shard_of(folder, "validate0000.tfrecord", 2)
    packed = folder / "validate0001.tfrecord.gz"
    packed.write_bytes(gzip.compress(shard.read_bytes()))
    assert main(["import", "yt8m", str(folder), "--out", str(tmp_path / "a" / "m.jsonl")]) == 0
    err = capsys.readouterr().err
    assert (f"warning: {folder}: left out 1 gzip-compressed shard (first: validate0001.tfrecord.gz): decompress them "
            "first (gunzip)") in err, err
    vocab = tmp_path / "vocabulary.csv"
    vocab.write_text("Index,Name\n0,Car\n")
    assert main(["import", "yt8m", str(shard), str(packed), str(vocab), "--split", "train",
                 "--out", str(tmp_path / "b" / "m.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "(bad length checksum at byte 0); gzip-compressed: decompress it first (gunzip)" in err, err
    assert "(bad length checksum at byte 0); a vocabulary CSV goes in --vocabulary" in err, err


def test_the_shards_import_advice_names_a_vocabulary_only_for_a_model_that_has_one():
    """(trial 108) a model trained without --vocabulary whose videos never had class 0 (its first tag label1) was
    told to import the shards with --vocabulary, which evaluate then refused as tags of another naming."""
    from s2vt.predict import vocabulary_option

    assert vocabulary_option({"labels": ["label1", "label7"]}, None) == ""
    assert vocabulary_option({"labels": []}, None) == ""
    assert vocabulary_option({"labels": ["Car", "label3"]}, None) == " --vocabulary VOCABULARY.csv"


def test_folds_case_is_found_without_writing(tmp_path):
    """macOS's and Windows' default file systems fold case: there tHaa.npy and THaa.npy (268 of the 2,950 shared
    YouTube-8M ids are a twin of an earlier one) are one file. The probe looks a name up in the other case: one entry
    (a hard link stands in for the folding here) folds; a link to another entry (`DATA -> data`) does not."""
    store = tmp_path / "data" / "123"  # (no letters: its parents' names are read, not followed)
    store.mkdir(parents=True)
    (tmp_path / "DATA").symlink_to("data")
    assert not folds_case(store) and not folds_case(tmp_path / "data" / "new") and not folds_case(tmp_path / "x" / "y")
    (store / "meta.json").write_text("{}")
    assert not folds_case(store)
    os.link(store / "meta.json", store / "META.JSON")  # (one entry by both names: as a folding file system has it)
    assert folds_case(store) and not folds_case(tmp_path / "link")
    (tmp_path / "link").symlink_to(store)  # (a link to the store: the store's own file system is read)
    assert folds_case(tmp_path / "link")
    (store / "META.JSON").unlink()
    (store / "META.JSON").write_text("{}")  # (another file by that name: this file system tells case apart)
    assert not folds_case(store)


def test_ids_differing_only_in_case_on_a_store_that_folds_case(tmp_path, capsys, monkeypatch):
    """On a file system that folds case the second of two ids differing only in case (tHaa, THaa) wrote over the
    first's features, or read them as its own, unsaid: an import skips it, counted and said; the store never writes
    or reads one video's file as the other's, and training says why a video lacks features."""
    monkeypatch.setattr(FeatureStore, "folds_case", lambda self: True)  # (Linux's file systems tell case apart)
    shard = write_shard(tmp_path / "train0000.tfrecord", [video(v)[0] for v in ("tHaa", "x1", "THaa")])
    entries, report = import_yt8m([str(shard)], tmp_path / "m.jsonl")
    assert [e["video_id"] for e in entries] == ["tHaa", "x1"] and report["skipped"] == {CASE: 1}
    err = capsys.readouterr().err.splitlines()
    assert f"warning: {tmp_path / 'features'}: 1 record skipped: {CASE} (first: THaa, beside tHaa): put the store on " \
        "a case-sensitive volume" in err[-1] and "train from the shards themselves" in err[-1]
    store = FeatureStore(tmp_path / "features")
    assert sorted(p.name for p in (store.root / "rgb").iterdir()) == ["tHaa.npy", "x1.npy"]
    for act in (lambda: store.write("rgb", "THaa", np.zeros((1, 1024))), lambda: store.read("rgb", "THaa")):
        with pytest.raises(StoreError, match="rgb/THaa.npy: is video tHaa's file, whose id differs only in case"):
            act()
    assert store.has("rgb", "tHaa") and store.read("rgb", "tHaa").shape == (1, 1024)
    # the video whose file is there keeps it, whichever comes first; a later id in another case is the twin
    assert store.twins_among(["THaa", "tHaa", "x1", "X1", "new", "NEW"], ["rgb"]) == {"THaa": "tHaa", "X1": "x1",
                                                                                      "NEW": "new"}
    # a manifest naming both (a store copied from a file system that tells case apart): training says why
    from s2vt.data import DataError, check_features
    both = [{"video_id": v, "split": "train", "captions": [], "tags": ["a"]} for v in ("tHaa", "THaa", "x1")]
    with pytest.raises(DataError, match=r"\(first: THaa\) \(1 of them differs only in case from another video's id "
                                        r"\(first: THaa and tHaa\), and .* folds case"):
        check_features(both, store, ["rgb"], skip_missing=False)
    with pytest.warns(UserWarning, match=r"first: THaa\) \(1 of them differs only in case .*: kept"):
        check_features(both, store, ["rgb"], skip_missing=False, learn_missing=True)
