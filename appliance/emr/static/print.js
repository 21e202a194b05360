// A button marked data-print prints the page: no inline onclick, so the Content-Security-Policy
// can refuse every inline script (appliance/emr/headers.py).
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});
