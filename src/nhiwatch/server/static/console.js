// Draws every chart on the page from its Vega-Lite spec (a JSON block placed by the server).
// The expression interpreter keeps Vega from compiling code at run time (no 'unsafe-eval' in the CSP).
(function () {
  "use strict";
  function draw() {
    document.querySelectorAll("div.chart[data-spec]").forEach(function (el) {
      var block = document.getElementById(el.dataset.spec);
      if (!block) { return; }
      var spec = JSON.parse(block.textContent);
      window.vegaEmbed(el, spec, {
        actions: false,
        renderer: "svg",
        ast: true,
        expr: window.vega.expressionInterpreter,
        defaultStyle: false
      }).then(function () {
        el.setAttribute("data-rendered", "true");
      }).catch(function (err) {
        el.setAttribute("data-error", String(err));
        el.textContent = "chart could not be drawn: " + err;
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
