// What is typed in a form stays on the phone until the server has saved it: a session that ends
// while the form is open, a lost reply or a dead battery does not lose the visit. After the next
// login the same form offers it again, to check and send under a new token.
(function () {
  "use strict";
  var PREFIX = "draft:";
  var KEPT_MS = 3 * 24 * 3600 * 1000;
  var SKIPPED = { csrf_token: 1, submission_token: 1 };

  function store() {
    try { return window.localStorage; } catch (e) { return null; }
  }

  function forget(saved) {
    var keep = store();
    if (!keep) { return; }
    for (var i = keep.length - 1; i >= 0; i--) {
      var key = keep.key(i);
      if (key.indexOf(PREFIX) !== 0) { continue; }
      try {
        var draft = JSON.parse(keep.getItem(key));
        if (draft.token === saved || Date.now() - draft.at > KEPT_MS) { keep.removeItem(key); }
      } catch (e) { keep.removeItem(key); }
    }
  }

  function fields(form) {
    var values = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || SKIPPED[el.name] || el.type === "password" || el.type === "file" ||
          el.type === "submit" || el.type === "button") { return; }
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) { return; }
      values.push([el.name, el.value]);
    });
    return values;
  }

  function restore(form, values) {
    var byName = {};
    values.forEach(function (pair) { (byName[pair[0]] = byName[pair[0]] || []).push(pair[1]); });
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || SKIPPED[el.name] || !(el.name in byName)) { return; }
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = byName[el.name].indexOf(el.value) >= 0;
      } else if (el.type !== "password" && el.type !== "file" && el.type !== "submit") {
        el.value = byName[el.name].shift();
      }
    });
  }

  function watch(input) {
    var form = input.form;
    var keep = store();
    if (!form || !keep || !input.dataset.draftUser) { return; }
    var key = PREFIX + input.dataset.draftUser + ":" + window.location.pathname;
    var draft = null;
    try { draft = JSON.parse(keep.getItem(key)); } catch (e) { draft = null; }
    if (draft && draft.token !== input.value && !input.dataset.saved && !form.querySelector(".has-error")) {
      restore(form, draft.values);
      var note = document.createElement("p");
      note.className = "flash warning";
      note.setAttribute("role", "status");
      note.textContent = input.dataset.draftNote;
      form.insertBefore(note, form.firstChild);
    }
    var save = function () {
      keep.setItem(key, JSON.stringify({ token: input.value, at: Date.now(), values: fields(form) }));
    };
    form.addEventListener("input", save);
    form.addEventListener("change", save);
    form.addEventListener("submit", save);
  }

  function start() {
    var saved = document.querySelector('meta[name="saved-submission"]');
    if (saved) { forget(saved.content); }
    Array.prototype.forEach.call(document.querySelectorAll('input[name="submission_token"]'), function (input) {
      if (input.dataset.saved) { forget(input.value); } else { watch(input); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else { start(); }
}());
