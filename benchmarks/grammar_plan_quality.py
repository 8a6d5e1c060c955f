"""Do sampled plans sound like chorale plans? The issue's four counts, over 200 plans per form grammar.

Plans are drawn as ``partimento plan --grammar NAME --count 200`` draws them (key C, 16 bars, 4/4,
seeds 0-199; ``--settings varied`` cycles the keys, lengths and metres of
``tests/grammar/test_plan_quality.py`` instead). For each grammar it counts:

* plans starting on the root-position home tonic (I/i), and on V (an upbeat);
* plans whose final chord is the home tonic, and whose final chord falls on beat 4 of a 4/4 bar (or
  any weak beat) lasting one beat or less without a fermata;
* half cadences, and those resting on a chord other than the root-position major dominant triad
  (e.g. V7);
* V -> ii / V -> IV steps inside a phrase, and how many of them a rule names (the second chord's
  derivation passes through the passing subdominant six-chord, a 6/3 chain or the neighbour six-four
  over a tonic pedal).

    python benchmarks/grammar_plan_quality.py [--plans 200] [--settings cli|varied]

Prints the counts and writes ``benchmarks/results/grammar_plan_quality.json``.
"""
from __future__ import annotations

import argparse

from partimento.grammar import load
from partimento.grammar.metre import parse_metre
from partimento.grammar.theory import chord_spec, key_info

from grammar_results import write_result

FORMS = ["chorale", "period", "sentence", "binary", "ternary"]
VARIED = [("C", 8, "4/4"), ("a", 8, "4/4"), ("E-", 16, "4/4"), ("f#", 8, "3/4"), ("G", 12, "4/4"),
          ("d", 16, "4/4"), ("B-", 8, "3/4"), ("e", 12, "6/8")]
NAMED_RETROGRESSIONS = {"passing_sub", "chain63", "pedal_64", "arrival_64"}


def degree(figure: str, key: str) -> int | None:
    """Scale degree 1..7 of a chord's root in its key (None for an applied chord)."""
    if "/" in figure:
        return None
    interval = (chord_spec(figure, key).root - key_info(key).tonic) % 12
    return {0: 1, 2: 2, 3: 3, 4: 3, 5: 4, 7: 5, 8: 6, 9: 6, 10: 7, 11: 7}.get(interval)


def measure(name: str, plans: int, settings: str) -> dict:
    grammar = load(name)
    c = dict.fromkeys(["plans", "start_on_I", "start_on_V", "end_on_home_tonic", "final_on_weak_beat",
                       "final_short_without_fermata", "final_on_beat_4_one_beat", "half_cadences",
                       "half_cadences_not_on_V_triad", "half_cadences_on_V7", "V_to_ii_or_IV_in_phrase",
                       "V_to_ii_or_IV_named_by_a_rule"], 0)
    for seed in range(plans):
        if settings == "cli":
            key, bars, metre = "C", 16, "4/4"
        else:
            choices = VARIED if name != "period" else [s for s in VARIED if s[1] % 4 == 0]
            key, bars, metre = choices[seed % len(choices)]
        plan = grammar.sample(key=key, bars=bars, metre=metre, seed=seed)
        m = parse_metre(plan.metre)
        beat = float(m.beat_quarters)
        first, last = plan.chords[0], plan.chords[-1]
        c["plans"] += 1
        c["start_on_I"] += first.key == plan.key and first.figure in ("I", "i") and not first.inversion_open
        c["start_on_V"] += first.key == plan.key and degree(first.figure, first.key) == 5
        c["end_on_home_tonic"] += last.key == plan.key and last.figure in ("I", "i")
        _, beat_no = m.measure_beat(last.onset, plan.pickup)
        c["final_on_weak_beat"] += beat_no not in m.strong_beats
        short = last.duration < 2 * beat and not last.fermata
        c["final_short_without_fermata"] += short
        c["final_on_beat_4_one_beat"] += plan.metre == "4/4" and beat_no == 4 and last.duration <= beat
        for i, phrase in enumerate(plan.phrases):
            members = [ch for ch in plan.chords if ch.phrase == i]
            if phrase.cadence == "HC":
                end = members[-1]
                spec = chord_spec(end.figure, end.key)
                c["half_cadences"] += 1
                triad = (degree(end.figure, end.key) == 5 and spec.seventh is None and len(spec.pcs) == 3
                         and (spec.third - spec.root) % 12 == 4 and spec.inversion == 0)
                c["half_cadences_not_on_V_triad"] += not triad
                c["half_cadences_on_V7"] += degree(end.figure, end.key) == 5 and spec.seventh is not None
            for a, b in zip(members, members[1:]):
                if a.key == b.key and degree(a.figure, a.key) == 5 and degree(b.figure, b.key) in (2, 4):
                    c["V_to_ii_or_IV_in_phrase"] += 1
                    path = plan.derivation_path(plan.chords.index(b))
                    c["V_to_ii_or_IV_named_by_a_rule"] += bool(NAMED_RETROGRESSIONS & set(path.rules))
    return {k: int(v) for k, v in c.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plans", type=int, default=200)
    ap.add_argument("--settings", choices=("cli", "varied"), default="cli")
    ap.add_argument("--out", default="benchmarks/results/grammar_plan_quality.json")
    args = ap.parse_args()
    result = {"settings": ("key C, 16 bars, 4/4, seeds 0..N-1 (partimento plan defaults)" if args.settings == "cli"
                           else "keys, lengths and metres of tests/grammar/test_plan_quality.py"),
              "grammars": {}}
    for name in FORMS:
        r = result["grammars"][name] = measure(name, args.plans, args.settings)
        print(f"{name:9s} start on I {r['start_on_I']}/{r['plans']}, on V {r['start_on_V']}; "
              f"final on beat 4 lasting one beat {r['final_on_beat_4_one_beat']}, on a weak beat "
              f"{r['final_on_weak_beat']}, short without fermata {r['final_short_without_fermata']}; "
              f"HC {r['half_cadences']} (on V7 {r['half_cadences_on_V7']}, not on the V triad "
              f"{r['half_cadences_not_on_V_triad']}); V->ii/IV in a phrase {r['V_to_ii_or_IV_in_phrase']} "
              f"(named by a rule {r['V_to_ii_or_IV_named_by_a_rule']})")
    write_result(args.out, result)


if __name__ == "__main__":
    main()
