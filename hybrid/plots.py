"""matplotlib pictures for teaching: piano roll, derivation tree, training loss curves.

* :func:`piano_roll` — the four voices as coloured bars over time, the plan's chord
  boundaries as dashed lines with the Roman numerals on top, and violations circled
  in red with the rule named;
* :func:`derivation_tree` — the grammar derivation of a plan (``plan.derivation``, a
  networkx DiGraph from root symbol to chord terminals) laid out as a tree, without
  graphviz;
* :func:`loss_curves` — training and validation loss per epoch from a training log.

Every function takes an optional ``ax`` and returns the Axes it drew on, so plots can
be combined; with no ``ax`` a figure sized to the content is made.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from partimento.grammar.errors import InputError, Location
from partimento.grammar.theory import VOICES

from .render import ERROR_COLOUR, WARNING_COLOUR, _severity_name, _sounding, _violation_offset
from .score_events import as_score, voice_events

__all__ = [
    "VOICE_COLOURS",
    "LOSS_COLUMNS",
    "piano_roll",
    "derivation_tree",
    "read_training_log",
    "loss_curves",
]

#: Bar colour per voice, soprano .. bass (red is kept for violations).
VOICE_COLOURS: dict[str, str] = {"soprano": "#1f77b4", "alto": "#2ca02c", "tenor": "#9467bd", "bass": "#8c564b"}

#: Columns a training log is expected to have, one row per epoch. Any other column
#: whose name ends in ``loss`` is drawn as well.
LOSS_COLUMNS = ("epoch", "train_loss", "valid_loss")

_NOTE_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")


def _axes(ax, size: tuple[float, float]):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size)
    return ax


# --------------------------------------------------------------------------- piano roll
def piano_roll(score, *, plan=None, report=None, violations: Iterable[Any] | None = None, ax=None,
               title: str | None = None):
    """Draw the voices of ``score`` (a music21 score or a Result) as a piano roll.

    ``plan`` adds chord boundaries and figures; ``report`` (or ``violations``) circles
    the notes of each violation. A Result brings its own plan and report.
    """
    import matplotlib.pyplot  # noqa: F401  (first: it loads matplotlib's modules in their own order; a
    # first import through matplotlib.patches failed now and then inside a notebook kernel)
    import matplotlib.patches as mpatches
    import matplotlib.transforms as mtransforms
    from matplotlib.collections import PatchCollection

    plan = plan if plan is not None else getattr(score, "plan", None)
    report = report if report is not None else getattr(score, "report", None)
    if violations is None:
        violations = list(getattr(report, "violations", []) or []) if report is not None else []
    violations = list(violations)
    score = as_score(score)
    voices = voice_events(score)
    length = float(score.highestTime)
    ax = _axes(ax, (max(6.0, min(24.0, length * 0.35)), 4.5))

    pitches = [e.midi for v in voices for e in v]
    lo, hi = min(pitches), max(pitches)
    handles = []
    for i, events in enumerate(voices):
        name = VOICES[i % 4] if len(voices) == 4 else f"voice {i + 1}"
        colour = VOICE_COLOURS[VOICES[i % 4]]
        bars = [mpatches.Rectangle((e.onset, e.midi - 0.4), e.duration, 0.8) for e in events]
        ax.add_collection(PatchCollection(bars, facecolor=colour, edgecolor="white", linewidth=0.5))
        handles.append(mpatches.Patch(color=colour, label=name))

    blend = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    if plan is not None:
        current = None
        for c in plan.chords:
            ax.axvline(float(c.onset), color="0.6", linestyle="--", linewidth=0.7, zorder=0)
            label = c.figure if c.key == current else f"{c.key}: {c.figure}"
            current = c.key
            ax.text(float(c.onset) + 0.05, 1.01, label, transform=blend, fontsize=7, rotation=60,
                    ha="left", va="bottom")

    marked = False
    for v in violations:
        colour = WARNING_COLOUR if _severity_name(v) == "warning" else ERROR_COLOUR
        offset = _violation_offset(v, score)
        names = [n.lower() for n in (getattr(v, "voices", None) or [])]
        idx = [VOICES.index(n) for n in names if n in VOICES and VOICES.index(n) < len(voices)]
        ys = []
        for i in idx or range(len(voices)):
            e = _sounding(voices[i], offset)
            if e is not None:
                ax.add_patch(mpatches.Rectangle((e.onset, e.midi - 0.6), e.duration, 1.2, fill=False,
                                                edgecolor=colour, linewidth=1.8, zorder=3))
                ys.append(e.midi)
        if ys:
            marked = True
            ax.annotate(str(v.rule), (offset, max(ys) + 0.8), fontsize=7, color=colour, ha="left",
                        va="bottom", zorder=4)
    if marked:
        handles.append(mpatches.Patch(facecolor="none", edgecolor=ERROR_COLOUR, label="violation"))

    ax.set_xlim(0, length)
    ax.set_ylim(lo - 2, hi + 3)
    ticks = [m for m in range(lo - 2, hi + 3) if m % 12 in (0, 7)]
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{_NOTE_NAMES[m % 12]}{m // 12 - 1}" for m in ticks])
    ax.set_xlabel("quarter notes")
    ax.grid(axis="y", color="0.92", linewidth=0.5)
    ax.legend(handles=handles, loc="upper right", fontsize=7, ncol=len(handles), framealpha=0.8)
    if title:
        ax.set_title(title, pad=40 if plan is not None else 6)
    return ax


# --------------------------------------------------------------------------- derivation tree
_LABEL_KEYS = ("label", "symbol", "rule", "name", "figure", "text", "data")
_ORDER_KEYS = ("order", "index", "position", "i")


def _node_label(graph, node) -> str:
    data = graph.nodes[node]
    for k in _LABEL_KEYS:
        if data.get(k) not in (None, ""):
            return str(data[k])
    return str(node)


def _children(graph, node) -> list:
    kids = list(graph.successors(node))

    def order(child):
        edge = graph.edges[node, child]
        for k in _ORDER_KEYS:
            if k in edge:
                return edge[k]
        for k in _ORDER_KEYS + ("start", "onset"):
            if k in graph.nodes[child]:
                return graph.nodes[child][k]
        return kids.index(child)

    try:
        return sorted(kids, key=order)
    except TypeError:  # mixed types in the order attribute: keep insertion order
        return kids


def tree_layout(graph, leaves_at_bottom: bool = False) -> dict[Any, tuple[float, float]]:
    """(x, y) per node: leaves one unit apart left to right, parents centred over children,
    y = -depth (all leaves on the lowest row with ``leaves_at_bottom``). Several roots are
    placed side by side; shared nodes are placed once."""
    roots = [n for n in graph.nodes if graph.in_degree(n) == 0] or list(graph.nodes)[:1]
    pos: dict[Any, tuple[float, float]] = {}
    next_x = [0.0]

    def place(node, depth: int) -> float:
        if node in pos:
            return pos[node][0]
        pos[node] = (0.0, -depth)  # reserve, guards against cycles
        kids = [k for k in _children(graph, node) if k not in pos]
        if not kids:
            x = next_x[0]
            next_x[0] += 1.0
        else:
            xs = [place(k, depth + 1) for k in kids]
            x = (min(xs) + max(xs)) / 2.0
        pos[node] = (x, -depth)
        return x

    for r in roots:
        place(r, 0)
    for n in graph.nodes:  # anything unreachable from a root
        if n not in pos:
            place(n, 0)
    if leaves_at_bottom:  # chords on one line, read left to right as the progression
        bottom = min(y for _, y in pos.values())
        pos = {n: (x, bottom if graph.out_degree(n) == 0 else y) for n, (x, y) in pos.items()}
    return pos


def derivation_tree(plan_or_graph, *, ax=None, max_label: int = 16):
    """Draw a plan's derivation (``plan.derivation``) or a networkx DiGraph as a tree.

    Node labels come from the node attribute ``label`` (or ``symbol``, ``rule``,
    ``name`` ...), else the node itself; children are ordered by an edge or node
    attribute ``order``/``index``/``position`` when present, else as inserted.
    Leaves (terminals, usually chord figures) are drawn in bold without a box.
    """
    graph = getattr(plan_or_graph, "derivation", plan_or_graph)
    if graph is None or not hasattr(graph, "successors"):
        raise InputError("this plan has no derivation tree (it was not sampled or parsed by a grammar)")
    if graph.number_of_nodes() == 0:
        raise InputError("the derivation tree is empty")
    pos = tree_layout(graph, leaves_at_bottom=True)
    width = max(x for x, _ in pos.values()) + 1
    depth = -min(y for _, y in pos.values()) + 1
    longest = max(min(len(_node_label(graph, n)), max_label) for n in graph.nodes)
    per_leaf = max(0.45, 0.075 * longest)  # inches per leaf, so neighbouring boxes do not touch
    ax = _axes(ax, (max(6.0, min(40.0, width * per_leaf)), max(3.0, min(14.0, depth * 0.7))))
    for a, b in graph.edges:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.plot([x0, x1], [y0, y1], color="0.6", linewidth=0.8, zorder=1)
    for n, (x, y) in pos.items():
        label = _node_label(graph, n)
        if len(label) > max_label:
            label = label[: max_label - 1] + "…"
        leaf = graph.out_degree(n) == 0
        ax.text(x, y, label, ha="center", va="center", fontsize=7 if not leaf else 8,
                fontweight="bold" if leaf else "normal", rotation=90 if leaf and width > 60 else 0,
                bbox=None if leaf else dict(boxstyle="round,pad=0.25", facecolor="#eef3fb", edgecolor="#9db4d8"),
                zorder=2)
    ax.set_xlim(-1, width)
    ax.set_ylim(-depth + 0.4, 0.6)
    ax.axis("off")
    return ax


# --------------------------------------------------------------------------- loss curves
def read_training_log(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a training log: JSON Lines (one object per epoch), a JSON list, or CSV.

    Expected columns: ``epoch``, ``train_loss``, ``valid_loss`` (see LOSS_COLUMNS).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such training log", Location(file=str(path)))
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        return [dict(r) for r in csv.DictReader(text.splitlines())]
    try:
        if text.lstrip().startswith("["):
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise InputError(f"not a JSON training log: {e.msg}", Location(file=str(path), line=e.lineno)) from None
    return [r for r in rows if isinstance(r, Mapping)]


def _number(x) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if f == f else None  # drop NaN


def loss_curves(log, *, ax=None, title: str | None = "training"):
    """Plot every ``*loss`` column of a training log against ``epoch``.

    ``log`` is a list of dicts (one per epoch) or a path to a JSONL/JSON/CSV file with
    the columns ``epoch, train_loss, valid_loss``; rows missing a value are skipped
    for that curve, so a validation loss logged every few epochs still draws.
    """
    rows = read_training_log(log) if isinstance(log, (str, Path)) else [dict(r) for r in log]
    if not rows:
        raise InputError("the training log has no rows")
    columns: list[str] = []
    for r in rows:
        for k in r:
            if str(k).endswith("loss") and k not in columns:
                columns.append(k)
    if not columns:
        raise InputError("the training log has no loss columns", expected=list(LOSS_COLUMNS))
    ax = _axes(ax, (6.0, 3.5))
    for col in columns:
        xs, ys = [], []
        for i, r in enumerate(rows):
            y = _number(r.get(col))
            x = _number(r.get("epoch", r.get("step", i + 1)))
            if y is not None and x is not None:
                xs.append(x)
                ys.append(y)
        if xs:
            ax.plot(xs, ys, marker="o", markersize=3, label=col.replace("_", " "))
    ax.set_xlabel("epoch" if any("epoch" in r for r in rows) else "step")
    ax.set_ylabel("loss")
    ax.grid(color="0.9")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax
