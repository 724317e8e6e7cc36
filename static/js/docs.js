// The docs sidebar is open in the HTML so it works without scripts; on a phone it starts folded under its summary.
(function () {
  var nav = document.querySelector(".docs-nav");
  if (nav && window.matchMedia("(max-width: 800px)").matches) nav.open = false;
})();
