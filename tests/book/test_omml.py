"""Word's equations (OMML) to MathML: the converter on small equations."""

from __future__ import annotations

import pytest
from lxml import etree

from shared.book.omml import Unconvertible, linear_text, omml_to_mathml
from tests.book_corpus import OMML_NAMESPACE


def mathml(inner: str, display: bool = False) -> str:
    equation = etree.fromstring(f'<m:oMath xmlns:m="{OMML_NAMESPACE}">{inner}</m:oMath>')
    return omml_to_mathml(equation, display)


def run(text: str) -> str:
    return f"<m:r><m:t>{text}</m:t></m:r>"


def test_a_fraction() -> None:
    assert mathml(f"<m:f><m:num>{run('1')}</m:num><m:den>{run('x+y')}</m:den></m:f>") == (
        '<math display="inline" alttext="1x+y"><mrow><mfrac><mrow><mn>1</mn></mrow>'
        "<mrow><mi>x</mi><mo>+</mo><mi>y</mi></mrow></mfrac></mrow></math>"
    )


def test_a_superscript_and_a_subscript() -> None:
    assert "<msup><mrow><mi>e</mi></mrow><mrow><mn>2</mn></mrow></msup>" in mathml(
        f"<m:sSup><m:e>{run('e')}</m:e><m:sup>{run('2')}</m:sup></m:sSup>"
    )
    assert "<msubsup><mrow><mi>x</mi></mrow><mrow><mi>i</mi></mrow><mrow><mn>2</mn></mrow></msubsup>" in mathml(
        f"<m:sSubSup><m:e>{run('x')}</m:e><m:sub>{run('i')}</m:sub><m:sup>{run('2')}</m:sup></m:sSubSup>"
    )


def test_square_and_cube_roots() -> None:
    square = mathml(f"<m:rad><m:radPr><m:degHide m:val='1'/></m:radPr><m:deg/><m:e>{run('2')}</m:e></m:rad>")
    assert "<msqrt><mrow><mn>2</mn></mrow></msqrt>" in square
    cube = mathml(f"<m:rad><m:deg>{run('3')}</m:deg><m:e>{run('x')}</m:e></m:rad>")
    assert "<mroot><mrow><mi>x</mi></mrow><mrow><mn>3</mn></mrow></mroot>" in cube


def test_a_sum_with_limits_shown_as_a_display() -> None:
    sum_ = mathml(
        "<m:nary><m:naryPr><m:chr m:val='∑'/></m:naryPr>"
        f"<m:sub>{run('i=1')}</m:sub><m:sup>{run('n')}</m:sup><m:e>{run('i')}</m:e></m:nary>",
        display=True,
    )
    assert sum_.startswith('<math display="block" alttext="i=1ni">')
    assert (
        '<munderover><mo largeop="true">∑</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow>'
        "<mrow><mi>n</mi></mrow></munderover><mrow><mi>i</mi></mrow>" in sum_
    )
    integral = mathml(f"<m:nary><m:sub>{run('0')}</m:sub><m:sup/><m:e>{run('f')}</m:e></m:nary>")
    assert '<msub><mo largeop="true">∫</mo><mrow><mn>0</mn></mrow></msub>' in integral


def test_delimiters_functions_accents_and_matrices() -> None:
    brackets = mathml(
        f"<m:d><m:dPr><m:begChr m:val='['/><m:endChr m:val=''/></m:dPr><m:e>{run('a')}</m:e><m:e>{run('b')}</m:e></m:d>"
    )
    assert '<mo fence="true">[</mo><mrow><mi>a</mi></mrow><mo>|</mo><mrow><mi>b</mi></mrow></mrow>' in brackets
    sine = mathml(
        "<m:func><m:fName><m:r><m:rPr><m:sty m:val='p'/></m:rPr><m:t>sin</m:t></m:r></m:fName>"
        f"<m:e>{run('x')}</m:e></m:func>"
    )
    assert '<mi mathvariant="normal">sin</mi></mrow><mo>\u2061</mo>' in sine
    assert '<mover accent="true"><mrow><mi>v</mi></mrow><mo stretchy="false">→</mo></mover>' in mathml(
        f"<m:acc><m:accPr><m:chr m:val='\u20d7'/></m:accPr><m:e>{run('v')}</m:e></m:acc>"
    )
    matrix = mathml(f"<m:m><m:mr><m:e>{run('1')}</m:e><m:e>{run('0')}</m:e></m:mr><m:mr><m:e/><m:e/></m:mr></m:m>")
    assert matrix.count("<mtr>") == 2 and matrix.count("<mtd>") == 4


def test_what_it_does_not_know_is_named() -> None:
    equation = etree.fromstring(
        f'<m:oMath xmlns:m="{OMML_NAMESPACE}"><m:phant><m:e>{run("y")}</m:e></m:phant>{run("+1")}</m:oMath>'
    )
    with pytest.raises(Unconvertible, match="m:phant"):
        omml_to_mathml(equation, False)
    assert linear_text(equation) == "y+1"
