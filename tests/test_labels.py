"""Label-structure discovery: exclusive groups (softmax heads) and independent labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sigmax import MultiHeadClassifier
from sigmax.labels import HeadLayout, discover_heads


def planted(n=2000, seed=0, none_share=0.2):
    """Labels a, b, c exclusive (with rows carrying none of them); d, e independent."""
    rng = np.random.default_rng(seed)
    probs = np.array([0.3, 0.3, 0.2, none_share]) / (0.8 + none_share)
    cat = rng.choice(4, size=n, p=probs)
    Y = pd.DataFrame({
        "a": cat == 0, "d": rng.random(n) < 0.4, "b": cat == 1, "c": cat == 2,
        "e": rng.random(n) < 0.3}).astype(int)
    return Y


def test_finds_a_planted_exclusive_group_with_a_none_class():
    Y = planted()
    layout = discover_heads(Y)
    assert [g.labels for g in layout.groups] == [["a", "b", "c"]]
    g = layout.groups[0]
    assert g.none_class == "none" and g.n_none == int((Y[["a", "b", "c"]].sum(axis=1) == 0).sum())
    assert layout.sigmoid == ["d", "e"]
    assert layout.heads == {"a|b|c": "softmax", "d": "sigmoid", "e": "sigmoid"}
    ev = layout.evidence
    np.testing.assert_array_equal(np.array(ev["co_occurrence"]), Y.to_numpy().T @ Y.to_numpy())
    pairs = {tuple(p["labels"]) for p in ev["exclusive_pairs"]}
    assert pairs == {("a", "b"), ("a", "c"), ("b", "c")}
    assert all(p["p_zero"] <= ev["threshold"] for p in ev["exclusive_pairs"])
    text = " ".join(layout.describe())
    assert "Softmax head over ['a', 'b', 'c']" in text and "'none' class" in text


def test_group_without_none_when_every_row_has_one_label():
    Y = planted(none_share=0.0)
    g = discover_heads(Y).groups[0]
    assert g.labels == ["a", "b", "c"] and g.none_class is None and g.n_none == 0


def test_finds_no_group_when_labels_co_occur():
    rng = np.random.default_rng(1)
    Y = (rng.random((1500, 5)) < [0.3, 0.2, 0.5, 0.1, 0.4]).astype(int)
    layout = discover_heads(Y, names=list("vwxyz"))
    assert layout.groups == [] and not layout.has_groups
    assert layout.sigmoid == list("vwxyz")
    assert "No exclusive group" in layout.describe()[0]


def test_rare_labels_that_never_meet_by_chance_do_not_form_a_group():
    rng = np.random.default_rng(2)
    n = 1000
    Y = np.zeros((n, 4), dtype=int)
    Y[rng.choice(n, 8, replace=False), 0] = 1     # 0.8% each: 0.06 co-occurrences
    Y[rng.choice(n, 8, replace=False), 1] = 1     # expected under independence
    Y[:, 2] = rng.random(n) < 0.5
    Y[:, 3] = rng.random(n) < 0.5
    Y[Y[:, 0] == 1, 1] = 0                       # make sure the rare pair never meets
    layout = discover_heads(Y)
    assert layout.groups == []
    # The same pattern with enough support is a group.
    Y2 = np.zeros((n, 2), dtype=int)
    cat = rng.integers(0, 3, n)
    Y2[:, 0], Y2[:, 1] = cat == 0, cat == 1
    assert [g.labels for g in discover_heads(Y2).groups] == [["0", "1"]]


def test_a_rare_label_joins_a_group_when_it_never_meets_the_group():
    rng = np.random.default_rng(3)
    n = 3000
    cat = rng.choice(4, size=n, p=[0.45, 0.35, 0.195, 0.005])  # 'rare' is ~15 rows
    Y = pd.DataFrame({"big1": cat == 0, "big2": cat == 1, "mid": cat == 2,
                      "rare": cat == 3}).astype(int)
    g = discover_heads(Y).groups[0]
    assert g.labels == ["big1", "big2", "mid", "rare"] and g.none_class is None


def test_unknown_entries_are_ignored_and_masked():
    Y = planted(seed=4).astype(float)
    Y.loc[:99, ["a", "b"]] = np.nan
    Y.loc[100:149, "d"] = np.nan
    layout = discover_heads(Y)
    assert [g.labels for g in layout.groups] == [["a", "b", "c"]]
    y = layout.transform(Y)
    assert list(y.columns) == ["a|b|c", "d", "e"]
    assert y["a|b|c"].iloc[:100].isna().all() and y["a|b|c"].iloc[100:].notna().all()
    assert y["d"].iloc[100:150].isna().all()


def test_transform_inverse_transform_roundtrip_and_label_proba():
    Y = planted(n=1200, seed=5)
    rng = np.random.default_rng(0)
    X = Y.to_numpy() * 2.0 + rng.normal(size=Y.shape)
    layout = discover_heads(Y)
    y = layout.transform(Y)
    assert set(y["a|b|c"]) == {"a", "b", "c", "none"}
    pd.testing.assert_frame_equal(
        pd.DataFrame(layout.inverse_transform(pd.DataFrame(
            {"a|b|c": y["a|b|c"], "d": y["d"].astype(int), "e": y["e"].astype(int)})),
            columns=Y.columns), Y.astype(np.int64))
    m = MultiHeadClassifier(heads=layout.heads).fit(X, y)
    P = layout.label_proba(m.predict_proba(X), m.classes_)
    assert P.shape == Y.shape
    probs = m.predict_proba(X)
    group = probs["a|b|c"]
    cls = list(m.classes_["a|b|c"])
    np.testing.assert_allclose(P[:, 0], group[:, cls.index("a")])
    np.testing.assert_allclose(P[:, [0, 2, 3]].sum(axis=1),
                               1 - group[:, cls.index("none")], rtol=1e-12)
    np.testing.assert_allclose(P[:, 1], probs["d"][:, 1])
    # Default class order (sorted) gives the same numbers.
    np.testing.assert_allclose(layout.label_proba(probs), P)
    pred = layout.inverse_transform(m.predict(X))
    assert pred.shape == Y.shape and np.all(pred[:, [0, 2, 3]].sum(axis=1) <= 1)
    assert np.mean(pred == Y.to_numpy()) > 0.7


def test_conflicting_rows_in_new_data():
    layout = discover_heads(planted(seed=6))
    new = pd.DataFrame({"a": [1, 1, 0], "d": [0, 1, 0], "b": [1, 0, 0], "c": [0, 0, 0],
                        "e": [0, 0, 1]})
    with pytest.raises(ValueError, match="several labels of the exclusive group"):
        layout.transform(new)
    y = layout.transform(new, on_conflict="mask")
    assert pd.isna(y["a|b|c"].iloc[0]) and y["a|b|c"].iloc[1] == "a"
    assert y["a|b|c"].iloc[2] == "none"


def test_constant_labels_are_left_out():
    Y = planted(seed=7)
    Y["always"] = 1
    Y["never"] = 0
    layout = discover_heads(Y)
    assert layout.constant == ["always", "never"]
    assert "always" not in layout.heads and "never" not in layout.heads
    probs = {"a|b|c": np.full((2, 4), 0.25), "d": np.full((2, 2), 0.5),
             "e": np.full((2, 2), 0.5)}
    P = layout.label_proba(probs)
    np.testing.assert_array_equal(P[:, -2:], [[1, 0], [1, 0]])


def test_none_class_name_avoids_label_names():
    Y = planted(seed=8).rename(columns={"d": "none"})
    g = discover_heads(Y).groups[0]
    assert g.none_class == "none_"


@pytest.mark.parametrize("Y,match", [
    (np.array([[0, 2], [1, 0]]), "0/1"),
    (np.zeros(5), "2-D"),
])
def test_bad_input(Y, match):
    with pytest.raises(ValueError, match=match):
        discover_heads(Y)


def test_to_dict_is_json_ready():
    import json

    layout = discover_heads(planted(seed=9))
    data = json.loads(json.dumps(layout.to_dict(), allow_nan=False))
    assert data["heads"] == layout.heads and isinstance(layout, HeadLayout)
