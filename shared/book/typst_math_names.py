"""Typst's names for what MathML writes as characters and attributes: operators, accents, letter
styles, spaces and enclosures. Data only; shared/book/typst_math.py uses it."""

from __future__ import annotations

# Typst's predefined text operators (math.op): written by name they get an operator's spacing, and
# a word that is not among them would be read by Typst as an unknown variable.
OPERATORS = frozenset({
    "arccos", "arcsin", "arctan", "arg", "cos", "cosh", "cot", "coth", "csc", "csch", "ctg", "deg", "det",
    "dim", "exp", "gcd", "lcm", "hom", "id", "im", "inf", "ker", "lg", "lim", "liminf", "limsup", "ln", "log",
    "max", "min", "mod", "Pr", "sec", "sech", "sin", "sinc", "sinh", "sup", "tan", "tanh", "tg", "tr",
})  # fmt: skip
# Bases Typst already sets with limits in a display and with scripts in a line, as MathML's
# movablelimits does: anything else under or over a base is forced with limits().
MOVABLE_LIMITS = frozenset(
    {"lim", "liminf", "limsup", "max", "min", "sup", "inf", "det", "gcd", "Pr", *"∑∏∐⋀⋁⋂⋃⨀⨁⨂⨃⨄⨅⨆"}
)

# An accent as MathML writes it (spacing or combining character) → Typst's accent function.
ACCENTS_OVER = {
    **dict.fromkeys("¯‾―̅", "overline"),
    **dict.fromkeys("^ˆ̂", "hat"),
    **dict.fromkeys("~˜̃", "tilde"),
    **dict.fromkeys("˙̇", "dot"),
    **dict.fromkeys("¨̈", "dot.double"),
    **dict.fromkeys("⃛", "dot.triple"),
    **dict.fromkeys("→⃗", "arrow"),
    **dict.fromkeys("←⃖", "arrow.l"),
    **dict.fromkeys("↔⃡", "arrow.l.r"),
    **dict.fromkeys("ˇ̌", "caron"),
    **dict.fromkeys("˘̆", "breve"),
    **dict.fromkeys("´́", "acute"),
    **dict.fromkeys("`̀", "grave"),
    **dict.fromkeys("˚̊", "circle"),
    "⏞": "overbrace",
    "⎴": "overbracket",
    "⏜": "overparen",
}
ACCENTS_UNDER = {**dict.fromkeys("_̲¯‾", "underline"), "⏟": "underbrace", "⎵": "underbracket", "⏝": "underparen"}

# mathvariant → Typst's style functions, outermost first. MathML's bold is upright, Typst's keeps
# the italic of a letter, hence bold(upright(…)).
VARIANTS = {
    "normal": ("upright",),
    "bold": ("bold", "upright"),
    "italic": ("italic",),
    "bold-italic": ("bold", "italic"),
    "double-struck": ("bb",),
    "fraktur": ("frak",),
    "bold-fraktur": ("bold", "frak"),
    "script": ("cal",),
    "bold-script": ("bold", "cal"),
    "sans-serif": ("sans",),
    "bold-sans-serif": ("bold", "sans"),
    "sans-serif-italic": ("italic", "sans"),
    "sans-serif-bold-italic": ("bold", "italic", "sans"),
    "monospace": ("mono",),
}

# Typst's named math spaces, by width in em (TeX's \, \: \; \quad \qquad, as latex2mathml writes them).
SPACES = {1 / 6: "thin", 2 / 9: "med", 5 / 18: "thick", 1.0: "quad", 2.0: "wide"}
# MathML 2's named widths, in em.
NAMED_WIDTHS = {
    "veryverythinmathspace": 1 / 18,
    "verythinmathspace": 2 / 18,
    "thinmathspace": 3 / 18,
    "mediummathspace": 4 / 18,
    "thickmathspace": 5 / 18,
    "verythickmathspace": 6 / 18,
    "veryverythickmathspace": 7 / 18,
}

# menclose notations → Typst, `{}` standing for the enclosed formula. A box holds its formula as
# an equation of its own, since Typst's math has no frame.
ENCLOSURES = {
    "box": "#box(stroke: 0.5pt, inset: 0.2em, ${}$)",
    "roundedbox": "#box(stroke: 0.5pt, inset: 0.2em, radius: 0.3em, ${}$)",
    "circle": "#box(stroke: 0.5pt, inset: 0.2em, radius: 50%, ${}$)",
    "updiagonalstrike": "cancel({})",
    "downdiagonalstrike": "cancel({}, inverted: #true)",
    "horizontalstrike": "cancel({}, angle: #90deg)",
    "verticalstrike": "cancel({}, angle: #0deg)",
    "top": "overline({})",
    "bottom": "underline({})",
    "left": "\\| {}",
    "right": "{} \\|",
    "radical": "sqrt({})",
}

# Brackets MathML stretches around what they enclose (Typst: lr). `|` and `‖` open or close.
OPENING = frozenset("([{⟨⌈⌊⟦⟪⦃⦅")
CLOSING = frozenset(")]}⟩⌉⌋⟧⟫⦄⦆")
SYMMETRIC = frozenset("|‖")
PRIMES = {"'": 1, "′": 1, "″": 2, "‴": 3, "⁗": 4}
