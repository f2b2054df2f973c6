/* The dashboard's charts (/reports/), drawn with Chart.js from our own static files
 * (js/vendor/chart.umd.min.js: Chart.js 4.6.1, the npm package's dist/chart.umd.min.js, MIT
 * licence in js/vendor/chart.js.LICENSE.md; its last line, a sourceMappingURL comment, removed
 * because the map is not shipped and the manifest storage would look for it).
 *
 * The figures come from the page's json_script element "dashboard-charts", labels already
 * translated by the server; money arrives as decimal strings and becomes a number only to be
 * drawn (the tables beside each chart hold the exact figures). No inline script or style: CSP.
 */
(function () {
  "use strict";

  var LABEL_LENGTH = 18;
  var COLOURS = ["#0b5cab", "#1d7a46", "#9a6700", "#b42318", "#6941c6", "#0e7490", "#5b6676"];

  function numbers(values) {
    return values.map(function (value) {
      return value === null || value === undefined ? null : Number(value);
    });
  }

  function config(spec, language) {
    var format = new Intl.NumberFormat(language || undefined, { maximumFractionDigits: 2 });
    var stacked = Boolean(spec.stacked);
    var valueAxis = spec.horizontal ? "x" : "y";
    var scales = { x: { stacked: stacked }, y: { stacked: stacked } };
    scales[valueAxis].beginAtZero = true;
    scales[valueAxis].title = { display: Boolean(spec.unit), text: spec.unit };
    scales[valueAxis].ticks = { callback: function (value) { return format.format(value); } };
    if (spec.integer) { scales[valueAxis].ticks.precision = 0; }
    // Long names (a measure, a platform) are cut on the axis; the tooltip and the table beside
    // the chart give them whole.
    scales[spec.horizontal ? "y" : "x"].ticks = {
      callback: function (value) {
        var label = String(this.getLabelForValue(value));
        return label.length > LABEL_LENGTH ? label.slice(0, LABEL_LENGTH - 1) + "\u2026" : label;
      }
    };
    return {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (dataset, index) {
          var colour = COLOURS[index % COLOURS.length];
          var out = { label: dataset.label, data: numbers(dataset.data),
                      backgroundColor: colour, borderColor: colour };
          if (dataset.stack) { out.stack = dataset.stack; }
          return out;
        })
      },
      options: {
        indexAxis: spec.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : {},
        scales: scales,
        plugins: {
          legend: { display: spec.datasets.length > 1 },
          tooltip: {
            callbacks: {
              label: function (item) {
                var value = spec.horizontal ? item.parsed.x : item.parsed.y;
                return item.dataset.label + ": " + format.format(value);
              }
            }
          }
        }
      }
    };
  }

  function draw() {
    var source = document.getElementById("dashboard-charts");
    if (!source || typeof window.Chart === "undefined") { return; }
    var charts = JSON.parse(source.textContent);
    var language = document.documentElement.lang;
    var canvases = Array.prototype.slice.call(document.querySelectorAll("canvas[data-chart]"));
    // Shown first, so that each chart measures its box when it is made.
    canvases.forEach(function (canvas) {
      var spec = charts[canvas.getAttribute("data-chart")];
      if (!spec || !spec.labels.length) {
        // Nothing to draw: the table beside says so; the empty chart is not shown.
        canvas.closest(".chart").classList.add("empty");
      }
    });
    document.body.classList.add("charts-ready");
    canvases.forEach(function (canvas) {
      var spec = charts[canvas.getAttribute("data-chart")];
      if (spec && spec.labels.length) {
        if (spec.horizontal) {
          // One band per label: a long list gets a taller chart (CSSOM, allowed by the CSP).
          var band = spec.stacked ? 36 : 18 * spec.datasets.length + 8;
          canvas.parentNode.style.height = Math.max(220, 90 + spec.labels.length * band) + "px";
        }
        new window.Chart(canvas, config(spec, language));
        canvas.setAttribute("data-drawn", "true");
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
