"""The web-app book's scripts: the page script and the service worker (plain JS, no build step)."""

from __future__ import annotations

from shared.book.search_index import WORDS_JS
from shared.book.webapp_notes import NOTES_JS
from shared.book.webapp_search import SEARCH_JS

APP_JS = r"""'use strict';
(function () {
  var html = document.documentElement;
  var book = html.dataset.book, root = html.dataset.root || '', page = html.dataset.page;
  var positionKey = 'quire:' + book + ':position';

  // A newer edition of the book is looked for on launch and every quarter of an hour while the
  // book is open; its service worker caches it whole, then the reader is offered it.
  var EDITION_CHECK_MS = 15 * 60 * 1000;
  var switching = false;

  function offerNewEdition(waiting) {
    if (document.getElementById('edition-offer')) { return; }
    var offer = document.createElement('div');
    offer.id = 'edition-offer';
    offer.className = 'edition-offer';
    offer.setAttribute('role', 'status');
    var text = document.createElement('span');
    text.textContent = 'A new edition is available.';
    var button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'Reload';
    button.addEventListener('click', function () {
      switching = true;
      button.disabled = true;
      waiting.postMessage({ type: 'quire:take-new-edition' });
    });
    offer.appendChild(text);
    offer.appendChild(button);
    document.body.appendChild(offer);
    if (window.quireEditionChanges) { window.quireEditionChanges(offer, waiting); }
  }

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.addEventListener('controllerchange', function () {
      // Only when the reader asked for it: the first visit's worker takes over silently.
      if (switching) { location.reload(); }
    });
    navigator.serviceWorker.register(root + 'sw.js', { scope: root || './', updateViaCache: 'none' })
      .then(function (registration) {
        var watch = function (worker) {
          worker.addEventListener('statechange', function () {
            if (worker.state === 'installed' && navigator.serviceWorker.controller) { offerNewEdition(worker); }
          });
        };
        if (registration.waiting && navigator.serviceWorker.controller) { offerNewEdition(registration.waiting); }
        if (registration.installing) { watch(registration.installing); }
        registration.addEventListener('updatefound', function () {
          if (registration.installing) { watch(registration.installing); }
        });
        var check = function () { registration.update().catch(function () { /* offline: later */ }); };
        check();
        setInterval(check, EDITION_CHECK_MS);
      }).catch(function () {});
  }

  function here() { return location.pathname; }

  if (page === 'chapter') {
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(positionKey) || 'null'); } catch (e) { saved = null; }
    if (saved && saved.path === here() && !location.hash && !/[?&]q=/.test(location.search)) {  // not a search's hit
      var restore = function () {
        var height = document.documentElement.scrollHeight - innerHeight;
        window.scrollTo(0, Math.round(saved.fraction * Math.max(height, 0)));
      };
      if (document.readyState === 'complete') { restore(); } else { addEventListener('load', restore); }
    }
    var pending = false;
    var save = function () {
      pending = false;
      var height = document.documentElement.scrollHeight - innerHeight;
      var fraction = height > 0 ? scrollY / height : 0;
      try {
        localStorage.setItem(positionKey, JSON.stringify({ path: here(), fraction: fraction, title: document.title }));
      } catch (e) { /* storage full or disabled: reading still works */ }
    };
    addEventListener('scroll', function () { if (!pending) { pending = true; setTimeout(save, 250); } }, { passive: true });
    addEventListener('pagehide', save);
    save.call(null);
  }

  if (page === 'index') {
    var link = document.getElementById('resume');
    try {
      var last = JSON.parse(localStorage.getItem(positionKey) || 'null');
      if (link && last && last.path) {
        link.href = last.path;
        link.textContent = 'Continue reading: ' + (last.title || '').split(' – ')[0];
        link.hidden = false;
      }
    } catch (e) { /* nothing saved yet */ }
  }

  if (page === 'updates') {
    var status = document.getElementById('updates-status');
    var list = document.getElementById('updates-list');
    var url = html.dataset.updates;
    if (!url) { status.textContent = 'This book has no news feed.'; return; }
    fetch(url, { headers: { Accept: 'application/json' } }).then(function (response) {
      if (!response.ok) { throw new Error('HTTP ' + response.status); }
      var offline = response.headers.get('X-Quire-From-Cache') === '1';
      return response.json().then(function (data) { render(data, offline); });
    }).catch(function () {
      status.textContent = 'No updates yet. Check again when you are online.';
    });
    var render = function (data, offline) {
      var items = (data && data.items) || [];
      list.textContent = '';
      items.forEach(function (item) {
        var article = document.createElement('article');
        var heading = document.createElement('h2');
        var safe = /^https?:\/\//i.test(item.link || '');
        var title = document.createElement(safe ? 'a' : 'span');
        title.textContent = item.title || '(untitled)';
        if (safe) { title.href = item.link; title.rel = 'noopener noreferrer'; }
        heading.appendChild(title);
        article.appendChild(heading);
        if (item.published) {
          var time = document.createElement('time');
          time.dateTime = item.published;
          time.textContent = new Date(item.published).toLocaleDateString(html.lang || undefined);
          article.appendChild(time);
        }
        if (item.summary) {
          var summary = document.createElement('p');
          summary.textContent = item.summary;
          article.appendChild(summary);
        }
        list.appendChild(article);
      });
      status.textContent = items.length ? (offline ? 'Offline: showing the updates saved on this device.' : '')
                                        : 'No updates yet.';
    };
  }
})();
"""
APP_JS += WORDS_JS + SEARCH_JS + NOTES_JS  # search (webapp_search.py) and pop-up notes (webapp_notes.py)

SERVICE_WORKER_JS = r"""'use strict';
// Precaches the whole book under a cache named by its content, so a new edition replaces the old.
var PREFIX = 'quire-__BOOK__-';
var CACHE = PREFIX + '__VERSION__';
var UPDATES_CACHE = PREFIX + 'updates';
var PRECACHE = __PRECACHE__;
var UPDATES = __UPDATES__;
var EDITION = __EDITION__;

// Every file is asked for by this worker's edition number, so a newer edition published while it
// installs cannot slip into its cache: the cache holds one whole edition or nothing.
function pinned(path) {
  return EDITION ? path + (path.indexOf('?') < 0 ? '?' : '&') + 'edition=' + EDITION : path;
}

self.addEventListener('install', function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(PRECACHE.map(function (path) {
      return fetch(pinned(path), { cache: 'no-cache' }).then(function (response) {
        if (!response.ok) { throw new Error(path + ': HTTP ' + response.status); }
        return cache.put(path, response);
      });
    }));
  }).then(function () {
    // A reader's first edition starts at once; a later one waits until the reader takes it.
    if (!self.registration.active) { return self.skipWaiting(); }
  }));
});

self.addEventListener('message', function (event) {
  if (event.data && event.data.type === 'quire:take-new-edition') { self.skipWaiting(); }
});

// A chapter this edition does not have (the author removed or merged it): the nearest earlier one.
function nearestChapter(url) {
  var wanted = /chapters\/ch(\d+)\.html$/.exec(url.pathname);
  if (!wanted) { return null; }
  var best = null, bestNumber = 0;
  PRECACHE.forEach(function (path) {
    var found = /^chapters\/ch(\d+)\.html$/.exec(path);
    var number = found ? parseInt(found[1], 10) : 0;
    if (found && number <= parseInt(wanted[1], 10) && number > bestNumber) { best = path; bestNumber = number; }
  });
  return best ? new URL(best, self.registration.scope).href : null;
}

self.addEventListener('activate', function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (key) {
      return key.indexOf(PREFIX) === 0 && key !== CACHE && key !== UPDATES_CACHE;
    }).map(function (key) { return caches.delete(key); }));
  }).then(function () { return self.clients.claim(); }));
});

function isUpdates(url) {
  return UPDATES && url.href === new URL(UPDATES, self.registration.scope).href;
}

self.addEventListener('fetch', function (event) {
  var request = event.request;
  if (request.method !== 'GET') { return; }
  var url = new URL(request.url);
  if (isUpdates(url)) {
    // Network first, so readers see news; the last copy is kept for offline reading.
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(UPDATES_CACHE).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    }).catch(function () {
      return caches.open(UPDATES_CACHE).then(function (cache) { return cache.match(request); }).then(function (hit) {
        if (!hit) { return Response.error(); }
        var headers = new Headers(hit.headers);
        headers.set('X-Quire-From-Cache', '1');
        return hit.blob().then(function (body) { return new Response(body, { status: 200, headers: headers }); });
      });
    }));
    return;
  }
  if (url.origin !== self.location.origin || url.href.indexOf(self.registration.scope) !== 0) { return; }
  event.respondWith(caches.open(CACHE).then(function (cache) {
    return cache.match(request, { ignoreSearch: true }).then(function (hit) {
      if (hit) { return hit; }
      var earlier = request.mode === 'navigate' ? nearestChapter(url) : null;
      return earlier ? Response.redirect(earlier, 302) : fetch(request);
    });
  }));
});
"""
