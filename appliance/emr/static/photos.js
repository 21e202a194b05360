// Photos chosen in a file field marked data-shrink are shrunk on the phone before they are sent: a
// 3–8 MB camera photo becomes a JPEG of at most data-shrink pixels on its longest side (about
// 300–600 KB), so it fits the form's limit and the WiFi. The box shrinks it again to ≤ 200 KB
// (appliance/link/photos.py). Without canvas or DataTransfer the files go as chosen and the box
// refuses one over its limit with its French page: nothing is lost but the upload.
(function () {
  "use strict";

  // createImageBitmap decodes the file itself (EXIF orientation applied): no blob: URL, which the
  // Content-Security-Policy's img-src does not allow (appliance/emr/headers.py).
  function shrink(file, side) {
    if (!/^image\//.test(file.type) || file.size < 1024 * 1024) { return Promise.resolve(file); }
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          resolve(blob && blob.size < file.size
            ? new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" }) : file);
        }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  function prepare(input) {
    if (!window.DataTransfer || !window.createImageBitmap || !HTMLCanvasElement.prototype.toBlob) { return; }
    var side = parseInt(input.getAttribute("data-shrink"), 10) || 1600;
    var submit = input.form && input.form.querySelector("[type=submit]");
    input.addEventListener("change", function () {
      var chosen = Array.prototype.slice.call(input.files);
      if (!chosen.length) { return; }
      if (submit) { submit.disabled = true; }
      input.setAttribute("aria-busy", "true");
      Promise.all(chosen.map(function (file) { return shrink(file, side); })).then(function (files) {
        var transfer = new DataTransfer();
        files.forEach(function (file) { transfer.items.add(file); });
        input.files = transfer.files;
      }).finally(function () {
        if (submit) { submit.disabled = false; }
        input.removeAttribute("aria-busy");
      });
    });
  }

  document.querySelectorAll("input[type=file][data-shrink]").forEach(prepare);
})();
