'use strict';
// Runs in <head>, before the page is drawn: the reader's settings, as attributes the CSS is keyed on.
(function () {
  var html = document.documentElement;
  var choices = __CHOICES__;
  var saved = {};
  try { saved = JSON.parse(localStorage.getItem('__KEY__') || '{}') || {}; } catch (e) { saved = {}; }
  Object.keys(choices).forEach(function (name) {
    var value = String(saved[name]);
    html.setAttribute('data-' + name, choices[name].indexOf(value) >= 0 ? value : choices[name][0]);
  });
  html.setAttribute('data-reader', '');
})();
