/* Back office: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  // A header checkbox checks or clears every row's checkbox of the same name.
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-check-all]");
    if (!all) { return; }
    var name = all.getAttribute("data-check-all");
    var form = all.closest("form") || document;
    form.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(function (box) {
      box.checked = all.checked;
    });
  });
})();
