// Delivery form: show only the fieldsets of the babies counted (twins: babies 1 and 2).
// Without this script every fieldset is shown and empty ones are ignored by the server.
// A hidden fieldset is also disabled, so what it holds is not sent.
(function () {
  var count = document.querySelector("[data-babies]");
  if (!count) { return; }
  function update() {
    var wanted = parseInt(count.value, 10) || 1;
    document.querySelectorAll("[data-baby]").forEach(function (fieldset) {
      var unused = parseInt(fieldset.getAttribute("data-baby"), 10) > wanted;
      fieldset.hidden = unused;
      fieldset.disabled = unused;
    });
  }
  count.addEventListener("change", update);
  update();
})();
