"""Public dataset formats, both ways: what the importers read (`s2vt.datasets`) and what the
exporters write (`s2vt.export`) share their field names and tag kinds here."""
from __future__ import annotations

import re

# MSR-VTT's videodatainfo `category` is an index into this list
MSRVTT_CATEGORIES = ("music", "people", "gaming", "sports/actions", "news/events/politics", "education",
                     "tv shows", "movie/comedy", "animation", "vehicles/autos", "howto", "travel",
                     "science/technology", "animals/pets", "kids/family", "documentary", "food/drink",
                     "cooking", "beauty/fashion", "advertisement")

# how a LIC2022 label keeps its kind inside a manifest tag string
LEVEL1, LEVEL2, SEMANTIC = "level1:", "level2:", "tag:"


# what the importer says `lic2022_tags` leaves out of a record (`lic2022_left_out`)
LEVEL2_ALONE, EMPTY_TAG = "a level 2 without a level 1", "a topic tag with an empty '@value'"
CUT_TAG = "a topic tag whose text is cut inside a character (a lone surrogate)"
CUT_CATEGORY = "a category whose text is cut inside a character (a lone surrogate)"
# what the lenient LIC2022 reader puts for a lone surrogate (`jsonfile.replaced_surrogates`): Unicode's replacement
# character ('?' was one too, and told nothing apart; a record's own U+FFFD is told apart by its line's escapes)
REPLACEMENT = "\ufffd"
OTHER_CATEGORY = "a category whose type is not level1 or level2"
CATEGORY_TYPES = ("level1", "level2")


class CategoryError(ValueError):
    """A record whose categories contradict each other (two level 1s): no label can be chosen for it."""


def _categories(obj: dict, cut: bool = False) -> tuple[dict[str, str], list[str]]:
    """A LIC2022 record's categories by type (level1, level2), and those of no known type (as written). The type
    is read without case or surrounding spaces ("Level1" is level 1), a value without surrounding spaces ("  其他 "
    was a class of its own); an entry without a type or of another type was dropped unsaid, and a labelled video
    whose only label it was became a test video, exported in the submission (hostile trial 74). CategoryError for
    two different values of one type (one level 1 a video; the last had been kept unsaid). `cut`: the record's
    line held a lone surrogate (`REPLACEMENT` in a value stands for one): such a value is as none."""
    cats, other = {}, []
    for c in _listed(obj, "category"):
        meta = c.get("@meta") or {}
        kind = meta.get("type") if isinstance(meta, dict) else None
        kind = kind.strip().lower() if isinstance(kind, str) else kind
        value = c.get("@value", "")
        value = value.strip() if isinstance(value, str) else value
        if cut and isinstance(value, str) and REPLACEMENT in value:
            continue
        if kind not in CATEGORY_TYPES:
            if value:
                other.append(f"{value!r} of type {kind!r}" if kind is not None else f"{value!r} without a type")
            continue
        if value and cats.get(kind) and cats[kind] != value:
            raise CategoryError(f"two {kind} categories, {cats[kind]!r} and {value!r}: a video has one")
        cats[kind] = cats.get(kind) or value
    return cats, other


def lic2022_tags(obj: dict, cut: bool = False) -> list[str]:
    """Manifest tags of one LIC2022 record: level1:L1, level2:L1/L2 and tag:T. `cut`: its line held a lone
    surrogate, read as `REPLACEMENT`: a label holding one is left out (`lic2022_left_out` says it)."""
    cats, _ = _categories(obj, cut)
    tags = []
    if cats.get("level1"):
        tags.append(LEVEL1 + cats["level1"])
        if cats.get("level2"):
            tags.append(f"{LEVEL2}{cats['level1']}/{cats['level2']}")
    # (a tag cut inside a character is left out, as an empty one: kept, "美食\ufffd" was a label apart from "美食")
    tags += [SEMANTIC + v for t in _listed(obj, "tag") if (v := _value(t)) and not (cut and REPLACEMENT in v)]
    return list(dict.fromkeys(tags))  # (a topic tag written twice is one label)


def _listed(obj: dict, key: str) -> list:
    """A record's 'category' or 'tag' list; null as none, as a missing one (and as a null title is no title):
    `"tag": null` stopped the whole import (trial 95). Another type is left to fail as no list."""
    value = obj.get(key)
    return [] if value is None else value


def _value(tag: dict) -> str:
    value = tag.get("@value")
    return value.strip() if isinstance(value, str) else value


def lic2022_left_out(obj: dict, cut: bool = False) -> list[tuple[str, str]]:
    """What `lic2022_tags` leaves out of one record, as (kind, this record's instance), for the importer to say:
    a level 2 whose level 1 is missing (a manifest's level-2 tag names its level 1, `level2:L1/L2`), a category of
    no known type, topic tags with an empty '@value', and (`cut`) labels cut inside a character."""
    (cats, other), said = _categories(obj, cut), []
    if cut:
        said += [(CUT_CATEGORY, f"category {v!r}") for c in _listed(obj, "category")
                 if isinstance(v := c.get("@value"), str) and REPLACEMENT in v]
    if cats.get("level2") and not cats.get("level1"):
        said.append((LEVEL2_ALONE, f"level 2 {cats['level2']!r} without a level 1"))
    said += [(OTHER_CATEGORY, f"category {this}") for this in other]
    if any(not _value(t) for t in _listed(obj, "tag")):
        said.append((EMPTY_TAG, EMPTY_TAG))
    said += [(CUT_TAG, f"topic tag {v!r}") for t in _listed(obj, "tag")
             if cut and isinstance(v := _value(t), str) and REPLACEMENT in v]
    return said


def _ranked(tags: list[dict]) -> list[str]:
    return [t["tag"] for t in sorted(tags, key=lambda t: -float(t.get("p", 0)))]


def _best_level1(ranked: list[str]) -> str:
    """The best-scored level 1 of `ranked` tags with a name ('level1:' alone names none: it was written as an
    empty level 1 over the named one below it; trial 96), or ''."""
    return next((t[len(LEVEL1):] for t in ranked if t.startswith(LEVEL1) and t[len(LEVEL1):].strip()), "")


def stray_level2(tags: list[dict]) -> list[str]:
    """The level-2 tags (`level2:L1/L2`) that are not under the best-scored level 1: a level 2
    belongs to one level 1, so `lic2022_fields` drops these (as LIC2022 does an unknown level 2).
    A level 2 without a parent in its name, or with no level 1 at all, is not checked."""
    ranked = _ranked(tags)
    l1 = _best_level1(ranked)
    return [t for t in ranked if l1 and t.startswith(LEVEL2) and "/" in t
            and not t[len(LEVEL2):].startswith(l1 + "/")]


def lic2022_fields(tags: list[dict]) -> tuple[str, str, list[str]]:
    """(level1, level2, semantic tags) from predicted tags [{"tag", "p"}], best-scored first; the
    level 2 is the best-scored one under the level 1 (none when none is: `stray_level2`). Without a
    level-1 tag, the level 1 is the best level 2's own parent (`level2:L1/L2`): a level 2 never
    stands without its level 1 in a result line (one naming no parent, `level2:L2`, is then dropped)."""
    ranked, stray = _ranked(tags), set(stray_level2(tags))
    # (an empty name, `tag:`, names no tag: written as "@value": "" it was a tag of nothing; trial 95)
    semantic = [t[len(SEMANTIC):] for t in ranked if t.startswith(SEMANTIC) and t[len(SEMANTIC):].strip()]
    l1 = _best_level1(ranked)
    if not l1:  # (the level 1 and level 2 of the best level 2 that names its parent: a bare one scored higher was
        # put under that parent, which it may not belong to; review)
        # (both names there: `level2:A/` or `level2:/X` lost the named A/B below them; trial 97)
        pairs = (t[len(LEVEL2):].split("/", 1) for t in ranked if t.startswith(LEVEL2) and "/" in t)
        parented = next((pair for pair in pairs if pair[0].strip() and pair[1].strip()), None)
        return (*parented, semantic) if parented else ("", "", semantic)
    l2 = next((name for t in ranked if t.startswith(LEVEL2) and t not in stray
               and (name := t[len(LEVEL2):].removeprefix(l1 + "/")).strip()), "")
    return l1, l2, semantic


def lic2022_record(vid: str, tags: list[dict]) -> dict:
    """One line of a LIC2022 `result.txt` (the importer's record layout) from predicted tags."""
    l1, l2, semantic = lic2022_fields(tags)
    return {"@id": vid, "category": [{"@meta": {"type": "level1"}, "@value": l1},
                                     {"@meta": {"type": "level2"}, "@value": l2}],
            "tag": [{"@value": t} for t in semantic]}


def coco_results(preds: dict[str, dict]) -> list[dict]:
    """COCO caption results: [{"image_id", "caption"}]."""
    return [{"image_id": v, "caption": p["caption"]} for v, p in preds.items()]


def msrvtt_items(data) -> list | None:
    """The [{"video_id", "caption"}] inside an MSR-VTT results envelope (`msrvtt_results`), None for
    anything else: an {id: caption} object never has a list for a caption, so "version" beside a
    "result" list is the envelope."""
    if isinstance(data, dict) and "version" in data and isinstance(data.get("result"), list):
        return data["result"]
    return None


# MSR-VTT's video ids (videodatainfo's `video_id`: video0 ... video9999)
MSRVTT_ID = re.compile(r"video\d+")


def not_msrvtt(ids) -> list[str]:
    """The ids that are none of MSR-VTT's: another dataset's predictions, which its challenge scores as nothing."""
    return [v for v in ids if not MSRVTT_ID.fullmatch(v)]


def msrvtt_results(preds: dict[str, dict]) -> dict:
    """MSR-VTT challenge results (its `version`/`result`/`external_data` envelope)."""
    return {"version": "VERSION 1.0",
            "result": [{"video_id": v, "caption": p["caption"]} for v, p in preds.items()],
            "external_data": {"used": "false", "details": ""}}


# google/youtube-8m inference.py's predictions CSV (the Kaggle submission): its header, its default top_k
YT8M_HEADER = "VideoId,LabelConfidencePairs"
YT8M_TOP_K = 20


def yt8m_line(vid: str, scores: list[tuple[int, float]], top_k: int = YT8M_TOP_K) -> str:
    """One line of that CSV: `id,label conf label conf ...`, the `top_k` best classes by confidence, each
    written `%i %g` as its format_lines does; ties by class index (its argpartition leaves them in no set
    order), a class given twice counted once (its best)."""
    best: dict[int, float] = {}
    for index, p in sorted(scores, key=lambda s: (-s[1], s[0])):
        best.setdefault(index, p)
    return vid + "," + " ".join("%i %g" % (index, p) for index, p in list(best.items())[:top_k])
