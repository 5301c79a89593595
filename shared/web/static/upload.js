'use strict';
// The upload page: create a book or publish a new edition of one (a progress bar, then the
// conversion job followed), and the books made on this device: their owner keys are kept in this
// browser's storage and sent only with that book's own changes.
(function () {
  var form = document.getElementById('upload-form');
  var fileInput = document.getElementById('file');
  var drop = document.getElementById('drop-zone');
  var submit = document.getElementById('submit');
  var statusLine = document.getElementById('status');
  var errorBox = document.getElementById('error');
  var progress = document.getElementById('progress');
  var uploadBar = document.getElementById('upload-bar');
  var convertBar = document.getElementById('convert-bar');
  var done = document.getElementById('done');
  // In Azure the upload needs the function key: open this page as …/api/?code=<key>.
  var key = new URLSearchParams(location.search).get('code') || '';
  var BOOKS_KEY = 'quire:my-books';
  var bookSelect = document.getElementById('book');

  function myBooks() {
    try { return JSON.parse(localStorage.getItem(BOOKS_KEY) || '[]'); } catch (e) { return []; }
  }
  function saveBooks(books) {
    try { localStorage.setItem(BOOKS_KEY, JSON.stringify(books)); } catch (e) { /* private mode: this visit only */ }
  }
  function findBook(id) {
    return myBooks().filter(function (book) { return book.id === id; })[0] || null;
  }
  function rememberBook(entry) {
    saveBooks([entry].concat(myBooks().filter(function (book) { return book.id !== entry.id; })));
    renderBooks();
  }
  function forgetBook(id) {
    saveBooks(myBooks().filter(function (book) { return book.id !== id; }));
    renderBooks();
  }

  function renderBooks() {
    var books = myBooks();
    var chosen = bookSelect.value;
    bookSelect.textContent = '';
    var fresh = document.createElement('option');
    fresh.value = '';
    fresh.textContent = 'A new book';
    bookSelect.appendChild(fresh);
    var list = document.getElementById('my-books-list');
    list.textContent = '';
    books.forEach(function (book) {
      var option = document.createElement('option');
      option.value = book.id;
      option.textContent = 'A new edition of “' + book.title + '”';
      bookSelect.appendChild(option);
      var item = document.createElement('li');
      var open = document.createElement('a');
      open.href = '/api/books/' + encodeURIComponent(book.id) + '/app/';
      open.textContent = book.title;
      var remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'danger';
      remove.textContent = 'Delete…';
      remove.setAttribute('aria-label', 'Delete “' + book.title + '”');
      remove.addEventListener('click', function () { deleteBook(book); });
      item.appendChild(open);
      item.appendChild(remove);
      list.appendChild(item);
    });
    bookSelect.value = findBook(chosen) ? chosen : '';
    document.getElementById('my-books').hidden = books.length === 0;
  }

  function deleteBook(book) {
    var sure = window.confirm('Delete “' + book.title + '” for good? Its EPUB, its web-app book and every ' +
      'edition are erased, and readers’ links stop working. This cannot be undone.');
    if (!sure) { return; }
    var status = document.getElementById('my-books-status');
    fetch('/api/books/' + encodeURIComponent(book.id), {
      method: 'DELETE', headers: { Authorization: 'Bearer ' + book.key }
    }).then(function (response) {
      if (response.status === 202 || response.status === 410) {
        forgetBook(book.id);
        status.textContent = '“' + book.title + '” was deleted.';
        return;
      }
      return response.json().then(function (body) {
        status.textContent = problemDetail(body, 'The book was not deleted (HTTP ' + response.status + ').');
      });
    }).catch(function () { status.textContent = 'Quire could not be reached; the book was not deleted.'; });
  }

  function showOwnerKey(ownerKey) {
    document.getElementById('owner-key').textContent = ownerKey;
    var download = document.getElementById('download-key');
    download.href = 'data:text/plain;charset=utf-8,' + encodeURIComponent(
      'Quire owner key (keep it secret; send it as "Authorization: Bearer <key>"):\n' + ownerKey + '\n');
    document.getElementById('copy-key').onclick = function () {
      var copied = document.getElementById('key-status');
      if (navigator.clipboard) {
        navigator.clipboard.writeText(ownerKey).then(function () { copied.textContent = 'Key copied.'; },
          function () { copied.textContent = 'Select the key above and copy it.'; });
      } else {
        copied.textContent = 'Select the key above and copy it.';
      }
    };
    document.getElementById('owner-key-box').hidden = false;
  }

  function setBar(bar, label, fraction) {
    var pct = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
    bar.value = pct;
    bar.textContent = pct + ' %';
    document.getElementById(label).textContent = pct + ' %';
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    statusLine.textContent = '';
    submit.disabled = false;
  }

  function problemDetail(xhrOrText, fallback) {
    try {
      var body = typeof xhrOrText === 'string' ? JSON.parse(xhrOrText) : xhrOrText;
      return body.detail || body.title || fallback;
    } catch (e) { return fallback; }
  }

  function showFile() {
    var file = fileInput.files && fileInput.files[0];
    document.getElementById('file-name').textContent = file ? 'Chosen: ' + file.name : '';
  }
  fileInput.addEventListener('change', showFile);
  ['dragenter', 'dragover'].forEach(function (name) {
    drop.addEventListener(name, function (event) { event.preventDefault(); drop.classList.add('over'); });
  });
  ['dragleave', 'drop'].forEach(function (name) {
    drop.addEventListener(name, function () { drop.classList.remove('over'); });
  });
  drop.addEventListener('drop', function (event) {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      fileInput.files = event.dataTransfer.files;
      showFile();
    }
  });

  function follow(location) {
    var poll = function () {
      fetch(location, { headers: { Accept: 'application/json' }, cache: 'no-store' }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      }).then(function (result) {
        if (!result.ok) { showError(problemDetail(result.body, 'The job could not be read.')); return; }
        var job = result.body;
        setBar(convertBar, 'convert-pct', job.progress.fraction);
        if (job.status === 'failed') {
          showError('The conversion failed: ' + (job.error || 'no reason given.'));
        } else if (job.status === 'succeeded') {
          finished(job);
        } else {
          statusLine.textContent = job.status === 'queued' ? waitingText(job.queue) :
            'Converting: step ' + job.progress.steps_done + ' of ' + job.progress.steps_total + '.';
          setTimeout(poll, 500);
        }
      }).catch(function () {
        statusLine.textContent = 'Connection lost; retrying…';
        setTimeout(poll, 2000);
      });
    };
    poll();
  }

  // A long queue is shown as one, so a backlog does not look like a hang.
  function waitingText(queue) {
    if (!queue || queue.messages <= 1) { return 'Waiting for a worker…'; }
    var text = 'Waiting in line: about ' + queue.messages + ' conversion steps are queued';
    if (queue.front_waited_seconds >= 60) {
      text += '; steps wait about ' + Math.round(queue.front_waited_seconds / 60) + ' min';
    } else if (queue.front_waited_seconds >= 5) {
      text += '; steps wait about ' + queue.front_waited_seconds + ' s';
    }
    return text + '.';
  }

  function finished(job) {
    setBar(convertBar, 'convert-pct', 1);
    var mine = findBook(job.book);
    if (mine && job.metadata && job.metadata.title) {
      rememberBook({ id: mine.id, key: mine.key, title: job.metadata.title });
    } else if (mine) {
      fetch('/api/books/' + encodeURIComponent(mine.id)).then(function (r) { return r.json(); }).then(function (book) {
        if (book.title) { rememberBook({ id: mine.id, key: mine.key, title: book.title }); }
      }).catch(function () { /* the file name stays as the title */ });
    }
    statusLine.textContent = 'Done: your book is ready.';
    var appUrl = new URL(job.links.app, location.href).href;
    document.getElementById('download-epub').href = job.links.epub;
    document.getElementById('open-app').href = job.links.app;
    var copy = document.getElementById('copy-link');
    copy.onclick = function () {
      var copied = document.getElementById('copy-status');
      if (navigator.clipboard) {
        navigator.clipboard.writeText(appUrl).then(function () { copied.textContent = 'Link copied: ' + appUrl; },
          function () { copied.textContent = 'Copy this link: ' + appUrl; });
      } else {
        copied.textContent = 'Copy this link: ' + appUrl;
      }
    };
    var list = document.getElementById('warnings');
    list.textContent = '';
    (job.warnings || []).forEach(function (warning) {
      var item = document.createElement('li');
      item.textContent = warning;
      list.appendChild(item);
    });
    done.hidden = false;
    submit.disabled = false;
    document.getElementById('done-title').focus();
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    errorBox.hidden = true;
    done.hidden = true;
    document.getElementById('owner-key-box').hidden = true;
    var edition = findBook(bookSelect.value);
    var file = fileInput.files && fileInput.files[0];
    if (!file) { showError('Choose a manuscript file first.'); fileInput.focus(); return; }
    var data = new FormData();
    data.append('file', file, file.name);
    ['title', 'author', 'language'].forEach(function (name) {
      var value = document.getElementById(name).value.trim();
      if (value) { data.append(name, value); }
    });
    submit.disabled = true;
    progress.hidden = false;
    setBar(uploadBar, 'upload-pct', 0);
    setBar(convertBar, 'convert-pct', 0);
    statusLine.textContent = 'Uploading ' + file.name + '…';
    var request = new XMLHttpRequest();
    if (edition) {
      request.open('POST', '/api/books/' + encodeURIComponent(edition.id) + '/editions');
      request.setRequestHeader('Authorization', 'Bearer ' + edition.key);
    } else {
      request.open('POST', '/api/books');
      if (key) { request.setRequestHeader('x-functions-key', key); }
    }
    request.upload.onprogress = function (e) { if (e.lengthComputable) { setBar(uploadBar, 'upload-pct', e.loaded / e.total); } };
    request.onerror = function () { showError('The upload did not reach Quire. Check your connection and try again.'); };
    request.onload = function () {
      if (request.status === 202) {
        var accepted = JSON.parse(request.responseText);
        setBar(uploadBar, 'upload-pct', 1);
        if (accepted.owner_key) {
          rememberBook({ id: accepted.book, key: accepted.owner_key, title: file.name });
          showOwnerKey(accepted.owner_key);
        }
        statusLine.textContent = edition ? 'Uploaded edition ' + accepted.edition + '. Converting…' : 'Uploaded. Converting…';
        follow(request.getResponseHeader('Location') || accepted.links.self);
      } else if (request.status === 401 && !edition) {
        showError('Quire needs its function key: open this page with ?code=<your function key> at the end of its address.');
      } else {
        showError(problemDetail(request.responseText, 'The upload was refused (HTTP ' + request.status + ').'));
      }
    };
    request.send(data);
  });
  document.getElementById('done-title').tabIndex = -1;
  renderBooks();
})();
