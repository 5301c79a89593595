'use strict';
(function () {
  var html = document.documentElement;
  var KEY = '__KEY__';
  var CHOICES = __CHOICES__;

  function load() {
    var saved = {};
    try { saved = JSON.parse(localStorage.getItem(KEY) || '{}') || {}; } catch (e) { saved = {}; }
    if (typeof saved !== 'object') { saved = {}; }
    Object.keys(CHOICES).forEach(function (name) {
      if (CHOICES[name].indexOf(String(saved[name])) < 0) { saved[name] = CHOICES[name][0]; }
      saved[name] = String(saved[name]);
    });
    return saved;
  }
  function store(changes) {
    var settings = load();
    Object.keys(changes).forEach(function (name) { settings[name] = changes[name]; });
    try { localStorage.setItem(KEY, JSON.stringify(settings)); } catch (e) { /* storage off: this page only */ }
    return settings;
  }
  function apply(settings) {
    Object.keys(CHOICES).forEach(function (name) { html.setAttribute('data-' + name, settings[name]); });
  }

  // The settings panel (no <form>: a book's pages have none, and this one is never sent).
  var form = document.getElementById('reader-settings');
  function valueOf(name) {
    var checked = form.querySelector('input[name="' + name + '"]:checked');
    return checked ? checked.value : form.querySelector('[name="' + name + '"]').value;
  }
  function setValue(name, value) {
    Array.prototype.forEach.call(form.querySelectorAll('[name="' + name + '"]'), function (control) {
      if (control.type === 'radio') { control.checked = control.value === value; } else { control.value = value; }
    });
  }
  function show(settings) {
    if (!form) { return; }
    Object.keys(CHOICES).forEach(function (name) { setValue(name, settings[name]); });
    var text = settings.size + ' %';
    document.getElementById('set-size').setAttribute('aria-valuetext', text);
    document.getElementById('set-size-value').textContent = text;
  }
  if (form) {
    var changed = function () {
      var changes = {};
      Object.keys(CHOICES).forEach(function (name) {
        var value = String(valueOf(name));
        if (CHOICES[name].indexOf(value) >= 0) { changes[name] = value; }
      });
      var settings = store(changes);
      apply(settings);
      show(settings);
    };
    form.addEventListener('input', changed);
    form.addEventListener('change', changed);
    document.getElementById('set-reset').addEventListener('click', function () {
      var defaults = {};
      Object.keys(CHOICES).forEach(function (name) { defaults[name] = CHOICES[name][0]; });
      var settings = store(defaults);
      apply(settings);
      show(settings);
    });
    var details = form.parentNode;
    details.addEventListener('keydown', function (event) {
      if (event.key === 'Escape' && details.open) {
        details.open = false;
        details.querySelector('summary').focus();
      }
    });
    show(load());
  }
  // Another tab changed them.
  addEventListener('storage', function (event) {
    if (event.key === KEY) { var settings = load(); apply(settings); show(settings); }
  });

})();
