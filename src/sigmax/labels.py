r"""Label structure of a multi-label problem: which labels are exclusive, which independent.

A multi-label indicator matrix (rows = samples, columns = labels) may hide
groups of labels that never occur together: a film is rated PG *or* R, a
penguin is Adelie *or* Gentoo. Such a group is one categorical variable and
is best modelled by one softmax over its labels (plus a ``"none"`` class when
rows may carry none of them): the probabilities of the group then sum to one
and the model cannot predict two exclusive labels at once. The remaining
labels are modelled by independent sigmoids. :func:`discover_heads` finds
that layout and keeps the evidence; :class:`HeadLayout` turns the indicator
matrix into the ``y`` of :class:`~sigmax.MultiHeadClassifier` and its
predictions back into label probabilities.

The rule
--------
Two labels ``a`` and ``b`` (``n_a`` and ``n_b`` positive rows out of ``n``)
are called **exclusive** when

1. they never co-occur (``n_ab = 0``; one co-occurrence and a softmax could
   not represent the data), and
2. that is not luck: were the labels independent, the probability of seeing
   no co-occurrence is the hypergeometric
   :math:`P_0 = \binom{n - n_a}{n_b} / \binom{n}{n_b} \approx e^{-n_a n_b / n}`;
   the pair counts only if :math:`P_0 \le \alpha / m`, with ``m`` the number
   of label pairs (a Bonferroni correction: among many rare pairs some never
   co-occur by chance). With the default :math:`\alpha = 0.05` and 21 pairs
   this needs about 6 co-occurrences expected under independence; two labels
   of 1% each in 1000 rows (0.1 expected) never count, however exclusive they
   look.

**Groups** are cliques of the exclusivity graph (every pair in the group
exclusive). They are chosen greedily: the maximal clique with the most
labels (ties: the most rows covered) is taken; then a label that never
co-occurs with *any* of its labels joins it when the same test, run against
the union of the group, passes (a rare label, NC-17, can be significantly
exclusive with "PG or PG-13 or R" without being so with PG alone). The group
becomes a softmax head, its labels are removed, and the search repeats until
no exclusive pair remains. Each label
is in at most one head, so the layout is a partition of the labels. Maximal
cliques are enumerated exactly (Bron-Kerbosch with pivoting) up to
:data:`MAX_CLIQUES` of them, which is instant for the tens of labels of a
typical problem; past that a greedy clique (highest degree first) is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import gammaln

__all__ = ["MAX_CLIQUES", "HeadLayout", "SoftmaxGroup", "discover_heads", "exclusive_groups"]

#: Stop enumerating maximal cliques past this many and fall back to a greedy clique.
MAX_CLIQUES = 10_000


@dataclass(frozen=True)
class SoftmaxGroup:
    """Labels that never co-occur, modelled by one softmax head.

    Attributes
    ----------
    name : str
        Head name (the labels joined by ``|``).
    labels : list of str
        The exclusive labels, in column order.
    none_class : str or None
        Name of the extra class for rows with none of the labels, or None when
        every row carries exactly one of them.
    support : list of int
        Positive rows of each label.
    n_none : int
        Rows with none of the labels (known rows only).
    n_known : int
        Rows where every label of the group is known (the evidence's rows).
    """

    name: str
    labels: list[str]
    none_class: str | None
    support: list[int]
    n_none: int
    n_known: int = 0

    @property
    def classes(self) -> list[str]:
        """The softmax's classes: the labels, plus the none class when present."""
        return [*self.labels, *([self.none_class] if self.none_class else [])]


@dataclass
class HeadLayout:
    """A head layout for a multi-label problem, with the evidence for it.

    Attributes
    ----------
    labels : list of str
        All label names (columns of the indicator matrix), in order.
    groups : list of SoftmaxGroup
        Exclusive groups, one softmax head each.
    sigmoid : list of str
        Labels modelled by their own sigmoid head.
    constant : list of str
        Labels that are all 0 or all 1 in the data: no head can learn them,
        they are left out of ``heads``.
    evidence : dict
        ``n_rows``, ``support``, ``co_occurrence`` (L x L counts),
        ``expected`` (counts expected under independence),
        ``exclusive_pairs`` (with ``p_zero``), ``near_exclusive_pairs``
        (co-occurring far less than independence predicts but not never),
        ``alpha``, ``threshold`` and ``rule`` (one sentence).
    """

    labels: list[str]
    groups: list[SoftmaxGroup] = field(default_factory=list)
    sigmoid: list[str] = field(default_factory=list)
    constant: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def heads(self) -> dict[str, str]:
        """The ``heads`` argument of :class:`~sigmax.MultiHeadClassifier`."""
        out = {g.name: "softmax" for g in self.groups}
        out.update({label: "sigmoid" for label in self.sigmoid})
        return out

    @property
    def has_groups(self) -> bool:
        """True when at least one exclusive group was found (the layout is mixed)."""
        return bool(self.groups)

    # -- conversions ---------------------------------------------------------------
    def _indicator(self, Y: Any) -> np.ndarray:
        M, names = _as_indicator(Y, self.labels)
        if names != self.labels:
            raise ValueError(f"Y's labels {names} differ from the layout's {self.labels}.")
        return M

    def transform(self, Y: Any, *, on_conflict: str = "error") -> pd.DataFrame:
        """Indicator matrix -> the ``y`` of MultiHeadClassifier (one column per head).

        Parameters
        ----------
        Y : DataFrame or array of shape (n, L)
            0/1 indicator with the layout's label columns (NaN = unknown).
        on_conflict : {'error', 'mask'}, default='error'
            What to do with a row carrying two labels of one exclusive group
            (possible in new data): raise, or mark that head's label missing.

        Returns
        -------
        DataFrame of shape (n, n_heads)
            A softmax head holds the present label's name (or the none class),
            NaN when unknown; a sigmoid head holds 0/1 (NaN when unknown).
        """
        if on_conflict not in ("error", "mask"):
            raise ValueError("on_conflict must be 'error' or 'mask'.")
        M = self._indicator(Y)
        index = Y.index if isinstance(Y, pd.DataFrame) else None
        cols: dict[str, Any] = {}
        for g in self.groups:
            idx = [self.labels.index(label) for label in g.labels]
            block = M[:, idx]
            unknown = np.isnan(block).any(axis=1)
            count = np.nansum(block, axis=1)
            conflict = (count > 1) & ~unknown
            if conflict.any() and on_conflict == "error":
                rows = np.flatnonzero(conflict)
                raise ValueError(
                    f"{len(rows)} row(s) (first: {rows[:5].tolist()}) carry several labels of "
                    f"the exclusive group {g.labels}; pass on_conflict='mask' to leave that "
                    "head unlabelled on those rows, or rediscover the layout on these data.")
            if g.none_class is None and ((count == 0) & ~unknown).any():
                rows = np.flatnonzero((count == 0) & ~unknown)
                if on_conflict == "error":
                    raise ValueError(
                        f"{len(rows)} row(s) (first: {rows[:5].tolist()}) carry none of the "
                        f"labels of group {g.labels}, which has no 'none' class; pass "
                        "on_conflict='mask' or rediscover the layout on these data.")
                conflict = conflict | ((count == 0) & ~unknown)
            values = np.empty(len(M), dtype=object)
            values[:] = g.none_class
            arg = np.argmax(np.nan_to_num(block, nan=0.0), axis=1)
            has = count >= 1
            values[has] = np.asarray(g.labels, dtype=object)[arg[has]]
            values[unknown | conflict] = np.nan
            cols[g.name] = values
        for label in self.sigmoid:
            cols[label] = M[:, self.labels.index(label)]
        return pd.DataFrame(cols, index=index)

    def label_proba(self, proba: dict[str, np.ndarray],
                    classes: dict[str, Sequence[Any]] | None = None) -> np.ndarray:
        """Per-label probabilities ``(n, L)`` from MultiHeadClassifier's ``predict_proba``.

        A label of a group gets its softmax probability (the group's labels
        then sum to at most 1); a sigmoid label its sigmoid; a constant label
        its constant value.

        Parameters
        ----------
        proba : dict of str -> ndarray
            ``model.predict_proba(X)``.
        classes : dict of str -> sequence, optional
            ``model.classes_``: the column order of each head's probabilities
            (default: the group's classes sorted, as the model sorts them).
        """
        n = len(next(iter(proba.values())))
        out = np.zeros((n, len(self.labels)))
        for g in self.groups:
            order = list(classes[g.name]) if classes is not None else sorted(g.classes)
            P = proba[g.name]
            for label in g.labels:
                out[:, self.labels.index(label)] = P[:, order.index(label)]
        for label in self.sigmoid:
            order = list(classes[label]) if classes is not None else [0, 1]
            out[:, self.labels.index(label)] = proba[label][:, order.index(1)]
        for label in self.constant:
            out[:, self.labels.index(label)] = self.evidence["constant_values"][label]
        return out

    def inverse_transform(self, pred: pd.DataFrame) -> np.ndarray:
        """MultiHeadClassifier's ``predict`` -> a 0/1 indicator ``(n, L)`` (int64)."""
        out = np.zeros((len(pred), len(self.labels)), dtype=np.int64)
        for g in self.groups:
            values = pred[g.name].to_numpy()
            for label in g.labels:
                out[:, self.labels.index(label)] = values == label
        for label in self.sigmoid:
            out[:, self.labels.index(label)] = pred[label].to_numpy().astype(np.int64)
        for label in self.constant:
            out[:, self.labels.index(label)] = int(self.evidence["constant_values"][label])
        return out

    # -- reporting ------------------------------------------------------------------
    def describe(self) -> list[str]:
        """The layout and its evidence as sentences (for reports)."""
        ev = self.evidence
        lines = []
        if not self.groups:
            lines.append(f"No exclusive group among the {len(self.labels)} labels: every pair "
                         "either co-occurs or is too rare for its absence to be evidence. "
                         "Model them as independent sigmoids.")
        for g in self.groups:
            none = (f" plus a '{g.none_class}' class ({g.n_none} rows have none of them)"
                    if g.none_class else " (every row has exactly one)")
            where = (f"{ev['n_rows']} rows" if g.n_known == ev["n_rows"] else
                     f"the {g.n_known} rows where they are known (of {ev['n_rows']})")
            lines.append(f"Softmax head over {g.labels}{none}: no two of them ever co-occur "
                         f"in {where}.")
        if self.sigmoid:
            lines.append(f"Sigmoid heads for {self.sigmoid}.")
        if self.constant:
            lines.append(f"Left out (constant in these data): {self.constant}.")
        for p in ev.get("near_exclusive_pairs", [])[:3]:
            lines.append(f"{p['labels'][0]} and {p['labels'][1]} co-occur {p['observed']} times "
                         f"where independence predicts {p['expected']:.0f}: nearly exclusive, "
                         "but a softmax could not represent those rows.")
        lines.append(ev["rule"])
        return lines

    def summary(self) -> dict[str, Any]:
        """The layout and the evidence that decides it, without the L x L matrices.

        Keys: ``heads``, ``groups`` (as in :meth:`to_dict`), ``sigmoid``,
        ``constant``, ``exclusive_pairs``, ``near_exclusive_pairs``, ``rule``,
        ``threshold``, ``sentences`` (:meth:`describe`).
        """
        full = self.to_dict()
        ev = self.evidence
        return {"heads": full["heads"], "groups": full["groups"], "sigmoid": full["sigmoid"],
                "constant": full["constant"], "exclusive_pairs": ev["exclusive_pairs"],
                "near_exclusive_pairs": ev["near_exclusive_pairs"], "rule": ev["rule"],
                "threshold": ev["threshold"], "sentences": self.describe()}

    @classmethod
    def from_dict(cls, d: Any) -> HeadLayout:
        """Inverse of :meth:`to_dict` (a model file's layout), every field checked.

        Raises
        ------
        ValueError
            Naming the malformed field (labels, groups, sigmoid, constant, evidence).
        """
        def names(v: Any, what: str) -> list[str]:
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ValueError(f"layout {what} must be a list of names")
            return list(v)

        if not isinstance(d, dict):
            raise ValueError("malformed head layout")
        labels = names(d.get("labels"), "labels")
        if len(set(labels)) != len(labels):
            raise ValueError("layout labels repeat")
        groups = []
        for g in d.get("groups") if isinstance(d.get("groups"), list) else [None]:
            ok = (isinstance(g, dict) and isinstance(g.get("name"), str)
                  and (g.get("none_class") is None or isinstance(g.get("none_class"), str))
                  and isinstance(g.get("support"), list)
                  and all(isinstance(v, int) for v in g["support"])
                  and isinstance(g.get("n_none"), int) and isinstance(g.get("n_known", 0), int))
            if not ok:
                raise ValueError("malformed layout group")
            groups.append(SoftmaxGroup(g["name"], names(g.get("labels"), "group labels"),
                                       g["none_class"], list(g["support"]), g["n_none"],
                                       g.get("n_known", 0)))
        sigmoid = names(d.get("sigmoid"), "sigmoid")
        constant = names(d.get("constant"), "constant")
        placed = [x for g in groups for x in g.labels] + sigmoid + constant
        if sorted(placed) != sorted(labels):
            raise ValueError("the layout's heads do not place every label exactly once")
        evidence = d.get("evidence", {})
        if not isinstance(evidence, dict):
            raise ValueError("malformed layout evidence")
        return cls(labels, groups, sigmoid, constant, evidence)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (evidence included)."""
        return {
            "labels": list(self.labels),
            "heads": self.heads,
            "groups": [{"name": g.name, "labels": g.labels, "none_class": g.none_class,
                        "support": g.support, "n_none": g.n_none, "n_known": g.n_known}
                       for g in self.groups],
            "sigmoid": list(self.sigmoid),
            "constant": list(self.constant),
            "evidence": self.evidence,
        }


def _as_indicator(Y: Any, names: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    """A float (n, L) 0/1/NaN matrix and the label names."""
    if isinstance(Y, pd.DataFrame):
        cols = [str(c) for c in Y.columns]
        M = Y.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        M = Y.toarray() if sp.issparse(Y) else np.asarray(Y)
        try:
            M = M.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError("Y must be a numeric 0/1 indicator matrix (NaN = unknown).") from None
        cols = [str(j) for j in range(M.shape[1])] if M.ndim == 2 else []
    if M.ndim != 2:
        raise ValueError(f"Y must be a 2-D indicator matrix of shape (n_samples, n_labels); "
                         f"got shape {M.shape}.")
    if names is not None:
        names = [str(v) for v in names]
        if len(names) != M.shape[1]:
            raise ValueError(f"{len(names)} names for {M.shape[1]} label columns.")
        cols = names
    if len(set(cols)) != len(cols):
        raise ValueError(f"Label names must be unique; got {cols}.")
    known = ~np.isnan(M)
    if not np.all(np.isin(M[known], (0.0, 1.0))):
        bad = np.unique(M[known][~np.isin(M[known], (0.0, 1.0))])
        what = ("continuous values" if np.any(bad != np.round(bad))
                else "values other than 0 and 1")
        raise ValueError(f"Y must hold 0/1 (or NaN for unknown), but it holds {what}: found "
                         f"{bad[:5].tolist()}. For class labels use SoftmaxRegression or "
                         "MultiHeadClassifier.")
    return M, cols


def _log_p_no_overlap(n: np.ndarray, na: np.ndarray, nb: np.ndarray) -> np.ndarray:
    r"""Log hypergeometric :math:`P(n_{ab} = 0) = \binom{n-n_a}{n_b} / \binom{n}{n_b}`.

    In log-gamma form, so it stays finite for any counts; ``-inf`` when
    ``n_a + n_b > n`` (an overlap is then certain).
    """
    def lchoose(a, b):
        return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)

    ok = na + nb <= n
    out = np.full(np.broadcast(n, na, nb).shape, -np.inf)
    n_, a_, b_ = (np.broadcast_to(v, out.shape)[ok] for v in (n, na, nb))
    out[ok] = lchoose(n_ - a_, b_) - lchoose(n_, b_)
    return out


def _maximal_cliques(adj: list[set[int]], nodes: set[int]) -> list[frozenset[int]] | None:
    """All maximal cliques within ``nodes`` (Bron-Kerbosch with pivot); None past the cap."""
    found: list[frozenset[int]] = []
    stack = [(set(), set(nodes), set())]
    while stack:
        R, P, Xs = stack.pop()
        if not P and not Xs:
            found.append(frozenset(R))
            if len(found) > MAX_CLIQUES:
                return None
            continue
        pivot = max(P | Xs, key=lambda u: len(adj[u] & P))
        for v in list(P - adj[pivot]):
            stack.append((R | {v}, P & adj[v], Xs & adj[v]))
            P = P - {v}
            Xs = Xs | {v}
    return found


def _greedy_clique(adj: list[set[int]], nodes: set[int], support: np.ndarray
                   ) -> frozenset[int]:
    order = sorted(nodes, key=lambda u: (-len(adj[u] & nodes), -support[u], u))
    clique: set[int] = set()
    for u in order:
        if all(u in adj[v] for v in clique):
            clique.add(u)
    return frozenset(clique)


def _absorb(group: set[int], candidates: list[int], P: np.ndarray, K: np.ndarray,
            log_threshold: float) -> frozenset[int]:
    """Grow ``group`` by labels that never meet it and would meet it if independent.

    A label too rare to be significantly exclusive with each member alone
    (NC-17 films against PG ones) can still be significantly exclusive with
    the group as a whole (NC-17 against "any of PG, PG-13, R"): the union is
    frequent, so never meeting it is evidence. The same test and threshold as
    for pairs, with the union in place of the second label.
    """
    while candidates:
        cols = sorted(group)
        both = K[:, cols].min(axis=1)                  # rows where the whole group is known
        union = P[:, cols].max(axis=1)
        best, best_lp = None, log_threshold
        for c in candidates:
            rows = both * K[:, c]
            if float((P[:, c] * union * rows).sum()) > 0:
                continue
            lp = float(_log_p_no_overlap(np.array(rows.sum()), np.array((P[:, c] * rows).sum()),
                                         np.array((union * rows).sum())))
            if lp <= best_lp:
                best, best_lp = c, lp
        if best is None:
            break
        group.add(best)
        candidates = [c for c in candidates if c != best]
    return frozenset(group)


def discover_heads(Y: Any, names: Sequence[str] | None = None, *, alpha: float = 0.05,
                   none_class: str = "none") -> HeadLayout:
    """Find exclusive groups (softmax heads) and independent labels (sigmoid heads).

    Parameters
    ----------
    Y : DataFrame, ndarray or sparse matrix of shape (n_samples, n_labels)
        0/1 indicator (NaN = unknown; a pair is counted on rows where both are known).
    names : sequence of str, optional
        Label names (default: the DataFrame's columns, or ``"0"``, ``"1"``...).
    alpha : float, default=0.05
        Family-wise level of the "never co-occur by chance" test (see the
        module docstring): smaller asks for more support.
    none_class : str, default='none'
        Name of the extra softmax class for rows with none of a group's labels
        (suffixed with ``_`` until it differs from every label).

    Returns
    -------
    HeadLayout

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> colour = rng.integers(0, 3, size=500)          # red / green / none
    >>> Y = np.column_stack([colour == 0, colour == 1, rng.random(500) < 0.4])
    >>> layout = discover_heads(Y, ["red", "green", "round"])
    >>> layout.heads
    {'red|green': 'softmax', 'round': 'sigmoid'}
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha!r}.")
    M, labels = _as_indicator(Y, names)
    n, L = M.shape
    if n == 0 or L == 0:
        raise ValueError("Y has no rows or no label columns.")
    known = ~np.isnan(M)
    P = np.where(known, M, 0.0)
    K = known.astype(np.float64)
    support = P.sum(axis=0).astype(np.int64)
    n_known = K.sum(axis=0).astype(np.int64)
    # Pairwise counts on rows where both labels are known.
    co = (P.T @ P).astype(np.int64)
    n_pair = (K.T @ K).astype(np.int64)
    na_pair = (P.T @ K).astype(np.int64)         # [a, b]: a positive, b known
    expected = na_pair * na_pair.T / np.maximum(n_pair, 1)

    constant = [j for j in range(L) if support[j] == 0 or support[j] == n_known[j]]
    active = [j for j in range(L) if j not in constant]
    m_pairs = max(len(active) * (len(active) - 1) // 2, 1)
    log_threshold = np.log(alpha / m_pairs)
    log_p0 = _log_p_no_overlap(n_pair.astype(float), na_pair.astype(float),
                               na_pair.T.astype(float))

    adj: list[set[int]] = [set() for _ in range(L)]
    exclusive_pairs, near = [], []
    for i, a in enumerate(active):
        for b in active[i + 1:]:
            if co[a, b] == 0 and log_p0[a, b] <= log_threshold:
                adj[a].add(b)
                adj[b].add(a)
                exclusive_pairs.append({"labels": [labels[a], labels[b]],
                                        "expected": float(expected[a, b]),
                                        "p_zero": float(np.exp(log_p0[a, b]))})
            elif 0 < co[a, b] <= 0.1 * expected[a, b]:
                near.append({"labels": [labels[a], labels[b]], "observed": int(co[a, b]),
                             "expected": float(expected[a, b])})
    near.sort(key=lambda p: p["observed"] / p["expected"])

    taken: set[int] = set()
    groups = []
    remaining = {j for j in active if adj[j]}
    while remaining:
        cliques = _maximal_cliques(adj, remaining)
        if cliques is None:
            best = _greedy_clique(adj, remaining, support)
        else:
            def coverage(c: frozenset[int]) -> int:
                return int(support[list(c)].sum())

            best = max(cliques, key=lambda c: (len(c), coverage(c), -min(c)))
        if len(best) < 2:
            break
        best = _absorb(set(best), [j for j in active if j not in taken and j not in best],
                       P, K, log_threshold)
        idx = sorted(best)
        block = M[:, idx]
        rows = ~np.isnan(block).any(axis=1)
        n_none = int((block[rows].sum(axis=1) == 0).sum())
        none = none_class
        group_labels = [labels[j] for j in idx]
        while none in labels:
            none += "_"
        groups.append(SoftmaxGroup(name="|".join(group_labels), labels=group_labels,
                                   none_class=none if n_none else None,
                                   support=[int(support[j]) for j in idx], n_none=n_none,
                                   n_known=int(rows.sum())))
        taken |= best
        remaining = {j for j in remaining - best if adj[j] & remaining - best}

    sigmoid = [labels[j] for j in active if j not in taken]
    evidence = {
        "n_rows": int(n),
        "support": {labels[j]: int(support[j]) for j in range(L)},
        "co_occurrence": co.tolist(),
        "expected": np.round(expected, 3).tolist(),
        "exclusive_pairs": exclusive_pairs,
        "near_exclusive_pairs": near,
        "alpha": float(alpha),
        "threshold": float(alpha / m_pairs),
        "constant_values": {labels[j]: float(support[j] > 0) for j in constant},
        "rule": (f"Rule: two labels are exclusive when they never co-occur and independence "
                 f"would make that unlikely (hypergeometric P(no co-occurrence) <= "
                 f"{alpha:g}/{m_pairs} pairs); groups are the largest sets of pairwise "
                 "exclusive labels, chosen greedily, joined by any label that passes the same "
                 "test against the whole group."),
    }
    return HeadLayout(labels=labels, groups=groups, sigmoid=sigmoid,
                      constant=[labels[j] for j in constant], evidence=evidence)


def exclusive_groups(Y: Any, names: Sequence[str] | None = None) -> list[list[str]]:
    """The label groups that :func:`discover_heads` makes softmax heads (``[]`` if none).

    The default ``LABEL_GROUPS_HOOK`` of :mod:`sigmax.study.advise`.
    """
    return [g.labels for g in discover_heads(Y, names).groups]
