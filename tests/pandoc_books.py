"""A Quarto book and a bookdown book, shaped as their tools make them: Quarto's book template
(`quarto create project book`: _quarto.yml, index.qmd, intro.qmd, summary.qmd, references.qmd)
with a part, appendices, callouts and cross-references added; and bookdown-demo (index.Rmd with its
YAML, numbered chapter files, _bookdown.yml, `# (PART)` and `# (APPENDIX)` headings)."""

from __future__ import annotations

import io

from PIL import Image

from tests.book_corpus import zip_of

QUARTO_YML = """\
project:
  type: book
  output-dir: _book

book:
  title: "Tide Tables"
  subtitle: "Reading the Sea with Code"
  author:
    - name: Norah Jones
    - name: Ada Lovelace
  description: "How the tides are predicted, with worked examples."
  date: "2026-11-21"
  chapters:
    - index.qmd
    - intro.qmd
    - part: "Predictions"
      chapters:
        - harmonics.qmd
        - notes.md
    - part: practice.qmd
      chapters:
        - summary.qmd
    - references.qmd
  appendices:
    - glossary.qmd

bibliography: references.bib
lang: en-GB

format:
  html:
    theme: cosmo
  pdf:
    documentclass: scrreprt
"""

QUARTO_FILES = {
    "index.qmd": """\
# Preface {.unnumbered}

This is a Quarto book about tides. Start with @sec-intro, or go straight to @sec-harmonics.

To learn more about Quarto books visit <https://quarto.org/docs/books>.

```{r}
1 + 1
```
""",
    "intro.qmd": """\
---
execute:
  echo: true
---

# Introduction {#sec-intro}

This is a book created from markdown and executable code. See @knuth84 for additional discussion
of literate programming, and @fig-tide for a day of water levels.

::: {.callout-note}
The tide tables are predictions, not measurements.
:::

## Reading a table {#sec-reading}

Each row is a high or low water. The [glossary](glossary.qmd#sec-datum) explains the datum.

| Time  | Height |
|-------|--------|
| 06:12 | 5.1 m  |
| 12:40 | 0.9 m  |

: High and low waters at *Brest* {#tbl-brest}

@tbl-brest shows one morning.

![Water level over one day](images/tide.png){#fig-tide fig-alt="A wave of water levels" width=80%}
""",
    "harmonics.qmd": """\
# Harmonic analysis {#sec-harmonics}

The tide is a sum of waves (see @sec-reading).

```{python}
#| label: fig-constituents
#| fig-cap: "The main constituents"
#| echo: true
import math

def level(t: float) -> float:
    return sum(a * math.cos(w * t) for a, w in [(1.2, 0.5), (0.4, 1.0)])
```

::: {.callout-tip}
## Try it yourself
Change the amplitudes and plot @fig-constituents again.
:::

::: {.callout-warning title="Datum"}
Heights are above chart datum, not mean sea level.
:::

{{< pagebreak >}}
""",
    "notes.md": """\
# Field notes {#sec-notes}

Plain Markdown among the chapters, read as Quarto reads it: see [the harmonics](harmonics.qmd).

::: {.column-margin}
A note in the margin.
:::
""",
    "practice.qmd": """\
# In practice {.unnumbered}

The chapters of this part put the predictions to use.
""",
    "summary.qmd": """\
---
title: "Summary"
---

In summary, this book predicts tides (@sec-harmonics) and reads tables (@sec-reading).

```{r}
#| echo: false
summary(tides)
```
""",
    "references.qmd": """\
# References {.unnumbered}

::: {#refs}
:::
""",
    "glossary.qmd": """\
# Glossary

## Chart datum {#sec-datum}

The level heights are measured from; back to the [introduction](intro.qmd).
""",
}


def tide_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 60), (30, 90, 160)).save(out, "PNG")
    return out.getvalue()


def quarto_zip(top: str = "tide-tables/") -> bytes:
    """The project as a zipped folder, with the files Quarto keeps beside the chapters."""
    entries = {f"{top}_quarto.yml": QUARTO_YML.encode(), f"{top}references.bib": b"@book{knuth84, title={LP}}\n"}
    entries |= {f"{top}{name}": text.encode() for name, text in QUARTO_FILES.items()}
    entries[f"{top}images/tide.png"] = tide_png()
    entries[f"{top}.gitignore"] = b"/.quarto/\n"
    return zip_of(entries)


BOOKDOWN_YML = """\
book_filename: "bookdown-demo"
delete_merged_file: true
language:
  ui:
    chapter_name: "Chapter "
"""

BOOKDOWN_FILES = {
    "index.Rmd": """\
---
title: "A Minimal Book Example"
author: "John Doe"
date: "`r Sys.Date()`"
site: bookdown::bookdown_site
documentclass: book
bibliography: [book.bib, packages.bib]
description: |
  This is a minimal example of using the bookdown package to write a book.
link-citations: yes
lang: en-US
github-repo: rstudio/bookdown-demo
---

# About

This is a _sample_ book written in **Markdown**. Read Chapter \\@ref(intro) first.

## Usage

Each **bookdown** chapter is an .Rmd file, and each .Rmd file can contain one (and only one)
chapter.

```{r include=FALSE}
# automatically create a bib database for R packages
knitr::write_bib(c(.packages(), 'bookdown', 'knitr', 'rmarkdown'), 'packages.bib')
```
""",
    "01-intro.Rmd": """\
# (PART) The basics {-}

# Hello bookdown {#intro}

All chapters start with a first-level heading followed by your chapter title. See Chapter
\\@ref(cross) for cross-references.

## A section

### An unnumbered section {-}

To un-number a heading, add `{.unnumbered}` or the shorter `{-}` at the end of the heading.
""",
    "02-cross-refs.Rmd": """\
# Cross-references {#cross}

Cross-references make it easier for your readers to find and link to elements in your book.

## Chapters and sub-chapters

Reference a labelled heading with `\\@ref(label)`; for example, see Chapter \\@ref(intro) or the
[section on parts](#parts).

## Captioned figures and tables

See Figure \\@ref(fig:nice-fig).

```{r nice-fig, fig.cap='Here is a nice figure!', out.width='80%', fig.asp=.75, fig.align='center'}
par(mar = c(4, 4, .1, .1))
plot(pressure, type = 'b', pch = 19)
```
""",
    "03-parts.Rmd": """\
# (PART\\*) Going further {-}

# Parts {#parts}

You can add parts to organize one or more book chapters together. Back to [the
start](index.Rmd).

::: {.rmdnote}
A custom block, as bookdown styles it.
:::
""",
    "04-appendix.Rmd": """\
# (APPENDIX) Appendix {-}

# More to say

Yeah! I have finished my book, but I have more to say about \\@ref(cross).
""",
    "_common.Rmd": "```{r}\nknitr::opts_chunk$set(comment = '#>')\n```\n",
}


def bookdown_zip(top: str = "bookdown-demo-main/") -> bytes:
    entries = {f"{top}_bookdown.yml": BOOKDOWN_YML.encode(), f"{top}book.bib": b"@book{xie2015, title={Dynamic}}\n"}
    entries |= {f"{top}{name}": text.encode() for name, text in BOOKDOWN_FILES.items()}
    entries[f"{top}_output.yml"] = b"bookdown::gitbook:\n  css: style.css\n"
    return zip_of(entries)
