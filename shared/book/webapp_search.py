"""The web-app book's search: the search box, the search page, and the part of the page script that
searches (`SEARCH_JS`) and marks a hit in its chapter. The index it reads and the rules for words:
search_index.py. The book's Content-Security-Policy lets no form submit (`form-action 'none'`), so
the script sends a box's query to the search page, and the boxes are hidden until it runs."""

from __future__ import annotations

from html import escape

# Its own function in the page script, after `quireText` (search_index.WORDS_JS).
SEARCH_JS = r"""(function () {
  var html = document.documentElement;
  var root = html.dataset.root || '', page = html.dataset.page;
  var query = new URLSearchParams(location.search).get('q') || '';

  // What needs this script (the search boxes and links) is hidden until it runs.
  Array.prototype.forEach.call(document.querySelectorAll('[data-needs-script]'), function (element) {
    element.hidden = false;
  });

  // The book's Content-Security-Policy lets no form submit: a search box leads to the search page.
  Array.prototype.forEach.call(document.querySelectorAll('form[role="search"]'), function (form) {
    var input = form.querySelector('input[name="q"]');
    if (page === 'search') { input.value = query; }
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var wanted = input.value.trim();
      if (page === 'search') {
        history.replaceState(null, '', wanted ? '?q=' + encodeURIComponent(wanted) : location.pathname);
        runSearch(wanted);
      } else if (wanted) {
        location.href = root + 'search.html?q=' + encodeURIComponent(wanted);
      }
    });
  });

  // The search page: the index (search.json, precached by the service worker) is read the first
  // time the reader searches; each hit links to its chapter with the query and the hit's word.
  var SHOWN = 50, SNIPPET = 60;
  var indexLoaded = null, chapterPages = {};

  function loadIndex() {
    if (!indexLoaded) {
      indexLoaded = fetch(root + 'search.json').then(function (response) {
        if (!response.ok) { throw new Error('HTTP ' + response.status); }
        return response.json();
      }).then(function (data) {
        var vocabulary = data.words ? data.words.split('\n') : [];
        var ids = new Map(), postings = vocabulary.map(function () { return []; });
        vocabulary.forEach(function (word, id) { ids.set(word, id); });
        var text = data.text.map(function (encoded, chapter) {
          var sequence = quireText.numbers(encoded);
          sequence.forEach(function (id, position) { postings[id].push(chapter, position); });
          return sequence;
        });
        return { chapters: data.chapters, language: data.language, ids: ids, postings: postings, text: text };
      });
      indexLoaded.catch(function () { indexLoaded = null; });  // offline before it was cached: try again later
    }
    return indexLoaded;
  }

  // Every place the query's words stand one after another: [{chapter, position}], in reading order.
  function findHits(index, terms) {
    var wanted = terms.map(function (term) { return index.ids.has(term) ? index.ids.get(term) : -1; });
    if (wanted.indexOf(-1) >= 0) { return []; }
    var anchor = 0;
    wanted.forEach(function (id, i) {
      if (index.postings[id].length < index.postings[wanted[anchor]].length) { anchor = i; }
    });
    var hits = [], list = index.postings[wanted[anchor]];
    for (var k = 0; k < list.length; k += 2) {
      var chapter = list[k], start = list[k + 1] - anchor, sequence = index.text[chapter], ok = start >= 0;
      for (var i = 0; ok && i < wanted.length; i++) { ok = sequence[start + i] === wanted[i]; }
      if (ok) { hits.push({ chapter: chapter, position: start }); }
    }
    return hits;
  }

  // A chapter's words and text, read from its page (from the service worker's cache offline).
  function chapterWords(href, language) {
    if (!chapterPages[href]) {
      chapterPages[href] = fetch(root + href).then(function (response) { return response.text(); }).then(function (markup) {
        var article = new DOMParser().parseFromString(markup, 'text/html').querySelector('main article');
        var collected = quireText.collect(article);
        return { text: collected.text, words: quireText.words(collected.text, language) };
      });
    }
    return chapterPages[href];
  }

  function showSnippet(element, href, language, position, length) {
    chapterWords(href, language).then(function (chapter) {
      var first = chapter.words[position], last = chapter.words[position + length - 1];
      if (!first || !last) { return; }
      var from = Math.max(0, first.start - SNIPPET), to = Math.min(chapter.text.length, last.end + SNIPPET);
      var before = chapter.text.slice(from, first.start).replace(/\s+/g, ' ');
      var after = chapter.text.slice(last.end, to).replace(/\s+/g, ' ');
      if (from > 0) { before = '…' + before.replace(/^\S*\s/, ''); }
      if (to < chapter.text.length) { after = after.replace(/\s\S*$/, '') + '…'; }
      var mark = document.createElement('mark');
      mark.textContent = chapter.text.slice(first.start, last.end).replace(/\s+/g, ' ');
      element.textContent = '';
      element.appendChild(document.createTextNode(before.replace(/^\s+/, '')));
      element.appendChild(mark);
      element.appendChild(document.createTextNode(after.replace(/\s+$/, '')));
    }).catch(function () { /* the hit's link still leads there */ });
  }

  function runSearch(wanted) {
    var status = document.getElementById('search-status');
    var list = document.getElementById('search-hits');
    list.textContent = '';
    if (!wanted) { status.textContent = ''; return; }
    status.textContent = 'Searching…';
    loadIndex().then(function (index) {
      var terms = quireText.words(wanted, index.language).map(function (found) { return found.word; });
      if (!terms.length) { status.textContent = 'Type a word to search for.'; return; }
      var hits = findHits(index, terms);
      var chapters = new Set(hits.map(function (hit) { return hit.chapter; })).size;
      status.textContent = hits.length
        ? hits.length + (hits.length === 1 ? ' hit' : ' hits') + ' in ' + chapters + (chapters === 1 ? ' chapter' : ' chapters')
          + (hits.length > SHOWN ? ', the first ' + SHOWN + ' listed.' : '.')
        : 'Nothing found for \u201c' + wanted + '\u201d.';
      hits.slice(0, SHOWN).forEach(function (hit) {
        var chapter = index.chapters[hit.chapter];
        var item = document.createElement('li');
        var link = document.createElement('a');
        link.href = root + chapter.href + '?q=' + encodeURIComponent(wanted) + '&at=' + hit.position;
        var title = document.createElement('span');
        title.className = 'hit-chapter';
        title.textContent = chapter.title;
        var snippet = document.createElement('span');
        snippet.className = 'snippet';
        link.appendChild(title);
        link.appendChild(snippet);
        item.appendChild(link);
        list.appendChild(item);
        showSnippet(snippet, chapter.href, index.language, hit.position, terms.length);
      });
    }).catch(function () {
      status.textContent = 'The search index could not be loaded. Try again when you are online.';
    });
  }

  if (page === 'search' && query) { runSearch(query.trim()); }

  // A chapter reached from a hit: the hit's words marked, scrolled to and focused.
  function highlightHit(wanted, at) {
    var article = document.querySelector('main article');
    if (!article) { return; }
    var collected = quireText.collect(article);
    var found = quireText.words(collected.text, html.lang);
    var terms = quireText.words(wanted, html.lang).map(function (word) { return word.word; });
    if (!terms.length) { return; }
    var matches = function (start) {
      for (var i = 0; i < terms.length; i++) {
        if (!found[start + i] || found[start + i].word !== terms[i]) { return false; }
      }
      return true;
    };
    if (!(at >= 0 && matches(at))) {  // a hit from another edition's index: the first one instead
      at = -1;
      for (var i = 0; at < 0 && i < found.length; i++) { if (matches(i)) { at = i; } }
    }
    if (at < 0) { return; }
    var start = found[at].start, end = found[at + terms.length - 1].end;
    var ranges = [];
    collected.nodes.forEach(function (entry) {
      var from = Math.max(start, entry.start), to = Math.min(end, entry.start + entry.node.data.length);
      if (from < to && entry.node.data.slice(from - entry.start, to - entry.start).trim()) {
        ranges.push([entry.node, from - entry.start, to - entry.start]);
      }
    });
    var marks = ranges.map(function (range) {
      var selected = document.createRange();
      selected.setStart(range[0], range[1]);
      selected.setEnd(range[0], range[2]);
      var mark = document.createElement('mark');
      mark.className = 'search-hit';
      selected.surroundContents(mark);
      return mark;
    });
    if (!marks.length) { return; }
    marks[0].id = 'search-hit';
    marks[0].tabIndex = -1;
    var show = function () {
      marks[0].scrollIntoView({ block: 'center' });
      marks[0].focus({ preventScroll: true });
    };
    if (document.readyState === 'complete') { show(); } else { addEventListener('load', show); }
  }

  if (page === 'chapter' && query) { highlightHit(query, parseInt(new URLSearchParams(location.search).get('at'), 10)); }
})();
"""

SEARCH_CSS = """\
/* Search: a box on the index and the search page, hits with their words marked. */
.search-form { margin: 1.5rem 0; font: 1rem system-ui, sans-serif; }
.search-form[hidden], header.bar [hidden] { display: none; }
.search-form label { display: block; margin-bottom: 0.35rem; }
.search-row { display: flex; gap: 0.5rem; }
.search-row input { flex: 1; min-width: 0; min-height: 44px; font: inherit; padding: 0.4rem 0.6rem; color: var(--fg);
  background: var(--bg); border: 1px solid var(--muted); border-radius: 0.35rem; }
.search-row input:focus-visible { outline: 3px solid var(--accent); outline-offset: 1px; }
.search-row button { min-height: 44px; padding: 0.4rem 1rem; font: 1rem system-ui, sans-serif; border: 0;
  border-radius: 0.35rem; background: var(--accent); color: var(--bg); }
.hits { padding-left: 1.6rem; } .hits li { margin: 0.9rem 0; }
.hits a { display: block; color: var(--fg); text-decoration: none; }
.hits .hit-chapter { display: block; color: var(--accent); text-decoration: underline; font: 600 0.95rem system-ui, sans-serif; }
.hits .snippet { display: block; }
mark { background: #ffe07a; color: #1d1b18; }
@media (prefers-color-scheme: dark) { mark { background: #6e5200; color: #fff8e6; } }
mark.search-hit { outline: 2px solid var(--accent); scroll-margin: 5rem 0; }
"""


def search_form(hidden: bool) -> str:
    """A search box (a `search` landmark) that leads to the search page; `hidden` until the script
    shows it (on the index; the search page's own is always shown)."""
    return (
        '<form class="search-form" role="search" action="search.html" aria-label="Search the book"'
        + (" data-needs-script hidden" if hidden else "")
        + '>\n<label for="search-q">Search the book</label>\n<div class="search-row">'
        '<input type="search" id="search-q" name="q" autocomplete="off" enterkeyhint="search" spellcheck="false">'
        '<button type="submit">Search</button></div>\n</form>\n'
    )


# A chapter's bar links the search page, once the script runs.
CHAPTER_BAR_LINK = '<a href="../search.html" data-needs-script hidden>Search</a>'


def search_page_body(title: str) -> str:
    """The search page's body: the box, the count (a live region) and the list of hits."""
    return (
        f'<header class="bar"><a href="index.html">☰ Contents</a><span class="book">{escape(title)}</span></header>\n'
        '<main id="content" class="search"><h1>Search</h1>\n'
        + search_form(hidden=False)
        + "<noscript><p>Searching the book needs JavaScript.</p></noscript>\n"
        '<p class="status" id="search-status" role="status" aria-live="polite"></p>\n'
        '<ol class="hits" id="search-hits"></ol></main>'
    )
