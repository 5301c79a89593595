"""The web-app book's update offer, told what the new edition changed: scripts and styles appended
to the book's own (shared/book/webapp.py), plain JS, no inline script or style.

The new edition's service worker is waiting, with the whole edition in its cache, changes.json
included (shared/book/changes_pages.py). The page asks that worker, over a MessageChannel, for its
changes.json, and shows the author's notes and the new and changed chapters in the offer
(`offerNewEdition` hands the offer over). A chapter's link takes the new edition first, then opens
the chapter in it; removed chapters are named, without a link.
"""

from __future__ import annotations

CHANGES_JS = r"""
(function () {
  'use strict';
  var root = document.documentElement.dataset.root || '';
  var target = null;

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.addEventListener('controllerchange', function () {
      if (target) { location.href = target; }
    });
  }

  // However late the worker answers (a busy device), the offer shows the changes then; until it
  // does, the offer is as it always was.
  function changesOf(waiting) {
    return new Promise(function (resolve) {
      var channel = new MessageChannel();
      channel.port1.onmessage = function (event) { resolve(event.data); };
      waiting.postMessage({ type: 'quire:edition-changes' }, [channel.port2]);
    });
  }

  function element(name, text, className) {
    var node = document.createElement(name);
    if (text) { node.textContent = text; }
    if (className) { node.className = className; }
    return node;
  }

  function chapterNumber(entry) { return parseInt(String(entry.chapter).replace(/\D/g, ''), 10) || 0; }

  function chapterItem(entry, note, waiting) {
    var item = element('li');
    var link = element('a', entry.title || entry.chapter);
    link.href = root + 'chapters/' + encodeURIComponent(entry.chapter) + '.html';
    link.addEventListener('click', function (event) {
      event.preventDefault();
      target = link.href;
      waiting.postMessage({ type: 'quire:take-new-edition' });
    });
    item.appendChild(link);
    item.appendChild(document.createTextNode(' (' + note + ')'));
    return item;
  }

  function show(offer, waiting, data) {
    var box = element('div', '', 'edition-changes');
    var notes = String(data.release_notes || '').split(/\n\s*\n/).filter(function (p) { return p.trim(); });
    if (notes.length) {
      box.appendChild(element('h2', 'From the author'));
      notes.forEach(function (paragraph) { box.appendChild(element('p', paragraph.trim(), 'edition-notes')); });
    }
    var summary = data.changes;
    if (summary) {
      var chapters = (summary.added || []).map(function (e) { return [e, 'new']; }).concat(
        (summary.changed || []).map(function (e) { return [e, e.percent ? e.percent + '% changed' : 'retitled']; }));
      chapters.sort(function (a, b) { return chapterNumber(a[0]) - chapterNumber(b[0]); });
      var removed = summary.removed || [];
      if (chapters.length || removed.length) {
        box.appendChild(element('h2', 'Changed chapters'));
        var list = element('ul', '', 'edition-chapters');
        chapters.forEach(function (pair) { list.appendChild(chapterItem(pair[0], pair[1], waiting)); });
        removed.forEach(function (entry) { list.appendChild(element('li', (entry.title || '') + ' (removed)')); });
        box.appendChild(list);
      }
    }
    if (box.childNodes.length) { offer.insertBefore(box, offer.querySelector('button')); }
  }

  // Called by offerNewEdition (shared/book/webapp_script.py) with its offer and the waiting worker.
  window.quireEditionChanges = function (offer, waiting) {
    changesOf(waiting).then(function (data) {
      if (data && offer.isConnected) { show(offer, waiting, data); }
    });
  };
})();
"""

# Appended to the service worker after its placeholders are filled: CACHE is this edition's cache.
SW_CHANGES_JS = r"""
self.addEventListener('message', function (event) {
  if (!event.data || event.data.type !== 'quire:edition-changes' || !event.ports || !event.ports[0]) { return; }
  var port = event.ports[0];
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.match('changes.json'); })
    .then(function (hit) { return hit ? hit.json() : null; })
    .catch(function () { return null; })
    .then(function (data) { port.postMessage(data); }));
});
"""

CHANGES_CSS = """
.edition-offer { flex-wrap: wrap; }
.edition-offer .edition-changes { flex: 1 1 100%; order: 1; max-height: 45vh; overflow-y: auto; }
.edition-offer .edition-changes h2 { font-size: 1rem; margin: 0.5rem 0 0.25rem; }
.edition-offer .edition-changes p, .edition-offer .edition-changes ul { margin: 0.25rem 0; }
.edition-offer .edition-changes a { color: inherit; text-decoration: underline; }
"""
