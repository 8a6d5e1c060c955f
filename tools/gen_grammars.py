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
// Phrase bodies by cadence, used by the form rules above.
body_pac: tr pac          // w=5 cadence=PAC
        | pac             // w=0.3 cadence=PAC
        | lead mod_pac    // w=1
body_hc: tr hc            // w=3 cadence=HC
       | hc               // w=0.3 cadence=HC
body_iac: tr iac          // cadence=IAC
mod_pac: "@V" body_home_pac     // key=V major w=3
       | "@vi" body_home_pac    // key=vi major
       | "@III" body_home_pac   // key=III minor w=3
       | "@v" body_home_pac     // key=v minor
body_home_pac: tr pac     // cadence=PAC
             | pac        // w=0.3 cadence=PAC
'''
grammars = {
'chorale': ('''// chorale.lark: a chorale in the manner of Bach's four-part chorales.
//
// A chorale is a chain of short phrases (1 to 4 bars) that each stop on a fermata. Most
// phrases close with an authentic or half cadence, often in a closely related key (the
// dominant, the relative major or minor); the last phrase closes on the tonic (PAC).
// Harmonic rhythm is mostly one chord per beat; a fermata chord lasts one or two beats.
//
''', '''// @grammar durations=1:8,2:1 final=1:1,2:3
start: phrases final_phrase
     | final_phrase                  // w=0.1
phrases: chorale_phrase
       | phrases chorale_phrase

// @phrase bars=1:1,2:5,3:1,4:3 label=phrase
chorale_phrase: body           // fermata
// @phrase bars=1:1,2:5,3:1,4:3 label=final
final_phrase: tr pac           // fermata cadence=PAC
            | pac              // fermata cadence=PAC w=0.2

// Any chorale phrase, for parsing analyses.
// @phrase bars=1:1,2:5,3:1,4:3
phrase: body
'''),
'period': ('''// period.lark: the period (Caplin): an antecedent phrase closing weakly (a half cadence, or
// an imperfect authentic cadence) answered by a consequent closing with a perfect
// authentic cadence in the home key. 8 bars gives 4 + 4, 16 bars 8 + 8.
//
''', '''// @grammar durations=1:4,2:2 final=2:2,4:3
start: period
     | period period             // w=0.5
// @section A
period: antecedent consequent

// @phrase bars=2:1,4:4,8:2 label=antecedent
antecedent: body_hc              // w=4
          | body_iac             // w=1
// @phrase bars=2:1,4:4,8:2 label=consequent
consequent: tr pac               // cadence=PAC

// Either kind of phrase, for parsing analyses.
// @phrase bars=2:1,4:4,8:2
phrase: antecedent | consequent
'''),
'sentence': ('''// sentence.lark: the sentence (Caplin): a presentation that states a basic idea and
// repeats it (the repetition shares the basic idea's derivation, a let-binding), then a
// continuation that fragments and drives to a cadence. 8 bars: 2 + 2 + 4.
//
''', '''// @grammar durations=1:4,2:2 final=2:2,4:3
start: sentence
     | sentence sentence          // w=0.5
// @phrase bars=4:1,8:4 label=sentence
sentence: presentation continuation
presentation: basic_idea basic_idea   // repeat
basic_idea: tr
continuation: body_pac            // w=3
            | body_hc             // w=1

// A sentence, for parsing analyses.
// @phrase bars=4:1,8:4
phrase: sentence
'''),
'binary': ('''// binary.lark: rounded or simple binary form. Section A closes away from home (in the
// dominant for major keys, the relative major or minor dominant for minor keys); section B
// starts away from home and returns to close with a PAC in the tonic.
//
''', '''// @grammar durations=1:4,2:2 final=2:2,4:3
start: section_a section_b
// @section A
section_a: opening modulating        // w=3
         | modulating                // w=1
// @section B
section_b: away closing              // w=3
         | away opening closing      // w=1
away: opening                        // key=V major w=3
    | opening                        // key=III minor w=3
    | opening                        // key=v minor w=1

// @phrase bars=2:1,4:4,8:1 label=opening
opening: body_hc                     // w=2
       | body_iac                    // w=1
// @phrase bars=2:1,4:4,8:1 label=modulating
modulating: lead mod_pac
// @phrase bars=2:1,4:4,8:1 label=closing
closing: tr pac                      // cadence=PAC

// Any of these phrases, for parsing analyses.
// @phrase bars=2:1,4:4,8:1
phrase: opening | modulating | closing
'''),
'ternary': ('''// ternary.lark: ternary form A B A. The return of A is the same music as the first A (the
// form rule binds it once and repeats it, a let-binding); B contrasts in a closely related
// key and ends with a half cadence (retransition) that leads back home.
//
''', '''// @grammar durations=1:4,2:2 final=2:2,4:3
start: section_a section_b section_a    // repeat
// @section A
section_a: closing                      // w=1
         | opening closing              // w=2
// @section B
section_b: contrast retransition
contrast: closing                       // key=vi major w=2
        | closing                       // key=V major w=1
        | closing                       // key=IV major w=1
        | closing                       // key=III minor w=2
        | closing                       // key=iv minor w=1

// @phrase bars=2:1,4:4,8:1 label=opening
opening: body_hc
// @phrase bars=2:1,4:4,8:1 label=closing
closing: tr pac                         // cadence=PAC
// @phrase bars=2:1,4:4,8:1 label=retransition
retransition: body_hc

// Any of these phrases, for parsing analyses.
// @phrase bars=2:1,4:4,8:1
phrase: opening | closing | retransition
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
figures = set()
for p in sorted(d.glob('*.lark')):
    src = read_source(p.read_text(), p.stem, str(p))
    figures |= {literal_value(s) for r in src.rules.values() for a in r.alternatives for s in a.symbols
                if is_chord_literal(s)}
table = figure_table(figures)
lines = ['{"about": "written by tools/gen_grammars.py from music21: per mode, figure -> '
         '[root, bass (pitch classes above the tonic), seventh in the bass]",']
for i, mode in enumerate(("major", "minor")):
    rows = [f"  {json.dumps(fig, ensure_ascii=False)}: {json.dumps(v)}" for fig, v in table[mode].items()]
    lines.append(f' "{mode}": {{\n' + ",\n".join(rows) + "\n }" + ("," if i == 0 else ""))
TABLE_PATH.write_text("\n".join(lines) + "\n}\n")
