'use strict';
(function () {
  var html = document.documentElement;
  var KEY = '__LISTEN_KEY__';
  var RATES = __RATES__;
  // The reader's voice and speed, kept on the device.
  function kept() {
    var saved = {};
    try { saved = JSON.parse(localStorage.getItem(KEY) || '{}') || {}; } catch (e) { saved = {}; }
    return typeof saved === 'object' ? saved : {};
  }
  function keep(changes) {
    var saved = kept();
    Object.keys(changes).forEach(function (name) { saved[name] = changes[name]; });
    try { localStorage.setItem(KEY, JSON.stringify(saved)); } catch (e) { /* storage off: this page only */ }
  }

  var listen = document.getElementById('listen');
  var article = document.querySelector('main article');
  if (!listen || !article) { return; }
  var CONTINUE = 'quire:listen-continue';
  var bar = document.getElementById('listen-bar');
  var pauseButton = document.getElementById('listen-pause');
  var stopButton = document.getElementById('listen-stop');
  var voiceSelect = document.getElementById('listen-voice');
  var rateSelect = document.getElementById('listen-rate');
  var status = document.getElementById('listen-status');
  var header = document.querySelector('header.bar');
  var synth = window.speechSynthesis;
  var lang = html.lang || 'en';
  var HIGHLIGHT = 'quire-listen';
  var canHighlight = !!(window.CSS && CSS.highlights && window.Highlight);

  var sentences = null;  // [{text, range, element}]
  var index = 0;         // the sentence being read
  var offset = 0;        // where in it the current utterance starts
  var reached = 0;       // where in it the voice is (its last word boundary)
  var playing = false;
  var turn = 0;          // events of an utterance from an earlier turn are ignored
  var current = null;    // held, so the browser does not collect it before its events fire
  var voice = null;
  var marked = null;

  function say(message) { status.textContent = message; }
  function primary(tag) { return String(tag || '').toLowerCase().replace('_', '-').split('-')[0]; }
  function languageName() {
    try { return new Intl.DisplayNames(['en'], { type: 'language' }).of(lang) || lang; } catch (e) { return lang; }
  }
  function voicesFor() {
    return synth.getVoices().filter(function (v) { return primary(v.lang) === primary(lang); });
  }
  // Chromium lists its voices a moment after the page asks; some browsers never say so.
  function whenVoices(then) {
    if (synth.getVoices().length) { then(); return; }
    var done = false;
    var finish = function () {
      if (done) { return; }
      done = true;
      synth.removeEventListener('voiceschanged', finish);
      then();
    };
    synth.addEventListener('voiceschanged', finish);
    setTimeout(finish, 1500);
  }

  // The chapter's text, block by block (a heading, a paragraph, a list item, a cell), as it is
  // spoken: footnote markers left out, an image as its description, a formula as its text form.
  var BLOCK = /^(p|h[1-6]|li|dt|dd|blockquote|figure|figcaption|pre|table|caption|tr|th|td|ul|ol|dl|aside|section|div|header|footer|details|summary|hr)$/;
  function skipped(element) {
    if (element.hidden || element.getAttribute('aria-hidden') === 'true') { return true; }
    if (element.matches('[role="doc-noteref"], a.quire-noteref, dialog, [popover], script, style, template, button, '
                        + 'input, select, textarea, annotation, annotation-xml')) { return true; }
    // A note's link back to its marker: its number is read, an arrow is not.
    return element.matches('[role="doc-backlink"]') && !/^\s*\d+\.?\s*$/.test(element.textContent);
  }
  function mathText(math) {
    var text = math.getAttribute('alttext');
    if (!text) {
      var note = math.querySelector('annotation[encoding="text/plain"], annotation[encoding="application/x-tex"]');
      text = note ? note.textContent : '';
    }
    if (!text) {
      var copy = math.cloneNode(true);
      Array.prototype.forEach.call(copy.querySelectorAll('annotation, annotation-xml'), function (n) { n.remove(); });
      text = copy.textContent;
    }
    // TeX's commands and braces are not to be spoken: \frac{a}{b} as "frac a b".
    return text.replace(/\\([A-Za-z]+)/g, ' $1 ').replace(/[{}\\^_$]/g, ' ').replace(/\s+/g, ' ').trim();
  }
  function blocks() {
    var found = [];
    var block = null;
    var flush = function () {
      if (block && block.text.trim()) { found.push(block); }
      block = null;
    };
    var add = function (element, text, piece) {
      if (!block) { block = { element: element, text: '', pieces: [] }; }
      piece.start = block.text.length;
      piece.length = text.length;
      block.text += text;
      block.pieces.push(piece);
    };
    var walk = function (node, within) {
      for (var child = node.firstChild; child; child = child.nextSibling) {
        if (child.nodeType === 3) {
          if (child.data) { add(within, child.data.replace(/\s/g, ' '), { node: child }); }
          continue;
        }
        if (child.nodeType !== 1 || skipped(child)) { continue; }
        var name = child.localName;
        if (name === 'img' || name === 'svg') {
          var title = name === 'svg' ? child.querySelector('title') : null;
          var label = (child.getAttribute('alt') || child.getAttribute('aria-label') || (title && title.textContent) || '').trim();
          if (label) { add(within, ' ' + label + ' ', { atom: child }); }
          continue;
        }
        if (name === 'math') {
          var spoken = mathText(child);
          if (spoken) { add(within, ' ' + spoken + ' ', { atom: child }); }
          continue;
        }
        if (name === 'br') { add(within, ' ', { atom: child }); continue; }
        var isBlock = BLOCK.test(name);
        if (isBlock) { flush(); }
        walk(child, isBlock ? child : within);
        if (isBlock) { flush(); }
      }
    };
    walk(article, article);
    flush();
    return found;
  }
  function spans(text) {
    var found = [];
    if (window.Intl && Intl.Segmenter) {
      var segmenter = new Intl.Segmenter(lang, { granularity: 'sentence' });
      for (var part of segmenter.segment(text)) { found.push([part.index, part.index + part.segment.length]); }
    } else {
      var pattern = /[^.!?…。！？]+(?:[.!?…。！？]+["'”’»)\]]*|$)/g, match;
      while ((match = pattern.exec(text))) { found.push([match.index, match.index + match[0].length]); }
    }
    return found;
  }
  function boundary(block, at, end) {
    for (var i = 0; i < block.pieces.length; i++) {
      var piece = block.pieces[i];
      var inside = end ? at > piece.start && at <= piece.start + piece.length
                       : at >= piece.start && at < piece.start + piece.length;
      if (inside) { return { piece: piece, at: at - piece.start }; }
    }
    return null;
  }
  function build() {
    var found = [];
    blocks().forEach(function (block) {
      spans(block.text).forEach(function (span) {
        var start = span[0], end = span[1];
        while (start < end && block.text[start] === ' ') { start++; }
        while (end > start && block.text[end - 1] === ' ') { end--; }
        if (start === end) { return; }
        var from = boundary(block, start, false), to = boundary(block, end, true);
        var range = document.createRange();
        if (from.piece.node) { range.setStart(from.piece.node, from.at); } else { range.setStartBefore(from.piece.atom); }
        if (to.piece.node) { range.setEnd(to.piece.node, to.at); } else { range.setEndAfter(to.piece.atom); }
        var text = block.text.slice(start, end).replace(/ +/g, ' ').replace(/ ([.,;:!?])/g, '$1');
        found.push({ text: text, range: range, element: block.element });
      });
    });
    return found;
  }

  function unmark() {
    if (canHighlight) { CSS.highlights.delete(HIGHLIGHT); }
    if (marked) { marked.classList.remove('listen-current'); marked = null; }
  }
  function mark(sentence) {
    unmark();
    if (canHighlight) {
      CSS.highlights.set(HIGHLIGHT, new Highlight(sentence.range));
    } else {
      marked = sentence.element;
      marked.classList.add('listen-current');
    }
    keepInView(sentence.range);
  }
  function visibleArea() {
    var top = header ? Math.max(0, header.getBoundingClientRect().bottom) : 0;
    var bottom = innerHeight - (bar.hidden ? 0 : bar.offsetHeight);
    return { top: top, bottom: bottom };
  }
  function keepInView(range) {
    var rect = range.getBoundingClientRect();
    var area = visibleArea();
    if (rect.top >= area.top && rect.bottom <= area.bottom) { return; }
    var room = Math.max(0, area.bottom - area.top - rect.height);
    var smooth = !matchMedia('(prefers-reduced-motion: reduce)').matches;
    window.scrollTo({ top: scrollY + rect.top - area.top - room / 3, behavior: smooth ? 'smooth' : 'auto' });
  }
  function firstVisible() {
    if (scrollY <= 0) { return 0; }
    var area = visibleArea();
    for (var i = 0; i < sentences.length; i++) {
      if (sentences[i].range.getBoundingClientRect().bottom > area.top) { return i; }
    }
    return 0;
  }

  function showPaused(paused) {
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
  }
  function speak(at, from) {
    turn++;
    var mine = turn;
    if (at >= sentences.length) { finished(); return; }
    index = at;
    offset = reached = from || 0;
    var sentence = sentences[at];
    mark(sentence);
    var utterance = new SpeechSynthesisUtterance(sentence.text.slice(offset));
    utterance.lang = lang;
    if (voice) { utterance.voice = voice; }
    utterance.rate = parseFloat(rateSelect.value) || 1;
    utterance.addEventListener('boundary', function (event) {
      if (mine === turn && event.name !== 'sentence') { reached = offset + event.charIndex; }
    });
    utterance.addEventListener('end', function () {
      if (mine === turn && playing) { speak(at + 1, 0); }
    });
    utterance.addEventListener('error', function (event) {
      if (mine !== turn || event.error === 'interrupted' || event.error === 'canceled') { return; }
      pause();
      say(event.error === 'not-allowed' ? 'Press Resume to go on listening.'
                                        : 'The browser stopped reading aloud (' + event.error + ').');
    });
    current = utterance;
    playing = true;
    if (synth.speaking || synth.pending) { synth.cancel(); }
    showPaused(false);
    synth.speak(utterance);
  }
  function pause() {
    turn++;
    playing = false;
    synth.cancel();
    showPaused(true);
  }
  function stop() {
    turn++;
    playing = false;
    synth.cancel();
    unmark();
    bar.hidden = true;
    html.removeAttribute('data-listening');
    listen.setAttribute('aria-expanded', 'false');
  }
  function finished() {
    var next = document.querySelector('a[rel="next"]');
    if (next) {
      try {
        sessionStorage.setItem(CONTINUE, JSON.stringify({ to: next.href }));
      } catch (e) { /* no session storage: the reader presses Listen there */ }
      playing = false;
      location.href = next.href;
      return;
    }
    stop();
    listen.focus();
    say('The end of the book.');
  }
  function chooseVoices() {
    var voices = voicesFor();
    var wanted = kept().voice;
    voiceSelect.textContent = '';
    voices.forEach(function (v, i) {
      var option = document.createElement('option');
      option.value = String(i);
      option.textContent = v.name + ' (' + v.lang + ')';
      voiceSelect.appendChild(option);
    });
    var exact = voices.filter(function (v) { return String(v.lang).toLowerCase().replace('_', '-') === lang.toLowerCase(); });
    voice = voices.filter(function (v) { return v.name === wanted; })[0]
            || exact.filter(function (v) { return v.default; })[0] || exact[0]
            || voices.filter(function (v) { return v.default; })[0] || voices[0] || null;
    voiceSelect.value = String(voices.indexOf(voice));
    return voices;
  }
  function start(fromTop) {
    if (!synth || !window.SpeechSynthesisUtterance) {
      say('This browser cannot read aloud.');
      return;
    }
    say('');
    whenVoices(function () {
      if (!chooseVoices().length) {
        say('This browser has no voice for ' + languageName() + ', the language of this book, so it cannot read it '
            + 'aloud. A voice can be added in the speech settings of the device.');
        return;
      }
      var rate = String(kept().rate);
      rateSelect.value = RATES.indexOf(rate) >= 0 ? rate : '1';
      if (!sentences) { sentences = build(); }
      if (!sentences.length) { say('This page has no text to read.'); return; }
      bar.hidden = false;
      html.setAttribute('data-listening', '');
      listen.setAttribute('aria-expanded', 'true');
      pauseButton.focus({ preventScroll: true });
      speak(fromTop ? 0 : firstVisible(), 0);
    });
  }

  // A message stays until the reader clicks elsewhere or presses Escape.
  document.addEventListener('click', function (event) {
    if (status.textContent && event.target !== listen && event.target !== pauseButton) { say(''); }
  });
  document.addEventListener('keydown', function (event) { if (event.key === 'Escape') { say(''); } });
  listen.addEventListener('click', function () {
    if (!bar.hidden) { pauseButton.focus(); if (!playing) { speak(index, reached); } return; }
    start(false);
  });
  pauseButton.addEventListener('click', function () {
    if (playing) { pause(); } else { say(''); speak(index, reached); }
  });
  stopButton.addEventListener('click', function () { stop(); listen.focus(); });
  voiceSelect.addEventListener('change', function () {
    voice = voicesFor()[parseInt(voiceSelect.value, 10)] || voice;
    keep({ voice: voice ? voice.name : '' });
    if (playing) { speak(index, reached); }
  });
  rateSelect.addEventListener('change', function () {
    keep({ rate: rateSelect.value });
    if (playing) { speak(index, reached); }
  });
  bar.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') { stop(); listen.focus(); }
  });
  addEventListener('pagehide', function () { if (playing) { turn++; synth.cancel(); } });

  // Reading went on from the chapter before: go on here, from the top.
  var carried = null;
  try { carried = JSON.parse(sessionStorage.getItem(CONTINUE) || 'null'); sessionStorage.removeItem(CONTINUE); } catch (e) { carried = null; }
  if (carried && carried.to === location.href.split('#')[0]) { start(true); }
})();
