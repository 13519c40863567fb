"""LLMLingua-2 labels from a teacher's compression: the alignment, its statistics, the filters."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lingua_core.train.distill import align, keep_mask, label_file, read_pairs

WORDS = st.sampled_from(["the", "a", "council", "voted", "7", "to", "2,", "May", "14,", "1787."])


@given(
    words=st.lists(WORDS, min_size=1, max_size=60),
    mask=st.lists(st.booleans(), min_size=60, max_size=60),
)
def test_a_subsequence_of_the_original_gets_exactly_its_words_labelled_keep(words, mask):
    """Repeated words included: the kept words, in order, are the teacher's words."""
    original = " ".join(words)
    teacher = [w for w, keep in zip(words, mask) if keep]
    a = align(original, " ".join(teacher))
    assert a.kept() == teacher
    assert a.variation_rate == (0.0 if teacher else 1.0)  # an empty reply: all variation
    assert a.alignment_gap == pytest.approx(0.0)
    assert len(a.labels) == len(words)


@given(words=st.lists(WORDS, min_size=1, max_size=40))
def test_labels_never_shift_at_the_ends(words):
    original = " ".join(words)
    assert align(original, original).labels == [True] * len(words)
    last = align(original, words[-1])
    assert last.kept() == [words[-1]]
    first = align(original, words[0])
    assert first.labels[0] is True and sum(first.labels) == 1


def test_a_known_pair_gets_the_hand_checked_labels():
    original = "Okay. So the council met on May 14, 1787, and it voted 7 to 2. Thank you."
    teacher = "council met May 14, 1787, voted 7 to 2."
    a = align(original, teacher)
    assert list(zip(a.words, a.labels)) == [
        ("Okay.", False),
        ("So", False),
        ("the", False),
        ("council", True),
        ("met", True),
        ("on", False),
        ("May", True),
        ("14,", True),
        ("1787,", True),
        ("and", False),
        ("it", False),
        ("voted", True),
        ("7", True),
        ("to", True),
        ("2.", True),
        ("Thank", False),
        ("you.", False),
    ]
    assert a.compression_rate == pytest.approx(9 / 17)


def test_paraphrase_shows_as_variation_and_misplaced_words_as_a_gap():
    original = " ".join(["alpha"] + ["filler"] * 20 + ["beta"])
    para = align(original, "alpha gamma delta beta")
    assert para.variation_rate == pytest.approx(0.5)  # gamma, delta: nowhere in the original
    far = align(original, "beta alpha", window=5)  # beta is 21 words away from the start
    assert far.kept() == ["alpha"]
    assert far.alignment_gap == pytest.approx(1 / 22)  # found, but not placed


def test_an_empty_reply_is_all_variation_and_filtered():
    empty = align("a b c d e", "")
    assert empty.labels == [False] * 5 and empty.variation_rate == 1.0
    assert keep_mask([align("a b c d e", "a b c")] * 9 + [empty]) == [True] * 9 + [False]


def test_the_filters_drop_what_lies_above_the_percentiles():
    good = [align("a b c d e", "a b c")] * 18
    paraphrase = align("a b c d e", "x y z")
    gap = align(" ".join(["a"] + ["b"] * 20 + ["c"]), "c a", window=3)
    mask = keep_mask([*good, paraphrase, gap])
    assert mask == [True] * 18 + [False, False]
    assert keep_mask([align("a b", "a b")] * 5) == [True] * 5  # a faithful teacher: all kept
    with pytest.raises(ValueError, match="percentile must be in"):
        keep_mask(good, variation_percentile=0)
    with pytest.raises(ValueError, match="window must be >= 1"):
        align("a", "a", window=0)


def test_a_reply_longer_than_the_original_is_dropped_whatever_the_percentiles():
    # a small model that repeats lines: every word is found, none is paraphrase
    repeats = align("a b c d e", "a b c a b c a b c")
    assert repeats.variation_rate == 0.0 and repeats.compression_rate == pytest.approx(9 / 5)
    many = [repeats] * 10 + [align("a b c d e", "a b c")] * 2  # most of the file is repeats
    assert keep_mask(many) == [False] * 10 + [True] * 2
    assert keep_mask(many, max_compression_rate=2.0)[:10] == [True] * 10  # the percentiles alone
    with pytest.raises(ValueError, match="max_compression_rate must be > 0"):
        keep_mask(many, max_compression_rate=0)


def test_both_layouts_are_read(tmp_path):
    ours = tmp_path / "pairs.jsonl"
    ours.write_text(
        json.dumps({"id": "m1-0", "source": "m1", "original": "a b", "compressed": "a"})
    )
    [p] = read_pairs(ours)
    assert (p.id, p.source, p.original, p.compressed) == ("m1-0", "m1", "a b", "a")
    released = tmp_path / "meetingbank.jsonl"
    rows = [
        {"idx": 7, "prompt_list": ["a b c", "d e"], "compressed_prompt_list": ["a c", "e"]},
        {"idx": 8, "prompt_list": ["f"], "compressed_prompt_list": ["f"]},
    ]
    released.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    got = [(p.id, p.source, p.original, p.compressed) for p in read_pairs(released)]
    assert got == [("7-0", "7", "a b c", "a c"), ("7-1", "7", "d e", "e"), ("8-0", "8", "f", "f")]
    uneven = tmp_path / "uneven.jsonl"
    rows[0]["compressed_prompt_list"] = ["a c"]  # one compression missing: skipped, as upstream
    uneven.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert [p.id for p in read_pairs(uneven)] == ["8-0"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "original": "a", "compressed": "a"}) + '\n{"id": "y"')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not a JSON line"):
        list(read_pairs(bad))
    bad.write_text(json.dumps({"text": "a"}) + "\n")
    with pytest.raises(ValueError, match="expected keys id, source, original, compressed"):
        list(read_pairs(bad))


def test_the_command_writes_labels_and_a_summary(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        {"id": f"c{i}", "source": f"m{i % 3}", "original": "one two three four", "compressed": c}
        for i, c in enumerate(["one three", "two four", "one two three four", "five six"])
    ]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "labels.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "lingua_core.cli", "distill", "label", str(pairs), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["chunks"] == 4 and summary["kept"] == 3  # the paraphrase is filtered out
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines[0]["labels"] == [True, False, True, False] and lines[0]["kept"] is True
    assert lines[3]["kept"] is False and lines[3]["variation_rate"] == 1.0
    assert label_file(pairs, tmp_path / "again.jsonl")["kept"] == 3
