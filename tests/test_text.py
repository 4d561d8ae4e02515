"""Tokenisation, vocabulary and GloVe loading (docs/shapes.md; yanbeic/VAL)."""
import pytest

from valstudy.errors import DataError, MissingResourceError
from valstudy.text import Vocabulary, load_glove, pad_tokens, tokenize


def test_tokenize_replaces_punctuation_with_words():
    assert tokenize("Is Red & has long sleeves.") == ["is", "red", "andmark", "has", "long", "sleeves", "dotmark"]
    assert tokenize("v-neck, 3/4 sleeve?") == ["v-neck", "3", "4", "sleeve", "questionmark"]
    assert tokenize("  ") == []


def test_vocabulary_unk_is_zero_and_min_count_maps_rare_words():
    v = Vocabulary.build(["red dress", "red skirt", "blue"])
    assert v.words[0] == "<UNK>" and v.words[1:] == ["red", "dress", "skirt", "blue"]
    assert v.encode("red hat") == [1, 0]
    assert v.encode("red skirt", min_count=2) == [1, 0]      # skirt seen once: <UNK> at test time
    assert v.encode("") == [0]                                 # an empty text is one <UNK>, never length 0
    assert Vocabulary.from_state_dict(v.state_dict()).encode("blue dress") == v.encode("blue dress")


def test_batch_pads_with_lengths():
    v = Vocabulary.build(["a b c", "d"])
    batch = v.batch(["a b c", "d"])
    assert batch.tokens.tolist() == [[1, 2, 3], [4, 0, 0]]
    assert batch.lengths.tolist() == [3, 1]
    assert pad_tokens([[5], [6, 7]]).tokens.tolist() == [[5, 0], [6, 7]]
    padded = v.batch(["d"], length=3)   # a DDP rank's slice padded to the global batch's longest text
    assert padded.tokens.tolist() == [[4, 0, 0]] and padded.lengths.tolist() == [1]
    with pytest.raises(ValueError, match="shorter than the longest"):
        pad_tokens([[5, 6]], length=1)


def test_glove_reads_known_words_and_randomises_the_rest(tmp_path):
    v = Vocabulary.build(["red dress zzz"])
    f = tmp_path / "glove.txt"
    f.write_text("red 1 2 3\nother 0 0 0\ndress 4 5 6\n")
    w = load_glove(f, v)
    assert w.shape == (4, 3)
    assert w[1].tolist() == [1, 2, 3] and w[2].tolist() == [4, 5, 6]
    assert w[3].abs().max() < 1.0 and w[3].abs().sum() > 0   # out of vocabulary: small random vector


def test_glove_errors_name_file_and_line(tmp_path):
    v = Vocabulary.build(["red"])
    with pytest.raises(MissingResourceError, match="GloVe"):
        load_glove(tmp_path / "none.txt", v)
    bad = tmp_path / "bad.txt"
    bad.write_text("red 1 2 3\nblue 1 2\n")
    with pytest.raises(DataError, match=r"bad.txt:2: expected 3 numbers, got 2"):
        load_glove(bad, v)
