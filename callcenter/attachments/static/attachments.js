// Upload one chosen file as the request body to the order's attachments API, then reload the page.
(function () {
  "use strict";
  document.querySelectorAll("form.attach-form").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = form.querySelector("input[type=file]");
      var error = form.querySelector(".error");
      if (!input.files.length) { return; }
      var file = input.files[0];
      error.hidden = true;
      fetch(form.dataset.url + "?filename=" + encodeURIComponent(file.name), {
        method: "POST", body: file, credentials: "same-origin",
        headers: {"X-CSRF-Token": form.dataset.csrf, "Content-Type": "application/octet-stream"}
      }).then(function (resp) {
        if (resp.ok) { window.location.reload(); return null; }
        return resp.json().then(function (body) {
          error.textContent = body.message + " (" + body.error_id + ")";
          error.hidden = false;
        });
      }).catch(function (e) { error.textContent = String(e); error.hidden = false; });
    });
  });
})();
