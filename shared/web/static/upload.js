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
  // Files at least this large go straight to Blob Storage (the server sets it; see directUpload).
  var thresholdMeta = document.querySelector('meta[name="quire-direct-upload-threshold"]');
  var directThreshold = Number(thresholdMeta && thresholdMeta.content) || Infinity;

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
    var pdf = document.getElementById('download-pdf');
    pdf.hidden = !job.links.pdf;  // an edition whose PDF could not be made has none
    pdf.href = job.links.pdf || '#';
    document.getElementById('open-app').href = job.links.app;
    document.getElementById('opds').href = job.links.opds;
    document.getElementById('opds2').href = job.links.opds2;
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
    var level = document.getElementById('split_level').value;
    if (level !== '1') { data.append('split_level', level); }
    var page = document.getElementById('pdf_page').value;
    if (page) { data.append('pdf_page', page); }
    var notes = document.getElementById('release_notes').value.trim();
    if (notes) { data.append('release_notes', notes); }
    submit.disabled = true;
    progress.hidden = false;
    setBar(uploadBar, 'upload-pct', 0);
    setBar(convertBar, 'convert-pct', 0);
    statusLine.textContent = 'Uploading ' + file.name + '…';
    if (file.size >= directThreshold) {
      directUpload(file, edition, metadata());
    } else {
      formUpload(file, edition, data);
    }
  });

  function metadata() {
    var fields = {};
    ['title', 'author', 'language'].forEach(function (name) {
      var value = document.getElementById(name).value.trim();
      if (value) { fields[name] = value; }
    });
    var level = Number(document.getElementById('split_level').value);
    if (level !== 1) { fields.split_level = level; }
    var page = document.getElementById('pdf_page').value;
    if (page) { fields.pdf_page = page; }
    var notes = document.getElementById('release_notes').value.trim();
    if (notes) { fields.release_notes = notes; }
    return fields;
  }

  function accepted(body, location, edition, fileName) {
    setBar(uploadBar, 'upload-pct', 1);
    if (body.owner_key) {
      rememberBook({ id: body.book, key: body.owner_key, title: fileName });
      showOwnerKey(body.owner_key);
    }
    statusLine.textContent = edition ? 'Uploaded edition ' + body.edition + '. Converting…' : 'Uploaded. Converting…';
    follow(location || body.links.self);
  }

  function refused(status, text, edition) {
    if (status === 401 && !edition) {
      showError('Quire needs its function key: open this page with ?code=<your function key> at the end of its address.');
    } else {
      showError(problemDetail(text, 'The upload was refused (HTTP ' + status + ').'));
    }
  }

  // Small files: one request carries the file and its metadata.
  function formUpload(file, edition, data) {
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
        accepted(JSON.parse(request.responseText), request.getResponseHeader('Location'), edition, file.name);
      } else {
        refused(request.status, request.responseText, edition);
      }
    };
    request.send(data);
  }

  // Large files go straight to Blob Storage (a direct upload): Quire hands out a SAS that writes one
  // blob, the file goes up in blocks (a few at a time; a block that fails is sent again after a
  // pause, so a dropped connection resumes where it stopped), then the block list commits it and
  // Quire checks what arrived before it starts the conversion.
  function directUpload(file, edition, fields) {
    fields.filename = file.name;
    fields.size = file.size;
    var headers = { 'Content-Type': 'application/json' };
    var askUrl = '/api/uploads';
    if (edition) {
      askUrl = '/api/books/' + encodeURIComponent(edition.id) + '/uploads';
      headers.Authorization = 'Bearer ' + edition.key;
    } else if (key) {
      headers['x-functions-key'] = key;
    }
    fetch(askUrl, { method: 'POST', headers: headers, body: JSON.stringify(fields) }).then(function (response) {
      return response.text().then(function (text) {
        if (response.status !== 201) { refused(response.status, text, edition); return; }
        var grant = JSON.parse(text);
        var ownerKey = edition ? edition.key : grant.owner_key;
        if (!edition) {
          // The key comes with the upload: keep it now, so a failed upload still leaves it here.
          rememberBook({ id: grant.id, key: ownerKey, title: file.name });
          showOwnerKey(ownerKey);
        }
        sendBlocks(file, grant.upload, function (ids) {
          commitBlocks(file, grant.upload, ids, function () { submitUpload(grant, ownerKey, edition, file.name); });
        });
      });
    }).catch(function () { showError('Quire could not be reached. Check your connection and try again.'); });
  }

  function blockId(index) {
    return btoa('quire-block-' + ('000000' + index).slice(-6));
  }

  function sendBlocks(file, upload, finished) {
    var size = upload.block_size;
    var count = Math.max(1, Math.ceil(file.size / size));
    var ids = [];
    var loaded = [];
    var next = 0;
    var running = 0;
    var completed = 0;
    var failed = false;
    for (var i = 0; i < count; i++) { ids.push(blockId(i)); loaded.push(0); }
    function report() {
      var sum = loaded.reduce(function (a, b) { return a + b; }, 0);
      setBar(uploadBar, 'upload-pct', Math.min(0.99, sum / file.size));
    }
    function send(index, attempt) {
      var request = new XMLHttpRequest();
      request.open('PUT', upload.url + '&comp=block&blockid=' + encodeURIComponent(ids[index]));
      request.upload.onprogress = function (e) { loaded[index] = e.loaded; report(); };
      var retry = function () {
        loaded[index] = 0;
        report();
        statusLine.textContent = 'Connection lost; resuming the upload…';
        setTimeout(function () { send(index, attempt + 1); }, Math.min(30000, 1000 * Math.pow(2, attempt)));
      };
      request.onerror = retry;
      request.onload = function () {
        if (request.status === 201) {
          loaded[index] = Math.min(size, file.size - index * size);
          report();
          statusLine.textContent = 'Uploading ' + file.name + '…';
          running--;
          completed++;
          if (completed === count) { finished(ids); } else { pump(); }
        } else if (request.status >= 500 || request.status === 408) {
          retry();
        } else if (!failed) {
          failed = true;
          showError(request.status === 403 ? 'The upload’s permission expired or was refused. Start the upload again.' :
            'Storage refused a part of the upload (HTTP ' + request.status + '). Start the upload again.');
        }
      };
      request.send(file.slice(index * size, Math.min(file.size, (index + 1) * size)));
    }
    function pump() {
      while (!failed && running < 4 && next < count) {
        running++;
        send(next++, 0);
      }
    }
    pump();
  }

  function commitBlocks(file, upload, ids, finished, attempt) {
    attempt = attempt || 0;
    var body = '<?xml version="1.0" encoding="utf-8"?><BlockList>' +
      ids.map(function (id) { return '<Latest>' + id + '</Latest>'; }).join('') + '</BlockList>';
    var request = new XMLHttpRequest();
    request.open('PUT', upload.url + '&comp=blocklist');
    request.setRequestHeader('Content-Type', 'application/xml');
    if (file.type) { request.setRequestHeader('x-ms-blob-content-type', file.type); }
    var retry = function () {
      setTimeout(function () { commitBlocks(file, upload, ids, finished, attempt + 1); }, Math.min(30000, 1000 * Math.pow(2, attempt)));
    };
    request.onerror = retry;
    request.onload = function () {
      if (request.status === 201) { finished(); } else if (request.status >= 500) { retry(); } else {
        showError('Storage did not accept the finished upload (HTTP ' + request.status + '). Start the upload again.');
      }
    };
    request.send(body);
  }

  function submitUpload(grant, ownerKey, edition, fileName, attempt) {
    attempt = attempt || 0;
    statusLine.textContent = 'Checking the upload…';
    fetch(grant.submit.url, { method: 'POST', headers: { Authorization: 'Bearer ' + ownerKey } }).then(function (response) {
      return response.text().then(function (text) {
        if (response.status === 202) {
          accepted(JSON.parse(text), response.headers.get('Location'), edition, fileName);
        } else if (response.status === 503) {
          setTimeout(function () { submitUpload(grant, ownerKey, edition, fileName, attempt + 1); }, 2000);
        } else {
          refused(response.status, text, edition);
        }
      });
    }).catch(function () {
      // Submitting twice starts one job, so a submit whose answer was lost is simply sent again.
      setTimeout(function () { submitUpload(grant, ownerKey, edition, fileName, attempt + 1); }, Math.min(30000, 1000 * Math.pow(2, attempt)));
    });
  }

  document.getElementById('done-title').tabIndex = -1;
  renderBooks();
})();
