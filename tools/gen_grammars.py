"""Regenerate the shipped grammars: copy the shared harmonic syntax of harmony.lark (the master)
into the form grammars, so one edit there reaches all of them. Run: python tools/gen_grammars.py"""
from pathlib import Path
d = Path(__file__).resolve().parent.parent / 'grammar' / 'grammars'
master = (d/'harmony.lark').read_text()
lib = master[master.index('// ================================================================ shared harmonic syntax'):]
ANN = '''// ANNOTATIONS (comments, so the file stays ordinary Lark): "// @phrase bars=2:1,4:3" above a
// rule makes it one phrase (lengths in bars:weight); "// @section A" above a rule makes it a
// formal section; a trailing "// w=3 key=V cadence=PAC fermata repeat major|minor" annotates
// the alternatives on its line (weight, key of the alternative, cadence label and fermata on
// its last chord, let-binding of repeated symbols, mode). No weights = uniform. Chords are
// music21 Roman numerals in the local key; "@V" marks a key change inside a phrase.
// Full description: harmony.lark and partimento.grammar.grammar.
'''
CAD = '''
// Phrase bodies by cadence, used by the form rules above. Sampled plans close firmly: a
// half cadence rests on the root-position dominant triad (or, in minor, on iv6 - V), and
// the first phrase of a piece starts on the root-position tonic.
body_pac: tr pac                  // w=5 cadence=PAC
        | pac                     // w=0.3 cadence=PAC
        | lead mod_close          // w=1.5
body_hc: tr firm_hc               // w=3 cadence=HC
       | firm_hc                  // w=0.3 cadence=HC
body_iac: tr iac                  // cadence=IAC
body_dc: tr dc                    // cadence=DC
firm_hc: "V53"                    // w=1
       | cad_lead "V53"           // w=3
       | phrygian_close           // minor w=1
// A modulating phrase closes in a closely related key.
mod_close: "@V" closed_body       // key=V major w=3
         | "@vi" closed_body      // key=vi major w=2
         | "@IV" closed_body      // key=IV major w=0.5
         | "@ii" closed_body      // key=ii major w=0.5
         | "@III" closed_body     // key=III minor w=3
         | "@v" closed_body       // key=v minor w=1
         | "@VII" closed_body     // key=VII minor w=0.5
         | "@iv" closed_body      // key=iv minor w=0.5
closed_body: tr pac               // w=3 cadence=PAC
           | pac                  // w=0.3 cadence=PAC
           | tr firm_hc           // w=1 cadence=HC
// The opening of a piece: a tonic region that starts on the root-position tonic.
opening_tr: opening_tonic         // w=3
          | opening_tr tunit      // w=2
opening_tonic: "I53"              // major
             | "i53"              // minor
opening_pac: opening_tr pac       // cadence=PAC
opening_hc: opening_tr firm_hc    // cadence=HC
opening_iac: opening_tr iac       // cadence=IAC
opening_mod: opening_tr mod_close
           | opening_tr pivot mod_close
'''
grammars = {
'chorale': ('''// chorale.lark: a chorale in the manner of Bach's four-part chorales.
//
// A chorale is a chain of short phrases (1 to 4 bars) that each stop on a fermata. Most
// phrases close with an authentic or half cadence, often in a closely related key (the
// dominant, the relative major or minor); the first phrase starts on the tonic and the
// last closes on it (PAC), its final chord on a strong beat under the fermata. Harmonic
// rhythm is mostly one chord per beat; a fermata chord lasts two beats.
//
''', '''// @grammar durations=1:8,2:1 final=2:3,4:1
start: first_phrase phrases final_phrase
     | first_phrase final_phrase             // w=0.5
     | only_phrase                           // w=0.05
phrases: chorale_phrase
       | phrases chorale_phrase

// @phrase bars=1:1,2:5,3:1,4:3 label=phrase
first_phrase: opening_pac                    // w=3 fermata
            | opening_hc                     // w=3 fermata
            | opening_iac                    // w=0.5 fermata
            | opening_mod                    // w=2 fermata
// @phrase bars=1:1,2:5,3:1,4:3 label=phrase
chorale_phrase: body_pac                     // w=4 fermata
              | body_hc                      // w=3 fermata
              | body_iac                     // w=0.5 fermata
              | body_dc                      // w=0.3 fermata
// @phrase bars=1:1,2:5,3:1,4:3 label=final
final_phrase: tr pac                         // fermata cadence=PAC
            | pac                            // fermata cadence=PAC w=0.2
// @phrase bars=1:0.2,2:1,4:3 label=final
only_phrase: opening_pac                     // fermata

// Any chorale phrase, for parsing analyses.
// @phrase bars=1:1,2:5,3:1,4:3
phrase: body
'''),
'period': ('''// period.lark: the period (Caplin): an antecedent phrase closing weakly (a half cadence, or
// an imperfect authentic cadence) answered by a consequent that starts again from the
// tonic and closes with a perfect authentic cadence in the home key. 8 bars gives 4 + 4,
// 16 bars 8 + 8.
//
''', '''// @grammar durations=1:4,2:2 final=2:2,4:3
start: period
     | period period             // w=0.5
// @section A
period: antecedent consequent

// @phrase bars=2:1,4:4,8:2 label=antecedent
antecedent: opening_hc           // w=4
          | opening_iac          // w=1
// @phrase bars=2:1,4:4,8:2 label=consequent
consequent: opening_pac

// Either kind of phrase, for parsing analyses.
// @phrase bars=2:1,4:4,8:2
phrase: body
'''),
'sentence': ('''// sentence.lark: the sentence (Caplin): a presentation that states a basic idea and
// repeats it (the repetition shares the basic idea's derivation, a let-binding), then a
// continuation that fragments and drives to a cadence; the last sentence closes on the
// tonic. 8 bars: 2 + 2 + 4.
//
''', '''// @grammar durations=1:4,2:2 final=2:2,4:3
start: last_sentence
     | sentence last_sentence     // w=0.5
// @phrase bars=4:1,8:4 label=sentence
sentence: presentation continuation
// @phrase bars=4:1,8:4 label=sentence
last_sentence: presentation closing_continuation
presentation: basic_idea basic_idea   // repeat
basic_idea: opening_tr
continuation: body_pac            // w=3
            | body_hc             // w=1
closing_continuation: tr pac      // w=3 cadence=PAC
                    | pac         // cadence=PAC

// A sentence, for parsing analyses.
// @phrase bars=4:1,8:4
phrase: body
'''),
'binary': ('''// binary.lark: rounded or simple binary form. Section A starts on the tonic and closes
// away from home (in the dominant for major keys, the relative major or minor dominant for
// minor keys); section B starts away from home and returns to close with a PAC in the
// tonic.
//
''', '''// @grammar durations=1:4,2:2 final=2:2,4:3
start: section_a section_b
// @section A
section_a: first_opening modulating  // w=3
         | first_modulating          // w=1
// @section B
section_b: away closing              // w=3
         | away opening closing      // w=1
away: opening                        // key=V major w=3
    | opening                        // key=III minor w=3
    | opening                        // key=v minor w=1

// @phrase bars=2:1,4:4,8:1 label=opening
first_opening: opening_hc            // w=2
             | opening_iac           // w=1
// @phrase bars=2:1,4:4,8:1 label=opening
opening: body_hc                     // w=2
       | body_iac                    // w=1
// @phrase bars=2:1,4:4,8:1 label=modulating
first_modulating: opening_mod
// @phrase bars=2:1,4:4,8:1 label=modulating
modulating: lead mod_close
// @phrase bars=2:1,4:4,8:1 label=closing
closing: tr pac                      // cadence=PAC

// Any of these phrases, for parsing analyses.
// @phrase bars=2:1,4:4,8:1
phrase: body
'''),
'ternary': ('''// ternary.lark: ternary form A B A. The return of A is the same music as the first A (the
// form rule binds it once and repeats it, a let-binding); A starts on the tonic; B
// contrasts in a closely related key and ends with a half cadence (retransition) that
// leads back home.
//
''', '''// @grammar durations=1:4,2:2 final=2:2,4:3
start: section_a section_b section_a    // repeat
// @section A
section_a: first_closing                // w=1
         | first_opening closing        // w=2
// @section B
section_b: contrast retransition
contrast: closing                       // key=vi major w=2
        | closing                       // key=V major w=1
        | closing                       // key=IV major w=1
        | closing                       // key=III minor w=2
        | closing                       // key=iv minor w=1

// @phrase bars=2:1,4:4,8:1 label=opening
first_opening: opening_hc
// @phrase bars=2:1,4:4,8:1 label=closing
first_closing: opening_pac
// @phrase bars=2:1,4:4,8:1 label=closing
closing: tr pac                         // cadence=PAC
// @phrase bars=2:1,4:4,8:1 label=retransition
retransition: body_hc

// Any of these phrases, for parsing analyses.
// @phrase bars=2:1,4:4,8:1
phrase: body
'''),
}
for name, (head, form) in grammars.items():
    text = head + ANN + '\n' + form + CAD + '\n' + lib
    (d/f'{name}.lark').write_text(text)

# prune rules that neither start nor phrase can reach (so `grammar check` is clean)
import re, sys
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from partimento.grammar.grammar import read_source
DEF = re.compile(r"^([?!]?)([A-Za-z_][A-Za-z0-9_]*)\s*:")
for name in grammars:
    p = d/f'{name}.lark'
    text = p.read_text()
    src = read_source(text, name, str(p))
    reach, stack = set(), ['start', 'phrase']
    while stack:
        n = stack.pop()
        if n in reach: continue
        reach.add(n)
        for a in src.rules[n].alternatives:
            stack.extend(s for s in a.symbols if s in src.rules)
    # drop unreachable rules; a comment block above one goes too when nothing else in its
    # paragraph (lines up to a blank line) is kept and it is not a section heading
    out = []
    for para in re.split(r"\n\s*\n", text.rstrip("\n")):
        lines = para.splitlines()
        keep = [True] * len(lines)
        rule = None  # the rule whose lines we are in
        for i, line in enumerate(lines):
            m = DEF.match(line)
            if m:
                rule = m.group(2)
            elif line.startswith('//'):
                rule = None
            if rule is not None and rule not in reach:
                keep[i] = False
        kept_rule = any(keep[i] and DEF.match(l) for i, l in enumerate(lines))
        i = 0
        while i < len(lines):  # comment blocks right above a dropped rule
            j = i
            while j < len(lines) and lines[j].startswith('//'):
                j += 1
            heading = any(b.startswith(('// ====', '// ----')) for b in lines[i:j])
            if j > i and j < len(lines) and not keep[j] and not kept_rule and not heading:
                keep[i:j] = [False] * (j - i)
            i = max(j, i + 1)
        kept = [l for l, k in zip(lines, keep) if k]
        if kept:
            out.append("\n".join(kept))
    p.write_text("\n\n".join(out) + "\n")

# the facts of every chord the shipped grammars name, for the bass-line rule (music21's, precomputed
# so that sampling does not import music21): grammar/bass_line_figures.json
import json
from partimento.grammar.bass_line import TABLE_PATH, figure_table
from partimento.grammar.sampler import is_chord_literal, literal_value
from partimento.grammar.errors import InputError
from partimento.grammar.sampler import emitted_figure
from partimento.grammar.theory import invert_figure
figures = set()
for p in sorted(d.glob('*.lark')):
    src = read_source(p.read_text(), p.stem, str(p))
    for lit in {literal_value(s) for r in src.rules.values() for a in r.alternatives for s in a.symbols
                if is_chord_literal(s)}:
        figure, is_open = emitted_figure(lit)
        figures |= {lit, figure}
        for inversion in range(1, 4) if is_open else ():  # the sampler may fix an open chord's inversion
            try:
                figures.add(invert_figure(figure, inversion))
            except InputError:
                break
table = figure_table(figures)
lines = ['{"about": "written by tools/gen_grammars.py from music21: per mode, figure -> '
         '[root, bass (pitch classes above the tonic), seventh in the bass]",']
for i, mode in enumerate(("major", "minor")):
    rows = [f"  {json.dumps(fig, ensure_ascii=False)}: {json.dumps(v)}" for fig, v in table[mode].items()]
    lines.append(f' "{mode}": {{\n' + ",\n".join(rows) + "\n }" + ("," if i == 0 else ""))
TABLE_PATH.write_text("\n".join(lines) + "\n}\n")
