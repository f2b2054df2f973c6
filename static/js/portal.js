/* Company portal: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  // Ask before a destructive button posts its form (e.g. removing a document).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  // A row of a list marked for removal is shown as such until the form is saved.
  function markRow(box) {
    var row = box.closest("[data-case-row]");
    if (row) { row.classList.toggle("removing", box.checked); }
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-case-row] input[type=checkbox][name$='-DELETE']")) {
      markRow(event.target);
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-case-row] input[type=checkbox][name$='-DELETE']")
      .forEach(markRow);
  });
})();
