"""How a grammar made (or parsed) a plan: a compact derivation tree, and each chord's path in it.

A derivation is a tree whose nodes are rule alternatives (labelled ``"rule:index"``, e.g.
``"tunit:1"``), chords (labelled with the figure: the leaves that are the plan's chords,
in order) and key markers (``"@V"``, leaves). It is kept as one flat pre-order list of
triples ``label, key, number of children`` where ``key`` is the local key at the node, or
0 where it is the parent's: the sampler appends to this list as it draws (nothing else to
do on the hot path), ``json`` writes it without a per-node object, and plan JSON carries
it as it is. Per alternative the derivation keeps a small table: the rule, the
alternative's symbols as written, its weight, its probability among the rule's
alternatives in each mode, and the cadence it labels.

:meth:`Derivation.paths` answers "why this chord?" for every chord: the steps from the
start symbol down to it, each naming the alternative chosen (a
:class:`DerivationPath` of :class:`DerivationStep`). :attr:`Derivation.graph` is the same
tree as a networkx DiGraph, built only when asked for (drawing, graph algorithms).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

from .errors import PlanError

__all__ = ["DerivationStep", "DerivationPath", "Derivation", "AlternativeInfo", "is_alternative_label"]

FORMAT = 1


def is_alternative_label(label: str) -> bool:
    """``"tunit:1"`` is an alternative; a figure or a ``@V`` marker is a leaf (figures never hold ``:``)."""
    return ":" in label


@dataclass(frozen=True)
class AlternativeInfo:
    """What a derivation keeps of one rule alternative."""

    rule: str
    index: int
    text: str  # the alternative's symbols as written in the grammar, e.g. 'dr t'
    weight: float  # its weight in the grammar (w= annotation or fitted weights)
    probability: tuple[float | None, float | None]  # its share of the rule's weight in major, minor (None: absent)
    cadence: str | None = None

    def to_list(self) -> list:
        p = [None if x is None else round(x, 6) for x in self.probability]
        return [self.text, self.weight, p[0], p[1], self.cadence]

    @classmethod
    def from_list(cls, label: str, data: list) -> "AlternativeInfo":
        rule, _, index = label.rpartition(":")
        if not isinstance(data, list) or not rule or not index.lstrip("-").isdigit():
            raise ValueError(f"bad alternative {label!r}")
        text, weight, p_major, p_minor, cadence = (list(data) + [None] * 5)[:5]
        for p in (p_major, p_minor):
            if p is not None and not isinstance(p, (int, float)):
                raise ValueError(f"bad probability in alternative {label!r}")
        return cls(rule, int(index), str(text), float(weight or 0.0), (p_major, p_minor),
                   cadence if isinstance(cadence, str) else None)


@dataclass(frozen=True)
class DerivationStep:
    """One step of a chord's derivation: the rule, the alternative chosen there, and where."""

    rule: str
    alternative: str  # the alternative's symbols, e.g. 'dr t'
    index: int  # the alternative's index in the rule
    weight: float  # its weight in the grammar
    probability: float | None  # its probability among the rule's alternatives in this key's mode
    key: str  # the local key at this step
    cadence: str | None = None  # the cadence this alternative labels, if any

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "alternative": self.alternative, "index": self.index, "weight": self.weight,
                "probability": self.probability, "key": self.key, "cadence": self.cadence}

    def __str__(self) -> str:
        p = f", p={self.probability:.3g}" if self.probability is not None else ""
        cad = f", cadence {self.cadence}" if self.cadence else ""
        return f"{self.rule} -> {self.alternative}  (in {self.key}, w={self.weight:g}{p}{cad})"


@dataclass(frozen=True)
class DerivationPath:
    """Why a chord is there: the rules from the start symbol down to it."""

    chord: int  # index of the chord in the plan
    figure: str
    steps: tuple[DerivationStep, ...]
    phrase: int  # index of the phrase it belongs to
    key: str  # its key region (the local key)
    cadence: str | None  # the cadence of its phrase

    def to_dict(self) -> dict[str, Any]:
        return {"chord": self.chord, "figure": self.figure, "phrase": self.phrase, "key": self.key,
                "cadence": self.cadence, "steps": [s.to_dict() for s in self.steps]}

    @property
    def rules(self) -> list[str]:
        """The rule names from the top down, e.g. ``['start', 'phrases', 'phrase', 'body', 'tr', ...]``."""
        return [s.rule for s in self.steps]

    def __str__(self) -> str:
        head = f"chord {self.chord} {self.figure} in {self.key} (phrase {self.phrase}, cadence {self.cadence}):"
        return "\n".join([head] + [f"  {s}" for s in self.steps])


_NODE_JSON: dict = {}  # a sampled node value (label, key, 0 or a count) -> its JSON


def _node_list_json(nodes: list) -> str:
    """``json.dumps(nodes)`` for a sampler's node list (str and int values only), from cached values."""
    cache = _NODE_JSON
    try:
        return "[" + ", ".join([cache[x] for x in nodes]) + "]"
    except KeyError:
        for x in nodes:
            if x not in cache:
                cache[x] = json.dumps(x)
        return "[" + ", ".join([cache[x] for x in nodes]) + "]"


class Derivation:
    """A derivation as a flat pre-order node list with its table of alternatives (module docstring)."""

    def __init__(self, nodes: list, table: dict[str, AlternativeInfo], grammar: str = "",
                 fragments: dict[str, str] | None = None) -> None:
        self.nodes = nodes  # label, key (0: the parent's), children, ...
        self.table = table
        self.grammar = grammar
        self._fragments = fragments  # label -> '"label": [...]' JSON, shared by every plan of a grammar

    # ----------------------------------------------------------------- building
    @classmethod
    def from_tree(cls, root: tuple, table: dict[str, AlternativeInfo], grammar: str = "") -> "Derivation":
        """From nested ``(label, key, children)`` tuples (the parser's trees)."""
        nodes: list = []
        stack: list[tuple[tuple, str | None]] = [(root, None)]
        while stack:
            (label, key, kids), parent_key = stack.pop()
            nodes += (label, key if key != parent_key else 0, len(kids))
            for kid in reversed(kids):
                stack.append((kid, key))
        return cls(nodes, table, grammar)

    # ----------------------------------------------------------------- walking
    def walk(self) -> Iterator[tuple[int, str, str, int, tuple]]:
        """Every node in pre-order: (position, label, key, number of children, ancestors' (label, key))."""
        nodes = self.nodes
        open_nodes: list[list] = []  # [label, key, children left]
        for pos in range(0, len(nodes), 3):
            label, key, n = nodes[pos], nodes[pos + 1], nodes[pos + 2]
            if key == 0:
                key = open_nodes[-1][1]
            yield pos // 3, label, key, n, tuple((o[0], o[1]) for o in open_nodes)
            if open_nodes:
                open_nodes[-1][2] -= 1
            if n:
                open_nodes.append([label, key, n])
            while open_nodes and open_nodes[-1][2] == 0:
                open_nodes.pop()

    def leaves(self) -> list[tuple[str, str, tuple]]:
        """Chords in order, each as (figure, key, ancestors from the root down); markers skipped."""
        return [(label, key, anc) for _, label, key, n, anc in self.walk()
                if n == 0 and not is_alternative_label(label) and not label.startswith("@")]

    def steps_of(self, ancestors: tuple[tuple[str, str], ...]) -> tuple[DerivationStep, ...]:
        steps = []
        for label, key in ancestors:
            info = self.table.get(label)
            if info is None:  # a node the table does not describe (e.g. an unparsed phrase)
                rule, _, index = label.rpartition(":")
                steps.append(DerivationStep(rule or label, "", int(index) if index.lstrip("-").isdigit() else -1,
                                            0.0, None, key))
                continue
            p = info.probability[1 if key[:1].islower() else 0]
            steps.append(DerivationStep(info.rule, info.text, info.index, info.weight, p, key, info.cadence))
        return tuple(steps)

    # ----------------------------------------------------------------- JSON
    def used(self) -> list[str]:
        """The alternative labels the tree uses, sorted."""
        return sorted(label for label in set(self.nodes[0::3]) if is_alternative_label(label))

    def to_dict(self) -> dict[str, Any]:
        table = self.table
        return {"format": FORMAT, "grammar": self.grammar, "nodes": list(self.nodes),
                "alternatives": {label: table[label].to_list() for label in self.used() if label in table}}

    def to_json(self) -> str:
        """The same as ``json.dumps(self.to_dict())``, from cached pieces (plan JSON Lines write many).

        A sampled derivation (one with the grammar's shared fragments) holds only labels, keys
        and counts, from a small vocabulary: its node list is written from the JSON of each
        value, kept once per process, instead of encoding the same strings plan after plan.
        """
        frags = self._fragments
        table = self.table
        parts = []
        for label in sorted(set(self.nodes[0::3]) & table.keys()):
            frag = frags.get(label) if frags is not None else None
            if frag is None:
                frag = f"{json.dumps(label)}: {json.dumps(table[label].to_list())}"
                if frags is not None:
                    frags[label] = frag
            parts.append(frag)
        nodes = _node_list_json(self.nodes) if frags is not None else json.dumps(self.nodes)
        return (f'{{"format": {FORMAT}, "grammar": {json.dumps(self.grammar)}, "nodes": {nodes}, '
                f'"alternatives": {{{", ".join(parts)}}}}}')

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Derivation":
        try:
            if data.get("format", FORMAT) != FORMAT:
                raise ValueError(f"unknown format {data.get('format')!r}")
            nodes = data["nodes"]
            table = {label: AlternativeInfo.from_list(label, v) for label, v in data.get("alternatives", {}).items()}
            if not isinstance(nodes, list) or len(nodes) % 3 or not nodes:
                raise ValueError("nodes must be (label, key, children) triples")
            left = 1  # nodes still to read: the root
            for pos in range(0, len(nodes), 3):
                label, key, n = nodes[pos], nodes[pos + 1], nodes[pos + 2]
                if left == 0:
                    raise ValueError("nodes left over after the tree")
                if not isinstance(label, str) or not (isinstance(key, str) or (key == 0 and pos > 0)) \
                        or not isinstance(n, int) or isinstance(n, bool) or n < 0:
                    raise ValueError(f"bad node at position {pos // 3}")
                left += n - 1
            if left:
                raise ValueError("the tree is incomplete")
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise PlanError(f"not a partimento derivation: {e}") from None
        return cls(list(nodes), table, str(data.get("grammar", "")))

    # ----------------------------------------------------------------- networkx
    @property
    def graph(self):
        """The tree as a networkx DiGraph: nodes carry ``symbol``, ``key``, ``order`` and ``alternative``
        (an alternative's index) or ``figure`` (a chord or key marker)."""
        import networkx as nx

        g = nx.DiGraph()
        parents: list[list] = []  # [node id, children seen, children wanted]
        for node, label, key, n, _ in self.walk():
            attrs: dict[str, Any] = {"key": key, "order": parents[-1][1] if parents else 0}
            if is_alternative_label(label):
                rule, _, index = label.rpartition(":")
                attrs["symbol"] = rule
                attrs["alternative"] = int(index) if index.lstrip("-").isdigit() else -1
            else:
                attrs["symbol"] = label
                attrs["figure"] = label
            g.add_node(node, **attrs)
            if parents:
                g.add_edge(parents[-1][0], node)
                parents[-1][1] += 1
            if n:
                parents.append([node, 0, n])
            while parents and parents[-1][1] == parents[-1][2]:
                parents.pop()
        return g

    @classmethod
    def from_graph(cls, graph) -> "Derivation":
        """A derivation from a networkx tree as :attr:`graph` writes it (plan JSON before compact derivations)."""
        roots = [n for n in graph.nodes if graph.in_degree(n) == 0]
        if len(roots) != 1:
            raise PlanError("a derivation graph must be a tree with one root")
        nodes: list = []
        stack: list[tuple[Any, str | None]] = [(roots[0], None)]
        while stack:
            n, parent_key = stack.pop()
            d = graph.nodes[n]
            kids = sorted(graph.successors(n), key=lambda m: graph.nodes[m].get("order", 0))
            label = str(d.get("figure")) if "figure" in d else f"{d.get('symbol')}:{d.get('alternative', -1)}"
            key = str(d.get("key", ""))
            nodes += (label, key if key != parent_key else 0, len(kids))
            for m in reversed(kids):
                stack.append((m, key))
        return cls(nodes, {})
