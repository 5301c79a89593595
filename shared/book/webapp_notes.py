"""Pop-up notes in the web-app book: the part of the page script that opens a footnote in place,
in a modal dialog (`NOTES_JS`), and its styles. The note reference stays a plain link to the note
(render.py makes it, `role="doc-noteref"`, the note an `<aside role="doc-footnote">`): followed
as it is without the script, opened in a new tab, or from the dialog's "Go to note"."""

from __future__ import annotations

# Its own function in the page script.
NOTES_JS = r"""(function () {
  var page = document.documentElement.dataset.page;
  var noteDialog = null, noteOpener = null;

  function openNote(reference, note) {
    if (!noteDialog) {
      noteDialog = document.createElement('dialog');
      noteDialog.className = 'note-dialog';
      noteDialog.setAttribute('aria-labelledby', 'note-dialog-title');
      var box = document.createElement('div');
      box.className = 'note-box';
      var head = document.createElement('div');
      head.className = 'note-head';
      var heading = document.createElement('h2');
      heading.id = 'note-dialog-title';
      var close = document.createElement('button');
      close.type = 'button';
      close.className = 'note-close';
      close.textContent = 'Close';
      close.addEventListener('click', function () { noteDialog.close(); });
      head.appendChild(heading);
      head.appendChild(close);
      var text = document.createElement('div');
      text.className = 'note-text';
      var foot = document.createElement('p');
      foot.className = 'note-foot';
      var go = document.createElement('a');
      go.className = 'note-go';
      go.textContent = 'Go to note';
      go.addEventListener('click', function () {
        var target = document.getElementById(decodeURIComponent(go.hash.slice(1)));
        noteOpener = null;  // the reader goes on from the note, not from the reference
        noteDialog.close();
        if (target) {
          target.tabIndex = -1;
          setTimeout(function () { target.focus({ preventScroll: true }); }, 0);
        }
      });
      foot.appendChild(go);
      box.appendChild(head);
      box.appendChild(text);
      box.appendChild(foot);
      noteDialog.appendChild(box);
      // A click on the backdrop (outside the box) reaches the dialog itself: it closes.
      noteDialog.addEventListener('click', function (event) { if (event.target === noteDialog) { noteDialog.close(); } });
      noteDialog.addEventListener('close', function () {
        if (noteOpener) { noteOpener.focus(); }
        noteOpener = null;
      });
      document.body.appendChild(noteDialog);
    }
    noteDialog.querySelector('#note-dialog-title').textContent = 'Note ' + reference.textContent.trim();
    var content = noteDialog.querySelector('.note-text');
    content.textContent = '';
    Array.prototype.forEach.call(note.childNodes, function (child) { content.appendChild(child.cloneNode(true)); });
    Array.prototype.forEach.call(content.querySelectorAll('[role="doc-backlink"]'), function (back) { back.remove(); });
    Array.prototype.forEach.call(content.querySelectorAll('[id]'), function (element) { element.removeAttribute('id'); });
    noteDialog.querySelector('.note-go').href = '#' + note.id;
    noteOpener = reference;
    noteDialog.showModal();
  }

  if (page === 'chapter') {
    document.addEventListener('click', function (event) {
      if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) { return; }
      var reference = event.target.closest ? event.target.closest('a[role="doc-noteref"]') : null;
      if (!reference || typeof HTMLDialogElement !== 'function' || (noteDialog && noteDialog.contains(reference))) { return; }
      var target = new URL(reference.href, location.href);
      if (target.pathname !== location.pathname || !target.hash) { return; }  // a note on another page
      var note = document.getElementById(decodeURIComponent(target.hash.slice(1)));
      if (!note) { return; }
      event.preventDefault();
      openNote(reference, note);
    });
  }
})();
"""

NOTES_CSS = """\
.note-dialog { width: min(34rem, calc(100vw - 2rem)); max-height: 80vh; padding: 0; color: var(--fg); background: var(--bg);
  border: 1px solid var(--rule); border-radius: 0.5rem; box-shadow: 0 4px 24px rgb(0 0 0 / 35%); font-size: 1rem; }
.note-dialog::backdrop { background: rgb(0 0 0 / 45%); }
.note-box { padding: 0.8rem 1.2rem 1rem; }
.note-head { display: flex; justify-content: space-between; align-items: center; gap: 1rem; }
.note-close { min-height: 44px; padding: 0.4rem 1rem; font: 1rem system-ui, sans-serif; border: 0; border-radius: 0.35rem;
  background: var(--accent); color: var(--bg); }
.note-head h2 { margin: 0; font-size: 1.05rem; }
.note-text p { margin: 0.6rem 0; }
.note-foot { margin: 0.6rem 0 0; font: 0.95rem system-ui, sans-serif; }
"""
