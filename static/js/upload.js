// The partner upload page: the drop zone names the chosen file, and the form says it is uploading.
(function () {
  var zone = document.getElementById("dropzone"), input = zone.querySelector("input[type=file]"),
      label = document.getElementById("dropzone-name");
  function show() { if (input.files.length) { label.textContent = input.files[0].name + " · " + Math.ceil(input.files[0].size / 1024) + " KB"; zone.classList.add("has-file"); } }
  input.addEventListener("change", show);
  show();  // a file chosen before this script ran (a slow page, or the browser restoring the form on Back)
  ["dragenter", "dragover"].forEach(function (name) { zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); }); });
  ["dragleave", "drop"].forEach(function (name) { zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("over"); }); });
  zone.addEventListener("drop", function (e) { if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); } });
  document.getElementById("upload-form").addEventListener("submit", function () {
    document.getElementById("upload-busy").hidden = false; document.getElementById("upload-submit").disabled = true;
  });
})();
