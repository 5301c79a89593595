"""MathML to Typst math (shared/book/typst_math.py): the exact source of each construct, and every
formula of the test books, of real books' TeX and of hostile input compiled by Typst into a PDF/UA
document, as the print PDF will be: it compiles, with no warning."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import latex2mathml.converter
import pytest
import typst
from lxml import etree
from lxml import html as lxml_html

from shared.book.conversion import render
from shared.book.mathml import MATHML_NAMESPACE, MATHML_TAGS, clean_math
from shared.book.readers import parse_manuscript
from shared.book.typst_math import MAX_DEPTH, TypstMath, mathml_to_typst
from tests import book_corpus as corpus


def math(inner: str, attributes: str = "") -> etree._Element:
    return etree.fromstring(f'<math xmlns="{MATHML_NAMESPACE}"{attributes}>{inner}</math>')


def typst_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def compile_warnings(formula: TypstMath) -> list[str]:
    """Typst's warnings on a PDF/UA document holding only the formula; TypstError if it does not compile."""
    document = (
        '#set document(title: "t")\n#set text(lang: "en")\n'
        f"#math.equation(block: {str(formula.block).lower()}, alt: {typst_string(formula.alt)}, $ {formula.source} $)"
    )
    _, warnings = typst.compile_with_warnings(document.encode(), pdf_standards=["ua-1"])
    return [str(warning) for warning in warnings]


CONSTRUCTS = {
    "identifier": ("<mi>x</mi>", "x"),
    "two-identifiers": ("<mi>a</mi><mi>b</mi>", "a b"),  # `ab` would be one name to Typst
    "superscript": ("<msup><mi>x</mi><mn>2</mn></msup>", "x^2"),
    "subscript-of-a-row": ("<msub><mi>x</mi><mrow><mi>i</mi><mo>+</mo><mn>1</mn></mrow></msub>", "x_(i + 1)"),
    "both-scripts": ("<msubsup><mi>x</mi><mi>i</mi><mn>2</mn></msubsup>", "x_i^2"),
    "script-on-a-row": ("<msup><mrow><mi>a</mi><mo>+</mo><mi>b</mi></mrow><mn>2</mn></msup>", "attach(a + b, tr: 2)"),
    "prime": (
        '<msup><mi>f</mi><mo>′</mo></msup><mo stretchy="false">(</mo><mi>x</mi><mo stretchy="false">)</mo>',
        r"f' \( x \)",
    ),
    "known-operator": ("<mi>sin</mi><mi>x</mi>", "sin x"),
    "other-word": ("<mi>rank</mi><mi>A</mi>", 'upright("rank") A'),
    "word-as-operator": ("<mo>argmax</mo>", 'op("argmax")'),
    "numbers": ("<mn>3.14</mn><mo>,</mo><mn>1,000</mn>", r"3.14 \, 1\,000"),
    "minus": ("<mo>-</mo><mn>1</mn>", "− 1"),
    "variants": (
        '<mi mathvariant="bold">v</mi><mi mathvariant="double-struck">R</mi><mi mathvariant="fraktur">g</mi>'
        '<mi mathvariant="script">F</mi><mi mathvariant="normal">d</mi><mi mathvariant="bold-italic">w</mi>',
        "bold(upright(v)) bb(R) frak(g) cal(F) upright(d) bold(italic(w))",
    ),
    "text": ('<mtext>if x &gt; 0, "so" \\ $5 #1</mtext>', r'"if x > 0, \"so\" \\ $5 #1"'),
    "string-literal": ("<ms>abc</ms>", r'"\"abc\""'),
    "syntax-characters": (
        "".join(
            f"<mo>{char}</mo>" for char in ["/", "#", "$", "_", "^", "&amp;", "'", ",", ";", ":", "*", "~", "@", "`"]
        ),
        r"\/ \# \$ \_ \^ \& \' \, \; \: \* \~ \@ \`",
    ),
    "shorthands-stay-characters": ("<mo>&lt;=</mo><mo>-&gt;</mo><mo>!=</mo>", r"\<\= −\> \!\="),
    "lone-brackets": ("<mi>x</mi><mo>)</mo><mo>⟨</mo><mi>y</mi><mo>(</mo>", r"x \) \⟨ y \("),
    "brackets-pair-up": ("<mo>[</mo><mn>0</mn><mo>(</mo><mi>x</mi><mo>⟩</mo><mo>)</mo>", r"lr(\[ 0 lr(\( x \⟩) \))"),
    "stretching-brackets": ("<mo>(</mo><mfrac><mi>a</mi><mi>b</mi></mfrac><mo>]</mo>", r"lr(\( frac(a, b) \])"),
    "fixed-brackets": ('<mo stretchy="false">(</mo><mi>x</mi><mo stretchy="false">)</mo>', r"\( x \)"),
    "bars": (
        '<mo stretchy="false">|</mo><mi>x</mi><mo stretchy="false">|</mo>',
        r'class("opening", \|) x class("closing", \|)',
    ),
    "fraction": ("<mfrac><mi>a</mi><mi>b</mi></mfrac>", "frac(a, b)"),
    "binomial": ('<mo>(</mo><mfrac linethickness="0"><mi>n</mi><mi>k</mi></mfrac><mo>)</mo>', "binom(n, k)"),
    "stack-without-bar": ('<mfrac linethickness="0"><mi>n</mi><mi>k</mi></mfrac>', "mat(delim: #none, n; k)"),
    "roots": ("<msqrt><mi>x</mi></msqrt><mroot><mi>y</mi><mn>3</mn></mroot>", "sqrt(x) root(3, y)"),
    "accents": (
        '<mover><mi>x</mi><mo>¯</mo></mover><mover accent="true"><mi>y</mi><mo>^</mo></mover>'
        "<mover><mi>z</mi><mo>~</mo></mover><mover><mi>w</mi><mo>˙</mo></mover><mover><mi>v</mi><mo>→</mo></mover>",
        "overline(x) hat(y) tilde(z) dot(w) arrow(v)",
    ),
    "underbrace": ("<munder><mrow><mi>a</mi><mo>+</mo><mi>b</mi></mrow><mo>⏟</mo></munder>", "underbrace(a + b)"),
    "sum": (
        "<munderover><mo>∑</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow><mi>n</mi></munderover><mi>i</mi>",
        "∑_(i = 1)^n i",
    ),
    "integral-with-limits": ("<munderover><mo>∫</mo><mn>0</mn><mn>1</mn></munderover>", "limits(∫)_0^1"),
    "limit": ("<munder><mo>lim</mo><mrow><mi>x</mi><mo>→</mo><mn>0</mn></mrow></munder>", "lim_(x → 0)"),
    "over-set": ("<mover><mo>=</mo><mtext>def</mtext></mover>", 'limits(=)^("def")'),
    "matrix": (
        "<mo>(</mo><mtable><mtr><mtd><mi>a</mi></mtd><mtd><mi>b</mi></mtd></mtr>"
        "<mtr><mtd><mi>c</mi></mtd><mtd><mi>d</mi></mtd></mtr></mtable><mo>)</mo>",
        r"lr(\( mat(delim: #none, a, b; c, d) \))",
    ),
    "cases": (
        "<mo>{</mo><mtable><mtr><mtd><mn>1</mn></mtd><mtd><mtext>if </mtext><mi>x</mi></mtd></mtr>"
        "<mtr><mtd><mn>0</mn></mtd><mtd><mtext>otherwise</mtext></mtd></mtr></mtable>",
        'cases(1 & "if" x, 0 & "otherwise")',
    ),
    "aligned": (
        '<mtable columnalign="right left"><mtr><mtd><mi>a</mi></mtd><mtd><mo>=</mo><mi>b</mi></mtd></mtr>'
        "<mtr><mtd></mtd><mtd><mo>=</mo><mi>c</mi></mtd></mtr></mtable>",
        r'a & = b \ "" & = c',
    ),
    "fenced": ("<mfenced><mi>a</mi><mi>b</mi></mfenced>", r"lr(\( a \, b \))"),
    "enclosures": (
        '<menclose notation="box"><mi>x</mi></menclose><menclose notation="updiagonalstrike"><mi>y</mi></menclose>',
        "#box(stroke: 0.5pt, inset: 0.2em, $x$) cancel(y)",
    ),
    "phantom": ("<mphantom><mi>x</mi></mphantom><mi>y</mi>", "#hide($x$) y"),
    "prescripts": (
        "<mmultiscripts><mi>C</mi><mprescripts/><mn>6</mn><mn>14</mn></mmultiscripts>",
        "attach(C, tl: 14, bl: 6)",
    ),
    "style": ('<mstyle displaystyle="true" mathvariant="bold"><mi>x</mi></mstyle>', "display(bold(upright(x)))"),
    "spaces": ('<mi>a</mi><mspace width="0.167em"/><mi>b</mi><mspace width="3pt"/><mi>c</mi>', "a thin b #h(3pt) c"),
    "padded-error-semantics": (
        "<mpadded><mi>a</mi></mpadded><merror><mtext>oops</mtext></merror>"
        '<semantics><mi>b</mi><annotation encoding="application/x-tex">b</annotation></semantics>',
        'a "oops" b',
    ),
}


@pytest.mark.parametrize(("inner", "expected"), CONSTRUCTS.values(), ids=CONSTRUCTS.keys())
def test_each_construct_has_its_exact_typst(inner: str, expected: str) -> None:
    formula = mathml_to_typst(math(inner))
    assert (formula.source, formula.unconverted) == (expected, ())
    assert compile_warnings(formula) == []


def test_display_and_alternative_text() -> None:
    assert mathml_to_typst(math("<mi>x</mi>", ' display="block" alttext="ex"')) == TypstMath("x", True, "ex", ())
    annotated = math(
        '<semantics><msqrt><mi>x</mi></msqrt><annotation encoding="application/x-tex">\\sqrt{x}</annotation></semantics>'
    )
    assert mathml_to_typst(annotated).alt == "\\sqrt{x}"
    plain = mathml_to_typst(
        math("<msup><mi>x</mi><mn>2</mn></msup><mo>+</mo><mfrac><mi>a</mi><mrow><mi>b</mi><mn>2</mn></mrow></mfrac>")
    )
    assert (plain.block, plain.alt) == (False, "x^2 + a/(b 2)")


def test_an_unknown_element_keeps_its_text_and_is_named() -> None:
    formula = mathml_to_typst(math("<mi>a</mi><mo>=</mo><mfoo>bar <mi>b</mi></mfoo><msup><mi>c</mi></msup>"))
    assert formula.source == 'a = "bar b" "c"'
    assert formula.unconverted == ("mfoo", "msup")  # msup with one child cannot be converted either
    assert compile_warnings(formula) == []


@pytest.mark.parametrize("tag", ["mrow", "msqrt", "mstyle", "mphantom"])
def test_deep_nesting_falls_back_to_text(tag: str) -> None:
    root = element = etree.Element("math")
    for _ in range(10_000):
        element = etree.SubElement(element, tag)
    etree.SubElement(element, "mi").text = "x"
    formula = mathml_to_typst(root)
    assert formula.unconverted == (tag,)
    assert formula.source.count("(") <= 2 * MAX_DEPTH and '"x"' in formula.source
    assert compile_warnings(formula) == []


def test_thousands_of_brackets_nest_only_so_deep() -> None:
    root = etree.Element("math")
    for bracket in "()":
        for _ in range(10_000):
            etree.SubElement(root, "mo").text = bracket
    formula = mathml_to_typst(root)
    assert formula.source.count("lr(") < MAX_DEPTH
    assert compile_warnings(formula) == []


def etree_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Characters Typst's math reads as syntax, opening brackets it pairs (even outside ASCII), a shorthand,
# white space and invisible ones.
HOSTILE = r"""\$#_^/&'"()[]{},;:|!.~?@%*+-=<>`⟨⟦⌈⌊⌜⎰⦃❲‖′¯˙⏟""" + "\u00a0\u2061\u0302"


@pytest.mark.parametrize("tag", ["mi", "mn", "mo", "mtext", "ms"])
def test_any_character_anywhere_compiles(tag: str) -> None:
    tokens = "".join(f"<{tag}>{etree_text(char)}</{tag}>" for char in HOSTILE)
    word = f"<{tag}>{etree_text(HOSTILE)}</{tag}>"
    inner = (
        f"{tokens}<msqrt>{tokens}</msqrt><mfrac><mrow>{tokens}</mrow>{word}</mfrac><msub><mi>x</mi>{word}</msub>"
        f"<mtable><mtr><mtd>{tokens}</mtd><mtd>{word}</mtd></mtr></mtable><munder>{word}{word}</munder>"
    )
    formula = mathml_to_typst(math(inner))
    assert formula.unconverted == ()
    assert compile_warnings(formula) == []


def generated_formula(seed: int) -> etree._Element:
    """A formula made at random (from `seed`) of MathML's elements, in any order and number, with
    hostile text and attributes."""
    chance = random.Random(seed)
    layout = [*sorted(MATHML_TAGS - {"math", "mi", "mn", "mo", "mtext", "ms"}), "mfoo"]
    attributes = {
        "stretchy": ["true", "false"], "mathvariant": ["bold", "normal", "double-struck"], "linethickness": ["0"],
        "notation": ["box", "left updiagonalstrike", "longdiv"], "displaystyle": ["true", "false"],
        "width": ["1em", "-3pt", "thinmathspace"], "open": ["", "{"], "close": ["", "]"],
        "separators": [""], "columnalign": ["right left"], "linebreak": ["newline"],
    }  # fmt: skip

    def grow(parent: etree._Element, depth: int) -> None:
        if depth > 5 or chance.random() < 0.35:
            element = etree.SubElement(parent, chance.choice(["mi", "mn", "mo", "mtext", "ms"]))
            element.text = "".join(chance.choice(HOSTILE + "ab1") for _ in range(chance.choice([1, 1, 2, 4])))
        else:
            element = etree.SubElement(parent, chance.choice(layout))
            for _ in range(chance.choice([0, 1, 2, 2, 3, 4])):
                grow(element, depth + 1)
        for name, values in attributes.items():
            if chance.random() < 0.08:
                element.set(name, chance.choice(values))

    root = etree.Element("math", alttext="generated")
    for _ in range(3):
        grow(root, 0)
    return root


@pytest.mark.parametrize("seed", range(40), ids=lambda seed: f"seed-{seed}")
def test_generated_formulas_compile(seed: int) -> None:
    formula = mathml_to_typst(generated_formula(seed))
    assert compile_warnings(formula) == []


def book_formulas(book: bytes, kind: str) -> list[TypstMath]:
    """Every formula of a test book, as its rendered chapters carry it."""
    bodies = [chapter.body for chapter in render(parse_manuscript(book, kind))]
    return [
        mathml_to_typst(etree.fromstring(markup))
        for body in bodies
        for markup in re.findall(r"<math\b.*?</math>", body, re.S)
    ]


BOOKS = {
    "markdown": (
        lambda: (corpus.MATH_MARKDOWN.encode(), "markdown"),
        ["π r^2", r"∑_(i = 1)^n i = frac(n \( n + 1 \), 2)", "E = m c^2", "e^(i π) + 1 = 0"],
    ),
    "html": (lambda: (corpus.MATH_HTML.encode(), "html"), ["frac(a, b)", "sqrt(x)", "y"]),
    "word-equations": (lambda: (corpus.docx_with_equations(), "docx"), ["x^2", "frac(a, b)"]),
    "word-comments": (lambda: (corpus.docx_with_comments_and_an_equation(), "docx"), ["x = 1"]),
    "word-paper": (
        lambda: (corpus.word_paper(), "docx"),
        ["p_0", "sqrt(n)", "∑_(i = 1)^n x_i", "frac(a + b, 2)", r"lr(\( mat(delim: #none, 1, 0; 0, 1) \))"],
    ),
}


@pytest.mark.parametrize(("book", "expected"), BOOKS.values(), ids=BOOKS.keys())
def test_every_formula_of_the_test_books_compiles(book: Callable[[], tuple[bytes, str]], expected: list[str]) -> None:
    formulas = book_formulas(*book())
    assert [formula.source for formula in formulas] == expected
    assert [(formula.unconverted, compile_warnings(formula)) for formula in formulas] == [((), [])] * len(expected)


# TeX from real books; the source is given where it is short enough to read.
TEX = {
    "square": (r"x^2", "x^2"),
    "pythagoras": (r"a^2 + b^2 = c^2", "a^2 + b^2 = c^2"),
    "quadratic-formula": (r"x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}", "x = frac(− b ± sqrt(b^2 − 4 a c), 2 a)"),
    "euler": (r"e^{i\pi} + 1 = 0", "e^(i π) + 1 = 0"),
    "gaussian-integral": (
        r"\int_{-\infty}^{\infty} e^{-x^2} \, dx = \sqrt{\pi}",
        "∫_(− ∞)^(∞) e^(− x^2) thin d x = sqrt(π)",
    ),
    "fourier": (r"\hat{f}(\xi) = \int_{-\infty}^{\infty} f(x)\, e^{-2\pi i x \xi}\, dx", None),
    "matrix": (r"A = \begin{pmatrix} a & b \\ c & d \end{pmatrix}", r"A = lr(\( mat(delim: #none, a, b; c, d) \))"),
    "identity-matrix": (r"\begin{bmatrix} 1 & 0 & 0 \\ 0 & 1 & 0 \\ 0 & 0 & 1 \end{bmatrix}", None),
    "determinant": (r"\det \begin{vmatrix} a & b \\ c & d \end{vmatrix} = ad - bc", None),
    "cases": (r"|x| = \begin{cases} x & \text{if } x \geq 0 \\ -x & \text{otherwise} \end{cases}", None),
    "binomial": (r"\binom{n}{k} = \frac{n!}{k!(n-k)!}", r"binom(n, k) = frac(n \!, k \! \( n − k \) \!)"),
    "accents": (r"\bar{x} + \hat{y} + \tilde{z} + \dot{w} + \vec{v} + \overline{AB}", None),
    "exponential-series": (r"\sum_{k=0}^{\infty} \frac{x^k}{k!} = e^x", r"∑_(k = 0)^(∞) frac(x^k, k \!) = e^x"),
    "euler-product": (r"\prod_{p \text{ prime}} \frac{1}{1 - p^{-s}}", None),
    "limit": (r"\lim_{x \to 0} \frac{\sin x}{x} = 1", "lim_(x → 0) frac(sin x, x) = 1"),
    "nested-roots": (r"\sqrt{2 + \sqrt{2 + \sqrt[3]{2}}}", "sqrt(2 + sqrt(2 + root(3, 2)))"),
    "derivative": (r"f'(x) = \lim_{h \to 0} \frac{f(x+h) - f(x)}{h}", None),
    "second-derivative": (r"f''(x) + \frac{d^2 y}{dx^2} = 0", None),
    "set-builder": (r"S = \{ x \in \mathbb{R} : x^2 < 2 \}", r"S = \{ x ∈ ℝ \: x^2 < 2 \}"),
    "absolute-value": (r"\left| \frac{a}{b} \right| = \frac{|a|}{|b|}", None),
    "norm": (r"\| \mathbf{v} \| = \sqrt{v_1^2 + v_2^2}", None),
    "greek": (r"\alpha + \beta = \gamma, \quad \Omega \neq \omega, \; \varphi \approx \phi", None),
    "bold-vectors": (r"\mathbf{F} = m \mathbf{a}", None),
    "real-numbers": (r"f \colon \mathbb{R}^n \to \mathbb{C}", None),
    "operatorname": (r"\operatorname{argmax}_{\theta} \, \mathcal{L}(\theta) + \operatorname{Var}(X)", None),
    "logarithms-and-trigonometry": (
        r"\log_2 n + \sin^2 \theta + \cos^2 \theta = \ln e",
        "log_2 n + sin^2 θ + cos^2 θ = ln e",
    ),
    "continued-fraction": (r"x = 1 + \cfrac{1}{1 + \cfrac{1}{1 + x}}", None),
    "stokes": (
        r"\oint_{\partial \Sigma} \mathbf{F} \cdot d\mathbf{r} = \iint_{\Sigma} \nabla \times \mathbf{F} \cdot d\mathbf{S}",
        None,
    ),
    "gauss-law": (r"\nabla \cdot \mathbf{E} = \frac{\rho}{\varepsilon_0}", None),
    "bayes": (r"P(A \mid B) = \frac{P(B \mid A) P(A)}{P(B)}", None),
    "expectation": (r"\mathbb{E}[X] = \sum_{i} x_i \, p_i", None),
    "floor-and-ceiling": (r"\lfloor x \rfloor \le x \le \lceil x \rceil", None),
    "aligned": (r"\begin{aligned} a &= b + c \\ &= d \end{aligned}", None),
    "inner-product": (r"\langle u, v \rangle = \sum_{i=1}^{n} u_i v_i", None),
    "underbrace": (r"\underbrace{1 + 2 + \cdots + n}_{n \text{ terms}}", None),
    "definition": (r"a \overset{\text{def}}{=} b", None),
    "fraktur-and-script": (r"\mathfrak{g} \subset \mathcal{A}, \; \mathscr{F}", None),
    "text-with-punctuation": (r"x = y \text{ (by \$5, \#3; \"ok\")}", None),
    "half-open-interval": (r"\left[ \frac{1}{2}, 1 \right) \cup \left\{ 0 \right\}", None),
    "isotope": (r"{}^{14}_{6}\mathrm{C}", None),
    "congruence": (r"a \equiv b \pmod{n}", None),
}


@pytest.mark.parametrize(("tex", "expected"), TEX.values(), ids=TEX.keys())
def test_real_books_tex_compiles(tex: str, expected: str | None) -> None:
    # As Markdown books carry TeX: latex2mathml's MathML, cleaned as every book's MathML is.
    markup = latex2mathml.converter.convert(tex, display="block")
    formula = mathml_to_typst(clean_math(lxml_html.fragment_fromstring(markup)))
    assert formula.unconverted == ()
    assert formula.source == expected or expected is None
    assert formula.block
    assert compile_warnings(formula) == []
