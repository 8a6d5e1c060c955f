"""How a grammar made (or parsed) a plan: a compact derivation tree, and each chord's path in it.

A derivation is a tree of nodes ``(label, key, children)``: ``label`` is ``"rule:index"``
for a rule alternative (``"tunit:1"``), a chord figure for a chord (a leaf), or a key
marker (``"@V"``, a leaf); ``key`` is the local key at the node. The sampler builds this
tree as nested tuples while it draws (nothing else to do on the hot path) and the parser
builds it from its parse trees. Per alternative the derivation keeps a small table: the
rule, the alternative's symbols as written, its weight and its probability among the
rule's alternatives in each mode, and the cadence it labels.

:meth:`Derivation.path` answers "why this chord?": the steps from the start symbol down
to the chord, with the alternative chosen at each step. In plan JSON a derivation is a
flat pre-order list ``[label, key or 0, number of children, ...]`` (the key written only
where it differs from the parent's) plus the table of the alternatives it uses, which
``json`` writes without a per-node object; :attr:`Derivation.graph` is the same tree as
a networkx DiGraph, built only when asked for (drawing, graph algorithms).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from .errors import PlanError

__all__ = ["DerivationStep", "DerivationPath", "Derivation", "AlternativeInfo"]

FORMAT = 1


@dataclass(frozen=True)
class AlternativeInfo:
    """What the derivation keeps of one rule alternative."""

    rule: str
    index: int
    text: str  # the alternative's symbols as written in the grammar, e.g. 'dr t'
    weight: float  # its weight in the grammar (w= annotation or fitted weights)
    probability: tuple[float | None, float | None]  # its share of the rule's weight in major, minor (None: absent)
    cadence: str | None = None

    def to_list(self) -> list:
        return [self.text, self.weight, self.probability[0], self.probability[1], self.cadence]

    @classmethod
    def from_list(cls, label: str, data: list) -> "AlternativeInfo":
        rule, _, index = label.rpartition(":")
        text, weight, p_major, p_minor, cadence = (list(data) + [None] * 5)[:5]
        return cls(rule, int(index), str(text), float(weight or 0.0), (p_major, p_minor), cadence)


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


def is_alternative_label(label: str) -> bool:
    """``"tunit:1"`` is an alternative; a figure or a ``@V`` marker is a leaf (figures never hold ``:``)."""
    return ":" in label


class Derivation:
    """A derivation tree with its table of alternatives (see the module docstring)."""

    def __init__(self, root: tuple, table: dict[str, AlternativeInfo], grammar: str = "") -> None:
        self.root = root  # (label, key, children)
        self.table = table
        self.grammar = grammar

    # ----------------------------------------------------------------- walking
    def leaves(self) -> Iterator[tuple[str, str, tuple[tuple, ...]]]:
        """Chord leaves in order, each as (figure, key, ancestors from the root down); markers skipped."""
        stack: list[tuple[tuple, tuple]] = [(self.root, ())]
        while stack:
            node, ancestors = stack.pop()
            label, key, kids = node
            if not kids:
                if not is_alternative_label(label) and not label.startswith("@"):
                    yield label, key, ancestors
                continue
            below = ancestors + (node,)
            for kid in reversed(kids):
                stack.append((kid, below))

    def steps_of(self, ancestors: tuple[tuple, ...]) -> tuple[DerivationStep, ...]:
        steps = []
        for label, key, _ in ancestors:
            info = self.table.get(label)
            if info is None:  # a structural node the table does not describe (e.g. an unparsed phrase)
                rule, _, index = label.rpartition(":")
                steps.append(DerivationStep(rule or label, "", int(index) if index.isdigit() else -1, 0.0, None, key))
                continue
            p = info.probability[1 if key[:1].islower() else 0]
            steps.append(DerivationStep(info.rule, info.text, info.index, info.weight, p, key, info.cadence))
        return tuple(steps)

    # ----------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        nodes: list = []
        used: set[str] = set()
        stack: list[tuple[tuple, str | None]] = [(self.root, None)]
        while stack:
            (label, key, kids), parent_key = stack.pop()
            nodes.append(label)
            nodes.append(key if key != parent_key else 0)
            nodes.append(len(kids))
            if kids:
                used.add(label)
                for kid in reversed(kids):
                    stack.append((kid, key))
        table = self.table
        return {"format": FORMAT, "grammar": self.grammar, "nodes": nodes,
                "alternatives": {label: table[label].to_list() for label in sorted(used) if label in table}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Derivation":
        try:
            nodes = data["nodes"]
            table = {label: AlternativeInfo.from_list(label, v) for label, v in data.get("alternatives", {}).items()}
            if len(nodes) % 3 or not nodes:
                raise ValueError("nodes must be (label, key, children) triples")
            # pre-order: each open node waits for its children; iterative, so deep trees are fine
            root = None
            open_nodes: list[list] = []  # [label, key, children wanted, children so far]
            for pos in range(0, len(nodes), 3):
                if root is not None:
                    raise ValueError("nodes left over after the tree")
                label, key, n = nodes[pos], nodes[pos + 1], nodes[pos + 2]
                if key == 0:
                    if not open_nodes:
                        raise ValueError("the root node needs a key")
                    key = open_nodes[-1][1]
                if not isinstance(label, str) or not isinstance(key, str) or not isinstance(n, int) or isinstance(n, bool) or n < 0:
                    raise ValueError(f"bad node at position {pos // 3}")
                open_nodes.append([label, key, n, []])
                while open_nodes and len(open_nodes[-1][3]) == open_nodes[-1][2]:
                    lab, k, _, kids = open_nodes.pop()
                    done = (lab, k, tuple(kids))
                    if open_nodes:
                        open_nodes[-1][3].append(done)
                    else:
                        root = done
            if root is None:
                raise ValueError("the tree is incomplete")
        except (KeyError, TypeError, ValueError, IndexError, RecursionError) as e:
            raise PlanError(f"not a partimento derivation: {e}") from None
        return cls(root, table, str(data.get("grammar", "")))

    # ----------------------------------------------------------------- networkx
    @property
    def graph(self):
        """The tree as a networkx DiGraph: nodes carry ``symbol``, ``key``, ``order`` and ``alternative``
        (an alternative's index) or ``figure`` (a chord or key marker)."""
        import networkx as nx

        g = nx.DiGraph()
        stack = [(self.root, None, 0)]
        counter = 0
        while stack:
            (label, key, kids), parent, order = stack.pop()
            node = counter
            counter += 1
            attrs: dict[str, Any] = {"key": key, "order": order}  # order: position among its siblings
            if is_alternative_label(label):
                rule, _, index = label.rpartition(":")
                attrs["symbol"] = rule
                attrs["alternative"] = int(index) if index.isdigit() else -1
            else:
                attrs["symbol"] = label
                attrs["figure"] = label
            g.add_node(node, **attrs)
            if parent is not None:
                g.add_edge(parent, node)
            for i in range(len(kids) - 1, -1, -1):
                stack.append((kids[i], node, i))
        return g

    @classmethod
    def from_graph(cls, graph) -> "Derivation":
        """A derivation from a networkx tree as :attr:`graph` writes it (older plan JSON)."""
        roots = [n for n in graph.nodes if graph.in_degree(n) == 0]
        if len(roots) != 1:
            raise PlanError("a derivation graph must be a tree with one root")

        def build(n) -> tuple:
            d = graph.nodes[n]
            kids = sorted(graph.successors(n), key=lambda m: graph.nodes[m].get("order", 0))
            label = d.get("figure") if "figure" in d else f"{d.get('symbol')}:{d.get('alternative', -1)}"
            return str(label), str(d.get("key", "")), tuple(build(m) for m in kids)

        return cls(build(roots[0]), {})
