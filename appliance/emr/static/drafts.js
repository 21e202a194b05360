// What is typed in a form stays on the phone until the server has saved it: a session that ends
// while the form is open, a lost reply or a dead battery does not lose the visit. After the next
// login the same form offers it again, to check and send under a new token. A form saved and then
// shown again by the back button gets back the token it was saved with: sending it again shows
// what was saved instead of saving it twice (appliance/emr/submissions.py).
(function () {
  "use strict";
  var PREFIX = "draft:";
  var KEPT_MS = 3 * 24 * 3600 * 1000;
  var SKIPPED = { csrf_token: 1, submission_token: 1 };

  function store() {
    try { return window.localStorage; } catch (e) { return null; }
  }

  function read(keep, key) {
    try { return JSON.parse(keep.getItem(key)); } catch (e) { return null; }
  }

  // The server saved this token: keep only the token (for the back button), not what was typed.
  function markSaved(saved) {
    var keep = store();
    if (!keep) { return; }
    for (var i = keep.length - 1; i >= 0; i--) {
      var key = keep.key(i);
      if (key.indexOf(PREFIX) !== 0) { continue; }
      var draft = read(keep, key);
      if (!draft || Date.now() - draft.at > KEPT_MS) {
        keep.removeItem(key);
      } else if (draft.token === saved) {
        keep.setItem(key, JSON.stringify({ token: saved, at: Date.now(), saved: true }));
      }
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

  function note(form, text) {
    var p = document.createElement("p");
    p.className = "flash warning";
    p.setAttribute("role", "status");
    p.textContent = text;
    form.insertBefore(p, form.firstChild);
  }

  function backButton() {
    var entries = window.performance && performance.getEntriesByType ? performance.getEntriesByType("navigation") : [];
    return entries.length > 0 && entries[0].type === "back_forward";
  }

  function watch(input) {
    var form = input.form;
    var keep = store();
    if (!form || !keep || !input.dataset.draftUser) { return; }
    var key = PREFIX + input.dataset.draftUser + ":" + window.location.pathname + window.location.search;
    var draft = read(keep, key);
    if (draft && draft.saved) {
      if (backButton()) {
        input.value = draft.token;
        form.hidden = false;  // a form kept only for this (the vaccination session once nothing is due)
        note(form, input.dataset.savedNote);
      } else {
        keep.removeItem(key);  // a form opened anew: another record
      }
    } else if (draft && draft.token !== input.value && !form.querySelector(".has-error")) {
      restore(form, draft.values);
      note(form, input.dataset.draftNote);
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
    if (saved) { markSaved(saved.content); }
    Array.prototype.forEach.call(document.querySelectorAll('input[name="submission_token"]'), watch);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else { start(); }
}());
