// A file drop zone (templates/components/_dropzone.html), shared by the partner upload and batch enrichment:
// it names the chosen file, refuses one over the size limit before it is sent, and the form says it is uploading.
(function () {
  document.querySelectorAll("[data-dropzone]").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]"), label = zone.querySelector("[data-dropzone-name]"),
        problem = zone.parentNode.querySelector("[data-dropzone-problem]"), form = zone.closest("form"),
        maxBytes = parseInt(zone.getAttribute("data-max-bytes") || "0", 10);
    function tooLarge() { return maxBytes && input.files.length && input.files[0].size > maxBytes; }
    function show() {
      if (!input.files.length) return;
      var file = input.files[0];
      label.textContent = file.name + " · " + Math.ceil(file.size / 1024) + " KB";
      zone.classList.add("has-file");
      if (problem) {
        problem.hidden = !tooLarge();
        problem.textContent = tooLarge() ? "The file is " + (file.size / 1048576).toFixed(1) + " MB; the limit is " +
          Math.round(maxBytes / 1048576) + " MB. Split it into smaller files." : "";
      }
    }
    input.addEventListener("change", show);
    show();  // a file chosen before this script ran (a slow page, or the browser restoring the form on Back)
    ["dragenter", "dragover"].forEach(function (name) { zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); }); });
    ["dragleave", "drop"].forEach(function (name) { zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("over"); }); });
    zone.addEventListener("drop", function (e) { if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); } });
    form.addEventListener("submit", function (e) {
      if (tooLarge()) { e.preventDefault(); return; }
      var busy = form.querySelector("[data-dropzone-busy]");
      if (busy) busy.hidden = false;
      form.querySelectorAll("button[type=submit]").forEach(function (button) { button.disabled = true; });
    });
  });
})();
